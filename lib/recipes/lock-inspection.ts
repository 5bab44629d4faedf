import { ZookeeperError } from '../zookeeper/zookeeper.error';
import type { NodeStat, ZookeeperService } from '../zookeeper/zookeeper.service';
import { decodeNodeName, encodeNodeName } from '../lock/lock-id';
import type { LockHolderInfo, LockInfo } from '../lock/lock-info';
import { unavailable } from './lock-context';
import { decodeNodeData } from './node-data';
import { IdNamer, LockTarget, lockTarget } from './lock-paths';
import { sortWaiters } from './lock-queue';

/** One node that holds a lock, as read. Shared and limited locks will add their kinds of holder here. */
export interface HolderReading {
  kind: 'exclusive';
  data: Buffer;
  stat: Pick<NodeStat, 'czxid' | 'ctime' | 'ephemeralOwner'>;
}

/**
 * Pure: the LockInfo of a lock from its holder nodes and the names in its queue. Waiters carrying a
 * holder's token are that holder's own place in the queue (a queued holder keeps it while it holds), not
 * callers waiting.
 */
export function describeHeldLock(id: string, scope: string, holders: HolderReading[], queue: string[]): LockInfo {
  const infos: LockHolderInfo[] = [];
  const holding = new Set<string>();
  for (const { data, stat } of holders) {
    const decoded = decodeNodeData(data);
    holding.add(decoded.token);
    infos.push({
      // A node of an older version (token only) or someone else's: name its session at least.
      owner: decoded.owner ?? (stat.ephemeralOwner ? `session 0x${stat.ephemeralOwner}` : 'unknown (persistent node)'),
      since: decoded.since ?? new Date(stat.ctime),
      fencingToken: stat.czxid,
    });
  }
  const waiting = sortWaiters(queue).filter((w) => !holding.has(w.token)).length;
  return { id, scope, mode: holders.length === 0 ? 'free' : 'exclusive', holders: infos, waiting };
}

/**
 * One lock: its holder node and its queue, read together (one round trip). With hashed names the target
 * is the hashed path, so inspecting by id works as acquiring does.
 */
export async function inspectLock(zk: ZookeeperService, namespace: string, scope: string, id: string, nameOf?: IdNamer): Promise<LockInfo> {
  const target = lockTarget(namespace, scope, id, nameOf);
  try {
    const [holder, queue] = await Promise.all([readHolder(zk, target.holder), readQueue(zk, target)]);
    return describeHeldLock(id, scope, holder ? [holder] : [], queue);
  } catch (error) {
    throw unavailable(error);
  }
}

/** At most this many reads in flight at once while listing (the server throttles a connection past ~1000). */
const LIST_CONCURRENCY = 200;

/**
 * Every held lock of a scope, or of every scope of the namespace: lists the scope dirs (one read per
 * scope, plus one for the namespace), then reads each holder and each non-empty queue. A snapshot: locks
 * taken or freed meanwhile may or may not show. Ids are decoded from node names; with hashed names
 * (`hashed`) the name itself is all there is.
 */
export async function listLocks(zk: ZookeeperService, namespace: string, scope: string | undefined, hashed: boolean): Promise<LockInfo[]> {
  try {
    const scopes = scope !== undefined ? [scope] : (await children(zk, namespace)).map(decodeNodeName).sort();
    const found: LockInfo[] = [];
    for (const each of scopes) {
      const scopeDir = `${namespace}/${encodeNodeName(each)}`;
      const names = await children(zk, scopeDir);
      const queues = new Set(names.filter((n) => n.endsWith('%q')));
      const held = names.filter((n) => !n.endsWith('%q')).sort();
      const infos = await inBatches(held, async (name) => {
        const target: LockTarget = lockTarget(namespace, each, hashed ? name : decodeNodeName(name), () => name);
        const [holder, queue] = await Promise.all([
          readHolder(zk, target.holder),
          queues.has(`${name}%q`) ? readQueue(zk, target) : Promise.resolve([]),
        ]);
        return holder ? describeHeldLock(target.id, each, [holder], queue) : undefined; // freed since the listing
      });
      for (const info of infos) if (info) found.push(info);
    }
    return found;
  } catch (error) {
    throw unavailable(error);
  }
}

async function readHolder(zk: ZookeeperService, path: string): Promise<HolderReading | undefined> {
  try {
    const { data, stat } = await zk.getData(path);
    return { kind: 'exclusive', data, stat };
  } catch (error) {
    if (isNoNode(error)) return undefined;
    throw error;
  }
}

function readQueue(zk: ZookeeperService, target: LockTarget): Promise<string[]> {
  return children(zk, target.queue);
}

function children(zk: ZookeeperService, path: string): Promise<string[]> {
  return zk.getChildren(path).catch((error) => (isNoNode(error) ? [] : Promise.reject(error)));
}

async function inBatches<T, R>(items: T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += LIST_CONCURRENCY) {
    results.push(...(await Promise.all(items.slice(i, i + LIST_CONCURRENCY).map(work))));
  }
  return results;
}

function isNoNode(error: unknown): boolean {
  return error instanceof ZookeeperError && error.code === 'NO_NODE';
}
