/**
 * Type tests for @Locked, checked by `npm run lint` (tsc): every `@ts-expect-error` line must be an error,
 * or the build fails ("unused directive"); every other line must compile. Never run.
 */
import { Locked, LockedOptions } from 'nestjs-zookeeper-lock';

export class Typed {
  // A fixed id, a method declared to return a promise.
  @Locked('report')
  async report(): Promise<string> {
    return 'done';
  }

  // @ts-expect-error a @Locked method always returns a promise, so it must be declared to
  @Locked('sync')
  sync(): string {
    return 'sync';
  }

  // @ts-expect-error with onConflict 'skip' a call may resolve to undefined, which the type must admit
  @Locked('job', { onConflict: 'skip' })
  async skipHidesUndefined(): Promise<string> {
    return 'ran';
  }

  @Locked('job', { onConflict: 'skip', holdAtLeast: 30_000 })
  async skipAdmitsUndefined(): Promise<string | undefined> {
    return 'ran';
  }

  @Locked('job', { onConflict: 'skip' })
  async skipVoid(): Promise<void> {}

  @Locked('job', { onConflict: 'throw' })
  async throwNeedsNoUndefined(): Promise<string> {
    return 'ran';
  }

  // The id function is typed by the method's parameters: it may read the first ones.
  @Locked((orderId: string) => `order-${orderId}`, { scope: 'orders', wait: 5_000 })
  async fulfil(orderId: string, quantity: number): Promise<number> {
    return quantity;
  }

  // @ts-expect-error the id function's parameter types must match the method's
  @Locked((orderId: number) => String(orderId))
  async wrongType(orderId: string): Promise<string> {
    return orderId;
  }

  // @ts-expect-error the id function must not read arguments the method does not take
  @Locked((a: string, b: string) => [a, b])
  async tooFew(a: string): Promise<string> {
    return a;
  }

  @Locked(function (this: Typed, id: string) {
    return id;
  })
  async withThis(id: string): Promise<string> {
    return id;
  }

  @Locked(['ledger', 'fx-rates'])
  async several(): Promise<void> {}

  // @ts-expect-error a fixed id is the id itself: 'params.id' is a @WithLock request path, not an id
  @Locked('params.id')
  async pathMistake(): Promise<void> {}

  // @ts-expect-error the same inside an array of ids
  @Locked(['ledger', 'body.orderId'])
  async pathInArray(): Promise<void> {}

  // The literal id 'params.id', if it really is meant, comes from a function.
  @Locked(() => 'params.id')
  async literalFromFunction(): Promise<void> {}

  // Ids that only contain dots are fine.
  @Locked('report.daily')
  async dotted(): Promise<void> {}
}

const maybeSkip: LockedOptions = { onConflict: 'skip' };
const dynamicId: string = 'computed';

export class Widened {
  // @ts-expect-error options whose onConflict is not known may skip: undefined must be admitted
  @Locked('job', maybeSkip)
  async widened(): Promise<string> {
    return 'ran';
  }

  @Locked(dynamicId, maybeSkip)
  async dynamic(): Promise<string | undefined> {
    return 'ran';
  }
}
