import type { NodeStat, ZookeeperService } from '../zookeeper/zookeeper.service';
import { ZookeeperError } from '../zookeeper/zookeeper.error';
import { isOurs } from './node-ownership';

/**
 * A data watch on one of our holder nodes, set by a read sent right behind the request that made the node
 * (pipelined: the same round trip, and under load the same fsync batch, since ZooKeeper answers a session's
 * requests in order). The read proves the node is ours (token and session) and arms the watch; from then
 * on, until the watch fires, nobody has deleted or changed the node, as far as the notifications that have
 * reached us tell.
 *
 * It does two jobs that used to cost a read each:
 * - the release deletes the node at the version read, without reading it again (one request less per
 *   lock: a fail-fast cycle is create + pipelined read + delete, two round trips, like raw ZooKeeper);
 * - a handle's `signal` listens to it instead of setting a watch of its own, and `fencingToken()` is the
 *   zxid the read saw.
 *
 * What it vouches for, exactly: a deletion or change of the node that the server applied more than one
 * network delay before we send our delete has been notified to us (the server sends the notification when
 * it applies the change). That is the same window the read-then-delete release left (one round trip
 * between the read and the delete): ZooKeeper has no delete conditioned on the owner, so a delete AND a
 * re-create by others within that window cannot be told apart by any client. It vouches only on the
 * connection its read was answered on: after a reconnect, notifications for what changed meanwhile may
 * come after replies to requests sent meanwhile, so the release reads first again (see watchesVouch).
 */
/**
 * How many holder watches a process keeps at once. Each costs about 1.5 KB here (its entry in our watch
 * registry, node-zookeeper-client's emitter for the path, and this object) on top of the ~0.8 KB a held
 * lock costs anyway, so a process holding very many locks at once would pay for speed it does not use
 * (a lock held for minutes gains nothing from a release one request shorter). Locks taken beyond the
 * budget get no watch: their release reads first, and their signal sets a watch when read (as before).
 */
export class HolderWatchBudget {
  private used = 0;

  constructor(readonly max: number) {}

  /** Takes one watch from the budget; false when none is left. */
  take(): boolean {
    if (this.used >= this.max) return false;
    this.used += 1;
    return true;
  }

  give(): void {
    if (this.used > 0) this.used -= 1;
  }

  /** Watches in use now (for tests and leak checks). */
  get inUse(): number {
    return this.used;
  }
}

/** Holder watches per process: see HolderWatchBudget. */
export const HOLDER_WATCHES_MAX = 1_000;

export class HolderWatch {
  private stateValue: 'pending' | 'armed' | 'fired' | 'unarmed' = 'pending';
  /** The node's version and modification zxid (its creation zxid until its data is rewritten), as read. */
  version = 0;
  mzxid = 0n;
  /** The connection the read was answered on (ZookeeperService.connectionEpoch). */
  epoch = -1;
  /**
   * What the read found when the node was not ours (the create failed: the node in our way; null when
   * none was there), so that a conflict can be looked at with no read of its own. Undefined otherwise.
   */
  seen?: NodeStat | null;
  /** Someone listening (a handle's signal): told once, when the node is deleted or changed by anyone. */
  private listener?: (reason: string) => void;
  /** The budget this watch counts against while it lives (given back once it fired or was dropped). */
  private budget?: HolderWatchBudget;

  constructor(readonly path: string) {}

  private end(state: 'fired' | 'unarmed'): void {
    this.stateValue = state;
    this.budget?.give();
    this.budget = undefined;
  }

  /** The function given to the read; also what `zk.unwatch` takes back. */
  readonly callback = (): void => {
    // 'pending' too: the notification may be handled before the read's promise callback runs (both came
    // in one chunk from the socket); the watch then never arms.
    if (this.stateValue !== 'armed' && this.stateValue !== 'pending') return;
    this.end('fired');
    const listener = this.listener;
    this.listener = undefined;
    listener?.(`its node ${this.path} was deleted or changed by someone else`);
  };

  get state(): 'pending' | 'armed' | 'fired' | 'unarmed' {
    return this.stateValue;
  }

  /**
   * Sends the read (call it right after sending the create, before awaiting anything). `owner`: the session
   * the create was answered on, asked when the read answers. `settled` resolves
   * once the read answered: armed when it found our node, unarmed otherwise (a failed read sets no watch;
   * a node that is not ours keeps a server watch that fires into nothing, once).
   */
  static sendRead(
    zk: ZookeeperService,
    path: string,
    token: string,
    owner: () => string | undefined,
    budget?: HolderWatchBudget,
  ): { watch: HolderWatch; settled: Promise<void>; sent: boolean } {
    const watch = new HolderWatch(path);
    if (budget && !budget.take()) {
      watch.stateValue = 'unarmed'; // over budget: no read, no watch
      return { watch, settled: Promise.resolve(), sent: false };
    }
    watch.budget = budget;
    const settled = zk.getData(path, watch.callback).then(
      ({ data, stat }) => {
        const sessionId = owner(); // the session the create was answered on (known by now: it answered first)
        const ours = sessionId !== undefined && isOurs(data, stat, token, sessionId);
        if (!ours) watch.seen = stat; // also once dropped: a conflict looks at it
        if (watch.stateValue !== 'pending') return;
        if (ours) {
          watch.stateValue = 'armed';
          watch.version = stat.version;
          watch.mzxid = stat.mzxid;
          watch.epoch = zk.connectionEpoch;
        } else {
          watch.drop(zk);
        }
      },
      (error) => {
        if (error instanceof ZookeeperError && error.code === 'NO_NODE') watch.seen = null;
        if (watch.stateValue === 'pending') watch.end('unarmed');
      },
    );
    return { watch, settled, sent: true };
  }

  /** Attaches the one listener (or detaches it with undefined). A watch that fired already calls it soon. */
  listen(listener: ((reason: string) => void) | undefined): void {
    this.listener = listener;
    if (listener && this.stateValue === 'fired') {
      queueMicrotask(() => {
        if (this.listener === listener) {
          this.listener = undefined;
          listener(`its node ${this.path} was deleted or changed by someone else`);
        }
      });
    }
  }

  /** Detaches `listener` if it is the one attached (a handle that stops listening). */
  unlisten(listener: (reason: string) => void): void {
    if (this.listener === listener) this.listener = undefined;
  }

  /** The listener, detached (to move it to the watch that replaces this one). */
  takeListener(): ((reason: string) => void) | undefined {
    const listener = this.listener;
    this.listener = undefined;
    return listener;
  }

  /** Takes the watch back (before our own delete fires it, or when the node was not ours). */
  drop(zk: ZookeeperService): void {
    if (this.stateValue !== 'fired') this.end('unarmed');
    this.listener = undefined;
    zk.unwatch(this.path, this.callback);
  }
}

/**
 * Whether a release may delete these holder nodes at the versions their watches read, without reading
 * them again (a pure decision, unit-tested): every one is armed, on the connection that is live now, of
 * the session that owns them. Anything else (a watch that fired, a read that failed, a reconnect since, a
 * session that is not connected) reads first, as a release always did.
 */
export function watchesVouch(
  watches: ReadonlyArray<Pick<HolderWatch, 'state' | 'epoch'>> | undefined,
  holders: number,
  now: { epoch: number; connected: boolean; sessionId: string | undefined },
  owner: string,
): boolean {
  if (!watches || watches.length !== holders || holders === 0) return false;
  if (!now.connected || now.sessionId !== owner) return false;
  return watches.every((w) => w.state === 'armed' && w.epoch === now.epoch);
}
