import { ZookeeperService, NodeStat } from '../zookeeper/zookeeper.service';
import { ZookeeperError } from '../zookeeper/zookeeper.error';
import { removeBatches } from './remove-batches';
import { carriesToken } from './node-data';

/**
 * A node is ours only when it carries our acquisition's token AND is owned by our session. The name alone
 * proves nothing: an operator (or a bug elsewhere) may have deleted our node, and someone else may have
 * made a node of the same name since.
 */
export function isOurs(data: Buffer, stat: NodeStat, token: string, sessionId: string): boolean {
  return stat.ephemeralOwner === sessionId && carriesToken(data, token);
}

/**
 * A shared group at a holder path: a node no session owns, with members in it. (ZooKeeper 3.8 reports a
 * container's ephemeralOwner as 0, like a persistent node's, so the members are what tell.) An empty one
 * is a group whose last member left without taking it along (a crash, or releases at the same moment):
 * it is removed like a squatter, with the same safety (lock-context.ts removeSquatter).
 */
export function isGroup(stat: Pick<NodeStat, 'ephemeralOwner' | 'numChildren'>): boolean {
  return stat.ephemeralOwner === undefined && stat.numChildren > 0;
}

export type NodeReading =
  | { path: string; kind: 'ours'; version: number }
  /** Someone else's node under our name now (ours was deleted and the name taken again). */
  | { path: string; kind: 'foreign' }
  | { path: string; kind: 'gone' };

/** Reads every node at once (pipelined: one round trip) and says which are still ours. */
export function readOwnership(zk: ZookeeperService, paths: string[], token: string, sessionId: string): Promise<NodeReading[]> {
  return Promise.all(
    paths.map((path) =>
      zk.getData(path).then(
        ({ data, stat }): NodeReading =>
          isOurs(data, stat, token, sessionId) ? { path, kind: 'ours', version: stat.version } : { path, kind: 'foreign' },
        (error): NodeReading => {
          if (error instanceof ZookeeperError && error.code === 'NO_NODE') return { path, kind: 'gone' };
          throw error;
        },
      ),
    ),
  );
}

/**
 * Deletes nodes just read as ours, each at the version read, so that a node changed since is left alone.
 * One node: a plain versioned delete. Several: MULTIs of versioned removes, each well under the server's
 * 1 MiB packet limit (one oversized request makes the server drop the whole connection); the removes need
 * not be atomic. A node that vanished or changed meanwhile (NO_NODE, BAD_VERSION) is skipped, not an error.
 * `thenRemove`: parents these removes leave empty (a lock's queue), removed in the same MULTI when all fits
 * in one; if one is not empty after all (or gone), the nodes are removed without the parents. Resolves with
 * the parents that were not removed, that one excepted (too big for one MULTI, a node had changed, or
 * another parent failed the MULTI): the caller may remove them on its own.
 * Every remove is sent only on `sessionId`, the session the nodes were read as ours on: on another one, a
 * node of the same name and version may be someone else's (it fails SESSION_EXPIRED, unsent, then).
 */
export async function removeRead(zk: ZookeeperService, sessionId: string, nodes: Array<{ path: string; version: number }>, thenRemove: string[] = []): Promise<string[]> {
  if (thenRemove.length > 0 && removeBatches([...nodes, ...thenRemove.map((path) => ({ path }))]).length === 1) {
    // Parents left empty by these removes (a lock's queue) go in the same MULTI, after their children.
    try {
      await zk.multi(
        [...nodes.map(({ path, version }) => ({ op: 'remove' as const, path, version })), ...thenRemove.map((path) => ({ op: 'remove' as const, path }))],
        sessionId,
      );
      return [];
    } catch (error) {
      const failedAt = error instanceof ZookeeperError ? error.opIndex : undefined;
      // A parent not empty after all (someone joined it meanwhile) or gone: the MULTI did nothing; remove
      // the nodes alone, and leave that parent (the others are the caller's to try again: they may be
      // empty). A node that changed or vanished: likewise, one by one below.
      if (!(failedAt !== undefined && (failedAt >= nodes.length ? isParentAnswer(error) : isNodeAnswer(error)))) throw error;
      if (failedAt >= nodes.length) thenRemove = thenRemove.filter((_, i) => i !== failedAt - nodes.length);
    }
  }
  await removeEach(zk, sessionId, nodes);
  return thenRemove;
}

async function removeEach(zk: ZookeeperService, sessionId: string, nodes: Array<{ path: string; version: number }>): Promise<void> {
  if (nodes.length === 1) return removeOne(zk, sessionId, nodes[0]);
  await Promise.all(
    removeBatches(nodes).map(async (batch) => {
      if (batch.length === 1) return removeOne(zk, sessionId, batch[0]);
      try {
        await zk.multi(batch.map(({ path, version }) => ({ op: 'remove' as const, path, version })), sessionId);
      } catch (error) {
        if (!isNodeAnswer(error)) throw error;
        // One of them changed or vanished, so the batch did nothing: remove the others one by one.
        await Promise.all(batch.map((node) => removeOne(zk, sessionId, node)));
      }
    }),
  );
}

async function removeOne(zk: ZookeeperService, sessionId: string, { path, version }: { path: string; version: number }): Promise<void> {
  try {
    await zk.remove(path, version, sessionId);
  } catch (error) {
    if (!isNodeAnswer(error)) throw error;
  }
}

/** NOT_EMPTY or NO_NODE on a parent: it has a new child, or was removed by someone else. */
function isParentAnswer(error: unknown): boolean {
  return error instanceof ZookeeperError && (error.code === 'NOT_EMPTY' || error.code === 'NO_NODE');
}

/** NO_NODE or BAD_VERSION: the node is not the one we read any more, so it is not ours to delete. */
function isNodeAnswer(error: unknown): boolean {
  return error instanceof ZookeeperError && (error.code === 'NO_NODE' || error.code === 'BAD_VERSION');
}
