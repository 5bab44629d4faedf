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
   * `free`: nobody holds it; `exclusive`: one holder (today's locks). `shared` (read locks) and `limited`
   * (concurrency limits) are reserved for the kinds of lock that are coming; a backend reports them
   * once it has them.
   */
  mode: LockMode;
  /** Who holds it: none when free, one for `exclusive`, possibly several for `shared` and `limited`. */
  holders: LockHolderInfo[];
  /** Callers of all instances queued for it (waiting acquires; the holder's own place does not count). */
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
