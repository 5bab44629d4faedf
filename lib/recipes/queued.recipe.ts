import { Subscription } from 'rxjs';
import { ZookeeperError } from '../zookeeper/zookeeper.error';
import { LockConflictError, LockQueueFullError, LockUnavailableError } from '../lock/lock.errors';
import { LockContext, unavailable } from './lock-context';
import type { LockTarget } from './lock-paths';
import { waiterPrefix } from './lock-paths';
import { findOwnWaiter, QueuePosition, queuePosition, strayWaiters } from './lock-queue';
import { readOwnership, removeRead } from './node-ownership';
import { MAX_TIMER_MS, setLongTimeout } from './long-timeout';
import { settleWithin } from '../zookeeper/settle-within';
import type { OwnedNodes } from './fail-fast.recipe';
import { carriesToken, encodeNodeData } from './node-data';
import { mayTryUncontended, tryUncontended } from './uncontended';

export interface WaitLimits {
  /** `performance.now()` (monotonic: a wall-clock step changes no wait) after which we give up; Infinity to wait forever. */
  deadline: number;
  /** How long the caller asked to wait (for the conflict message). */
  wait: number;
  signal?: AbortSignal;
  /** Refuse (LockQueueFullError) when more than this many are ahead of us in the queue. */
  maxQueue?: number;
}

/**
 * Queued acquire (`wait > 0`), first come first served:
 * 1. join the lock's queue with an ephemeral sequential node (its name carries our token, so a create
 *    whose reply was lost can be found again);
 * 2. while someone is ahead, watch only the waiter right before us;
 * 3. at the head, take the holder node; if a fail-fast caller holds it, watch it and try again.
 * The waiter node is kept while the lock is held and removed with the holder at release, so the next
 * waiter wakes exactly once, when the lock is free. On timeout, abort or error, our waiter node is
 * removed (by the janitor if the connection is down) and the queue too once it is empty.
 */
export async function acquireQueued(ctx: LockContext, target: LockTarget, token: string, limits: WaitLimits): Promise<OwnedNodes> {
  const { zk } = ctx;
  const cancelled = () => {
    if (limits.signal?.aborted) return limits.signal.reason ?? new Error('aborted');
    if (performance.now() >= limits.deadline) return new LockConflictError([target.id], target.scope, limits.wait);
    return undefined;
  };
  checkCancelled(cancelled);
  let waiter: { path: string; sessionId: string; strayPossible: boolean; found: boolean } | undefined;
  let holding = false;
  const doubt = { holder: false }; // a holder create whose reply was lost: it may exist, with our token
  // The uncontended MULTI's outcome, when unknown: its session (its nodes may exist, with our token).
  let fastDoubt: string | undefined;
  let readHolderFirst = false;
  const here = ctx.startWaiting(target.key);
  try {
    if (ctx.hasDir(target.scopeDir) && mayTryUncontended(ctx.containerSupport, here.others)) {
      const tried = await tryUncontended(ctx, target, token);
      if (tried.kind === 'taken') {
        holding = true;
        return { nodes: [target.holder, tried.waiter], holders: [target.holder], sessionId: tried.sessionId, sweep: [] };
      }
      if (tried.kind === 'doubtful') fastDoubt = tried.sessionId;
    }
    for (;;) {
      checkCancelled(cancelled);
      if (waiter === undefined || zk.sessionId !== waiter.sessionId) {
        // First time, or our session ended while we waited (its nodes went with it): join the queue on
        // the live session and wait on, as Curator and Kazoo do. Only our deadline, our signal, or having
        // no session at all ends the wait.
        if (waiter !== undefined) await waitForSession(ctx, limits, cancelled);
        if (!ctx.hasDir(target.scopeDir)) await retrying(ctx, limits, () => ctx.ensureDir(target.scopeDir));
        waiter = await enqueue(ctx, target, token, limits, fastDoubt);
        // After a doubtful MULTI on this session, the holder may be ours too (it was made with the waiter,
        // or not at all): the watch on it recognises our token.
        doubt.holder = fastDoubt !== undefined && fastDoubt === waiter.sessionId;
        // Our waiter from that MULTI is there, so its holder was made too (atomic): read it, make nothing.
        readHolderFirst = doubt.holder && waiter.found;
        fastDoubt = undefined;
        continue;
      }
      try {
        const position = await readPosition(ctx, target, waiter, token);
        // Each step may take up to an operation timeout (a slow server): the deadline is looked at between
        // steps, so that the answer comes within `wait` plus one operation timeout.
        checkCancelled(cancelled);
        if (position.kind === 'missing') {
          // Someone deleted our waiter node (our session lives: see above). Leave what we may hold, and
          // queue again at the tail.
          if (doubt.holder) await removeIfOurs(ctx, [target.holder], token, waiter.sessionId);
          waiter = undefined;
          continue;
        }
        if (position.kind === 'behind') {
          if (limits.maxQueue !== undefined && position.ahead > limits.maxQueue) {
            // Too long a queue (all processes together): leave it at once (see finally) instead of
            // adding one more watcher and one more listing to every wake-up behind us.
            throw new LockQueueFullError([target.id], target.scope, { perId: limits.maxQueue });
          }
          await waitForRemoval(ctx, `${target.queue}/${position.predecessor}`, waiter.sessionId, limits);
          continue;
        }
        // Head of the queue: take the holder node. If a fail-fast caller holds it, we alone watch it.
        const tryCreate = !readHolderFirst;
        readHolderFirst = false;
        const took = tryCreate && (await takeHolder(ctx, target, token, doubt));
        if (!took) checkCancelled(cancelled);
        if (took || (await waitForRemoval(ctx, target.holder, waiter.sessionId, limits, token)) === 'ours') {
          holding = true;
          const sweep = waiter.strayPossible ? [target.queue] : [];
          return { nodes: [target.holder, waiter.path], holders: [target.holder], sessionId: waiter.sessionId, sweep };
        }
      } catch (error) {
        // Connection trouble (e.g. a leader election): our place in the queue lives as long as the session.
        if (!isTransient(error)) throw error;
        await waitOut(ctx, limits, error).catch(() => checkCancelled(cancelled));
      }
    }
  } catch (error) {
    throw error instanceof ZookeeperError ? unavailable(error) : error;
  } finally {
    here.done();
    if (!holding && fastDoubt !== undefined) {
      // Gave up before learning what the doubtful MULTI did: if it landed, its nodes are ours to remove.
      void ctx.janitor.removeOwned([target.holder], token, fastDoubt);
      void ctx.janitor.removeOwnedChildren(target.queue, token, fastDoubt);
    }
    if (!holding && waiter !== undefined) {
      if (doubt.holder) void ctx.janitor.removeOwned([target.holder], token, waiter.sessionId);
      if (waiter.strayPossible) void ctx.janitor.removeOwnedChildren(target.queue, token, waiter.sessionId);
      // The answer comes within `wait` plus one operation timeout, however long a frozen server keeps
      // the removal: what is left of it then goes on in the background (the janitor, the container reaper).
      await settleWithin(leaveQueue(ctx, target, waiter.path, token, waiter.sessionId), answerBudget(ctx, limits), () => undefined);
    }
  }
}

/**
 * Lists the queue and says where our waiter stands. Our own stray waiter nodes (creates that landed
 * after we looked for them) are removed first, or they would sit ahead of us, and of everyone behind
 * it, until our session ends. A function of its own so that the listing (the whole queue) is garbage
 * once it returns: a waiter keeps only its predecessor's name while it waits, not N names.
 */
async function readPosition(
  ctx: LockContext,
  target: LockTarget,
  waiter: { path: string; sessionId: string },
  token: string,
): Promise<QueuePosition> {
  const ownName = waiter.path.slice(target.queue.length + 1);
  const children = await ctx.zk.getChildren(target.queue).catch((e) => (isCode(e, 'NO_NODE') ? [] : Promise.reject(e)));
  const strays = strayWaiters(children, token, ownName);
  if (strays.length > 0) await removeIfOurs(ctx, strays.map((name) => `${target.queue}/${name}`), token, waiter.sessionId);
  return queuePosition(children, ownName, token);
}

/**
 * After our session ended: waits for the next one (the service opens it at once) within our deadline,
 * and not past an abort. Throws LockUnavailableError when none comes within the connect timeout.
 */
async function waitForSession(ctx: LockContext, limits: WaitLimits, cancelled: () => unknown): Promise<void> {
  const left = Math.min(limits.deadline - performance.now(), ctx.zk.options.connectTimeout);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<boolean>((resolve) => {
    onAbort = () => resolve(false);
    limits.signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const connected = await Promise.race([ctx.zk.waitForConnection(left), aborted]);
    checkCancelled(cancelled);
    if (!connected) throw new LockUnavailableError('ZooKeeper session lost while waiting for the lock, and no new one could be had');
  } finally {
    if (onAbort) limits.signal?.removeEventListener('abort', onAbort);
  }
}

/** Removes those of `paths` that are ours (token and session), at the version read. */
async function removeIfOurs(ctx: LockContext, paths: string[], token: string, sessionId: string): Promise<void> {
  const readings = await readOwnership(ctx.zk, paths, token, sessionId);
  const ours = readings.flatMap((r) => (r.kind === 'ours' ? [{ path: r.path, version: r.version }] : []));
  if (ours.length > 0) await removeRead(ctx.zk, ours);
}

function isCode(error: unknown, code: ZookeeperError['code']): boolean {
  return error instanceof ZookeeperError && error.code === code;
}

/** Failures worth waiting out while the deadline allows: no answer, or no connection for a moment. */
function isTransient(error: unknown): boolean {
  return error instanceof ZookeeperError && error.isConnectivity;
}

function checkCancelled(cancelled: () => unknown): void {
  const reason = cancelled();
  if (reason !== undefined) throw reason;
}

/**
 * Creates our waiter node, making the queue when it does not exist. After a create whose reply was lost,
 * looks for our token among the waiters before creating again, so we never queue twice. Connection
 * trouble is waited out while the deadline allows and the session lives.
 */
async function enqueue(ctx: LockContext, target: LockTarget, token: string, limits: WaitLimits, doubtfulMulti?: string) {
  const { zk } = ctx;
  const data = encodeNodeData(token, ctx.zk.options.ownerName);
  // Session of a create whose outcome we do not know (the uncontended MULTI's, to begin with).
  let doubtful: string | undefined = doubtfulMulti;
  // A doubtful create not found by the read-back may still land later (a read served before it was
  // applied): then a stray waiter node of ours may appear in the queue at any time.
  let strayPossible = false;
  for (;;) {
    const sessionId = zk.sessionId;
    try {
      if (doubtful !== undefined && doubtful === sessionId) {
        const own = findOwnWaiter(await zk.getChildren(target.queue), token);
        if (own) return { path: `${target.queue}/${own}`, sessionId, strayPossible, found: true };
        strayPossible = true;
      }
      doubtful = undefined;
      const created = await zk.create(waiterPrefix(target, token), { data, mode: 'ephemeral-sequential' });
      return { ...created, strayPossible, found: false };
    } catch (error) {
      if (error instanceof ZookeeperError && error.code === 'NO_NODE') {
        // No queue yet (nobody waits), or the scope itself was deleted: make them, then try again.
        await retrying(ctx, limits, () =>
          ctx.createQueue(target.queue).catch(async (e) => {
            if (e instanceof ZookeeperError && e.code === 'NODE_EXISTS') return;
            if (!(e instanceof ZookeeperError && e.code === 'NO_NODE')) throw e;
            ctx.forgetDir(target.scopeDir);
            await ctx.ensureDir(target.scopeDir);
          }),
        );
        continue;
      }
      if (error instanceof ZookeeperError && error.outcomeUnknown && sessionId) doubtful ??= sessionId;
      try {
        await waitOut(ctx, limits, error);
      } catch (final) {
        if (doubtful) void ctx.janitor.removeOwnedChildren(target.queue, token, doubtful);
        throw unavailable(final);
      }
    }
  }
}

/** Runs `step` again after connection trouble, while the deadline allows and a session lives. */
async function retrying<T>(ctx: LockContext, limits: WaitLimits, step: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await step();
    } catch (error) {
      await waitOut(ctx, limits, error).catch((final) => Promise.reject(unavailable(final)));
    }
  }
}

/**
 * Returns when it is worth trying again after `error`: it was connection trouble, time is left, and
 * the session is alive (merely suspended, as during a leader election). Rethrows otherwise: with no
 * session at all, a waiting call fails at once like any other.
 */
async function waitOut(ctx: LockContext, limits: WaitLimits, error: unknown): Promise<void> {
  const left = limits.deadline - performance.now();
  if (!(error instanceof ZookeeperError && error.isConnectivity) || left <= 0 || limits.signal?.aborted) throw error;
  if (ctx.zk.state === 'connected') {
    // Connected, yet the request failed (e.g. THROTTLED_OP): pause a little so a retry loop never spins.
    await new Promise((resolve) => setTimeout(resolve, Math.min(left, RETRY_PAUSE_MS)));
    return;
  }
  const connected = await ctx.zk.waitForConnection(Math.min(left, ctx.zk.options.operationTimeout));
  // Still disconnected: try again only while the session may come back and time is left (a retry would
  // otherwise wait another operation timeout past the caller's `wait`).
  if (!connected && (ctx.zk.state !== 'suspended' || performance.now() >= limits.deadline)) throw error;
}

const RETRY_PAUSE_MS = 100;

/**
 * Tries to create the holder node. True when we hold it; false when it exists. A lost reply counts as
 * "exists": the watch that follows reads the node and recognises our token if the create did happen.
 */
async function takeHolder(ctx: LockContext, target: LockTarget, token: string, doubt: { holder: boolean }): Promise<boolean> {
  try {
    await ctx.zk.create(target.holder, { data: encodeNodeData(token, ctx.zk.options.ownerName), mode: 'ephemeral' });
    return true;
  } catch (error) {
    if (!(error instanceof ZookeeperError)) throw error;
    if (error.code === 'NODE_EXISTS') return false;
    if (error.outcomeUnknown) {
      doubt.holder = true;
      return false;
    }
    throw error;
  }
}

/**
 * Resolves once `path` is gone, or on timeout, abort, or the end of our session (the caller's loop then
 * finds out which). The watch is set with getData, which sets none on a missing node, so abandoned
 * waits leave no watcher behind for a node that will never exist again.
 */
async function waitForRemoval(
  ctx: LockContext,
  path: string,
  sessionId: string,
  limits: WaitLimits,
  ownToken?: string,
): Promise<'changed' | 'ours'> {
  let wake!: () => void;
  const woken = new Promise<void>((resolve) => (wake = resolve));
  const watch = () => wake();
  try {
    try {
      const { data, stat } = await ctx.zk.getData(path, watch);
      // Our own holder node, from a create whose reply was lost: the lock is ours.
      if (ownToken !== undefined && carriesToken(data, ownToken) && stat.ephemeralOwner === sessionId) return 'ours';
      if (stat.ephemeralOwner === undefined) {
        // Persistent: no session of ours made it, and none will ever end it. Out of our way; if it cannot
        // be removed, wait for it to change like any holder (the watch is set), never retry in a loop.
        if (await ctx.removeSquatter(path, stat.version)) return 'changed';
      }
    } catch (error) {
      if (error instanceof ZookeeperError && error.code === 'NO_NODE') return 'changed';
      throw error;
    }
    const remaining = limits.deadline - performance.now();
    const timer = setLongTimeout(wake, remaining); // a `wait` past 2^31-1 ms must not become a 1 ms busy loop
    limits.signal?.addEventListener('abort', wake, { once: true });
    if (limits.signal?.aborted) wake(); // aborted while the watch was being set: the event is gone
    const session: Subscription = ctx.zk.state$.subscribe((event) => {
      if (event.state !== 'connected' && event.state !== 'suspended') wake();
      else if (event.sessionId !== sessionId) wake();
    });
    try {
      await woken;
      return 'changed';
    } finally {
      timer.clear();
      limits.signal?.removeEventListener('abort', wake);
      session.unsubscribe();
    }
  } finally {
    // A wait that ends without the node changing (timeout, abort, session end, our own node) takes its
    // watch back, so that abandoned waits pile up no listeners on a long-held lock.
    ctx.zk.unwatch(path, watch);
  }
}

/**
 * How much longer a waiting acquire may take to answer: until one operation timeout past its deadline
 * (a request in flight at the deadline ends within that), or one operation timeout when it waits for ever.
 */
export function answerBudget(ctx: LockContext, limits: WaitLimits): number {
  const { operationTimeout } = ctx.zk.options;
  const left = limits.deadline + operationTimeout - performance.now();
  // A deadline past the longest timer (or none) is a wait for ever.
  return left > MAX_TIMER_MS || !Number.isFinite(left) ? operationTimeout : Math.max(0, left);
}

/** Removes our waiter node (directly: its name is ours alone) and the queue if it is left empty. */
async function leaveQueue(ctx: LockContext, target: LockTarget, path: string, token: string, sessionId: string): Promise<void> {
  if (ctx.zk.sessionId !== sessionId) return;
  try {
    await ctx.zk.remove(path);
  } catch (error) {
    if (!(error instanceof ZookeeperError && error.code === 'NO_NODE')) {
      void ctx.janitor.removeOwned([path], token, sessionId);
      return;
    }
  }
  await ctx.removeQueueIfEmpty(target);
}
