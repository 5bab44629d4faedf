import { ZookeeperError } from '../zookeeper/zookeeper.error';
import type { MultiOp } from '../zookeeper/zookeeper.service';
import type { LockContext } from './lock-context';
import type { LockTarget } from './lock-paths';
import { memberPrefix, waiterPrefix } from './lock-paths';
import { encodeNodeData } from './node-data';
import { HolderWatch } from './holder-watch';

/**
 * The uncontended waiting acquire: when nobody waits for a lock, a waiting acquire costs what a fail-fast
 * one does. An exclusive caller sends one atomic MULTI that creates the lock's queue node and deletes it
 * again (a probe: it fails with NODE_EXISTS when a queue exists, i.e. when someone waits), then creates the
 * holder node (it fails when someone holds the lock). So callers already queued keep their turn (every
 * waiter is in the queue, and the server never deletes a queue that has a waiter), and on any failure
 * nothing was made and the queued path takes over. What it leaves is exactly a fail-fast holder: the
 * holder node alone, released with one delete; a caller that queues meanwhile waits on it as on any
 * fail-fast holder. A shared caller's MULTI makes the queue (a CONTAINER), its waiter node, the group's
 * container at the holder path and its member node, as the queued path would have.
 */

/** What to do after the MULTI answered (or did not): a pure decision, unit-tested. */
export type UncontendedNext =
  /** Ours: the holder was made (for a shared caller, with its queue, waiter and member nodes). */
  | 'taken'
  /** A queue exists, or the holder does, or ZooKeeper was unreachable before sending: queue up. */
  | 'queue'
  /** The scope directory is missing: make it, then queue up. */
  | 'make-scope'
  /** No answer: all three nodes exist with our token, or none; the queued path finds out by token. */
  | 'doubtful'
  /** Anything else (NO_AUTH, bad arguments): fail as the queued path would. */
  | 'fail';

export function uncontendedNext(error: Pick<ZookeeperError, 'code' | 'opIndex' | 'outcomeUnknown' | 'isConnectivity'> | undefined): UncontendedNext {
  if (!error) return 'taken';
  if (error.outcomeUnknown) return 'doubtful';
  if (error.code === 'NODE_EXISTS') return 'queue';
  // The queue's parent is the scope dir (op 0); nothing else in the MULTI can miss a parent.
  if (error.code === 'NO_NODE') return 'make-scope';
  // A server without containers (< 3.5) answers this op UNIMPLEMENTED: the queued path learns it.
  if (error.code === 'UNIMPLEMENTED') return 'queue';
  if (error.isConnectivity) return 'queue';
  return 'fail';
}

/**
 * Whether to try the MULTI at all. Only on a server known to have containers (a server without them
 * would not understand the op), and not while another acquire of this process waits for the same id:
 * then its queue almost surely exists, and the MULTI would only cost a failed write before queueing.
 */
export function mayTryUncontended(containers: 'yes' | 'no' | 'unknown', othersWaitingHere: number): boolean {
  return containers === 'yes' && othersWaitingHere === 0;
}

export type UncontendedOutcome =
  /** `holder`: the holder node (for a shared caller, its member node in the group). */
  | { kind: 'taken'; waiter?: string; holder: string; sessionId: string; watch?: HolderWatch }
  | { kind: 'queue' }
  /** The MULTI's outcome is unknown; it was sent on `sessionId`. */
  | { kind: 'doubtful'; sessionId: string };

/** Sends the MULTI once (after making the scope dir if it was missing) and says what happened. */
export async function tryUncontended(ctx: LockContext, target: LockTarget, token: string, shared = false): Promise<UncontendedOutcome> {
  const data = encodeNodeData(token, ctx.zk.options.ownerName);
  // A shared caller makes the holder path as the group's CONTAINER and its own member node in it.
  // (And marks the scope dir as one with shared locks, in the same MULTI: see shared-scopes.ts.)
  const holder: MultiOp[] = shared
    ? [
        { op: 'create', path: target.holder, mode: 'container' },
        { op: 'create', path: memberPrefix(target, token), mode: 'ephemeral-sequential', data },
        ...ctx.markOps(target.scopeDir),
      ]
    : [{ op: 'create', path: target.holder, mode: 'ephemeral', data }];
  for (let attempt = 0; ; attempt++) {
    const sessionId = ctx.zk.sessionId;
    let next: UncontendedNext;
    let error: unknown;
    // An exclusive holder node is watched by a read right behind the MULTI (holder-watch.ts): same round
    // trip, same write.
    const { multi, read } = ctx.zk.together(() => ({
      multi: ctx.zk.multi(
        shared
          ? [
              { op: 'create', path: target.queue, mode: 'container' },
              { op: 'create', path: waiterPrefix(target, token, true), mode: 'ephemeral-sequential', data },
              ...holder,
            ]
          : [{ op: 'create', path: target.queue }, { op: 'remove', path: target.queue }, ...holder],
        sessionId, // the session it reports as the owner
      ),
      read: shared ? undefined : HolderWatch.sendRead(ctx.zk, target.holder, token, () => sessionId, ctx.holderWatches),
    }));
    try {
      const results = await multi;
      await read?.settled;
      if (shared) {
        ctx.confirmContainers();
        ctx.confirmMark(target.scopeDir);
        const [, waiter, , member] = results;
        if (waiter.op === 'create' && member?.op === 'create' && sessionId) return { kind: 'taken', waiter: waiter.path, holder: member.path, sessionId };
      } else if (sessionId) {
        return { kind: 'taken', holder: target.holder, sessionId, watch: read?.watch };
      }
      read?.watch.drop(ctx.zk);
      next = 'queue';
    } catch (caught) {
      read?.watch.drop(ctx.zk);
      if (!(caught instanceof ZookeeperError)) throw caught;
      error = caught;
      next = uncontendedNext(caught);
    }
    if (next === 'doubtful') return sessionId ? { kind: 'doubtful', sessionId } : { kind: 'queue' };
    if (next === 'make-scope' && attempt === 0) {
      ctx.forgetDir(target.scopeDir);
      try {
        await ctx.ensureDir(target.scopeDir);
      } catch {
        return { kind: 'queue' }; // the queued path retries within the caller's wait
      }
      continue;
    }
    if (next === 'fail') throw error;
    return { kind: 'queue' };
  }
}
