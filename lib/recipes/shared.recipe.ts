import { ZookeeperError } from '../zookeeper/zookeeper.error';
import { LockConflictError } from '../lock/lock.errors';
import { LockContext, unavailable } from './lock-context';
import type { LockTarget } from './lock-paths';
import { memberPrefix } from './lock-paths';
import { encodeNodeData } from './node-data';
import { createMember, findOwnMember } from './queued.recipe';

/**
 * Fail-fast shared acquire of one id (`shared: true`, `wait: 0`): joins the id's group of shared holders.
 * 1. Nobody holds it: one MULTI makes the group's container at the holder path and our member node in it
 *    (the request an exclusive create of the same path then fails against: NODE_EXISTS), and marks the
 *    scope dir as one with shared locks until this process knows it is (shared-scopes.ts).
 * 2. A group holds it (step 1 fails with NODE_EXISTS): one MULTI creates and deletes the gate, then our
 *    member: it fails when an exclusive waiter has closed the group (the gate exists: a waiting exclusive
 *    caller is never starved by fail-fast shared ones) or when the path is an exclusive holder (an
 *    ephemeral node has no children): LockConflictError.
 * So one request when free, two when shared, and nothing is left behind by a refusal (a MULTI is atomic).
 * A create whose reply was lost is resolved by looking for our token among the members; when that
 * cannot be had, the janitor removes the member if it landed, and the caller gets LockUnavailableError.
 * Resolves with our member node and the session that made it: every write goes only on the session the
 * acquire began on, so a grant never names a session its node does not belong to.
 */
export async function joinSharedFailFast(ctx: LockContext, target: LockTarget, token: string): Promise<{ path: string; sessionId: string }> {
  const { zk } = ctx;
  const data = encodeNodeData(token, zk.options.ownerName);
  if (!ctx.hasDir(target.scopeDir)) await ctx.ensureDir(target.scopeDir).catch((e) => Promise.reject(unavailable(e)));
  const sessionId = zk.sessionId;
  if (!sessionId) throw unavailable(new ZookeeperError('UNAVAILABLE', 'no ZooKeeper session', target.holder));
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        const results = await zk.multi(
          [
            { op: 'create', path: target.holder, mode: 'container' },
            { op: 'create', path: memberPrefix(target, token), mode: 'ephemeral-sequential', data },
            ...ctx.markOps(target.scopeDir), // no group without its scope's mark (shared-scopes.ts)
          ],
          sessionId,
        );
        ctx.confirmContainers();
        ctx.confirmMark(target.scopeDir);
        return { path: (results[1] as { path: string }).path, sessionId };
      } catch (error) {
        if (!(error instanceof ZookeeperError)) throw error;
        if (error.code === 'NO_NODE' && error.opIndex === 0 && attempt === 0) {
          // A scope directory we made earlier was deleted by someone: make it again.
          ctx.forgetDir(target.scopeDir);
          await ctx.ensureDir(target.scopeDir);
          continue;
        }
        if (error.code !== 'NODE_EXISTS' || error.opIndex !== 0) throw error;
      }
      return { path: await createMember(ctx, target, data, true, sessionId), sessionId };
    }
  } catch (error) {
    if (!(error instanceof ZookeeperError)) throw error;
    if (error.code === 'NODE_EXISTS' || error.code === 'NO_CHILDREN_FOR_EPHEMERALS') {
      throw new LockConflictError([target.id], target.scope, 0);
    }
    if (error.outcomeUnknown && sessionId) {
      const connected = await zk.waitForConnection(zk.options.operationTimeout);
      if (connected && zk.sessionId === sessionId) {
        const own = await findOwnMember(ctx, target, token).catch(() => undefined);
        if (own !== undefined) return { path: own, sessionId };
      }
      // Not found (or not looked for): if the create lands after all, the janitor removes it.
      void ctx.janitor.removeOwnedChildren(target.holder, token, sessionId);
    }
    throw unavailable(error);
  }
}
