import type { RawEvent } from './zookeeper-client.types';

/** What a read with a watch asked for: a data watch (getData), an existence watch (exists), a child watch. */
export type WatchKind = 'data' | 'exists' | 'child';

export type WatchCallback = () => void;

/** The part of node-zookeeper-client's WatcherManager we steer: one EventEmitter per watched path. */
export interface RawWatcherManager {
  dataWatchers: Record<string, RawEmitter>;
  existenceWatchers: Record<string, RawEmitter>;
  childWatchers: Record<string, RawEmitter>;
}

interface RawEmitter {
  removeListener(event: 'notification', listener: (event: RawEvent) => void): unknown;
  listenerCount(event: 'notification'): number;
}

/** One (path, kind): the single watcher function the client knows, and our callbacks behind it. */
interface Entry {
  readonly raw: (event: RawEvent) => void;
  /** Callbacks whose read was answered (the watch is set on the server): fired by the next notification. */
  readonly armed: Set<WatchCallback>;
  /** Callbacks whose read is still in flight, with a count for the same callback used twice at once. */
  readonly pending: Map<WatchCallback, number>;
}

/** Handle of one read with a watch; see WatchRegistry.begin. */
export interface WatchRequest {
  /** The function to give the client: the same one for every read of this (path, kind). */
  readonly raw: (event: RawEvent) => void;
  /** The read was answered; `watchSet` false when the server set no watch (an error such as NO_NODE). */
  answered(watchSet: boolean): void;
  /** The caller was told the read failed (e.g. our timeout): a late answer must not arm the callback. */
  abandon(): void;
}

/**
 * One ZooKeeper watch per (path, kind) and a local set of callbacks behind it, for ONE client (session).
 *
 * node-zookeeper-client adds one `once` listener per distinct watcher function, so giving it a fresh
 * closure per read piles up listeners for every wait that ends without the node changing (timed-out or
 * aborted waits), until MaxListenersExceededWarning. Here the client only ever sees one function per
 * (path, kind), which it de-duplicates; `remove` drops a callback, and when none is left, our listener
 * leaves the client too, so the path is neither kept in memory nor re-sent in SetWatches on reconnect.
 * (A watch the server already holds may still fire later, into nothing: harmless, and it dies with the
 * connection.)
 *
 * A callback fires at most once, only for a read that was answered before the notification came (as in
 * ZooKeeper's Java client), and an exception it throws is reported to `onError`, never to the client's
 * socket handler.
 */
export class WatchRegistry {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly manager: () => RawWatcherManager | undefined,
    private readonly onError: (error: unknown, path: string) => void,
  ) {}

  /** Registers `callback` for a read about to be sent. Call `answered` or `abandon` on the result. */
  begin(kind: WatchKind, path: string, callback: WatchCallback): WatchRequest {
    const key = keyOf(kind, path);
    let entry = this.entries.get(key);
    if (!entry) {
      const created: Entry = { raw: () => this.fire(key, path, created), armed: new Set(), pending: new Map() };
      entry = created;
      this.entries.set(key, entry);
    }
    const current = entry;
    current.pending.set(callback, (current.pending.get(callback) ?? 0) + 1);
    let open = true;
    const settle = (arm: boolean) => {
      if (open) {
        open = false;
        // Still pending unless remove() took it meanwhile: then it is not armed, whatever the answer.
        if (release(current.pending, callback) && arm) current.armed.add(callback);
      }
      // Also after an abandon: the client registers `raw` when the late answer comes, so look again then.
      this.dropIfUnused(key, path, current);
    };
    return { raw: current.raw, answered: (watchSet) => settle(watchSet), abandon: () => settle(false) };
  }

  /** Removes `callback` from every watch on `path`. Returns true when it was registered. */
  remove(path: string, callback: WatchCallback): boolean {
    let found = false;
    for (const kind of KINDS) {
      const key = keyOf(kind, path);
      const entry = this.entries.get(key);
      if (!entry) continue;
      found = entry.armed.delete(callback) || found;
      found = entry.pending.delete(callback) || found;
      this.dropIfUnused(key, path, entry);
    }
    return found;
  }

  /** Number of (path, kind) watches we hold, for tests and leak checks. */
  get size(): number {
    return this.entries.size;
  }

  /** Number of callbacks behind them (a wait that did not take its callback back shows here), for leak checks. */
  get callbacks(): number {
    let count = 0;
    for (const entry of this.entries.values()) count += entry.armed.size + entry.pending.size;
    return count;
  }

  private fire(key: string, path: string, entry: Entry): void {
    // The client removed its listener before calling us (watches are one-shot); reads still in flight
    // will register the same function again when answered, so the entry stays while they are pending.
    const callbacks = [...entry.armed];
    entry.armed.clear();
    if (entry.pending.size === 0 && this.entries.get(key) === entry) this.entries.delete(key);
    for (const callback of callbacks) {
      try {
        callback();
      } catch (error) {
        this.onError(error, path);
      }
    }
  }

  private dropIfUnused(key: string, path: string, entry: Entry): void {
    if (entry.armed.size > 0 || entry.pending.size > 0) return;
    if (this.entries.get(key) === entry) this.entries.delete(key);
    const manager = this.manager();
    if (!manager) return;
    for (const map of [manager.dataWatchers, manager.existenceWatchers, manager.childWatchers]) {
      const emitter = map[path];
      if (!emitter) continue;
      emitter.removeListener('notification', entry.raw);
      // An emitter without listeners would still be listed; the client skips it in SetWatches, but
      // deleting it keeps the map from growing with every path ever watched.
      if (emitter.listenerCount('notification') === 0) delete map[path];
    }
  }
}

const KINDS: readonly WatchKind[] = ['data', 'exists', 'child'];

function keyOf(kind: WatchKind, path: string): string {
  return `${kind}\u0000${path}`;
}

function release(pending: Map<WatchCallback, number>, callback: WatchCallback): boolean {
  const count = pending.get(callback);
  if (count === undefined) return false;
  if (count <= 1) pending.delete(callback);
  else pending.set(callback, count - 1);
  return true;
}
