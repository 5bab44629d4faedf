/**
 * Pure decisions of the queued lock (no I/O), in the manner of Curator's LockInternalsDriver: given the
 * children of a lock's queue, where do I stand and whom do I watch.
 */

const WAITER = /^([wr])-([0-9a-f]+)-(\d{10})$/;

/** `w-`: an exclusive caller's place in the queue; `r-`: a shared (read) caller's. */
export type WaiterKind = 'exclusive' | 'shared';

export interface Waiter {
  name: string;
  token: string;
  sequence: number;
  kind: WaiterKind;
}

export function parseWaiter(name: string): Waiter | undefined {
  const match = WAITER.exec(name);
  return match ? { name, token: match[2], sequence: Number(match[3]), kind: match[1] === 'r' ? 'shared' : 'exclusive' } : undefined;
}

/** Waiters in arrival order (ZooKeeper's sequence numbers); foreign names are ignored. */
export function sortWaiters(children: string[]): Waiter[] {
  return children
    .map(parseWaiter)
    .filter((w): w is Waiter => w !== undefined)
    .sort((a, b) => a.sequence - b.sequence || (a.name < b.name ? -1 : 1));
}

export type QueuePosition =
  /** First in line: may try to take the holder node. */
  | { kind: 'head' }
  /**
   * Someone is ahead: watch only the one right before us (no herd when the head leaves). For an exclusive
   * waiter also: `gatekeeper` when only shared callers are ahead (it closes their group to fail-fast
   * shared callers at once, not only at the head); `exclusiveAhead`, the nearest exclusive waiter ahead
   * when that is not the predecessor (its leaving can make us the gatekeeper: watched too).
   */
  | { kind: 'behind'; predecessor: string; ahead: number; gatekeeper?: true; exclusiveAhead?: string }
  /** Our node is not there: our session ended, or someone removed it. */
  | { kind: 'missing' };

/**
 * Where an exclusive waiter stands: it may take the lock only at the head, behind waiters of both kinds.
 * `token`: our acquisition's token. Other waiter nodes carrying it are our own strays (a create that
 * landed after we looked for it, or one of an ended session of ours) and never stand in our way.
 */
export function queuePosition(children: string[], own: string, token?: string): QueuePosition {
  const waiters = sortWaiters(children).filter((w) => w.name === own || token === undefined || w.token !== token);
  const index = waiters.findIndex((w) => w.name === own);
  if (index < 0) return { kind: 'missing' };
  if (index === 0) return { kind: 'head' };
  const predecessor = waiters[index - 1].name;
  const nearest = waiters.slice(0, index).reverse().find((w) => w.kind === 'exclusive');
  if (nearest === undefined) return { kind: 'behind', predecessor, ahead: index, gatekeeper: true };
  if (nearest.name !== predecessor) return { kind: 'behind', predecessor, ahead: index, exclusiveAhead: nearest.name };
  return { kind: 'behind', predecessor, ahead: index };
}

/** Our waiter node among the children, by token (after a create whose reply was lost). */
export function findOwnWaiter(children: string[], token: string): string | undefined {
  return sortWaiters(children).find((w) => w.token === token)?.name;
}

/** Our waiter nodes other than `own` (same token): strays from creates whose replies were lost. */
export function strayWaiters(children: string[], token: string, own: string): string[] {
  return sortWaiters(children)
    .filter((w) => w.token === token && w.name !== own)
    .map((w) => w.name);
}

/**
 * Where a shared waiter stands: it may join the holders once no exclusive waiter is ahead of it (shared
 * waiters ahead of it do not stand in its way), so a shared caller that arrives after a waiting exclusive
 * one waits behind it, and the exclusive one is never starved. Behind one, it watches only the nearest
 * exclusive waiter ahead (the one whose leaving can let it in).
 */
export function sharedPosition(children: string[], own: string, token?: string): QueuePosition {
  const waiters = sortWaiters(children).filter((w) => w.name === own || token === undefined || w.token !== token);
  const index = waiters.findIndex((w) => w.name === own);
  if (index < 0) return { kind: 'missing' };
  for (let i = index - 1; i >= 0; i--) {
    if (waiters[i].kind === 'exclusive') return { kind: 'behind', predecessor: waiters[i].name, ahead: index };
  }
  return { kind: 'head' };
}
