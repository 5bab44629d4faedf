/**
 * Pure decisions of the queued lock (no I/O), in the manner of Curator's LockInternalsDriver: given the
 * children of a lock's queue, where do I stand and whom do I watch.
 */

const WAITER = /^w-([0-9a-f]+)-(\d{10})$/;

export interface Waiter {
  name: string;
  token: string;
  sequence: number;
}

export function parseWaiter(name: string): Waiter | undefined {
  const match = WAITER.exec(name);
  return match ? { name, token: match[1], sequence: Number(match[2]) } : undefined;
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
  /** Someone is ahead: watch only the one right before us (no herd when the head leaves). */
  | { kind: 'behind'; predecessor: string; ahead: number }
  /** Our node is not there: our session ended, or someone removed it. */
  | { kind: 'missing' };

/**
 * `token`: our acquisition's token. Other waiter nodes carrying it are our own strays (a create that
 * landed after we looked for it, or one of an ended session of ours) and never stand in our way.
 */
export function queuePosition(children: string[], own: string, token?: string): QueuePosition {
  const waiters = sortWaiters(children).filter((w) => w.name === own || token === undefined || w.token !== token);
  const index = waiters.findIndex((w) => w.name === own);
  if (index < 0) return { kind: 'missing' };
  if (index === 0) return { kind: 'head' };
  return { kind: 'behind', predecessor: waiters[index - 1].name, ahead: index };
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
