import { CanActivate, ExecutionContext, ForbiddenException, Injectable } from '@nestjs/common';

const ACCOUNT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Stands in for your authorisation: decide whether this caller may act on the accounts it names, BEFORE
 * anything locks them. Guards run before interceptors, so a refused request never reaches @WithLock and
 * never touches ZooKeeper. A real app checks the account against the caller's identity; this sample only
 * refuses ids that no account of ours could have (so a client cannot make up lock names at will).
 */
@Injectable()
export class AccountAccessGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ params?: Record<string, unknown>; body?: Record<string, unknown> }>();
    const named = [request.params?.id, request.body?.from, request.body?.to].filter((id) => id !== undefined);
    for (const id of named) {
      if (typeof id !== 'string' || !ACCOUNT_ID.test(id)) {
        throw new ForbiddenException('account ids are 1 to 64 letters, digits, _ or -');
      }
    }
    return true;
  }
}
