/**
 * Detectors for shared and limited locks under load, from the intervals the counter app logs (one clock
 * for every process: CLOCK_MONOTONIC). Pure, so a control run without locks can prove they fire.
 */
import type { Interval } from './load';

/** Most sections of one id in progress at the same instant, per id (a sweep over entries and exits). */
export function maxConcurrency(intervals: Interval[]): Map<string, number> {
  const byId = new Map<string, Array<[bigint, number]>>();
  for (const each of intervals) {
    const events = byId.get(each.id) ?? [];
    events.push([each.enter, 1], [each.leave, -1]);
    byId.set(each.id, events);
  }
  const result = new Map<string, number>();
  for (const [id, events] of byId) {
    // At one instant an exit comes before an entry: touching sections do not overlap.
    events.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] - y[1]));
    let now = 0;
    let most = 0;
    for (const [, delta] of events) {
      now += delta;
      most = Math.max(most, now);
    }
    result.set(id, most);
  }
  return result;
}

/** Writers (`w`) whose section overlaps any other section of the same id (reader or writer). */
export function writerOverlaps(intervals: Interval[]): { count: number; examples: string[] } {
  let count = 0;
  const examples: string[] = [];
  const byId = new Map<string, Interval[]>();
  for (const each of intervals) byId.set(each.id, [...(byId.get(each.id) ?? []), each]);
  for (const [id, list] of byId) {
    for (const writer of list.filter((i) => i.kind === 'w')) {
      const other = list.find((i) => i !== writer && i.enter < writer.leave && writer.enter < i.leave);
      if (other) {
        count += 1;
        if (examples.length < 5) examples.push(`${id}: writer ${writer.enter}-${writer.leave} (pid ${writer.pid}) with ${other.kind} ${other.enter}-${other.leave} (pid ${other.pid})`);
      }
    }
  }
  return { count, examples };
}
