import { ZookeeperError } from '../zookeeper/zookeeper.error';
import { settleWithin } from '../zookeeper/settle-within';
import { LockConflictError } from '../lock/lock.errors';
import { LockContext, unavailable } from './lock-context';
import type { LockTarget } from './lock-paths';
import { encodeNodeData } from './node-data';
import { HolderWatch } from './holder-watch';

export interface OwnedNodes {
  /** Every node this acquisition made (holders, and waiter nodes for a queued lock). */
  nodes: string[];
  /** The holder nodes, one per id. */
  holders: string[];
  sessionId: string;
  /** Queues where a stray waiter node of ours may still appear (a lost create reply): swept at release. */
  sweep?: string[];
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
 */
export async function acquireFailFast(ctx: LockContext, targets: LockTarget[], token: string): Promise<OwnedNodes> {
  const { zk } = ctx;
  const data = encodeNodeData(token, zk.options.ownerName);
  const holders = targets.map((t) => t.holder);
  const scopeDir = targets[0].scopeDir; // one call locks ids of one scope
  if (!ctx.hasDir(scopeDir)) await ctx.ensureDir(scopeDir).catch((e) => Promise.reject(unavailable(e)));
  // The acquire's answer (taken, held, or unavailable) comes within one operation timeout, even when the
  // create's reply is lost and its outcome must be looked for.
  const deadline = performance.now() + zk.options.operationTimeout;
  let doubtful: string | undefined; // session of an earlier create whose outcome we never learned
  for (let attempt = 0; ; attempt++) {
    const sessionId = zk.sessionId;
    try {
      if (attempt === 0) {
        // The create, and right behind it (same round trip) the reads that watch our new nodes.
        let owner: string | undefined;
        const creating =
          targets.length === 1
            ? zk.create(holders[0], { data, mode: 'ephemeral' }).then((created) => (owner = created.sessionId))
            : zk.multi(holders.map((path) => ({ op: 'create' as const, path, data, mode: 'ephemeral' as const }))).then(() => (owner = sessionId));
        const reads = holders.map((path) => HolderWatch.sendRead(zk, path, token, () => owner, ctx.holderWatches));
        try {
          await creating;
        } catch (error) {
          for (const { watch } of reads) watch.drop(zk); // a conflict: the reads saw someone else's node
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
        targets.length === 1
          ? zk.create(holders[0], { data, mode: 'ephemeral' })
          : zk.multi(holders.map((path) => ({ op: 'create' as const, path, data, mode: 'ephemeral' as const })));
      await settleWithin(creating, deadline - performance.now(), () => Promise.reject(pastDeadline(holders[0])));
      return { nodes: holders, holders, sessionId: sessionId as string };
    } catch (error) {
      if (!(error instanceof ZookeeperError)) throw error;
      if (error.outcomeUnknown && sessionId) {
        doubtful = sessionId;
        // The MULTI is atomic, so the first holder tells for all of them.
        const outcome = await ctx.resolveCreate(holders[0], token, sessionId, error, deadline);
        if (outcome === 'ours') return { nodes: holders, holders, sessionId };
        if (outcome === 'taken') throw new LockConflictError(targets.map((t) => t.id), targets[0].scope, 0);
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
        await ctx.ensureDir(scopeDir).catch((e) => Promise.reject(unavailable(e)));
        continue;
      }
      throw conflictOr(ctx, error, targets);
    }
  }
}

function conflictOr(ctx: LockContext, error: unknown, targets: LockTarget[]): Error {
  if (error instanceof ZookeeperError && error.code === 'NODE_EXISTS') {
    const held = targets.length === 1 ? targets[0] : targets[error.opIndex ?? 0];
    ctx.inspectHolder(held.holder); // a persistent squatter must not make this id a 409 for ever
    return new LockConflictError([held.id], held.scope, 0);
  }
  return unavailable(error);
}

function pastDeadline(path: string): ZookeeperError {
  return new ZookeeperError('OPERATION_TIMEOUT', `ZooKeeper did not answer create ${path} within the acquire's operation timeout`, path);
}
