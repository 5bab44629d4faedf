import { CallHandler, ExecutionContext, Inject, Injectable, Logger, NestInterceptor, Optional } from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import { from, isObservable, Observable, switchMap } from 'rxjs';
import { LockService } from '../lock/lock.service';
import { WithLockInterceptor } from './with-lock.interceptor';

/**
 * The interceptor @WithLock applies, which hands every call to the WithLockInterceptor the application
 * chose.
 *
 * Why it exists: Nest makes an interceptor named in @UseInterceptors(SomeClass) from that very class, as
 * an "injectable" of the controller's module, and looks it up by the class; the module's providers are
 * never consulted. So when @WithLock named WithLockInterceptor itself, a subclass registered as
 * `{ provide: WithLockInterceptor, useClass: MyInterceptor }` was silently ignored. This class is what
 * @WithLock names now, and it asks for the WithLockInterceptor provider:
 * 1. the one Nest's DI resolves in the controller's module (provided there, or exported by a global
 *    module), so a module can have its own;
 * 2. else the one provider of that token anywhere in the application (registered once in AppModule, it
 *    applies to the routes of every module);
 * 3. else none: it is the library's own WithLockInterceptor (it is one, by extension).
 * Several providers in other modules and none visible is ambiguous: a warning, and the default.
 */
@Injectable()
export class WithLockHostInterceptor extends WithLockInterceptor implements NestInterceptor {
  private chosen?: NestInterceptor;

  constructor(
    lockService: LockService,
    reflector: Reflector,
    @Optional() @Inject(WithLockInterceptor) private readonly visible?: NestInterceptor,
    @Optional() private readonly hostModule?: ModuleRef,
  ) {
    super(lockService, reflector);
  }

  override intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const chosen = (this.chosen ??= this.choose());
    if (chosen === this) return super.intercept(context, next);
    const result = chosen.intercept(context, next);
    return isObservable(result) ? result : from(result).pipe(switchMap((inner) => inner));
  }

  /** Chosen at the first call, when every module's providers exist. */
  private choose(): NestInterceptor {
    if (isInterceptor(this.visible)) return this.visible;
    let registered: unknown[] = [];
    try {
      registered = this.hostModule?.get(WithLockInterceptor, { strict: false, each: true }) ?? [];
    } catch {
      registered = []; // no provider of the token anywhere
    }
    // The library's own class (registered as it is, or made for a plain @UseInterceptors(WithLockInterceptor))
    // behaves as this one does: only other classes count.
    const candidates = [...new Set(registered)]
      .filter(isInterceptor)
      .filter((each) => each.constructor !== WithLockInterceptor && !(each instanceof WithLockHostInterceptor));
    if (candidates.length === 1) return candidates[0];
    if (candidates.length > 1) {
      new Logger('ZookeeperLock').warn(
        `Several providers of WithLockInterceptor (${candidates.map((c) => c.constructor.name).join(', ')}) and none visible ` +
          "from this route's module: the default WithLockInterceptor is used. Provide the one you mean in that module, or in a global module.",
      );
    }
    return this;
  }
}

function isInterceptor(value: unknown): value is NestInterceptor {
  return typeof (value as NestInterceptor | undefined)?.intercept === 'function';
}
