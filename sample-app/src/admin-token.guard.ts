import { CanActivate, ExecutionContext, ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { createHash, timingSafeEqual } from 'node:crypto';
import { SampleConfig } from './sample.config';

/**
 * Stands in for your operators' authentication: the /admin routes tell who holds which lock, so they
 * answer only a request that carries `Authorization: Bearer <ADMIN_TOKEN>`. Without ADMIN_TOKEN set they
 * are off (403). A real app would use its own identity provider and roles.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected?: Buffer;

  constructor(config: ConfigService<{ sample: SampleConfig }, true>) {
    const token = config.get('sample.adminToken', { infer: true });
    this.expected = token === undefined ? undefined : digest(token);
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.expected === undefined) throw new ForbiddenException('admin routes are off: start the app with ADMIN_TOKEN set');
    const header = context.switchToHttp().getRequest<{ headers: Record<string, string | string[] | undefined> }>().headers.authorization;
    const [scheme, token] = typeof header === 'string' ? header.split(' ', 2) : [];
    // Compares digests of equal length in constant time: the answer's timing tells nothing of the token.
    if (scheme?.toLowerCase() !== 'bearer' || !token || !timingSafeEqual(digest(token), this.expected)) {
      throw new UnauthorizedException('a valid admin token is required (Authorization: Bearer <ADMIN_TOKEN>)');
    }
    return true;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
