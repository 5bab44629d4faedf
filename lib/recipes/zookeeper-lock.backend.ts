import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { map, Observable, filter, take } from 'rxjs';
import { ZookeeperService } from '../zookeeper/zookeeper.service';
import { secretsOf } from '../zookeeper/connection-secrets';
import { ZookeeperError } from '../zookeeper/zookeeper.error';
import { settleWithin } from '../zookeeper/settle-within';
import { GrantGoneError, GrantLoss, LockBackend, LockGrant, LockRequest } from '../lock/lock-backend';
import { describeLock, LockConflictError, LockUnavailableError } from '../lock/lock.errors';
import { MAX_TIMER_MS } from './long-timeout';
import { acquireFailFast, OwnedNodes } from './fail-fast.recipe';
import { abortOf, acquireQueued, answerBudget, WaitLimits } from './queued.recipe';
import { joinSharedFailFast } from './shared.recipe';
import { acquireLimited } from './limited.recipe';
import { LockContext, unavailable } from './lock-context';
import { HashedNames } from './hashed-names';
import { IdNamer, LockTarget, lockTargets } from './lock-paths';
import { NodeJanitor } from './node-janitor';
import { backoffDelay } from './backoff';
import { isOurs, readOwnership, removeRead } from './node-ownership';
import { inspectLock, listLocks } from './lock-inspection';
import type { LockInfo } from '../lock/lock-info';
import { queueRemovals } from './release-plan';
import { removeBatches } from './remove-batches';
import { HolderWatch, watchesVouch } from './holder-watch';
import { encodeNodeData } from './node-data';

const SESSION_ENDS: ReadonlySet<string> = new Set(['expired', 'lost', 'auth-failed']);

/** One acquisition in ZooKeeper: the nodes it made on one session, all carrying one token. */
export interface ZookeeperGrant extends LockGrant {
  /** Session id; the nodes live exactly as long as it. */
  readonly owner: string;
  readonly owned: OwnedNodes;
  /** Unique per acquisition; the data of every node it made. */
  readonly token: string;
  /** Queues this acquisition waited in (their now-empty directories are removed at release). */
  readonly queues: LockTarget[];
}

/**
 * Locks as ZooKeeper nodes on the application's one session (see lock-paths.ts for the layout):
 * fail-fast is one ephemeral node, waiting goes through an ephemeral-sequential queue.
 */
@Injectable()
export class ZookeeperLockBackend implements LockBackend, OnApplicationBootstrap {
  private readonly logger = new Logger('ZookeeperLock');
  private readonly janitor: NodeJanitor;
  private readonly context: LockContext;
  /** Acquisition tokens: a random per-process prefix and a counter (unique, and cheaper than 16 random bytes each). */
  private readonly tokenPrefix = randomBytes(8).toString('hex');
  private tokenCounter = 0;
  /** Hashed node names (the `hashIds` option), or undefined for plain ones. */
  private readonly nameOf?: IdNamer;

  readonly losses: Observable<GrantLoss>;

  constructor(private readonly zk: ZookeeperService) {
    this.janitor = new NodeJanitor(zk, this.logger);
    this.context = new LockContext(zk, this.janitor, this.logger);
    const { hashIds } = secretsOf(zk);
    if (hashIds) {
      const names = new HashedNames(hashIds.secret);
      this.nameOf = (scope, id) => names.nameOf(scope, id);
    }
    // A session that ended (expired, given up as lost, or refused by the server after an auth failure: the
    // service abandons it and will not reconnect) takes its grants with it; a close takes every grant.
    this.losses = zk.state$.pipe(
      filter((event) => (SESSION_ENDS.has(event.state) && !!event.sessionId) || event.state === 'closed'),
      map((event) =>
        event.state === 'closed'
          ? { reason: 'the ZooKeeper connection was closed' }
          : { owner: event.sessionId, reason: `ZooKeeper session 0x${event.sessionId} ${event.state}` },
      ),
    );
  }

  /**
   * At start-up (the session is open by then, unless ZooKeeper is down): create the namespace with the
   * configured ACL and check that nobody else may create, delete or administer in it, so that a foreign
   * ACL is reported (error log, health down) before the first lock, not at it. Never fails start-up.
   */
  async onApplicationBootstrap(): Promise<void> {
    if (this.zk.state !== 'connected') return;
    await this.atMostOperationTimeout(this.context.ensureDir(this.zk.options.namespace).catch(() => undefined));
  }

  acquire(request: LockRequest): Promise<ZookeeperGrant> {
    const taking = this.take(request);
    const { wait, shared, limit } = request;
    // An exclusive fail-fast acquire bounds itself (fail-fast.recipe.ts): its hot path sets no timer.
    if (wait === 0 && !shared && limit === undefined) return taking;
    const { operationTimeout } = this.zk.options;
    const bound = wait === 0 ? operationTimeout : wait + operationTimeout;
    // A wait past the longest timer is a wait for ever: no bound to keep.
    return bound > MAX_TIMER_MS ? taking : this.answerWithin(taking, bound, request);
  }

  /**
   * The answer of an acquire within `ms` (README "Bounded answers"), whatever chain of requests a slow
   * server drags its recipe through (each request is allowed an operation timeout; a recipe looks at its
   * deadline between steps, but not inside every helper). Past it the caller is answered: for a waiting
   * acquire LockConflictError (its wait is over, as the recipe would say at its next step), for a
   * fail-fast one LockUnavailableError (ZooKeeper did not answer in time). The recipe, whose deadline has
   * passed as well, gives up at its next step and cleans up as on any give-up; a grant it gets all the
   * same is released at once (nobody was given it). The janitor counts that work as under way (drain).
   */
  private answerWithin(taking: Promise<ZookeeperGrant>, ms: number, { ids, scope, wait, signal, callerSignal }: LockRequest): Promise<ZookeeperGrant> {
    return settleWithin(taking, ms, () => {
      void this.janitor.follow(taking.then((grant) => this.release(grant)));
      // An abort (the caller's, or the shutdown's) answers with its reason, as the recipe would have.
      const aborted = abortOf({ deadline: 0, wait, signal, callerSignal });
      throw aborted
        ? aborted.reason
        : wait > 0
          ? new LockConflictError(ids, scope, wait)
          : new LockUnavailableError(`ZooKeeper did not answer the acquire of ${describeLock(ids, scope)} within operationTimeout (${ms} ms)`);
    });
  }

  private async take({ ids, scope, wait, signal, callerSignal, maxQueue, shared, limit }: LockRequest): Promise<ZookeeperGrant> {
    const targets = lockTargets(this.zk.options.namespace, scope, ids, this.nameOf);
    const ctx = this.context;
    const bounds = { signal, callerSignal, maxQueue };
    let taken: { owned: OwnedNodes; token: string };
    if (limit !== undefined) {
      // A limited lock has no queue of its own: its callers' nodes are the queue (limited.recipe.ts).
      taken = await this.acquireEach(targets, wait, bounds, (target, limits, token) => acquireLimited(ctx, target, token, limit, wait === 0 ? undefined : limits));
    } else if (wait === 0 && shared) {
      taken = await this.acquireEach(targets, wait, bounds, async (target, _limits, token) => {
        const member = await joinSharedFailFast(ctx, target, token);
        return { nodes: [member.path], holders: [member.path], sessionId: member.sessionId, sweep: [], groups: [target.holder] };
      });
    } else if (wait === 0) {
      const token = this.nextToken();
      taken = { owned: await acquireFailFast(ctx, targets, token), token };
    } else {
      taken = await this.acquireEach(targets, wait, bounds, (target, limits, token) => acquireQueued(ctx, target, token, limits, shared === true, targets.length === 1), true);
    }
    const { owned, token } = taken;
    if (this.zk.sessionId !== owned.sessionId) {
      // The session ended between our create and now: ZooKeeper has dropped the nodes already.
      throw new LockUnavailableError('ZooKeeper session ended while taking the lock');
    }
    return { owner: owned.sessionId, owned, token, queues: wait === 0 || limit !== undefined ? [] : targets };
  }

  /**
   * `onLateLoss`: told when the part of the release that goes on past its bound of two operation
   * timeouts (a slow server) finds the lock was lost before it (its node deleted or changed by someone):
   * the release itself returned by then, and could not say so.
   */
  release(grant: ZookeeperGrant, onLateLoss?: (error: GrantGoneError) => void): Promise<void> {
    return this.releaseNodes(grant.owned, grant.token, grant.queues, onLateLoss);
  }

  /** A lost grant whose session lives on: its nodes still ours (its waiter node) go; its holder is gone. */
  async discard(grant: ZookeeperGrant): Promise<void> {
    await this.releaseNodes(grant.owned, grant.token, grant.queues).catch((error) => {
      if (!(error instanceof GrantGoneError)) throw error;
    });
  }

  /**
   * One data watch per holder node (getData, which also checks the node is still ours): a deletion or
   * change by anyone but our own release calls `onGone`. A watch read that meets connection trouble set
   * no watch (nothing is re-registered on reconnect), so it is read again, while the grant's session
   * lives: at once, then with backoff, and on the next connection of that session. Session loss itself
   * comes through `losses`.
   */
  watch(grant: ZookeeperGrant, onGone: (reason: string) => void): () => void {
    const owned = grant.owned;
    const set = owned.watches;
    // Where the listener is, a fencing rewrite (rewriteHolder) finds it, and moves it to the watch it sets
    // before its own change could fire the old one; so the function returned stops it wherever it is now.
    const stop = (listener: (reason: string) => void) => () => {
      if (owned.listener === listener) {
        owned.listener = undefined;
        owned.stopWatching?.(); // reads of our own, if they carry it
        owned.stopWatching = undefined;
      }
      for (const w of owned.watches ?? []) w.unlisten(listener);
    };
    if (set && set.length === owned.holders.length && set.every((w) => w.state === 'armed' || w.state === 'fired')) {
      // The watches set with the acquire (holder-watch.ts): listening costs no request. They stay on the
      // server across reconnects of the session (the client re-registers them), like the ones below.
      let told = false;
      const once = (reason: string) => {
        if (told) return;
        told = true;
        onGone(reason);
      };
      for (const w of set) w.listen(once);
      owned.listener = once;
      return stop(once);
    }
    owned.stopWatching?.(); // (none: a grant's one handle listens once)
    owned.listener = onGone;
    owned.stopWatching = this.watchByReading(grant, onGone);
    return stop(onGone);
  }

  /**
   * A data watch per holder node set by reads of their own (when the holder watches cannot serve): each
   * read also checks the node is still ours. A read that meets connection trouble set no watch (nothing
   * is re-registered on reconnect), so it is read again, while the grant's session lives: at once, then
   * with backoff, and on the next connection of that session. Returns the function that stops it.
   */
  private watchByReading(grant: ZookeeperGrant, onGone: (reason: string) => void): () => void {
    let stopped = false;
    const retries = new Set<() => void>(); // cancels pending re-reads (timers, session subscriptions)
    const gone = (reason: string) => {
      if (stopped) return;
      stop();
      onGone(reason);
    };
    const arm = (path: string, fired: () => void, attempt: number) => {
      this.zk.getData(path, fired).then(
        ({ data, stat }) => {
          if (!isOurs(data, stat, grant.owned.holderToken ?? grant.token, grant.owner)) gone(`its node ${path} now belongs to someone else`);
        },
        (error) => {
          if (stopped || !(error instanceof ZookeeperError)) return;
          if (error.code === 'NO_NODE') return gone(`its node ${path} is gone`);
          if (error.isConnectivity && this.zk.sessionId === grant.owner) retry(() => arm(path, fired, attempt + 1), attempt);
        },
      );
    };
    const retry = (again: () => void, attempt: number) => {
      // Connected: a pause that grows (a throttled server is not hammered), the first one next turn.
      // Not connected: on the next connection, if it is still the grant's session.
      const delay = attempt === 0 ? 0 : backoffDelay(attempt - 1);
      const timer = setTimeout(() => {
        retries.delete(cancel);
        if (this.zk.state === 'connected') return again();
        const session = this.zk.state$.pipe(filter((event) => event.state === 'connected'), take(1)).subscribe((event) => {
          retries.delete(cancelSession);
          if (event.sessionId === grant.owner) again();
        });
        const cancelSession = () => session.unsubscribe();
        retries.add(cancelSession);
      }, delay);
      const cancel = () => clearTimeout(timer);
      retries.add(cancel);
    };
    const watches = grant.owned.holders.map((path) => {
      const fired = () => gone(`its node ${path} was deleted or changed by someone else`);
      arm(path, fired, 0);
      return { path, fired };
    });
    const stop = () => {
      stopped = true;
      for (const cancel of retries) cancel();
      retries.clear();
      for (const { path, fired } of watches) this.zk.unwatch(path, fired);
    };
    return stop;
  }

  /** The highest creation zxid of the grant's holder nodes, after checking they are still ours. */
  async fencingToken(grant: ZookeeperGrant): Promise<bigint> {
    // Released or handed over (or its release has begun): the node, if still there, is not ours to give a
    // token for, nor to rewrite (a rewrite after the release's read would move the node past the version
    // its delete uses, and the node would stay for the session's life).
    if (grant.owned.done || grant.owned.releasing) throw new GrantGoneError('it was released');
    const set = grant.owned.watches;
    const zk = this.zk;
    if (watchesVouch(set, grant.owned.holders.length, { epoch: zk.connectionEpoch, connected: zk.state === 'connected', sessionId: zk.sessionId }, grant.owner)) {
      // A lock handed over inside the process (hand-off.ts) still has its first holder's node: its data is
      // rewritten once (same token), so that this holder's token is a zxid newer than any earlier holder's.
      if (this.needsRewrite(grant)) return this.rewriteHolder(grant, (set ?? [])[0].version);
      // The watches vouch for the nodes their reads saw: those zxids, with no request.
      return (set ?? []).reduce((max, w) => (w.mzxid > max ? w.mzxid : max), 0n);
    }
    let token = 0n;
    for (const holder of grant.owned.holders) {
      try {
        const { data, stat } = await this.zk.getData(holder);
        if (grant.owned.done || grant.owned.releasing) throw new GrantGoneError('it was released'); // while we read
        if (!isOurs(data, stat, grant.owned.holderToken ?? grant.token, grant.owner)) {
          throw new GrantGoneError('its node now belongs to someone else');
        }
        if (this.needsRewrite(grant)) return await this.rewriteHolder(grant, stat.version);
        if (stat.mzxid > token) token = stat.mzxid; // its creation zxid, unless we rewrote its data since
      } catch (error) {
        if (error instanceof ZookeeperError && error.code === 'NO_NODE') throw new GrantGoneError('its node is gone');
        throw error instanceof ZookeeperError ? unavailable(error) : error;
      }
    }
    return token;
  }

  /** The modification zxid of our holder node, read (no watch); GrantGoneError when it is not ours. */
  private async readToken(grant: ZookeeperGrant, holder: string, holderToken: string): Promise<bigint> {
    try {
      const { data, stat } = await this.zk.getData(holder);
      if (!isOurs(data, stat, holderToken, grant.owner)) throw new GrantGoneError('its node now belongs to someone else');
      return stat.mzxid;
    } catch (error) {
      if (error instanceof ZookeeperError && error.code === 'NO_NODE') throw new GrantGoneError('its node is gone');
      throw error instanceof ZookeeperError ? unavailable(error) : error;
    }
  }

  /** A handed-over holder node (hand-off.ts) whose data this grant has not rewritten yet. */
  private needsRewrite(grant: ZookeeperGrant): boolean {
    return grant.owned.holderToken !== undefined && !grant.owned.rewritten && grant.owned.holders.length === 1;
  }

  /**
   * The fencing token of a handed-over lock: its holder node is its first holder's, whose zxid an earlier
   * holder may have handed out already. Its data is rewritten (the same token, so every ownership check
   * stays as it was; this holder's time) at the version last seen, with the watch read for the new
   * version right behind it; the new modification zxid is the token, newer than any earlier holder's. A
   * release waits for it. A refusal (the node was changed or deleted) is the lock's loss; no answer leaves
   * the grant without a watch that vouches, so its release reads first.
   */
  private async rewriteHolder(grant: ZookeeperGrant, version: number): Promise<bigint> {
    const owned = grant.owned;
    const holderToken = owned.holderToken as string;
    const holder = owned.holders[0];
    const zk = this.zk;
    const [old] = owned.watches ?? [];
    // The handle's loss listener, on the watch being replaced or on the reads that stood in for a watch
    // (after an earlier rewrite got no answer, or a signal made while no watch vouched): both are taken
    // back before our own change fires them, and the listener goes on the new watch.
    const listener = owned.listener;
    old?.takeListener();
    old?.drop(zk);
    owned.stopWatching?.();
    owned.stopWatching = undefined;
    const written = zk.multi([{ op: 'setData', path: holder, data: encodeNodeData(holderToken, zk.options.ownerName), version }], grant.owner);
    const read = HolderWatch.sendRead(zk, holder, holderToken, () => grant.owner, this.context.holderWatches);
    owned.watches = [read.watch];
    read.watch.listen(listener);
    // Whoever listens (the handle's signal) must go on hearing of a loss: told now when the node is not
    // ours, or watched by reads of its own when the new watch could not be set.
    const keepListening = (lost?: string) => {
      if (!listener || owned.done || owned.listener !== listener) return; // (stopped listening meanwhile)
      if (lost) return listener(lost);
      owned.stopWatching = this.watchByReading(grant, listener);
    };
    const rewriting = (async () => {
      try {
        await written;
      } catch (error) {
        read.watch.drop(zk);
        if (error instanceof ZookeeperError && (error.code === 'BAD_VERSION' || error.code === 'NO_NODE')) {
          keepListening(`its node ${holder} was deleted or changed by someone else`);
          throw new GrantGoneError(`its node ${holder} was deleted or changed by someone else`);
        }
        // Unknown: its version is unknown now; the release reads it first (the watch no longer vouches).
        keepListening();
        throw error instanceof ZookeeperError ? unavailable(error) : error;
      }
      owned.rewritten = true;
      await read.settled;
      const watch = read.watch;
      // Armed: the read saw our rewritten node, whose zxid is the token.
      if (watch.state === 'armed') return watch.mzxid;
      // Fired before its answer was taken in, gone (NO_NODE), or someone else's: lost since our rewrite.
      if (watch.state === 'fired' || watch.seen !== undefined) {
        const reason = watch.seen ? `its node ${holder} now belongs to someone else` : `its node ${holder} was deleted or changed by someone else`;
        keepListening(reason);
        throw new GrantGoneError(reason);
      }
      keepListening();
      // No watch slot was free (the budget): no watch, so one plain read for the token, as beyond it anyway.
      if (!read.sent) return this.readToken(grant, holder, holderToken);
      throw new LockUnavailableError(`ZooKeeper did not answer the read of ${holder} after rewriting it`);
    })();
    owned.rewriting = rewriting;
    try {
      return await rewriting;
    } finally {
      if (owned.rewriting === rewriting) owned.rewriting = undefined;
    }
  }

  /** The lock's holder node and queue, read together: one round trip (see lock-inspection.ts). */
  inspect(scope: string, id: string): Promise<LockInfo> {
    return inspectLock(this.zk, this.zk.options.namespace, scope, id, this.nameOf);
  }

  /** Reads every scope dir, holder and queue of the namespace (or of one scope): see lock-inspection.ts. */
  list(scope?: string): Promise<LockInfo[]> {
    return listLocks(this.zk, this.zk.options.namespace, scope, this.nameOf !== undefined);
  }

  /** Lets interrupted clean-up finish, for at most one operation timeout. */
  shutdown(): Promise<void> {
    return this.atMostOperationTimeout(this.janitor.drain());
  }

  // ---------------------------------------------------------------- machinery

  private atMostOperationTimeout(work: Promise<void>): Promise<void> {
    return settleWithin(work, this.zk.options.operationTimeout, () => undefined);
  }

  private nextToken(): string {
    this.tokenCounter += 1;
    return this.tokenPrefix + this.tokenCounter.toString(16);
  }

  /**
   * Acquire of each id in the global order (no deadlock), one after the other; all or none. If the
   * session that holds the first ids ends while we wait for the others, those are gone: start over on the
   * live session, with a new token. (What the failed attempt took may still be in the janitor's hands,
   * found by its token and session: with the same token, the new attempt could adopt such a node, e.g. as
   * "our own holder from a lost create", and the janitor then delete it under the new grant.)
   */
  private async acquireEach(
    targets: LockTarget[],
    wait: number,
    { signal, callerSignal, maxQueue }: Pick<LockRequest, 'signal' | 'callerSignal' | 'maxQueue'>,
    acquireOne: (target: LockTarget, limits: WaitLimits, token: string) => Promise<OwnedNodes>,
    queued = false,
  ): Promise<{ owned: OwnedNodes; token: string }> {
    const limits: WaitLimits = { deadline: performance.now() + wait, wait, signal, callerSignal, maxQueue };
    // What a failed multi-id acquire took is freed with its queues only where it queued.
    const queuesOf = queued ? targets : [];
    for (;;) {
      const token = this.nextToken();
      const taken: OwnedNodes[] = [];
      try {
        for (const target of targets) {
          const owned = await acquireOne(target, limits, token);
          taken.push(owned);
          if (owned.sessionId !== taken[0].sessionId) break;
        }
      } catch (error) {
        // Within the same bound as the failed wait's own answer; the rest goes on in the background.
        await settleWithin(this.releaseQuietly(taken, token, queuesOf), answerBudget(this.context, limits), () => undefined);
        throw error;
      }
      if (taken.every((owned) => owned.sessionId === taken[0].sessionId)) {
        const owned: OwnedNodes = {
          nodes: taken.flatMap((o) => o.nodes),
          holders: taken.flatMap((o) => o.holders),
          sessionId: taken[0].sessionId,
          sweep: taken.flatMap((o) => o.sweep ?? []),
          strays: taken.flatMap((o) => o.strays ?? []),
          groups: taken.flatMap((o) => o.groups ?? []),
          // Every holder watched, or none counted as such (the release then reads them all).
          watches: taken.every((o) => o.watches?.length === o.holders.length) ? taken.flatMap((o) => o.watches ?? []) : undefined,
          // Only a single-id acquire takes over a lock handed over in the process (hand-off.ts).
          holderToken: taken.length === 1 ? taken[0].holderToken : undefined,
        };
        return { owned, token };
      }
      // Bounded like the failure's release above: the next attempt looks at the deadline at once, and a
      // release that meets no answers goes on in the background (the next attempt's token is its own).
      await settleWithin(this.releaseQuietly(taken, token, queuesOf), answerBudget(this.context, limits), () => undefined);
    }
  }

  /**
   * Removes a group (a shared lock's, a limited lock's) if it is empty, never anything else: with the
   * squatter MULTI (a child made and removed first, so a holder node made at that path meanwhile, which
   * can have no children, makes the whole request fail), at the version read.
   */
  private async removeEmptyGroup(group: string): Promise<void> {
    const stat = await this.zk.exists(group).catch(() => undefined);
    if (!stat || stat.numChildren > 0 || stat.ephemeralOwner !== undefined) return;
    await this.context.removeSquatter(group, stat.version, true).catch(() => undefined);
  }

  /** Frees what a failed multi-id acquire took (only nodes still ours; the session check is in releaseNodes). */
  private async releaseQuietly(taken: OwnedNodes[], token: string, targets: LockTarget[]): Promise<void> {
    await Promise.all(taken.map((owned, i) => this.releaseNodes(owned, token, targets[i] ? [targets[i]] : []).catch(() => undefined)));
  }

  /**
   * Frees an acquisition's nodes: without reading them when their watches vouch for them (deleteUnread),
   * else by reading first (releaseRead). Only while the session that made them lives.
   */
  private releaseNodes(owned: OwnedNodes, token: string, queues: LockTarget[], onLateLoss?: (error: GrantGoneError) => void): Promise<void> {
    owned.releasing = true; // no fencing rewrite may start from now on (see fencingToken)
    const started = performance.now();
    if (!owned.rewriting) return this.releaseNow(owned, token, queues, started, onLateLoss);
    // A fencing rewrite under way changes the version our delete needs: the release follows it, and
    // answers within its usual bound of two operation timeouts (the rest goes on in the background).
    const after = owned.rewriting.catch(() => undefined).then(() => this.releaseNow(owned, token, queues, started, onLateLoss));
    return this.releaseWithin(after, started, onLateLoss);
  }

  private async releaseNow(owned: OwnedNodes, token: string, queues: LockTarget[], started: number, onLateLoss?: (error: GrantGoneError) => void): Promise<void> {
    owned.done = true;
    owned.stopWatching?.();
    if (this.zk.sessionId !== owned.sessionId) {
      for (const watch of owned.watches ?? []) watch.drop(this.zk); // gives its budget back (the session's watches are gone)
      return;
    }
    const unread = this.mayDeleteUnread(owned);
    if (unread && this.handOver(owned, token)) return;
    if (unread) return this.deleteUnread(owned, token, queues, started, onLateLoss);
    for (const watch of owned.watches ?? []) watch.drop(this.zk);
    // The read-first release may chain more requests (reads, removals, an emptied group's removal, the
    // queues, the janitor), each allowed an operation timeout: its caller waits two in all at most (README
    // "Bounded answers"), and what is left goes on in the background.
    return this.releaseWithin(this.releaseRead(owned, token, queues), started, onLateLoss);
  }

  /**
   * A release's `work`, answered within two operation timeouts of its start; past that it goes on in the
   * background, and a loss it finds then (GrantGoneError) goes to `onLateLoss` instead of the caller.
   */
  private releaseWithin(work: Promise<void>, started: number, onLateLoss?: (error: GrantGoneError) => void): Promise<void> {
    let late = false;
    work.catch((error) => {
      if (late && error instanceof GrantGoneError) onLateLoss?.(error);
    });
    return settleWithin(work, 2 * this.zk.options.operationTimeout - (performance.now() - started), () => {
      late = true;
    });
  }

  /**
   * A queued lock whose next waiter waits in this process, on this session, goes to it with no request
   * at all (hand-off.ts): it takes our holder node and its watch as they are. True when handed over.
   */
  private handOver(owned: OwnedNodes, token: string): boolean {
    if (owned.holders.length !== 1 || owned.nodes.length > 2) return false;
    // The next in line waits on our waiter node, or, when we have none (fail-fast, uncontended), on our holder.
    const waitedOn = owned.nodes.length === 2 ? owned.nodes[1] : owned.holders[0];
    const watches = owned.watches ?? [];
    for (const watch of watches) watch.listen(undefined); // our handle's signal no longer listens
    const handed = this.context.handOffs.handTo(waitedOn, owned.sessionId, { owned, holderToken: owned.holderToken ?? token, waiterToken: token });
    if (!handed) return false;
    this.sweepStrays(owned, token);
    return true;
  }

  /**
   * Nodes of ours from creates whose replies were lost and that landed late (rare), found by token: in
   * queues (a queue left empty goes too), and in groups and limited containers (which stay).
   */
  private sweepStrays(owned: OwnedNodes, token: string): void {
    for (const queue of owned.sweep ?? []) void this.janitor.sweepQueue(queue, token, owned.sessionId);
    for (const dir of owned.strays ?? []) void this.janitor.removeOwnedChildren(dir, token, owned.sessionId);
  }

  /** The janitor removes what of a grant is still ours (by the tokens its nodes carry). */
  private removeOwnedLater(owned: OwnedNodes, token: string): Promise<void> {
    return Promise.all(byToken(owned, token).map((group) => this.janitor.removeOwned(group.paths, group.token, owned.sessionId))).then(() => undefined);
  }

  /** The holder nodes' watches still vouch for them (holder-watch.ts), and nothing else needs a read. */
  private mayDeleteUnread(owned: OwnedNodes): boolean {
    if ((owned.groups?.length ?? 0) > 0) return false; // a group's emptiness is only known by reading it
    // A grant too big for one MULTI (many long ids: see remove-batches.ts) goes the batched read path.
    if (removeBatches(owned.nodes.map((path) => ({ path: `${path}%q` }))).length > 1) return false;
    const zk = this.zk;
    return watchesVouch(owned.watches, owned.holders.length, { epoch: zk.connectionEpoch, connected: zk.state === 'connected', sessionId: zk.sessionId }, owned.sessionId);
  }

  /**
   * The release when the holder nodes' watches vouch for them: no read. One MULTI (or a plain delete)
   * removes the holder nodes at the versions their watches read, our waiter nodes (their names carry our
   * token: nobody else's node can have them) at version 0 (we never change them), and the queues we
   * waited in when no other acquire of this process waits there (else they are not empty: someone must be
   * behind us). A queue another process joined meanwhile makes the MULTI fail as a whole (NOT_EMPTY): then
   * the nodes go without it (removeRead does that), and the last one out, or the server, removes it. A
   * node that vanished or changed meanwhile (NO_NODE, BAD_VERSION) is skipped, as in the read path; if a
   * holder was among them, its watch fired, and the lock is reported lost by that.
   */
  private async deleteUnread(owned: OwnedNodes, token: string, queues: LockTarget[], started: number, onLateLoss?: (error: GrantGoneError) => void): Promise<void> {
    const watches = owned.watches ?? [];
    // Our own delete will fire the watches: nobody may be told of that (the handle stopped listening).
    // They stay registered until the release is done, so that a refused MULTI is sent again only while
    // they still vouch for the nodes (a notification comes before the reply that follows it).
    for (const watch of watches) watch.takeListener();
    const holders = new Set(owned.holders);
    const nodes = [
      ...watches.map((w) => ({ path: w.path, version: w.version })),
      ...owned.nodes.filter((path) => !holders.has(path)).map((path) => ({ path, version: 0 })),
    ];
    // Only a queue we had a waiter node in (the uncontended acquire makes none), and nobody of ours waits in.
    const inQueue = (target: LockTarget) => owned.nodes.some((path) => path.startsWith(`${target.queue}/`));
    const emptied = queues.filter((target) => inQueue(target) && this.context.waitingHere(target.key) === 0).map((target) => target.queue);
    // Only on the session whose watches vouch for the nodes (on another, a node of the same name and
    // version may be someone else's): unsent otherwise, SESSION_EXPIRED.
    const session = owned.sessionId;
    const send = (queuesToo: string[]) =>
      nodes.length === 1 && queuesToo.length === 0
        ? this.zk.remove(nodes[0].path, nodes[0].version, session)
        : this.zk.multi([...nodes, ...queuesToo.map((path) => ({ path, version: -1 }))].map((n) => ({ op: 'remove' as const, ...n })), session);
    try {
      await send(emptied);
    } catch (error) {
      // Whatever follows a refused or unanswered first request (the MULTI again without a queue someone
      // joined, the read path, the janitor) is bounded as a whole: the release returns within two
      // operation timeouts of its start, and the rest goes on in the background. (The fast path, one
      // request answered, sets no timer for it.)
      const rest = this.afterUnreadDelete(error, owned, token, queues, nodes.length, emptied, send).finally(() => this.dropWatches(watches));
      return this.releaseWithin(rest, started, onLateLoss);
    }
    this.dropWatches(watches);
    this.sweepStrays(owned, token);
  }

  private dropWatches(watches: HolderWatch[]): void {
    for (const watch of watches) watch.drop(this.zk);
  }

  /** deleteUnread after its first request failed with `first`. */
  private async afterUnreadDelete(
    first: unknown,
    owned: OwnedNodes,
    token: string,
    queues: LockTarget[],
    nodeCount: number,
    emptied: string[],
    send: (queuesToo: string[]) => Promise<unknown>,
  ): Promise<void> {
    let error = first;
    let queuesToo = emptied;
    try {
      for (;;) {
        if (!(error instanceof ZookeeperError) || error.isConnectivity) throw error;
        const at = nodeCount === 1 && queuesToo.length === 0 ? 0 : (error.opIndex ?? -1);
        // A queue someone joined (NOT_EMPTY) or removed: the MULTI did nothing. Again without that queue
        // (the others we emptied still go with it), but only while the holder watches still vouch for our
        // nodes: one that fired meanwhile was someone else's doing (our refused MULTI deleted nothing),
        // and the node there now may be someone else's at the same version. Then the read path decides.
        if (at >= nodeCount && at < nodeCount + queuesToo.length && this.mayDeleteUnread(owned)) {
          queuesToo = queuesToo.filter((_, i) => i !== at - nodeCount);
          try {
            await send(queuesToo);
            break;
          } catch (again) {
            error = again;
            continue;
          }
        }
        // One of our nodes is not as its watch left it (deleted or changed within the last moments), or
        // the watches no longer vouch: the read path sorts out what is still ours, and reports the lock
        // lost if a holder is not.
        if (error.code === 'NO_NODE' || error.code === 'BAD_VERSION' || error.code === 'NOT_EMPTY') {
          this.dropWatches(owned.watches ?? []);
          return await this.releaseRead(owned, token, queues);
        }
        throw error;
      }
    } catch (failure) {
      if (!(failure instanceof ZookeeperError)) throw failure;
      // (When the session ended meanwhile, ZooKeeper removed its nodes: nothing to retry, nothing to say.)
      if (failure.isConnectivity && this.zk.sessionId === owned.sessionId) this.logger.warn(`Lock release interrupted (${failure.code}); retrying until the session ends`);
      // As in the read path: the janitor finishes (token and owner checked), in the background past the bound.
      await this.removeOwnedLater(owned, token);
      return;
    }
    this.sweepStrays(owned, token);
  }

  /**
   * Deletes an acquisition's nodes, only those still provably ours: one pipelined read of every node (token
   * and ephemeral owner), then versioned deletes of the ones that are ours (one round trip each way).
   * Only while the session that made them lives: after that they are gone, and a node of the same name is
   * someone else's. When a holder node is gone or someone else's, the lock was lost before this release:
   * nothing of it is deleted, and the release rejects with GrantGoneError (the service marks the lock lost).
   * If the connection fails midway, the janitor finishes the job with the same checks.
   */
  private async releaseRead(owned: OwnedNodes, token: string, queues: LockTarget[]): Promise<void> {
    if (this.zk.sessionId !== owned.sessionId) return;
    let notOurs: string[] = [];
    let interrupted = false;
    let queuesLeft = queues;
    try {
      // One round trip of reads: each node's owner and token, and each queue's number of waiters.
      const groups = owned.groups ?? [];
      const [readings, queueStats, groupStats] = await Promise.all([
        Promise.all(byToken(owned, token).map((group) => readOwnership(this.zk, group.paths, group.token, owned.sessionId))).then((all) => all.flat()),
        Promise.all(queues.map((target) => this.zk.exists(target.queue).catch(() => undefined))),
        Promise.all(groups.map((group) => this.zk.exists(group).catch(() => undefined))),
      ]);
      const ours = readings.flatMap((r) => (r.kind === 'ours' ? [{ path: r.path, version: r.version }] : []));
      // A waiter node that vanished does not matter (the holder node is the lock); a holder node does.
      const holders = new Set(owned.holders);
      notOurs = readings.filter((r) => r.kind !== 'ours' && holders.has(r.path)).map((r) => r.path);
      // A queue whose only waiters are the ones we remove (or none: ours was deleted by someone) goes in
      // the same MULTI (one write for all); one with other waiters is left to them.
      const decision = queueRemovals(queues.map((target, i) => ({ queue: target.queue, children: queueStats[i] === null ? null : queueStats[i]?.numChildren })), ours.map((n) => n.path));
      // A group (shared holders, limited callers) we were the last member of goes in the same MULTI, and
      // only there: removed after our member in one atomic request, it is certainly still that group
      // (never a holder node made at its path meanwhile). Otherwise the next callers or the server reap it.
      const lastOf = queueRemovals(groups.map((group, i) => ({ queue: group, children: groupStats[i]?.numChildren })), ours.map((n) => n.path), false).remove;
      const untried = ours.length > 0 ? await removeRead(this.zk, owned.sessionId, ours, [...decision.remove, ...lastOf]) : decision.remove;
      queuesLeft = queues.filter((target) => decision.probe.includes(target.queue) || untried.includes(target.queue));
      // Others were in a group when we read it: if they left at the same moment as we did, nobody took the
      // group along. One read tells (after our removal); an empty group is then removed the safe way.
      const others = groups.filter((group, i) => !lastOf.includes(group) && (groupStats[i]?.numChildren ?? 0) > 0);
      const leftovers = [...others, ...lastOf.filter((group) => untried.includes(group))];
      if (ours.length > 0 && leftovers.length > 0) await Promise.all(leftovers.map((group) => this.removeEmptyGroup(group)));
    } catch (error) {
      if (!(error instanceof ZookeeperError)) throw error;
      interrupted = true;
      // (When the session ended meanwhile, ZooKeeper removed its nodes: nothing to retry, nothing to say.)
      if (error.isConnectivity && this.zk.sessionId === owned.sessionId) this.logger.warn(`Lock release interrupted (${error.code}); retrying until the session ends`);
      // Wait for the janitor for at most one more operation timeout, so that a release (and the HTTP
      // answer behind it) never hangs through an outage; the janitor goes on in the background.
      await this.atMostOperationTimeout(this.removeOwnedLater(owned, token));
    }
    // Our own waiter nodes from creates whose replies were lost and that landed late (rare): by token.
    this.sweepStrays(owned, token);
    if (queuesLeft.length > 0) {
      const removals = Promise.all(queuesLeft.map((target) => this.context.removeQueueIfEmpty(target)));
      // After an interrupted release the two operation timeouts are spent: the empty queues go in the
      // background (the server reaps empty container queues anyway), so the release stays bounded.
      if (interrupted) void removals;
      else await removals;
    }
    if (notOurs.length > 0) {
      throw new GrantGoneError(`its node ${notOurs.join(', ')} was deleted or now belongs to someone else; it was left alone`);
    }
  }
}

/** A grant's nodes grouped by the token they carry: a handed-over holder node keeps its first holder's. */
function byToken(owned: OwnedNodes, token: string): Array<{ paths: string[]; token: string }> {
  if (owned.holderToken === undefined || owned.holderToken === token) return [{ paths: owned.nodes, token }];
  const holders = new Set(owned.holders);
  return [
    { paths: owned.holders, token: owned.holderToken },
    { paths: owned.nodes.filter((path) => !holders.has(path)), token },
  ];
}
