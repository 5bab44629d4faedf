/**
 * Deterministic fault injection at the client layer: wraps methods of the node-zookeeper-client instance
 * behind a ZookeeperService (`(service as any).session.client`), so that ONE chosen request's reply is
 * lost, delayed or replaced, while every other request goes to the real server untouched.
 *
 * Each rule applies to the next call of a method whose path matches, then retires itself. `restore()`
 * puts the client's own methods back (call it in afterEach, or let `cleanup()` close the service).
 */
import type { ZookeeperService } from '../../lib/zookeeper/zookeeper.service';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Exception } = require('node-zookeeper-client') as { Exception: { create(code: number, path?: string): Error } };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const exceptionModule = require('node-zookeeper-client/lib/Exception.js') as { create(code: number, path?: string): Error };

export type ClientMethod = 'create' | 'remove' | 'getData' | 'getChildren' | 'exists' | 'setData';
export type PathMatch = string | RegExp | ((path: string) => boolean);

export const CODES = { CONNECTION_LOSS: -4, NO_NODE: -101, THROTTLED_OP: -127 } as const;

type AnyFn = (...args: unknown[]) => void;
interface Rule {
  matches(path: string): boolean;
  /** Handles one call; `send` forwards it to the real client with the callback given. */
  handle(args: unknown[], callback: AnyFn, send: (callback: AnyFn) => void): void;
}

/** A client exception as the client itself builds it (unknown codes go through the library's guard). */
export function clientError(code: number, path?: string): Error {
  return (code === CODES.THROTTLED_OP ? exceptionModule : Exception).create(code, path);
}

export class ClientFaults {
  private readonly rules = new Map<ClientMethod, Rule[]>();
  private readonly counters = new Map<ClientMethod, Array<(path: string) => void>>();
  private readonly patched = new Map<ClientMethod, { client: Record<string, unknown> }>();

  constructor(private readonly service: ZookeeperService) {}

  /** The client of the service's current session (a new one after an expiry). */
  get client(): Record<string, unknown> {
    return (this.service as unknown as { session: { client: Record<string, unknown> } }).session.client;
  }

  /**
   * The request reaches the server and is applied there, but its caller gets CONNECTION_LOSS instead of
   * the reply. Resolves once the real reply has arrived (the effect is then certainly on the server).
   */
  loseReply(method: ClientMethod, match: PathMatch): Promise<void> {
    return new Promise((arrived) =>
      this.addRule(method, match, (args, callback, send) =>
        send(() => {
          arrived();
          callback(clientError(CODES.CONNECTION_LOSS, args[0] as string));
        }),
      ),
    );
  }

  /**
   * The caller gets CONNECTION_LOSS at once; the request itself is held back and sent only when the
   * returned `send()` is called (a create that lands after its caller has already looked for it).
   */
  delayRequest(method: ClientMethod, match: PathMatch): { intercepted: Promise<void>; send(): Promise<void> } {
    let intercepted!: () => void;
    const seen = new Promise<void>((resolve) => (intercepted = resolve));
    const ready = new Promise<(callback: AnyFn) => void>((resolve) => {
      this.addRule(method, match, (args, callback, send) => {
        resolve(send);
        intercepted();
        setImmediate(() => callback(clientError(CODES.CONNECTION_LOSS, args[0] as string)));
      });
    });
    return {
      intercepted: seen,
      /** Sends the held request; resolves when the server has answered it. */
      send: async () => {
        const send = await ready;
        await new Promise<void>((done) => send(() => done()));
      },
    };
  }

  /** Answers the next `times` matching calls with `code` without sending them. */
  answerWith(method: ClientMethod, match: PathMatch, code: number, times = 1, onAnswer?: () => void): void {
    for (let i = 0; i < times; i++) {
      this.addRule(method, match, (args, callback) =>
        setImmediate(() => {
          onAnswer?.();
          callback(clientError(code, args[0] as string));
        }),
      );
    }
  }

  /** The next matching call is never sent and never answered (the service's own timeout answers it). */
  swallow(method: ClientMethod, match: PathMatch): Promise<void> {
    return new Promise((seen) => this.addRule(method, match, () => seen()));
  }

  /** The real reply of the next matching call reaches its caller only after `ms` (a slow answer). */
  delayReply(method: ClientMethod, match: PathMatch, ms: number): void {
    this.addRule(method, match, (_args, callback, send) => send((...reply) => setTimeout(() => callback(...reply), ms)));
  }

  /**
   * The real reply of the next matching call is held back until `release()` (the request itself was
   * applied): for a test that changes something between a read and what the caller does with it.
   */
  holdReply(method: ClientMethod, match: PathMatch): { arrived: Promise<void>; release(): void } {
    let arrived!: () => void;
    const seen = new Promise<void>((resolve) => (arrived = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    this.addRule(method, match, (_args, callback, send) =>
      send((...reply) => {
        arrived();
        void released.then(() => callback(...reply));
      }),
    );
    return { arrived: seen, release };
  }

  /** Runs `hook` when the real reply of the next matching call arrives, before its caller sees it. */
  onReply(method: ClientMethod, match: PathMatch, hook: () => void): void {
    this.addRule(method, match, (_args, callback, send) =>
      send((...reply) => {
        hook();
        callback(...reply);
      }),
    );
  }

  /** Runs `hook` just before the next matching call is sent (e.g. to pause the server under it). */
  beforeSend(method: ClientMethod, match: PathMatch, hook: () => void): void {
    this.addRule(method, match, (_args, callback, send) => {
      hook();
      send(callback);
    });
  }

  /** Counts calls of `method` from now on (every path). */
  count(method: ClientMethod): { readonly calls: number; readonly paths: string[]; stop(): void } {
    const counter = { calls: 0, paths: [] as string[] };
    const list = this.counters.get(method) ?? [];
    const tick = (path: string) => {
      counter.calls += 1;
      counter.paths.push(path);
    };
    list.push(tick);
    this.counters.set(method, list);
    this.patch(method);
    return {
      get calls() {
        return counter.calls;
      },
      paths: counter.paths,
      stop: () => {
        const at = list.indexOf(tick);
        if (at >= 0) list.splice(at, 1);
      },
    };
  }

  /** Puts the client's own methods back. */
  restore(): void {
    for (const [method, { client }] of this.patched) delete client[method];
    this.patched.clear();
    this.rules.clear();
    this.counters.clear();
  }

  private addRule(method: ClientMethod, match: PathMatch, handle: Rule['handle']): void {
    const matches =
      typeof match === 'string' ? (p: string) => p === match : match instanceof RegExp ? (p: string) => match.test(p) : match;
    const list = this.rules.get(method) ?? [];
    list.push({ matches, handle });
    this.rules.set(method, list);
    this.patch(method);
  }

  private patch(method: ClientMethod): void {
    const client = this.client;
    const existing = this.patched.get(method);
    if (existing?.client === client) return;
    if (existing) delete existing.client[method];
    const original = (client[method] as AnyFn).bind(client);
    this.patched.set(method, { client });
    client[method] = (...args: unknown[]) => {
      const path = args[0] as string;
      for (const tick of this.counters.get(method) ?? []) tick(path);
      const list = this.rules.get(method) ?? [];
      const at = list.findIndex((rule) => rule.matches(path));
      if (at < 0) return original(...args);
      const [rule] = list.splice(at, 1);
      const callback = args[args.length - 1] as AnyFn;
      const head = args.slice(0, -1);
      rule.handle(args, callback, (cb) => original(...head, cb));
    };
  }
}
