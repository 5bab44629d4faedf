/**
 * Pure decisions of the concurrency-limited lock (no I/O), like lock-queue.ts for the queued one. Every
 * caller, holding or waiting, is one ephemeral sequential node `l<limit>-<token>-<seq>` in the lock's
 * container; in sequence order, a node holds when fewer nodes are ahead of it than the smallest limit
 * among itself and the nodes ahead of it:
 *
 *   holds(i) <=> i < min(limit of nodes 0..i)
 *
 * Why this is safe with stale views: nodes only ever join at the tail, so the nodes ahead of a holder only
 * leave; its index only falls and the minimum over them only rises, so a node that held on one listing
 * holds on every later one. And on any listing, the last of k holders has at least k-1 nodes ahead, all
 * counted in its minimum, which includes every holder's limit: k <= the smallest limit among holders.
 * Callers that disagree on the limit therefore never make more holders than the smallest limit asked by
 * a holder; a caller with a larger limit waits behind one with a smaller limit (first come, first served).
 */

const SLOT = /^l(\d{1,10})-([0-9a-f]+)-(\d{10})$/;

export interface Slot {
  name: string;
  limit: number;
  token: string;
  sequence: number;
}

export function parseSlot(name: string): Slot | undefined {
  const match = SLOT.exec(name);
  if (!match) return undefined;
  const limit = Number(match[1]);
  return limit >= 1 ? { name, limit, token: match[2], sequence: Number(match[3]) } : undefined;
}

/** Callers in arrival order; foreign names are ignored. */
export function sortSlots(children: string[]): Slot[] {
  return children
    .map(parseSlot)
    .filter((s): s is Slot => s !== undefined)
    .sort((a, b) => a.sequence - b.sequence || (a.name < b.name ? -1 : 1));
}

export type SlotPosition =
  | { kind: 'holder' }
  /**
   * Not yet: wake when one of `watch` leaves. They are the `limit` nodes right before us (a holder
   * leaving among them moves us up) and, when a smaller limit than ours holds us back, the nearest node
   * ahead carrying that limit (its leaving may raise the limit that applies). A node further ahead that
   * leaves changes neither, so it wakes nobody: each leave wakes at most `limit` (+1) waiters, no herd.
   */
  | { kind: 'waiting'; watch: string[]; ahead: number; limit: number }
  | { kind: 'missing' };

/** `token`: our own acquisition's; other nodes carrying it are our strays (lost create replies), skipped. */
export function slotPosition(children: string[], own: string, token?: string): SlotPosition {
  const slots = sortSlots(children).filter((s) => s.name === own || token === undefined || s.token !== token);
  const index = slots.findIndex((s) => s.name === own);
  if (index < 0) return { kind: 'missing' };
  let limit = slots[index].limit;
  let smallest = -1; // index of the nearest node ahead whose limit is the smallest, when below ours
  for (let i = 0; i < index; i++) {
    if (slots[i].limit < limit || (smallest >= 0 && slots[i].limit === limit)) {
      limit = slots[i].limit;
      smallest = i;
    }
  }
  if (index < limit) return { kind: 'holder' };
  const watch = slots.slice(index - limit, index).map((s) => s.name);
  if (smallest >= 0 && smallest < index - limit) watch.push(slots[smallest].name);
  return { kind: 'waiting', watch, ahead: index, limit };
}

/** Holders of a listing (for inspect): the nodes that hold by the rule above. */
export function slotHolders(children: string[]): Slot[] {
  const slots = sortSlots(children);
  const holders: Slot[] = [];
  let limit = Infinity;
  for (let i = 0; i < slots.length; i++) {
    limit = Math.min(limit, slots[i].limit);
    if (i < limit) holders.push(slots[i]);
  }
  return holders;
}
