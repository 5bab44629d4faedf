/** Several counter-app processes on one ZooKeeper, sharing counter files, and the checks of a load run on them. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ZookeeperLockModuleOptions } from '../../../lib';
import { StartedApp, startCounterApp } from './processes';
import { LoadResult, countOverlaps, readCounters, readIntervals } from './load';
import type { ZookeeperService } from '../../../lib/zookeeper/zookeeper.service';
import { listTree } from '../../support/zookeeper';

export interface Fleet {
  apps: StartedApp[];
  dataDir: string;
  namespace: string;
}

export async function startFleet(
  instances: number,
  zookeeper: ZookeeperLockModuleOptions & { namespace: string },
  app: { pauseMs?: number; queueWait?: number } = {},
): Promise<Fleet> {
  const dataDir = mkdtempSync(join(tmpdir(), 'nzl-faults-'));
  const apps = await Promise.all(
    Array.from({ length: instances }, (_, i) =>
      startCounterApp({ zookeeper, dataDir, logFile: join(dataDir, `instance-${i}.log`), ...app }),
    ),
  );
  return { apps, dataDir, namespace: zookeeper.namespace };
}

export interface RunCheck {
  /** 200s minus counter increments (positive: updates lost; negative: increments nobody was told of). */
  lostUpdates: number;
  overlaps: number;
  overlapExamples: string[];
  counters: Record<string, number>;
  sections: number;
  /** Critical sections that ended with their lock already reported lost. */
  sectionsAfterLoss: number;
}

export function checkRun(fleet: Fleet, ids: string[], result: LoadResult): RunCheck {
  const counters = readCounters(fleet.dataDir, ids);
  const intervals = readIntervals(fleet.dataDir).filter((i) => ids.includes(i.id));
  const { overlaps, examples } = countOverlaps(intervals);
  const total = Object.values(counters).reduce((a, b) => a + b, 0);
  return {
    lostUpdates: result.outcomes[200] - total,
    overlaps,
    overlapExamples: examples,
    counters,
    sections: intervals.length,
    sectionsAfterLoss: intervals.filter((i) => i.lost).length,
  };
}

/** Nodes under `namespace` other than its scope directories: holders, queues, waiters left behind. */
export async function leftoverNodes(zk: ZookeeperService, namespace: string): Promise<string[]> {
  return (await listTree(zk, namespace)).filter((path) => path.slice(namespace.length + 1).includes('/'));
}

/** The table columns of a load run over the fleet (scenarios 0-2). */
export function loadFigures(result: LoadResult, check: RunCheck, orphanedNodes: number | null) {
  return {
    requests: result.requests,
    outcomes: result.outcomes,
    lostUpdates: check.lostUpdates,
    overlaps: check.overlaps,
    maxLatencyMs: result.maxLatencyMs,
    orphanedNodes,
  };
}
