/**
 * Pure decisions about empty shared groups (no I/O), for the exclusive fail-fast acquire.
 *
 * A shared group is a container at the holder path (lock-paths.ts). When its last member's session ends
 * (a crash) or its member is deleted before its release, nobody takes the group along: the server reaps
 * the empty container only every `znode.container.checkIntervalMs` (60 s by default). An exclusive create
 * of that id fails with NODE_EXISTS meanwhile, like against a real holder, and NODE_EXISTS cannot tell
 * the two apart. Reading the node on every conflict would cost every plain conflict a second request;
 * so the read is made only where a group can be at all: in a scope dir MARKED as one where shared locks
 * are taken. The mark is the scope dir's data, set in the very MULTI that makes a group (so no group is
 * ever without it), and it is never taken away. Every process learns a scope's mark once per session
 * with one read that leaves a data watch, so it hears of a mark set later before it sees any group
 * made after it (ZooKeeper delivers a watch event before the replies to later requests).
 */
import type { MultiOp, NodeStat } from '../zookeeper/zookeeper.service';

/** The data of a scope dir in which shared locks are (or were once) taken. */
export const SHARED_SCOPE_MARK = Buffer.from('shared');

export function isMarked(data: Buffer | undefined): boolean {
  return data !== undefined && data.equals(SHARED_SCOPE_MARK);
}

/** What this process knows of one scope dir's mark. */
export type ScopeKnowledge =
  | { marked: true }
  /** Not marked, as read on `sessionId`, with a data watch that has not fired (it dies with the session). */
  | { marked: false; sessionId: string };

/**
 * Whether the node in an exclusive caller's way in that scope may be a shared group: true unless we know
 * the scope is not marked, from a read on the live session whose watch has not fired since. Unknown
 * counts as "may": it costs one read on a conflict, never a wrong answer.
 */
export function mayHoldGroups(known: ScopeKnowledge | undefined, sessionId: string | undefined): boolean {
  if (known === undefined || known.marked) return true;
  return known.sessionId !== sessionId;
}

export type InTheWay =
  /** A lock (an ephemeral holder), or a group with members or a gate in it: a conflict. */
  | 'conflict'
  /** A node no session owns with nothing in it: an empty group (or an empty squatter): remove it, take the lock. */
  | 'take-over'
  /** Gone since the create failed: try the create again. */
  | 'free';

/** What the node read in an exclusive fail-fast caller's way is (`null`: it is gone). */
export function inTheWay(stat: Pick<NodeStat, 'ephemeralOwner' | 'numChildren'> | null): InTheWay {
  if (stat === null) return 'free';
  if (stat.ephemeralOwner !== undefined || stat.numChildren > 0) return 'conflict';
  return 'take-over';
}

/**
 * The MULTI of an exclusive fail-fast acquire that also removes the empty groups in its way
 * (`emptied`: index of the target -> version of the node read). For each: a child is created and removed
 * first (an ephemeral node can have none, so a lock taken at that path meanwhile makes the whole request
 * fail), then the node is removed (NOT_EMPTY if a shared caller joined it meanwhile, BAD_VERSION if it
 * changed); then every holder node is created, as the plain acquire does. All or nothing.
 */
export function takeOverOps(
  holders: string[],
  emptied: ReadonlyMap<number, number>,
  data: Buffer,
  probe: string,
): MultiOp[] {
  const ops: MultiOp[] = [];
  for (const [index, version] of emptied) {
    const child = `${holders[index]}/${probe}`;
    ops.push({ op: 'create', path: child }, { op: 'remove', path: child }, { op: 'remove', path: holders[index], version });
  }
  for (const path of holders) ops.push({ op: 'create', path, data, mode: 'ephemeral' });
  return ops;
}

/**
 * Which target a failed op of the acquire's request was about, and whether it was one of the removal
 * ops of takeOverOps (`emptied` in the same order as given to it). A plain create has no op index.
 */
export function failedTarget(opIndex: number | undefined, emptied: readonly number[]): { target: number; removal: boolean } {
  if (opIndex === undefined) return { target: 0, removal: false };
  const removals = emptied.length * 3;
  if (opIndex < removals) return { target: emptied[Math.floor(opIndex / 3)], removal: true };
  return { target: opIndex - removals, removal: false };
}
