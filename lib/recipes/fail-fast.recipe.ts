import { ZookeeperError } from '../zookeeper/zookeeper.error';
import { LockConflictError } from '../lock/lock.errors';
import { LockContext, unavailable } from './lock-context';
import type { LockTarget } from './lock-paths';

export interface OwnedNodes {
  /** Every node this acquisition made (holders, and waiter nodes for a queued lock). */
  nodes: string[];
  /** The holder nodes, one per id. */
  holders: string[];
  sessionId: string;
}

/**
 * Fail-fast acquire (`wait: 0`): the lock is one ephemeral node; creating it takes the lock, NODE_EXISTS
 * means it is held. One round trip, also for several ids at once (a MULTI: all or none).
 * A create whose outcome is unknown is resolved by looking for our token, and tried once more if it
 * did not happen.
 */
export async function acquireFailFast(ctx: LockContext, targets: LockTarget[], token: string): Promise<OwnedNodes> {
  const { zk } = ctx;
  const data = Buffer.from(token);
  const holders = targets.map((t) => t.holder);
  const scopeDir = targets[0].scopeDir; // one call locks ids of one scope
  if (!ctx.hasDir(scopeDir)) await ctx.ensureDir(scopeDir).catch((e) => Promise.reject(unavailable(e)));
  // The acquire's answer (taken, held, or unavailable) comes within one operation timeout, even when the
  // create's reply is lost and its outcome must be looked for.
  const deadline = Date.now() + zk.options.operationTimeout;
  for (let attempt = 0; ; attempt++) {
    const sessionId = zk.sessionId;
    try {
      if (targets.length === 1) {
        const created = await zk.create(holders[0], { data, mode: 'ephemeral' });
        return { nodes: holders, holders, sessionId: created.sessionId };
      }
      await zk.multi(holders.map((path) => ({ op: 'create' as const, path, data, mode: 'ephemeral' as const })));
      return { nodes: holders, holders, sessionId: sessionId as string };
    } catch (error) {
      if (!(error instanceof ZookeeperError)) throw error;
      if (error.outcomeUnknown && sessionId) {
        // The MULTI is atomic, so the first holder tells for all of them.
        const outcome = await ctx.resolveCreate(holders[0], token, sessionId, error, deadline);
        if (outcome === 'ours') return { nodes: holders, holders, sessionId };
        if (outcome === 'taken') throw new LockConflictError(targets.map((t) => t.id), targets[0].scope, 0);
        if (attempt === 0 && Date.now() < deadline) continue; // it did not happen: one more try
      } else if (error.code === 'NO_NODE' && attempt === 0) {
        // A scope directory we made earlier was deleted by someone: make it again.
        ctx.forgetDir(scopeDir);
        await ctx.ensureDir(scopeDir).catch((e) => Promise.reject(unavailable(e)));
        continue;
      }
      throw conflictOr(error, targets);
    }
  }
}

function conflictOr(error: unknown, targets: LockTarget[]): Error {
  if (error instanceof ZookeeperError && error.code === 'NODE_EXISTS') {
    const held = targets.length === 1 ? targets[0] : targets[error.opIndex ?? 0];
    return new LockConflictError([held.id], held.scope, 0);
  }
  return unavailable(error);
}
