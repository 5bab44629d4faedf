/**
 * What `LockService.inspect` and `list` report about a lock: a snapshot, read from the backend when
 * asked, already stale when it arrives (a holder may release a moment later). For operators and admin
 * routes, never for deciding whether to lock: acquire does that atomically.
 */
export interface LockInfo {
  /** The id as asked for (`inspect`); from `list`, the id read back from the node's name (with `hashIds`, the hashed name). */
  id: string;
  scope: string;
  /**
   * `free`: nobody holds it; `exclusive`: one holder; `shared`: one or more holders of a shared (read)
   * lock; `limited`: the holders of a concurrency-limited lock (`limit`). A limited lock is a lock of its
   * own: `inspect` reports it when the id's exclusive/shared lock is free, `list` as an entry of its own.
   */
  mode: LockMode;
  /** Who holds it, oldest fencing token first: none when free, one for `exclusive`, possibly several for `shared` and `limited`. */
  holders: LockHolderInfo[];
  /** Callers of all instances queued for it (waiting acquires; holders' own places do not count). */
  waiting: number;
}

export type LockMode = 'free' | 'exclusive' | 'shared' | 'limited';

export interface LockHolderInfo {
  /** The holder's `ownerName` (module option; default `<hostname>/<pid>`). */
  owner: string;
  /** When it took the lock. */
  since: Date;
  /** The fencing token it got (see LockHandle.fencingToken). */
  fencingToken: bigint;
}

/** Options of `LockService.inspect` and `list`. */
export interface InspectOptions {
  /** Default `default` for inspect; for list, undefined means every scope of the namespace. */
  scope?: string;
}
