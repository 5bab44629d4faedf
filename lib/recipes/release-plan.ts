/**
 * Which of a released grant's queues go in the release's own MULTI (a pure decision, unit-tested).
 *
 * A queue read as having exactly as many children as we are about to remove from it is empty after our
 * MULTI: its removal rides in the same MULTI, so that the next uncontended acquire finds no queue (and
 * takes the one-write path) at no extra round trip. If a waiter joins between our read and our MULTI,
 * the MULTI fails as a whole (NOT_EMPTY) and is sent again without the queue (removeRead does that).
 * A queue that could not be read is probed afterwards with a plain remove, as before; a queue with other
 * waiters is left to them. A queue read as there and empty (our waiter node was deleted by someone, and
 * nobody else waits) goes too: the server's reaper would take it only later, and a ZooKeeper < 3.5 (no
 * containers: persistent queues) never. `null`: the queue is not there (an uncontended grant's).
 *
 * `emptyGoes: false` is for groups (shared holders, limited callers), which live at a holder's path: one
 * read as empty may be a holder node made there since, and is only removed after a member of ours.
 */
export function queueRemovals(
  queues: Array<{ queue: string; children: number | null | undefined }>,
  removing: string[],
  emptyGoes = true,
): { remove: string[]; probe: string[] } {
  const remove: string[] = [];
  const probe: string[] = [];
  for (const { queue, children } of queues) {
    const prefix = `${queue}/`;
    const ours = removing.filter((path) => path.startsWith(prefix)).length;
    if (children === undefined) probe.push(queue);
    else if (children !== null && children === ours && (ours > 0 || emptyGoes)) remove.push(queue);
  }
  return { remove, probe };
}
