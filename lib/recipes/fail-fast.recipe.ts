import { ZookeeperError } from '../zookeeper/zookeeper.error';
import { settleWithin } from '../zookeeper/settle-within';
import { LockConflictError } from '../lock/lock.errors';
import { LockContext, persistenceProbe, unavailable } from './lock-context';
import type { LockTarget } from './lock-paths';
import { encodeNodeData } from './node-data';
import { HolderWatch } from './holder-watch';
import { failedTarget, inTheWay, takeOverOps } from './shared-scopes';
import type { NodeStat } from '../zookeeper/zookeeper.service';

export interface OwnedNodes {
  /** Every node this acquisition made (holders, and waiter nodes for a queued lock). */
  nodes: string[];
  /** The holder nodes, one per id. */
  holders: string[];
  sessionId: string;
  /** Queues where a stray waiter node of ours may still appear (a lost create reply): swept at release. */
  sweep?: string[];
  /**
   * Containers (a shared group, a limited lock's callers) where a stray node of ours may still appear (a
   * create whose reply was lost, landed after we looked): swept at release by token; the container stays.
   */
  strays?: string[];
  /**
   * Watches on the holder nodes (same order), set by reads sent right behind their creates: while they
   * vouch for the nodes, the release deletes them without reading them first (see holder-watch.ts).
   */
  watches?: HolderWatch[];
  /**
   * The token the holder nodes carry when it is not this acquisition's own: a lock handed over inside the
   * process (hand-off.ts) keeps the node, and the data, of the holder it came from.
   */
  holderToken?: string;
  /** A fencing-token rewrite of the holder node under way: a release waits for it (see fencingToken). */
  rewriting?: Promise<unknown>;
  /** The handed-over holder node was rewritten for this grant: its zxid is this holder's fencing token. */
  rewritten?: boolean;
  /** Given up: released, or handed over to the next holder (whose node it now is). Nothing is ours any more. */
  done?: boolean;
  /**
   * Stops the reads that carry `listener` when no holder watch can (see watch and rewriteHolder): a
   * rewrite moves the listener from them to its new watch.
   */
  stopWatching?: () => void;
  /** The handle's loss listener while it listens, wherever it is (a holder watch, or reads of its own). */
  listener?: (reason: string) => void;
  /** Its release has begun: a fencing rewrite must not start (it would change the version to delete). */
  releasing?: boolean;
  /**
   * Containers our holder nodes are members of (a shared group, a limited lock's callers): removed in the
   * release's own MULTI when we were their last member, never on their own (see releaseNodes).
   */
  groups?: string[];
}

/**
 * Fail-fast acquire (`wait: 0`): the lock is one ephemeral node; creating it takes the lock, NODE_EXISTS
 * means it is held. One round trip, also for several ids at once (a MULTI: all or none).
 * A create whose outcome is unknown is resolved by looking for our token, and tried once more if it
 * was not found; a NODE_EXISTS on that second try is resolved by reading the node (our first create may
 * have landed after we looked), so our own node is never reported as someone else's and never orphaned.
 *
 * In a scope where shared locks are taken (its mark: shared-scopes.ts), the node in the way may be a
 * shared group left empty (its last member's session ended, or the member was deleted, before a release
 * took the group along): then it is read once, and an empty one is removed and the lock taken in one
 * MULTI (takeOverOps). So a conflict costs one create where no shared lock was ever taken, and one create
 * and one read where they are; an empty group costs one MULTI more and is no conflict.
 */
export async function acquireFailFast(ctx: LockContext, targets: LockTarget[], token: string): Promise<OwnedNodes> {
  const { zk } = ctx;
  const data = encodeNodeData(token, zk.options.ownerName);
  const holders = targets.map((t) => t.holder);
  const scopeDir = targets[0].scopeDir; // one call locks ids of one scope
  // The acquire's answer (taken, held, or unavailable) comes within one operation timeout, even when the
  // scope directory must be made first (one create per missing level) or the create's reply is lost and
  // its outcome must be looked for.
  const deadline = performance.now() + zk.options.operationTimeout;
  const makeScopeDir = () =>
    settleWithin(ctx.ensureDir(scopeDir), deadline - performance.now(), () => {
      throw pastDeadline(scopeDir);
    }).catch((e) => Promise.reject(unavailable(e)));
  // Time went on the scope directory: the first create then gets only what is left of the deadline (a
  // timer, which the fast path, with the directory known, does without).
  let dirMade = false;
  if (!ctx.hasDir(scopeDir)) {
    await makeScopeDir();
    dirMade = true;
  }
  let doubtful: string | undefined; // session of an earlier create whose outcome we never learned
  // Empty groups found in our way (index of the target -> version read): removed by our next request.
  const emptied = new Map<number, number>();
  let looks = 0; // nodes in our way read so far: at most one per id, and one more
  const squatters = new Set<string>(); // emptied nodes that carried data: not groups, said when removed
  let firstLooks: Array<Promise<NodeStat | null | undefined> | undefined> | undefined; // what the first create's reads saw
  for (let attempt = 0; ; attempt++) {
    const sessionId = zk.sessionId;
    try {
      if (attempt === 0) {
        // The create, and right behind it (same round trip) the reads that watch our new nodes.
        let owner: string | undefined;
        const { creating, reads } = zk.together(() => ({
          creating:
            targets.length === 1
              ? zk.create(holders[0], { data, mode: 'ephemeral' }).then((created) => (owner = created.sessionId))
              : zk.multi(holders.map((path) => ({ op: 'create' as const, path, data, mode: 'ephemeral' as const })), sessionId).then(() => (owner = sessionId)),
          reads: holders.map((path) => HolderWatch.sendRead(zk, path, token, () => owner, ctx.holderWatches)),
        }));
        try {
          await (dirMade
            ? settleWithin<unknown>(creating, deadline - performance.now(), () => {
                throw pastDeadline(holders[0]);
              })
            : creating);
        } catch (error) {
          for (const { watch } of reads) watch.drop(zk); // a conflict: the reads saw someone else's node
          // What they saw of the node in our way answers a look at it below, with no read of its own.
          firstLooks = reads.map((r) => (r.sent ? r.settled.then(() => r.watch.seen) : undefined));
          throw error;
        }
        await Promise.all(reads.map((r) => r.settled));
        // Kept only when every holder is watched (none kept over the watch budget: memory per held lock).
        const watches = reads.every((r) => r.watch.state !== 'unarmed') ? reads.map((r) => r.watch) : undefined;
        return { nodes: holders, holders, sessionId: owner as string, watches };
      }
      // A second try (after a create whose outcome was unknown) sets no watch: its release reads first.
      // It gets only what is left of the acquire's deadline (its own request timeout would run a whole
      // operation timeout past it); past it, its outcome is unknown like the first one's.
      const creating: Promise<unknown> =
        emptied.size > 0
          ? zk.multi(takeOverOps(holders, emptied, data, persistenceProbe()), sessionId)
          : targets.length === 1
            ? zk.create(holders[0], { data, mode: 'ephemeral' })
            : zk.multi(holders.map((path) => ({ op: 'create' as const, path, data, mode: 'ephemeral' as const })), sessionId);
      const created = await settleWithin(creating, deadline - performance.now(), () => Promise.reject(pastDeadline(holders[0])));
      const owner = targets.length === 1 && emptied.size === 0 ? (created as { sessionId: string }).sessionId : (sessionId as string);
      for (const path of squatters) ctx.warnRemovedSquatter(path);
      return { nodes: holders, holders, sessionId: owner };
    } catch (error) {
      if (!(error instanceof ZookeeperError)) throw error;
      if (error.outcomeUnknown && sessionId) {
        doubtful = sessionId;
        // The MULTI is atomic, so the first holder tells for all of them.
        const outcome = await ctx.resolveCreate(holders[0], token, sessionId, error, deadline);
        if (outcome === 'ours') return { nodes: holders, holders, sessionId };
        if (outcome === 'taken') {
          // Someone else's node is there now; ours may still land once it is gone: the janitor looks too.
          void ctx.janitor.removeOwned(holders, token, sessionId);
          throw new LockConflictError(targets.map((t) => t.id), targets[0].scope, 0);
        }
        // Not found when we looked: it did not happen, or not yet (a read served before the create
        // landed). One more try; a NODE_EXISTS then is looked at again, never taken as final.
        if (attempt === 0 && performance.now() < deadline) continue;
        // Giving up while the first create may still land: the janitor removes it if it does.
        void ctx.janitor.removeOwned(holders, token, sessionId);
      } else if (error.code === 'NODE_EXISTS' && doubtful !== undefined && doubtful === zk.sessionId) {
        // Our earlier create may be the node in the way: it is ours if it carries our token and session.
        const outcome = await ctx.resolveCreate(holders[0], token, doubtful, error, deadline);
        if (outcome === 'ours') return { nodes: holders, holders, sessionId: doubtful };
      } else if (error.code === 'NO_NODE' && attempt === 0) {
        // A scope directory we made earlier was deleted by someone: make it again.
        ctx.forgetDir(scopeDir);
        await makeScopeDir();
        dirMade = true;
        continue;
      } else {
        const { target, removal } = failedTarget(error.opIndex, [...emptied.keys()]);
        // About the node in our way: NODE_EXISTS on a create; a removal op failed because it is a lock
        // now, has a member again, changed, or went. Looked at (again) where a group can be at all.
        const aboutIt = error.code === 'NODE_EXISTS' || (removal && NODE_CHANGED.has(error.code));
        // The read sent behind our first create saw the node in the way already: looked at for free.
        const seen = attempt === 0 && error.code === 'NODE_EXISTS' ? firstLooks?.[target] : undefined;
        if (aboutIt && looks <= targets.length && (seen !== undefined || (await ctx.mayHoldGroups(scopeDir, deadline)))) {
          looks += 1;
          const stat = seen !== undefined ? await settleWithin(seen, deadline - performance.now(), () => undefined) : await readWithin(ctx, holders[target], deadline);
          const next = stat === undefined ? 'conflict' : inTheWay(stat);
          if (next === 'conflict' || performance.now() >= deadline) throw new LockConflictError([targets[target].id], targets[target].scope, 0);
          if (next === 'take-over' && stat) {
            emptied.set(target, stat.version);
            if (stat.dataLength > 0) squatters.add(holders[target]);
          } else {
            emptied.delete(target); // gone: the next request creates it as the others
            squatters.delete(holders[target]);
          }
          continue;
        }
        // A conflict as without the look (at most once a minute per id, a background look for squatters);
        // named by the target the failed op was about (a take-over MULTI has removal ops before its creates).
        if (aboutIt) throw conflict(ctx, targets[target]);
      }
      throw conflictOr(ctx, error, targets);
    }
  }
}

/** Codes of a take-over's removal ops that say the node in the way is not the empty group we read. */
const NODE_CHANGED: ReadonlySet<string> = new Set(['NO_NODE', 'NO_CHILDREN_FOR_EPHEMERALS', 'NOT_EMPTY', 'BAD_VERSION']);

/**
 * The node in our way, read within the acquire's deadline: its stat, null when it is gone, undefined when
 * it could not be read in time (then the conflict stands, as without the read).
 */
async function readWithin(ctx: LockContext, path: string, deadline: number): Promise<NodeStat | null | undefined> {
  try {
    const { stat } = await settleWithin(ctx.zk.getData(path), deadline - performance.now(), () => {
      throw pastDeadline(path);
    });
    return stat;
  } catch (error) {
    if (error instanceof ZookeeperError && error.code === 'NO_NODE') return null;
    return undefined;
  }
}

function conflictOr(ctx: LockContext, error: unknown, targets: LockTarget[]): Error {
  if (error instanceof ZookeeperError && error.code === 'NODE_EXISTS') {
    return conflict(ctx, targets.length === 1 ? targets[0] : targets[error.opIndex ?? 0]);
  }
  return unavailable(error);
}

function conflict(ctx: LockContext, held: LockTarget): LockConflictError {
  ctx.inspectHolder(held.holder); // a persistent squatter must not make this id a 409 for ever
  return new LockConflictError([held.id], held.scope, 0);
}

function pastDeadline(path: string): ZookeeperError {
  return new ZookeeperError('OPERATION_TIMEOUT', `ZooKeeper did not answer create ${path} within the acquire's operation timeout`, path);
}
