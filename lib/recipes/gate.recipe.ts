import { ZookeeperError } from '../zookeeper/zookeeper.error';
import type { NodeStat } from '../zookeeper/zookeeper.service';
import type { LockContext } from './lock-context';
import type { LockTarget } from './lock-paths';
import { gatePath } from './lock-paths';
import { carriesToken, encodeNodeData } from './node-data';

/**
 * The gate: an ephemeral node `x` in a shared group (lock-paths.ts) that fail-fast shared callers cannot
 * join past (their MULTI creates and deletes `x` before adding their member). It is put up by the first
 * exclusive waiter in the queue, the one with only shared callers ahead of it (the "gatekeeper"), as soon
 * as it is queued behind them, not only once it reaches the head: a shared caller that comes after a
 * waiting exclusive one never gets in ahead of it. Queued shared callers ahead of it still join (they
 * create their member directly). The gate goes with the head exclusive waiter's take-over MULTI, with
 * its owner when that one leaves without the lock (the janitor, by token), or with its owner's session.
 *
 * One node name for all: ZooKeeper can only refuse a create on an exact name. So only the gatekeeper owns
 * it; an exclusive waiter behind it watches it (its waiter node) and puts up its own gate once it is the
 * gatekeeper. What remains: between the removal of a gate whose owner gave up and the next gatekeeper's
 * create (about one notification and two round trips), and between the moment shared waiters ahead of the
 * gatekeeper make a new group and its gate (one round trip), a fail-fast shared caller can still get in.
 */

/** Our gate: `maybe` while it may exist (removed by token if we give up), `held` once we know it does. */
export interface GateState {
  maybe: boolean;
  held: boolean;
}

/** A node to watch besides our predecessor, and whether what it is now still means "nothing to do". */
export interface Watched {
  path: string;
  still(stat: NodeStat | null): boolean;
}

export type GateNext =
  /** Created: ours. */
  | 'ours'
  /** NODE_EXISTS: a gate is there: ours (a create whose reply was lost) or a former gatekeeper's. */
  | 'look'
  /** NO_NODE: nothing at the holder path (a group about to be made by shared waiters ahead). */
  | 'no-group'
  /** NO_CHILDREN_FOR_EPHEMERALS: an exclusive (fail-fast) holder holds it: no group to close yet. */
  | 'held'
  /** No answer: it may be ours now. */
  | 'doubtful'
  | 'fail';

/** What the gate's create answered (pure). */
export function gateNext(error: Pick<ZookeeperError, 'code' | 'outcomeUnknown'> | undefined): GateNext {
  if (!error) return 'ours';
  if (error.outcomeUnknown) return 'doubtful';
  if (error.code === 'NODE_EXISTS') return 'look';
  if (error.code === 'NO_NODE') return 'no-group';
  if (error.code === 'NO_CHILDREN_FOR_EPHEMERALS') return 'held';
  return 'fail';
}

/**
 * The gatekeeper makes sure its gate is up (no request once it is). Returns what to watch besides its
 * predecessor while no gate of its own could be put up: the holder path (a group being made, or a lock
 * going) or a former gatekeeper's gate (going). Throws a doubtful create's error (the caller waits it
 * out and comes back: the gate is then found by token).
 */
export async function keepGate(ctx: LockContext, target: LockTarget, token: string, sessionId: string, gate: GateState): Promise<Watched | undefined> {
  if (gate.held) return undefined;
  const path = gatePath(target);
  let next: GateNext;
  let failure: ZookeeperError | undefined;
  try {
    await ctx.zk.create(path, { data: encodeNodeData(token, ctx.zk.options.ownerName), mode: 'ephemeral', onSession: sessionId });
    next = 'ours';
  } catch (error) {
    if (!(error instanceof ZookeeperError)) throw error;
    failure = error;
    next = gateNext(error);
  }
  switch (next) {
    case 'ours':
      gate.maybe = gate.held = true;
      return undefined;
    case 'doubtful':
      gate.maybe = true;
      throw failure;
    case 'no-group':
      return { path: target.holder, still: (stat) => stat === null };
    case 'held':
      return { path: target.holder, still: (stat) => stat !== null && stat.ephemeralOwner !== undefined };
    case 'look': {
      const found = await ctx.zk.getData(path).catch((e) => (e instanceof ZookeeperError && e.code === 'NO_NODE' ? undefined : Promise.reject(e)));
      if (found && carriesToken(found.data, token) && found.stat.ephemeralOwner === sessionId) {
        gate.maybe = gate.held = true; // ours, from a create whose reply was lost
        return undefined;
      }
      return { path, still: (stat) => stat !== null }; // gone already (looked at again at once), or going
    }
    default:
      throw failure;
  }
}
