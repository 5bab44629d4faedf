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

export function queuePosition(children: string[], own: string): QueuePosition {
  const waiters = sortWaiters(children);
  const index = waiters.findIndex((w) => w.name === own);
  if (index < 0) return { kind: 'missing' };
  if (index === 0) return { kind: 'head' };
  return { kind: 'behind', predecessor: waiters[index - 1].name, ahead: index };
}

/** Our waiter node among the children, by token (after a create whose reply was lost). */
export function findOwnWaiter(children: string[], token: string): string | undefined {
  return sortWaiters(children).find((w) => w.token === token)?.name;
}
