import { ZookeeperError } from '../zookeeper/zookeeper.error';
import type { NodeStat, ZookeeperService } from '../zookeeper/zookeeper.service';
import { decodeNodeName, encodeNodeName } from '../lock/lock-id';
import type { LockHolderInfo, LockInfo, LockMode } from '../lock/lock-info';
import { unavailable } from './lock-context';
import { decodeNodeData } from './node-data';
import { IdNamer, LockTarget, lockTarget, slotsPath } from './lock-paths';
import { sortWaiters } from './lock-queue';
import { slotHolders, sortSlots } from './semaphore';

/** One node that holds a lock, as read: an exclusive holder, a shared group's member, a limited holder. */
export interface HolderReading {
  kind: 'exclusive' | 'shared' | 'limited';
  data: Buffer;
  stat: Pick<NodeStat, 'mzxid' | 'ctime' | 'ephemeralOwner'>;
}

/**
 * Pure: the LockInfo of a lock from its holder nodes and the names in its queue. Waiters carrying a
 * holder's token are that holder's own place in the queue (a queued holder keeps it while it holds), not
 * callers waiting. `waitingOutside`: callers waiting that are not in the queue (a limited lock's).
 */
export function describeHeldLock(id: string, scope: string, holders: HolderReading[], queue: string[], waitingOutside = 0): LockInfo {
  const infos: LockHolderInfo[] = [];
  const holding = new Set<string>();
  for (const { data, stat } of holders) {
    const decoded = decodeNodeData(data);
    holding.add(decoded.token);
    infos.push({
      // A node of an older version (token only) or someone else's: name its session at least.
      owner: decoded.owner ?? (stat.ephemeralOwner ? `session 0x${stat.ephemeralOwner}` : 'unknown (persistent node)'),
      since: decoded.since ?? new Date(stat.ctime),
      fencingToken: stat.mzxid, // its creation zxid unless a handed-over holder rewrote it (hand-off.ts)
    });
  }
  infos.sort((x, y) => (x.fencingToken < y.fencingToken ? -1 : x.fencingToken > y.fencingToken ? 1 : 0));
  const waiting = sortWaiters(queue).filter((w) => !holding.has(w.token)).length + waitingOutside;
  const mode: LockMode = holders.length === 0 ? 'free' : holders[0].kind;
  return { id, scope, mode, holders: infos, waiting };
}

/**
 * One lock: its holder node (or shared group) and its queue, read together (one round trip; a group's
 * members are read in a second one). When it is free, its limited lock (`<id>%l`) is read the same way.
 * With hashed names the target is the hashed path, so inspecting by id works as acquiring does.
 */
export async function inspectLock(zk: ZookeeperService, namespace: string, scope: string, id: string, nameOf?: IdNamer): Promise<LockInfo> {
  const target = lockTarget(namespace, scope, id, nameOf);
  try {
    const [held, queue, limited] = await Promise.all([readHolders(zk, target.holder), readQueue(zk, target), readLimited(zk, target)]);
    if (held.length === 0 && limited.holders.length > 0) return describeHeldLock(id, scope, limited.holders, [], limited.waiting);
    return describeHeldLock(id, scope, held, queue);
  } catch (error) {
    throw unavailable(error);
  }
}

/** At most this many reads in flight at once while listing (the server throttles a connection past ~1000). */
const LIST_CONCURRENCY = 200;

/**
 * Every held lock of a scope, or of every scope of the namespace: lists the scope dirs (one read per
 * scope, plus one for the namespace), then reads each holder (each member of a shared group, each holder
 * of a limited lock) and each non-empty queue. A snapshot: locks taken or freed meanwhile may or may not
 * show. Ids are decoded from node names; with hashed names (`hashed`) the name itself is all there is.
 * A limited lock is listed as an entry of its own (mode `limited`).
 */
export async function listLocks(zk: ZookeeperService, namespace: string, scope: string | undefined, hashed: boolean): Promise<LockInfo[]> {
  try {
    const scopes = scope !== undefined ? [scope] : (await children(zk, namespace)).map(decodeNodeName).sort();
    const found: LockInfo[] = [];
    for (const each of scopes) {
      const scopeDir = `${namespace}/${encodeNodeName(each)}`;
      const names = await children(zk, scopeDir);
      const queues = new Set(names.filter((n) => n.endsWith('%q')));
      const held = names.filter((n) => !n.endsWith('%q') && !n.endsWith('%l'));
      const limited = names.filter((n) => n.endsWith('%l')).map((n) => n.slice(0, -2));
      const entries = [...held.map((name) => ({ name, limited: false })), ...limited.map((name) => ({ name, limited: true }))];
      entries.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : Number(x.limited) - Number(y.limited)));
      const infos = await inBatches(entries, async ({ name, limited: isLimited }) => {
        const target: LockTarget = lockTarget(namespace, each, hashed ? name : decodeNodeName(name), () => name);
        if (isLimited) {
          const slots = await readLimited(zk, target);
          return slots.holders.length > 0 ? describeHeldLock(target.id, each, slots.holders, [], slots.waiting) : undefined;
        }
        const [holders, queue] = await Promise.all([
          readHolders(zk, target.holder),
          queues.has(`${name}%q`) ? readQueue(zk, target) : Promise.resolve([]),
        ]);
        return holders.length > 0 ? describeHeldLock(target.id, each, holders, queue) : undefined; // freed since the listing
      });
      for (const info of infos) if (info) found.push(info);
    }
    return found;
  } catch (error) {
    throw unavailable(error);
  }
}

/** The holder node, or the members of the shared group at its path. */
async function readHolders(zk: ZookeeperService, path: string): Promise<HolderReading[]> {
  try {
    const { data, stat } = await zk.getData(path);
    if (stat.ephemeralOwner !== undefined || stat.numChildren === 0) {
      // A holder; or a node no session owns with nothing in it (a squatter, or an empty group): report
      // a squatter as held (it blocks the lock), an empty group as free.
      return stat.ephemeralOwner === undefined && stat.dataLength === 0 ? [] : [{ kind: 'exclusive', data, stat }];
    }
    const members = (await children(zk, path)).filter((name) => name.startsWith('s-'));
    return readEach(zk, members.map((name) => `${path}/${name}`), 'shared');
  } catch (error) {
    if (isNoNode(error)) return [];
    throw error;
  }
}

/** A limited lock's holders (by the rule of semaphore.ts) and how many callers wait behind them. */
async function readLimited(zk: ZookeeperService, target: LockTarget): Promise<{ holders: HolderReading[]; waiting: number }> {
  const dir = slotsPath(target);
  const names = await children(zk, dir);
  if (names.length === 0) return { holders: [], waiting: 0 };
  const holding = slotHolders(names);
  const holders = await readEach(zk, holding.map((slot) => `${dir}/${slot.name}`), 'limited');
  return { holders, waiting: sortSlots(names).length - holding.length };
}

/** Reads each node (pipelined); nodes gone meanwhile are left out. */
async function readEach(zk: ZookeeperService, paths: string[], kind: HolderReading['kind']): Promise<HolderReading[]> {
  const read = await Promise.all(
    paths.map((path) =>
      zk.getData(path).then(
        ({ data, stat }): HolderReading => ({ kind, data, stat }),
        (error) => (isNoNode(error) ? undefined : Promise.reject(error)),
      ),
    ),
  );
  return read.filter((r): r is HolderReading => r !== undefined);
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
