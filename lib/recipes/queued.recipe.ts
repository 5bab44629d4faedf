import { Subscription } from 'rxjs';
import { ZookeeperError } from '../zookeeper/zookeeper.error';
import { LockConflictError, LockQueueFullError, LockUnavailableError } from '../lock/lock.errors';
import { LockContext, unavailable } from './lock-context';
import type { LockTarget } from './lock-paths';
import { gatePath, memberPrefix, waiterPrefix } from './lock-paths';
import { findOwnWaiter, QueuePosition, queuePosition, sharedPosition, strayWaiters } from './lock-queue';
import { isGroup, readOwnership, removeRead } from './node-ownership';
import { GateState, keepGate, Watched } from './gate.recipe';
import type { NodeStat } from '../zookeeper/zookeeper.service';
import { MAX_TIMER_MS, setLongTimeout } from './long-timeout';
import { settleWithin } from '../zookeeper/settle-within';
import type { OwnedNodes } from './fail-fast.recipe';
import { carriesToken, encodeNodeData, nodeToken } from './node-data';
import { mayTryUncontended, tryUncontended } from './uncontended';
import { HolderWatch } from './holder-watch';
import type { HandOffOutcome } from './hand-off';

export interface WaitLimits {
  /** `performance.now()` (monotonic: a wall-clock step changes no wait) after which we give up; Infinity to wait forever. */
  deadline: number;
  /** How long the caller asked to wait (for the conflict message). */
  wait: number;
  signal?: AbortSignal;
  /** The caller's own signal, which `signal` follows through a listener (see LockRequest.callerSignal). */
  callerSignal?: AbortSignal;
  /** Refuse (LockQueueFullError) when more than this many are ahead of us in the queue. */
  maxQueue?: number;
}

/** The reason of an abort of the wait (its signal, or the caller's own that it follows), if any. */
export function abortOf(limits: WaitLimits): { reason: unknown } | undefined {
  if (limits.signal?.aborted) return { reason: limits.signal.reason ?? new Error('aborted') };
  if (limits.callerSignal?.aborted) return { reason: limits.callerSignal.reason ?? new Error('aborted') };
  return undefined;
}

/**
 * Queued acquire (`wait > 0`), first come first served:
 * 1. join the lock's queue with an ephemeral sequential node (its name carries our token, so a create
 *    whose reply was lost can be found again; `w-` for an exclusive caller, `r-` for a shared one);
 * 2. while someone is in our way, watch only the waiter that matters: an exclusive caller the one right
 *    before it, a shared one the nearest exclusive one ahead (shared waiters do not exclude each other).
 *    An exclusive caller with only shared callers ahead puts the gate into their group at once (it is
 *    the gatekeeper: gate.recipe.ts), and one behind another exclusive caller watches that one too;
 * 3. then take the holder: an exclusive caller creates the holder node (if a fail-fast caller holds it,
 *    it watches it; if a shared group holds it, it closes the group with the gate and waits for its
 *    members to leave); a shared caller joins the group (waiting out a fail-fast exclusive holder).
 * The waiter node is kept while the lock is held and removed with the holder at release, so the next
 * waiter wakes exactly once, when the lock is free. On timeout, abort or error, our waiter node is
 * removed (by the janitor if the connection is down) and the queue too once it is empty.
 */
export async function acquireQueued(
  ctx: LockContext,
  target: LockTarget,
  token: string,
  limits: WaitLimits,
  shared = false,
  /** Whether this acquire may take over a lock released in this process (hand-off.ts): single-id acquires. */
  handOff = false,
): Promise<OwnedNodes> {
  const { zk } = ctx;
  const cancelled = () => {
    const aborted = abortOf(limits);
    if (aborted) return aborted.reason;
    if (performance.now() >= limits.deadline) return new LockConflictError([target.id], target.scope, limits.wait);
    return undefined;
  };
  checkCancelled(cancelled);
  let waiter: { path: string; sessionId: string; strayPossible: boolean; found: boolean } | undefined;
  let holding = false;
  // A holder (or member) create whose reply was lost: it may exist, with our token.
  // `strayMember`: a member create of ours got no answer; if it lands after we looked, our release sweeps it.
  const doubt = { holder: false, strayMember: false };
  // Our gate in a shared group (an exclusive caller that is the gatekeeper, or at the head).
  const gate: GateState = { maybe: false, held: false };
  // The uncontended MULTI's outcome, when unknown: its session (its nodes may exist, with our token).
  let fastDoubt: string | undefined;
  let readHolderFirst = false;
  const here = ctx.startWaiting(target.key);
  // A lock handed over by a release of this process (hand-off.ts): its holder node is ours now (its token,
  // its watch); our waiter node keeps our place, and the releaser's (if it had one) goes: nobody else waits
  // on it, we were right behind it.
  const inherit = (handedOver: HandOffOutcome, own: { path: string; sessionId: string; strayPossible: boolean }): OwnedNodes => {
    holding = true;
    const before = handedOver.owned.nodes[1];
    if (before !== undefined) removeWaiterNode(ctx, before, handedOver.waiterToken, own.sessionId);
    return {
      nodes: [target.holder, own.path],
      holders: [target.holder],
      sessionId: own.sessionId,
      sweep: own.strayPossible ? [target.queue] : [],
      groups: [],
      watches: handedOver.owned.watches,
      holderToken: handedOver.holderToken,
    };
  };
  const granted = (holder: string, waiterPath: string | undefined, sessionId: string, sweep: string[], watch?: HolderWatch): OwnedNodes => {
    holding = true;
    const nodes = waiterPath === undefined ? [holder] : [holder, waiterPath];
    const watches = watch && watch.state !== 'unarmed' ? [watch] : undefined; // none kept over the watch budget
    const strays = shared && doubt.strayMember ? [target.holder] : undefined;
    return { nodes, holders: [holder], sessionId, sweep, groups: shared ? [target.holder] : [], watches, ...(strays && { strays }) };
  };
  try {
    if (ctx.hasDir(target.scopeDir) && mayTryUncontended(ctx.containerSupport, here.others)) {
      const tried = await tryUncontended(ctx, target, token, shared);
      if (tried.kind === 'taken') return granted(tried.holder, tried.waiter, tried.sessionId, [], tried.watch);
      if (tried.kind === 'doubtful') {
        fastDoubt = tried.sessionId;
        // An exclusive caller's MULTI makes the holder node alone: one read tells whether it is ours.
        if (!shared && (await holdsAfterDoubt(ctx, target, token, tried.sessionId, limits))) return granted(target.holder, undefined, tried.sessionId, []);
      }
    }
    for (;;) {
      checkCancelled(cancelled);
      if (waiter === undefined || zk.sessionId !== waiter.sessionId) {
        // First time, or our session ended while we waited (its nodes went with it): join the queue on
        // the live session and wait on, as Curator and Kazoo do. Only our deadline, our signal, or having
        // no session at all ends the wait.
        if (waiter !== undefined) await waitForSession(ctx, limits, cancelled);
        if (!ctx.hasDir(target.scopeDir)) {
          await retrying(ctx, limits, () => ctx.ensureDir(target.scopeDir));
          // Making it may have taken a while (a slow server): the deadline first, then the queue.
          checkCancelled(cancelled);
        }
        // Only a shared caller's MULTI makes a waiter node that a lost reply may have left in the queue.
        waiter = await enqueue(ctx, target, token, limits, shared ? fastDoubt : undefined, shared);
        // After a doubtful MULTI on this session, the holder may be ours too (it was made with the waiter,
        // or not at all): the watch on it recognises our token.
        doubt.holder = fastDoubt !== undefined && fastDoubt === waiter.sessionId;
        if (doubt.holder && shared) doubt.strayMember = true; // that MULTI's member may land late too
        gate.maybe = gate.held = false; // a gate of the ended session went with it
        // Our waiter from that MULTI is there, so its holder was made too (atomic): read it, make nothing.
        readHolderFirst = doubt.holder && waiter.found;
        fastDoubt = undefined;
        continue;
      }
      try {
        const position = await readPosition(ctx, target, waiter, token, shared);
        // Each step may take up to an operation timeout (a slow server): the deadline is looked at between
        // steps, so that the answer comes within `wait` plus one operation timeout.
        checkCancelled(cancelled);
        if (position.kind === 'missing') {
          // Someone deleted our waiter node (our session lives: see above). Leave what we may hold, and
          // queue again at the tail.
          if (doubt.holder) await removeIfOurs(ctx, [target.holder], token, waiter.sessionId);
          if (doubt.holder && shared) await removeOwnMembers(ctx, target, token, waiter.sessionId);
          if (gate.maybe) await removeIfOurs(ctx, [gatePath(target)], token, waiter.sessionId);
          gate.maybe = gate.held = false;
          waiter = undefined;
          continue;
        }
        if (position.kind === 'behind') {
          if (doubt.holder && !shared) {
            // Our uncontended MULTI may have made the holder node (its reply was lost, and the look after it
            // got no answer): others queued behind that node, so we would never reach the head to see it.
            // Look now. Ours: we hold the lock since before they queued; our place in the queue goes (the
            // grant is the holder alone, so the one first in line is the next to get it).
            const [reading] = await readOwnership(zk, [target.holder], token, waiter.sessionId);
            if (reading.kind === 'ours') {
              removeWaiterNode(ctx, waiter.path, token, waiter.sessionId);
              return granted(target.holder, undefined, waiter.sessionId, waiter.strayPossible ? [target.queue] : []);
            }
            doubt.holder = false; // gone or someone else's: our MULTI made nothing
          }
          if (limits.maxQueue !== undefined && position.ahead > limits.maxQueue) {
            // Too long a queue (all processes together): leave it at once (see finally) instead of
            // adding one more watcher and one more listing to every wake-up behind us.
            throw new LockQueueFullError([target.id], target.scope, { perId: limits.maxQueue });
          }
          // An exclusive caller behind shared ones only closes their group now (the gate), so that no
          // fail-fast shared caller gets in ahead of it; one behind another exclusive caller also watches
          // that one, whose leaving can make it the gatekeeper.
          const also: Watched[] = [];
          if (!shared && position.gatekeeper) {
            const watched = await keepGate(ctx, target, token, waiter.sessionId, gate);
            if (watched) also.push(watched);
          }
          if (!shared && position.exclusiveAhead) also.push({ path: `${target.queue}/${position.exclusiveAhead}`, still: present });
          const { handedOver } = await waitOffering(ctx, `${target.queue}/${position.predecessor}`, waiter.sessionId, limits, handOff && !shared, undefined, also);
          if (handedOver) return inherit(handedOver, waiter);
          continue;
        }
        const sweep = waiter.strayPossible ? [target.queue] : [];
        if (shared) {
          // Nobody exclusive ahead of us: join the group (or wait out a fail-fast exclusive holder).
          const member = await joinGroup(ctx, target, token, waiter.sessionId, limits, doubt, readHolderFirst);
          readHolderFirst = false;
          if (member !== undefined) return granted(member, waiter.path, waiter.sessionId, sweep);
          continue;
        }
        // Head of the queue, with our gate up already (we were the gatekeeper): a group holds it; close it.
        if (gate.held) {
          if ((await closeGroup(ctx, target, token, waiter.sessionId, limits, doubt, gate)) === 'ours') {
            return granted(target.holder, waiter.path, waiter.sessionId, sweep);
          }
          continue;
        }
        // Head of the queue: take the holder node. If a fail-fast caller holds it, we alone watch it.
        const tryCreate = !readHolderFirst;
        readHolderFirst = false;
        const took = tryCreate && (await takeHolder(ctx, target, token, waiter.sessionId, doubt));
        if (took) return granted(target.holder, waiter.path, waiter.sessionId, sweep, took);
        checkCancelled(cancelled);
        // First in the queue, behind a holder with no waiter node (a fail-fast or uncontended one): the
        // next in line, so it may be handed the lock too.
        const { handedOver, seen } = await waitOffering(ctx, target.holder, waiter.sessionId, limits, handOff && !shared, token);
        if (handedOver) return inherit(handedOver, waiter);
        if (seen === 'ours') return granted(target.holder, waiter.path, waiter.sessionId, sweep);
        if (seen === 'group' && (await closeGroup(ctx, target, token, waiter.sessionId, limits, doubt, gate)) === 'ours') {
          return granted(target.holder, waiter.path, waiter.sessionId, sweep);
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
      if (shared) void ctx.janitor.removeOwnedChildren(target.holder, token, fastDoubt);
      void ctx.janitor.sweepQueue(target.queue, token, fastDoubt);
    }
    if (!holding && waiter !== undefined) {
      if (doubt.holder) void ctx.janitor.removeOwned([target.holder], token, waiter.sessionId);
      // (A member create of ours in doubt on an earlier pass, before our waiter node went and we queued
      // again on this session, may have landed after we looked: strayMember stays set for that.)
      if ((doubt.holder || doubt.strayMember) && shared) void ctx.janitor.removeOwnedChildren(target.holder, token, waiter.sessionId);
      // Our gate in a shared group we were waiting to close: the group opens again for fail-fast callers.
      if (gate.maybe) void ctx.janitor.removeOwned([gatePath(target)], token, waiter.sessionId);
      if (waiter.strayPossible) void ctx.janitor.sweepQueue(target.queue, token, waiter.sessionId);
      // The answer comes within `wait` plus one operation timeout, however long a frozen server keeps
      // the removal: what is left of it then goes on in the background (the janitor, the container reaper).
      await settleWithin(leaveQueue(ctx, target, waiter.path, token, waiter.sessionId), answerBudget(ctx, limits), () => undefined);
    }
  }
}

/**
 * Waits for `path` to go: the waiter node before ours, or (first in the queue) a holder node with no
 * waiter node of its own. An exclusive waiter offers itself meanwhile for a same-session hand-over
 * (hand-off.ts): `handedOver` when a release of this process handed it the lock before it stopped waiting
 * (whatever then ended the wait: a hand-over that came before the give-up is kept; an aborted caller is
 * told by its signal, as for any grant that lands at the last moment); otherwise what the wait saw.
 */
async function waitOffering(
  ctx: LockContext,
  path: string,
  sessionId: string,
  limits: WaitLimits,
  offering: boolean,
  ownToken?: string,
  also: Watched[] = [],
): Promise<{ handedOver?: HandOffOutcome; seen?: 'changed' | 'ours' | 'group' }> {
  const wants = () => !abortOf(limits) && performance.now() < limits.deadline;
  const offer = offering ? ctx.handOffs.offer(path, { sessionId, wants }) : undefined;
  let seen: 'changed' | 'ours' | 'group' | undefined;
  try {
    seen = await waitForRemoval(ctx, path, sessionId, limits, ownToken, also, offer?.handedOver);
  } catch (error) {
    if (!offer?.outcome) throw error;
  } finally {
    offer?.withdraw();
  }
  return offer?.outcome ? { handedOver: offer.outcome } : { seen };
}

/**
 * After an uncontended MULTI whose reply was lost: is the holder node ours (our token, that session)?
 * Read once the session is connected again, within the caller's wait; anything else (no answer, another
 * session, someone else's node) is "not known to be ours", and the queued path goes on, still counting the
 * holder as possibly ours (a later look at it recognises our token).
 */
async function holdsAfterDoubt(ctx: LockContext, target: LockTarget, token: string, sessionId: string, limits: WaitLimits): Promise<boolean> {
  const left = Math.min(limits.deadline - performance.now(), ctx.zk.options.operationTimeout);
  if (!(await ctx.zk.waitForConnection(Math.max(0, left))) || ctx.zk.sessionId !== sessionId) return false;
  const [reading] = await readOwnership(ctx.zk, [target.holder], token, sessionId).catch(() => [undefined]);
  return reading?.kind === 'ours';
}

/** Removes a waiter node we hold the name of, in the background (the janitor retries after connection trouble). */
function removeWaiterNode(ctx: LockContext, path: string, token: string, sessionId: string): void {
  ctx.zk.remove(path, 0, sessionId).catch((error) => {
    if (error instanceof ZookeeperError && (error.code === 'NO_NODE' || error.code === 'BAD_VERSION')) return;
    void ctx.janitor.removeOwned([path], token, sessionId);
  });
}

/**
 * A shared caller with no exclusive waiter ahead joins the group: one create of its member node in the
 * group's container (the container made with it, in one MULTI, when there is none). Resolves with the
 * member's path, or undefined after waiting for a fail-fast exclusive holder to leave (the caller's
 * loop then looks again). After a create whose reply was lost, our member is looked for by token.
 */
async function joinGroup(
  ctx: LockContext,
  target: LockTarget,
  token: string,
  sessionId: string,
  limits: WaitLimits,
  doubt: { holder: boolean; strayMember?: boolean },
  readFirst: boolean,
): Promise<string | undefined> {
  if (doubt.holder) {
    const own = await findOwnMember(ctx, target, token);
    if (own !== undefined) return own;
    if (readFirst) return undefined; // the MULTI that made our waiter made no member: it was refused
  }
  const data = encodeNodeData(token, ctx.zk.options.ownerName);
  try {
    return await createMember(ctx, target, data, false, sessionId);
  } catch (error) {
    if (!(error instanceof ZookeeperError)) throw error;
    if (error.outcomeUnknown) {
      doubt.holder = doubt.strayMember = true;
      throw error;
    }
    // The holder path is an exclusive holder's ephemeral node (a fail-fast caller): wait for it to go.
    if (error.code !== 'NO_CHILDREN_FOR_EPHEMERALS') throw error;
    const seen = await waitForRemoval(ctx, target.holder, sessionId, limits, token);
    if (seen === 'ours') return undefined; // cannot be: a shared caller never makes the holder node
    return undefined;
  }
}

/**
 * Creates our member node in the group: in the container when it exists, or the container and the member
 * in one MULTI when it does not (it went with its last member meanwhile: tried again a few times).
 */
export async function createMember(ctx: LockContext, target: LockTarget, data: Buffer, gateChecked: boolean, onSession: string): Promise<string> {
  const prefix = memberPrefix(target, token(data));
  for (let attempt = 0; ; attempt++) {
    try {
      if (gateChecked) {
        // Fail-fast: only while no exclusive waiter closed the group (the gate's create fails if it is there).
        const results = await ctx.zk.multi(
          [
            { op: 'create', path: gatePath(target), mode: 'ephemeral' },
            { op: 'remove', path: gatePath(target) },
            { op: 'create', path: prefix, mode: 'ephemeral-sequential', data },
          ],
          onSession,
        );
        return (results[2] as { path: string }).path;
      }
      return (await ctx.zk.create(prefix, { data, mode: 'ephemeral-sequential', onSession })).path;
    } catch (error) {
      if (!(error instanceof ZookeeperError) || error.code !== 'NO_NODE' || attempt >= 3) throw error;
      try {
        const results = await ctx.zk.multi(
          [
            { op: 'create', path: target.holder, mode: 'container' },
            { op: 'create', path: prefix, mode: 'ephemeral-sequential', data },
            ...ctx.markOps(target.scopeDir), // no group without its scope's mark (shared-scopes.ts)
          ],
          onSession,
        );
        ctx.confirmContainers();
        ctx.confirmMark(target.scopeDir);
        return (results[1] as { path: string }).path;
      } catch (again) {
        if (!(again instanceof ZookeeperError)) throw again;
        if (again.code === 'NO_NODE' && again.opIndex === 0) {
          ctx.forgetDir(target.scopeDir);
          await ctx.ensureDir(target.scopeDir);
          continue;
        }
        // Someone made the group (or took the lock exclusively) meanwhile: join it as usual.
        if (again.code !== 'NODE_EXISTS' || again.opIndex !== 0) throw again;
      }
    }
  }
}

function token(data: Buffer): string {
  return nodeToken(data);
}

/** Our member node in the group, by token (after a create whose reply was lost). */
export async function findOwnMember(ctx: LockContext, target: LockTarget, ownToken: string): Promise<string | undefined> {
  const children = await ctx.zk.getChildren(target.holder).catch((e) => (isCode(e, 'NO_NODE') ? [] : Promise.reject(e)));
  const own = children.find((name) => name.startsWith(`s-${ownToken}-`));
  if (own === undefined) return undefined;
  const path = `${target.holder}/${own}`;
  // Gone since the listing (its session ended meanwhile, say): not found, never an error.
  const read = await ctx.zk.getData(path).catch((e) => (isCode(e, 'NO_NODE') ? undefined : Promise.reject(e)));
  return read && carriesToken(read.data, ownToken) && read.stat.ephemeralOwner === ctx.zk.sessionId ? path : undefined;
}

async function removeOwnMembers(ctx: LockContext, target: LockTarget, ownToken: string, sessionId: string): Promise<void> {
  await ctx.janitor.removeOwnedChildren(target.holder, ownToken, sessionId);
}

/**
 * The exclusive caller at the head of the queue found a shared group holding the lock: it closes the
 * group with the gate (fail-fast shared callers are refused from then on; queued ones are behind us),
 * waits for the members to leave, then in one MULTI removes the gate and the empty group and makes the
 * holder node. Removing our own gate (its parent is the group) proves the MULTI works on the group and
 * not on a holder node made meanwhile. 'ours' when we hold the lock; 'again' to look at it afresh. With
 * our gate up already (`gate.held`: we put it up as the gatekeeper, behind shared callers), no create.
 */
async function closeGroup(
  ctx: LockContext,
  target: LockTarget,
  ownToken: string,
  sessionId: string,
  limits: WaitLimits,
  doubt: { holder: boolean },
  own: GateState,
): Promise<'ours' | 'again'> {
  const { zk } = ctx;
  const gate = gatePath(target);
  const data = encodeNodeData(ownToken, zk.options.ownerName);
  if (!own.held) {
    try {
      await zk.create(gate, { data, mode: 'ephemeral', onSession: sessionId });
      own.maybe = own.held = true;
    } catch (error) {
      if (!(error instanceof ZookeeperError)) throw error;
      if (error.outcomeUnknown) own.maybe = true;
      if (error.code === 'NO_NODE' || error.code === 'NO_CHILDREN_FOR_EPHEMERALS') return 'again'; // group gone, or a holder now
      if (error.code !== 'NODE_EXISTS' && !error.outcomeUnknown) throw error;
    }
  }
  if (!own.held) {
    // A gate is there: ours (a create whose reply was lost) or a former gatekeeper's that is leaving.
    const seen = await waitForRemoval(ctx, gate, sessionId, limits, ownToken);
    if (seen !== 'ours') return 'again';
    own.maybe = own.held = true;
  }
  const gateVersion = 0; // ours, never changed
  for (;;) {
    if (performance.now() >= limits.deadline || limits.signal?.aborted || zk.sessionId !== sessionId) return 'again';
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const watch = () => wake();
    try {
      const children = await zk.getChildren(target.holder, watch).catch((e) => (isCode(e, 'NO_NODE') ? undefined : Promise.reject(e)));
      if (children === undefined) {
        own.maybe = own.held = false; // the group went, and our gate with it
        return 'again';
      }
      if (!children.includes('x')) {
        own.maybe = own.held = false;
        return 'again'; // our gate was removed by someone: look again
      }
      if (children.length === 1) {
        try {
          // Only on the session the listing (and our gate) belong to: on a later one, the gate at version
          // 0 and the group may be another waiter's.
          await zk.multi(
            [
              { op: 'remove', path: gate, version: gateVersion },
              { op: 'remove', path: target.holder },
              { op: 'create', path: target.holder, mode: 'ephemeral', data },
            ],
            sessionId,
          );
          own.maybe = own.held = false;
          return 'ours';
        } catch (error) {
          if (!(error instanceof ZookeeperError)) throw error;
          if (error.outcomeUnknown) {
            doubt.holder = true; // the holder may be ours now: the caller's next look recognises it
            throw error;
          }
          if (error.code === 'BAD_VERSION' || error.code === 'NO_NODE') {
            own.maybe = own.held = false;
            return 'again';
          }
          if (error.code !== 'NOT_EMPTY') throw error;
          continue; // a member joined meanwhile (one that was ahead of us): wait for it too
        }
      }
      await untilWoken(ctx, woken, wake, sessionId, limits);
    } finally {
      zk.unwatch(target.holder, watch);
    }
  }
}

/** Resolves when `woken` does, or on timeout, abort, or the end of our session. */
export async function untilWoken(ctx: LockContext, woken: Promise<void>, wake: () => void, sessionId: string, limits: WaitLimits): Promise<void> {
  const timer = setLongTimeout(wake, limits.deadline - performance.now());
  limits.signal?.addEventListener('abort', wake, { once: true });
  if (limits.signal?.aborted) wake();
  const session: Subscription = ctx.zk.state$.subscribe((event) => {
    if (event.state !== 'connected' && event.state !== 'suspended') wake();
    else if (event.sessionId !== sessionId) wake();
  });
  try {
    await woken;
  } finally {
    timer.clear();
    limits.signal?.removeEventListener('abort', wake);
    session.unsubscribe();
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
  shared = false,
): Promise<QueuePosition> {
  const ownName = waiter.path.slice(target.queue.length + 1);
  const children = await ctx.zk.getChildren(target.queue).catch((e) => (isCode(e, 'NO_NODE') ? [] : Promise.reject(e)));
  const strays = strayWaiters(children, token, ownName);
  if (strays.length > 0) await removeIfOurs(ctx, strays.map((name) => `${target.queue}/${name}`), token, waiter.sessionId);
  return shared ? sharedPosition(children, ownName, token) : queuePosition(children, ownName, token);
}

/**
 * After our session ended: waits for the next one (the service opens it at once) within our deadline,
 * and not past an abort. Throws LockUnavailableError when none comes within the connect timeout.
 */
export async function waitForSession(ctx: LockContext, limits: WaitLimits, cancelled: () => unknown): Promise<void> {
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
  if (ours.length > 0) await removeRead(ctx.zk, sessionId, ours);
}

function isCode(error: unknown, code: ZookeeperError['code']): boolean {
  return error instanceof ZookeeperError && error.code === code;
}

/** Failures worth waiting out while the deadline allows: no answer, or no connection for a moment. */
export function isTransient(error: unknown): boolean {
  return error instanceof ZookeeperError && error.isConnectivity;
}

export function checkCancelled(cancelled: () => unknown): void {
  const reason = cancelled();
  if (reason !== undefined) throw reason;
}

/**
 * Creates our waiter node, making the queue when it does not exist. After a create whose reply was lost,
 * looks for our token among the waiters before creating again, so we never queue twice. Connection
 * trouble is waited out while the deadline allows and the session lives.
 */
async function enqueue(ctx: LockContext, target: LockTarget, token: string, limits: WaitLimits, doubtfulMulti?: string, shared = false) {
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
      const created = await zk.create(waiterPrefix(target, token, shared), { data, mode: 'ephemeral-sequential' });
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
        if (doubtful) void ctx.janitor.sweepQueue(target.queue, token, doubtful);
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
export async function waitOut(ctx: LockContext, limits: WaitLimits, error: unknown): Promise<void> {
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
async function takeHolder(ctx: LockContext, target: LockTarget, token: string, sessionId: string, doubt: { holder: boolean }): Promise<HolderWatch | false> {
  const { zk } = ctx;
  let owner: string | undefined;
  // Right behind the create, the read that watches our holder node (holder-watch.ts): same round trip.
  // Only on the session our place in the queue was read on: on a later one that place is gone (the
  // waiter node went with the old session), and a holder made there would jump the queue and be nobody's.
  const { creating, read } = zk.together(() => ({
    creating: zk.create(target.holder, { data: encodeNodeData(token, zk.options.ownerName), mode: 'ephemeral', onSession: sessionId }),
    read: HolderWatch.sendRead(zk, target.holder, token, () => owner, ctx.holderWatches),
  }));
  try {
    owner = (await creating).sessionId;
    await read.settled;
    return read.watch;
  } catch (error) {
    read.watch.drop(zk);
    if (!(error instanceof ZookeeperError)) throw error;
    if (error.code === 'NODE_EXISTS') return false;
    if (error.outcomeUnknown) {
      doubt.holder = true;
      return false;
    }
    throw error;
  }
}

/** A watched waiter node: nothing to do while it is there. */
const present = (stat: NodeStat | null) => stat !== null;

/**
 * Resolves once `path` is gone, or on timeout, abort, or the end of our session (the caller's loop then
 * finds out which). The watch is set with getData, which sets none on a missing node, so abandoned
 * waits leave no watcher behind for a node that will never exist again. `also`: nodes watched as well
 * (exists watches, read in the same round trip), whose change (no longer `still`) ends the wait too.
 */
async function waitForRemoval(
  ctx: LockContext,
  path: string,
  sessionId: string,
  limits: WaitLimits,
  ownToken?: string,
  also: Watched[] = [],
  /** Ends the wait too (a hand-over came). */
  alsoWake?: Promise<unknown>,
): Promise<'changed' | 'ours' | 'group'> {
  let wake!: () => void;
  const woken = new Promise<void>((resolve) => (wake = resolve));
  void alsoWake?.then(() => wake());
  const watch = () => wake();
  // Sent with the read of `path` (pipelined); observed below, or left on an early return (then unwatched).
  const othersChanged = Promise.all(also.map((other) => ctx.zk.exists(other.path, watch).then((stat) => !other.still(stat))));
  othersChanged.catch(() => undefined);
  try {
    try {
      const { data, stat } = await ctx.zk.getData(path, watch);
      // Our own holder node, from a create whose reply was lost: the lock is ours.
      if (ownToken !== undefined && carriesToken(data, ownToken) && stat.ephemeralOwner === sessionId) return 'ours';
      // A shared group's container: its data never changes, so a data watch would wait for nothing.
      if (isGroup(stat)) return 'group';
      if (stat.ephemeralOwner === undefined) {
        // Persistent: no session of ours made it, and none will ever end it (or an empty shared group:
        // the server would reap it, but not for a while). Out of our way; if it cannot be removed, wait for
        // it to change like any holder (the watch is set), never retry in a loop.
        if (await ctx.removeSquatter(path, stat.version, stat.dataLength === 0)) return 'changed';
      }
    } catch (error) {
      if (error instanceof ZookeeperError && error.code === 'NO_NODE') return 'changed';
      throw error;
    }
    if ((await othersChanged).some(Boolean)) return 'changed';
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
    for (const other of also) ctx.zk.unwatch(other.path, watch);
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
