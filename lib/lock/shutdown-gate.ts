import { LockUnavailableError } from './lock.errors';

/**
 * The acquire side of LockService's shutdown: once closed, no acquire may start, and every queued one
 * ends with LockUnavailableError (a 503, so a load balancer retries elsewhere) instead of being granted
 * while the application closes its session.
 */
export class ShutdownGate {
  private reason?: LockUnavailableError;
  /** One controller per queued acquire in flight. */
  private readonly waits = new Set<AbortController>();

  get closed(): boolean {
    return this.reason !== undefined;
  }

  /** The error every acquire gets once the gate closed. */
  get error(): LockUnavailableError | undefined {
    return this.reason;
  }

  /**
   * A signal for one queued acquire: aborted when the caller's own signal aborts (with its reason) or
   * when the gate closes (with LockUnavailableError). Call `done()` when the acquire has settled.
   */
  track(callerSignal?: AbortSignal): { signal: AbortSignal; done: () => void } {
    const controller = new AbortController();
    const forward = () => controller.abort(callerSignal!.reason);
    callerSignal?.addEventListener('abort', forward, { once: true });
    if (callerSignal?.aborted) forward(); // aborted before we listened: the event is gone
    if (this.reason) controller.abort(this.reason);
    this.waits.add(controller);
    return {
      signal: controller.signal,
      done: () => {
        this.waits.delete(controller);
        callerSignal?.removeEventListener('abort', forward);
      },
    };
  }

  close(reason: LockUnavailableError): void {
    this.reason ??= reason;
    for (const controller of this.waits) controller.abort(this.reason);
    this.waits.clear();
  }
}
