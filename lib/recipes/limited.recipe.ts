import { ZookeeperError } from '../zookeeper/zookeeper.error';
import { settleWithin } from '../zookeeper/settle-within';
import { LockConflictError, LockQueueFullError } from '../lock/lock.errors';
import { LockContext, unavailable } from './lock-context';
import type { LockTarget } from './lock-paths';
import { slotPrefix, slotsPath } from './lock-paths';
import type { OwnedNodes } from './fail-fast.recipe';
import { carriesToken, encodeNodeData } from './node-data';
import { slotPosition, SlotPosition } from './semaphore';
import { abortOf, answerBudget, checkCancelled, isTransient, untilWoken, waitForSession, waitOut, WaitLimits } from './queued.recipe';

/**
 * A concurrency-limited acquire (`limit: n`) of one id: every caller, holding or waiting, is one
 * ephemeral sequential node in the id's container (see lock-paths.ts); the first ones in sequence order
 * hold (the rule and why it is safe: semaphore.ts). A node that holds never stops holding until it is
 * removed, so there is no separate holder node and no hand-over step.
 *
 * - join: one MULTI making the container and our node when there is none (one request), else one create;
 *   the listing that decides is sent right behind it on the same session (the server answers in order,
 *   so it sees our node): one round trip more, not two;
 * - fail-fast (`limits` undefined): not among the holders, our node is removed and LockConflictError
 *   answered (three requests in all);
 * - waiting: watch the nodes whose leaving can let us in (slotPosition), list again when one goes; on
 *   timeout, abort or error our node is removed. A session that ends while we wait takes our node with
 *   it: we join again at the tail on the next session, as queued locks do.
 * A create whose reply was lost is resolved by looking for our token in the listing.
 */
export async function acquireLimited(ctx: LockContext, target: LockTarget, token: string, limit: number, limits?: WaitLimits): Promise<OwnedNodes> {
  const { zk } = ctx;
  const dir = slotsPath(target);
  const cancelled = () => {
    if (!limits) return undefined;
    const aborted = abortOf(limits);
    if (aborted) return aborted.reason;
    if (performance.now() >= limits.deadline) return new LockConflictError([target.id], target.scope, limits.wait);
    return undefined;
  };
  const failFast = limits === undefined;
  // The bound of a fail-fast call: one operation timeout, as for the other fail-fast acquires.
  const bounds: WaitLimits = limits ?? { deadline: performance.now() + zk.options.operationTimeout, wait: 0 };
  let own: { path: string; sessionId: string } | undefined;
  let doubtful: string | undefined; // session of a create whose outcome we never learned
  let joining: string | undefined; // session a join under way began on (its create may be in doubt)
  let holding = false;
  // The session a doubtful create of ours may still land on (a read-back missed it), whatever became of
  // our node since (deleted by someone, joined again): swept at release or give-up.
  let strayOn: string | undefined;
  // A caller that aborted while our join or listing was on the wire gets its abort, never the lock: our
  // node goes with the give-up (finally), as for an exclusive waiter.
  const grant = (held: { path: string; sessionId: string }): OwnedNodes => {
    const aborted = limits && abortOf(limits);
    if (aborted) throw aborted.reason;
    holding = true;
    return granted(held, dir, strayOn === held.sessionId);
  };
  try {
    for (;;) {
      checkCancelled(cancelled);
      try {
        if (own === undefined || zk.sessionId !== own.sessionId) {
          if (own !== undefined) {
            if (failFast) throw new LockConflictError([target.id], target.scope, 0);
            await waitForSession(ctx, bounds, cancelled);
          }
          if (!ctx.hasDir(target.scopeDir)) await ctx.ensureDir(target.scopeDir);
          joining = zk.sessionId;
          const joined = await join(ctx, target, token, limit, doubtful);
          joining = undefined;
          // A doubtful create on the session we now hold a node on may land late (a read-back missed it);
          // one seen possible earlier on this session still may (on another, it went with that session).
          if (doubtful === joined.sessionId) strayOn = joined.sessionId;
          else if (strayOn !== joined.sessionId) strayOn = undefined;
          own = { path: joined.path, sessionId: joined.sessionId };
          doubtful = undefined;
          // Our node is made, but the listing got no answer: the next pass lists again (and a failure
          // there leaves, with our node removed, as any).
          if (joined.children === undefined) continue;
          const position = slotPosition(joined.children, joined.path.slice(dir.length + 1), token);
          if (position.kind === 'holder') return grant(own);
          if (failFast && position.kind === 'waiting') throw new LockConflictError([target.id], target.scope, 0);
          continue;
        }
        const children = await zk.getChildren(dir).catch((e) => (isCode(e, 'NO_NODE') ? [] : Promise.reject(e)));
        const position: SlotPosition = slotPosition(children, own.path.slice(dir.length + 1), token);
        if (position.kind === 'holder') return grant(own);
        if (position.kind === 'missing') {
          // Someone deleted our node while our session lives: join again at the tail.
          own = undefined;
          continue;
        }
        if (failFast) throw new LockConflictError([target.id], target.scope, 0);
        if (bounds.maxQueue !== undefined && position.ahead - position.limit >= bounds.maxQueue) {
          throw new LockQueueFullError([target.id], target.scope, { perId: bounds.maxQueue });
        }
        await waitForAnyRemoval(ctx, position.watch.map((name) => `${dir}/${name}`), own.sessionId, bounds);
      } catch (error) {
        // A join's create with no answer (a first join, or one again on a new session): its slot may
        // exist with our token on the session the join began on; the next join looks for it first.
        if (error instanceof ZookeeperError && error.outcomeUnknown && joining !== undefined) doubtful = joining;
        joining = undefined;
        if (failFast || !isTransient(error)) throw error;
        await waitOut(ctx, bounds, error).catch(() => checkCancelled(cancelled));
      }
    }
  } catch (error) {
    throw error instanceof ZookeeperError ? unavailable(error) : error;
  } finally {
    if (!holding) {
      if (doubtful !== undefined) void ctx.janitor.removeOwnedChildren(dir, token, doubtful);
      // A stray slot of ours (a doubtful create that landed after we looked and joined again) would be
      // counted by everyone else, and hold the lock once it is first, for as long as our session lives.
      if (strayOn !== undefined && strayOn !== doubtful) void ctx.janitor.removeOwnedChildren(dir, token, strayOn);
      if (own !== undefined && zk.sessionId === own.sessionId) {
        const leave = leaveSlots(ctx, own.path, token, own.sessionId);
        // A fail-fast refusal answers at once (a conflict must not become a 503 because its clean-up is
        // slow): the removal goes on in the background, counted by the janitor. A wait that gives up
        // leaves within its answer budget.
        if (failFast) void ctx.janitor.follow(leave);
        else await settleWithin(leave, answerBudget(ctx, bounds), () => undefined);
      }
    }
  }
}

function granted(own: { path: string; sessionId: string }, dir: string, strayPossible: boolean): OwnedNodes {
  return { nodes: [own.path], holders: [own.path], sessionId: own.sessionId, sweep: [], groups: [dir], ...(strayPossible && { strays: [dir] }) };
}

/**
 * Makes our node (and the container, when there is none) and lists the container right behind it.
 * After a create whose reply was lost on this session, our node is first looked for by token.
 */
async function join(
  ctx: LockContext,
  target: LockTarget,
  token: string,
  limit: number,
  doubtful: string | undefined,
): Promise<{ path: string; sessionId: string; children: string[] | undefined }> {
  const { zk } = ctx;
  const dir = slotsPath(target);
  const sessionId = zk.sessionId as string;
  const data = encodeNodeData(token, zk.options.ownerName);
  if (doubtful !== undefined && doubtful === sessionId) {
    const children = await zk.getChildren(dir).catch((e) => (isCode(e, 'NO_NODE') ? [] : Promise.reject(e)));
    const mine = children.find((name) => name.startsWith(`l${limit}-${token}-`));
    if (mine !== undefined) {
      // Gone since the listing (its session ended meanwhile, say): not found, never an error.
      const read = await zk.getData(`${dir}/${mine}`).catch((e) => (isCode(e, 'NO_NODE') ? undefined : Promise.reject(e)));
      if (read && carriesToken(read.data, token) && read.stat.ephemeralOwner === sessionId) return { path: `${dir}/${mine}`, sessionId, children };
    }
  }
  const prefix = slotPrefix(target, token, limit);
  for (let attempt = 0; ; attempt++) {
    // Pipelined: the listing is answered after the create (one session's requests are answered in order).
    const creating = zk.create(prefix, { data, mode: 'ephemeral-sequential' });
    const listing = zk.getChildren(dir).catch(() => undefined);
    try {
      const created = await creating;
      return { path: created.path, sessionId: created.sessionId, children: await listedWith(zk, dir, created.path, await listing) };
    } catch (error) {
      if (!(error instanceof ZookeeperError) || error.code !== 'NO_NODE' || attempt >= 3) throw error;
    }
    try {
      // On the session this join began on (the one it reports), never a later one.
      const making = zk.multi(
        [
          { op: 'create', path: dir, mode: 'container' },
          { op: 'create', path: prefix, mode: 'ephemeral-sequential', data },
        ],
        sessionId,
      );
      const listing = zk.getChildren(dir).catch(() => undefined);
      const results = await making;
      ctx.confirmContainers();
      const path = (results[1] as { path: string }).path;
      return { path, sessionId, children: await listedWith(zk, dir, path, await listing) };
    } catch (error) {
      if (!(error instanceof ZookeeperError)) throw error;
      if (error.code === 'NO_NODE' && error.opIndex === 0) {
        ctx.forgetDir(target.scopeDir);
        await ctx.ensureDir(target.scopeDir);
      } else if (error.code !== 'NODE_EXISTS') throw error;
      // Made by someone else meanwhile: join it with a plain create.
    }
  }
}

/** The pipelined listing when it has our node (it normally does), else a fresh one. */
async function listedWith(zk: LockContext['zk'], dir: string, path: string, listing: string[] | undefined): Promise<string[] | undefined> {
  const name = path.slice(dir.length + 1);
  // Undefined when it cannot be had: our node exists all the same, and the caller must know its path.
  return listing?.includes(name) ? listing : zk.getChildren(dir).catch(() => undefined);
}

/**
 * Removes our node (directly: its name is ours alone). Callers were ahead of us, so the container is left
 * to them (the last holder's release takes it along); an empty one blocks nothing (a join creates in it)
 * and the server reaps it.
 */
async function leaveSlots(ctx: LockContext, path: string, token: string, sessionId: string): Promise<void> {
  try {
    await ctx.zk.remove(path);
  } catch (error) {
    if (!(error instanceof ZookeeperError && error.code === 'NO_NODE')) {
      void ctx.janitor.removeOwned([path], token, sessionId);
    }
  }
}

/**
 * Resolves once one of `paths` is gone (at once if one already is), or on timeout, abort, or the end of
 * our session. Watches set with getData; every watch is taken back when the wait ends.
 */
async function waitForAnyRemoval(ctx: LockContext, paths: string[], sessionId: string, limits: WaitLimits): Promise<void> {
  let wake!: () => void;
  const woken = new Promise<void>((resolve) => (wake = resolve));
  const watch = () => wake();
  try {
    const present = await Promise.all(
      paths.map((path) =>
        ctx.zk.getData(path, watch).then(
          () => true,
          (error) => (isCode(error, 'NO_NODE') ? false : Promise.reject(error)),
        ),
      ),
    );
    if (present.some((here) => !here)) return;
    await untilWoken(ctx, woken, wake, sessionId, limits);
  } finally {
    for (const path of paths) ctx.zk.unwatch(path, watch);
  }
}

function isCode(error: unknown, code: ZookeeperError['code']): boolean {
  return error instanceof ZookeeperError && error.code === code;
}
