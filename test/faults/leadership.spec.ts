/**
 * Scenario 9: leadership (LockService.leader) on the 3-node ensemble, three candidate processes.
 * 1. The ZooKeeper leader is SIGKILLed while a candidate leads: at no instant do two candidates lead, and
 *    some candidate leads again within the session timeout of the kill (sessions outlive the election,
 *    so usually the same one never stops).
 * 2. The leading candidate is SIGKILLed: another one leads after about the session timeout (its session
 *    must expire first), bound 0.5x to 3x the session timeout as in scenario 4; still never two at once.
 * The detector: every candidate prints the start and end of its terms on one machine-wide clock
 * (CLOCK_MONOTONIC), a killed one's term ends at its death; two terms of different processes that
 * intersect are an overlap. The control run (same processes, no election: each declares itself leader)
 * shows that the detector finds overlaps when there is no lock.
 */
import { recordFigures, emptyOutcomes } from './support/figures';
import { Child, killChildren, startCandidate } from './support/processes';
import { cleanup, sharedConnectString, startEnsemble, TestEnsemble, TestServer, uniqueNamespace } from '../support/zookeeper';

const SESSION_TIMEOUT = 6_000;
const ID = 'settlement-worker';

interface Term {
  pid: number;
  start: bigint;
  end: bigint;
}

/** Terms of each candidate from its lines; a term still open ends at `death` (killed) or `now` (alive). */
function termsOf(candidates: Array<{ child: Child; death?: bigint }>, now: bigint): Term[] {
  const terms: Term[] = [];
  for (const { child, death } of candidates) {
    let open: bigint | undefined;
    for (const line of child.lines) {
      const [word, at] = line.split(' ');
      if (word === 'gain') open = BigInt(at);
      if (word === 'end' && open !== undefined) {
        terms.push({ pid: child.pid, start: open, end: BigInt(at) });
        open = undefined;
      }
    }
    if (open !== undefined) terms.push({ pid: child.pid, start: open, end: death ?? now });
  }
  return terms;
}

function overlaps(terms: Term[]): number {
  let count = 0;
  for (let i = 0; i < terms.length; i++) {
    for (let j = i + 1; j < terms.length; j++) {
      const [x, y] = [terms[i], terms[j]];
      if (x.pid !== y.pid && x.start < y.end && y.start < x.end) count += 1;
    }
  }
  return count;
}

/** The longest stretch of [from, to] that no term covers. */
function longestGap(terms: Term[], from: bigint, to: bigint): bigint {
  let covered = from;
  let longest = 0n;
  for (const term of [...terms].sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : 0))) {
    if (term.end <= covered) continue;
    if (term.start > covered) longest = term.start - covered > longest ? term.start - covered : longest;
    covered = term.end > covered ? term.end : covered;
    if (covered >= to) break;
  }
  return to > covered && to - covered > longest ? to - covered : longest;
}

function leading(child: Child): boolean {
  const last = [...child.lines].reverse().find((l) => l.startsWith('gain ') || l.startsWith('end '));
  return last?.startsWith('gain ') ?? false;
}

/** Resolves with the first of `children` that prints a new "gain" line from now on. */
function nextGain(children: Child[], timeoutMs: number): Promise<Child> {
  return Promise.race(children.map((child) => child.waitForLine(/^gain /, timeoutMs, child.lines.length).then(() => child)));
}

const ms = (ns: bigint) => Number(ns / 1_000_000n);

async function newZookeeperLeader(ensemble: TestEnsemble, old: TestServer, timeoutMs = 60_000): Promise<TestServer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const leader = await ensemble.leader(); // the harness has no event for this: poll, bounded
    if (leader && leader !== old) return leader;
    if (Date.now() > deadline) throw new Error(`no new ZooKeeper leader within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('9. leadership across kills (3-node ensemble, 3 candidate processes)', () => {
  let controlOverlaps = -1;

  afterAll(async () => {
    await killChildren();
    await cleanup();
  });

  it('control: without an election, the detector sees several leaders at once', async () => {
    const namespace = uniqueNamespace('faults-leader-control');
    const zookeeper = { connectionString: sharedConnectString(), namespace, sessionTimeout: SESSION_TIMEOUT };
    const candidates = await Promise.all([0, 1, 2].map(() => startCandidate({ zookeeper, id: ID, lock: false })));
    await Promise.all(candidates.map(({ child }) => child.waitForLine(/^gain /)));
    controlOverlaps = overlaps(termsOf(candidates, process.hrtime.bigint()));
    await Promise.all(candidates.map(({ child }) => child.kill('SIGKILL')));
    expect(controlOverlaps).toBeGreaterThan(0);
  });

  it('never has two leaders, leads again within the session timeout of a ZooKeeper leader kill, and replaces a killed leader', async () => {
    const ensemble = await startEnsemble();
    const namespace = uniqueNamespace('faults-leader');
    const zookeeper = { connectionString: ensemble.connectString, namespace, sessionTimeout: SESSION_TIMEOUT, operationTimeout: 2_000, retryDelay: 200 };
    const candidates: Array<{ child: Child; death?: bigint }> = await Promise.all(
      [0, 1, 2].map(() => startCandidate({ zookeeper, id: ID, lock: true })),
    );
    const children = candidates.map((c) => c.child);
    if (!children.some(leading)) await nextGain(children, 30_000);

    // 1. The ZooKeeper leader dies while a candidate leads.
    const zkLeader = await ensemble.leader();
    expect(zkLeader).toBeDefined();
    const zkKilledAt = process.hrtime.bigint();
    await zkLeader!.kill();
    await newZookeeperLeader(ensemble, zkLeader!);
    if (!children.some(leading)) await nextGain(children, SESSION_TIMEOUT * 2);
    // The longest time nobody led, from the kill until now (0 when the leading candidate's term never ended).
    const gapAfterZkKillMs = ms(longestGap(termsOf(candidates, process.hrtime.bigint()), zkKilledAt, process.hrtime.bigint()));

    // 2. The leading candidate is SIGKILLed: no goodbye; its session must expire before another leads.
    const leader = candidates.find((c) => leading(c.child))!;
    const others = children.filter((c) => c !== leader.child);
    const replaced = nextGain(others, SESSION_TIMEOUT * 4);
    const killedAt = process.hrtime.bigint();
    await leader.child.kill('SIGKILL');
    leader.death = process.hrtime.bigint();
    const successor = await replaced;
    const successorTerm = termsOf([{ child: successor }], process.hrtime.bigint()).at(-1)!;
    const replacedAfterMs = ms(successorTerm.start - killedAt);

    const terms = termsOf(candidates, process.hrtime.bigint());
    const found = overlaps(terms);
    recordFigures({
      scenario: '9. leadership (ensemble)',
      requests: terms.length,
      outcomes: { ...emptyOutcomes(), 200: terms.length },
      overlaps: found,
      maxLatencyMs: replacedAfterMs,
      orphanedNodes: null,
      extra: {
        'terms (200 = terms begun)': terms.length,
        'session timeout ms': SESSION_TIMEOUT,
        'no leader after the ZooKeeper leader kill, ms': gapAfterZkKillMs,
        'killed leader replaced after ms': replacedAfterMs,
        'control overlaps (no election)': controlOverlaps,
      },
    });

    expect(found).toBe(0);
    expect(terms.filter((t) => t.end < t.start)).toEqual([]);
    expect(gapAfterZkKillMs).toBeLessThan(SESSION_TIMEOUT);
    expect(replacedAfterMs).toBeGreaterThan(SESSION_TIMEOUT * 0.5);
    expect(replacedAfterMs).toBeLessThan(SESSION_TIMEOUT * 3);
    for (const child of children) expect(child.lines.filter((l) => l.startsWith('end ') && !l.endsWith(' LOCK_LOST'))).toEqual([]);
  });
});
