import { ZookeeperError } from '../zookeeper/zookeeper.error';
import type { MultiOp } from '../zookeeper/zookeeper.service';
import type { LockContext } from './lock-context';
import type { LockTarget } from './lock-paths';
import { memberPrefix, waiterPrefix } from './lock-paths';
import { encodeNodeData } from './node-data';

/**
 * The uncontended waiting acquire: when nobody waits for a lock, one atomic MULTI makes its queue (a
 * CONTAINER), our waiter node in it and the holder node, so a waiting acquire of a free lock costs one
 * write, like a fail-fast one. It succeeds only when no queue exists (its first op fails with NODE_EXISTS
 * otherwise) and nobody holds the lock (the third op fails), so callers already queued keep their turn
 * (every waiter is in the queue, and the server never deletes a queue that has a waiter); on any failure
 * nothing was made, and the queued path takes over. The grant is the same as the queued path's (holder,
 * and our waiter kept while held), so its release and a later waiter's behaviour are unchanged.
 */

/** What to do after the MULTI answered (or did not): a pure decision, unit-tested. */
export type UncontendedNext =
  /** Ours: holder, waiter and queue were made. */
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
  | { kind: 'taken'; waiter: string; holder: string; sessionId: string }
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
    try {
      const [, waiter, , member] = await ctx.zk.multi([
        { op: 'create', path: target.queue, mode: 'container' },
        { op: 'create', path: waiterPrefix(target, token, shared), mode: 'ephemeral-sequential', data },
        ...holder,
      ]);
      ctx.confirmContainers();
      if (shared) ctx.confirmMark(target.scopeDir);
      const held = shared ? (member?.op === 'create' ? member.path : undefined) : target.holder;
      if (waiter.op === 'create' && held && sessionId) return { kind: 'taken', waiter: waiter.path, holder: held, sessionId };
      next = 'queue';
    } catch (caught) {
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
