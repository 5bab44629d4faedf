import { encodeNodeName } from '../lock/lock-id';

/**
 * Where one lock lives in ZooKeeper:
 *
 *   <namespace>/<scope>/<id>          holder: ephemeral; exists exactly while the lock is held
 *   <namespace>/<scope>/<id>%q/       queue: a container node (the server deletes it once empty; persistent
 *                                     on ZooKeeper < 3.5), removed eagerly too when a release finds it empty
 *   <namespace>/<scope>/<id>%q/w-<token>-<seq>   one waiter: ephemeral sequential
 *
 * Shared locks (`shared: true`) hold the same holder path, as a group:
 *
 *   <namespace>/<scope>/<id>/               a CONTAINER while shared holders hold it (so an exclusive create
 *                                           of <id> fails with NODE_EXISTS: one request, as before)
 *   <namespace>/<scope>/<id>/s-<token>-<seq>  one shared holder: ephemeral sequential
 *   <namespace>/<scope>/<id>/x              the gate: made by the first exclusive waiter with only shared
 *                                           callers ahead (gate.recipe.ts), as soon as it is queued;
 *                                           fail-fast shared callers cannot join while it exists
 *   <namespace>/<scope>/<id>%q/r-<token>-<seq>  a shared caller's place in the queue (exclusive: w-)
 *   <namespace>/<scope>                     its data is `shared` once a group was made in the scope (set in
 *                                           the group's own MULTI, never taken away): exclusive fail-fast
 *                                           callers read the node in their way only there (shared-scopes.ts)
 *
 * Concurrency limits (`limit: n`) are a lock of their own, next to the others:
 *
 *   <namespace>/<scope>/<id>%l/             a CONTAINER
 *   <namespace>/<scope>/<id>%l/l<n>-<token>-<seq>  one caller (holder or waiting): ephemeral sequential;
 *                                           the first ones in sequence order hold (see semaphore.ts)
 *
 * (`<scope>` and `<id>` are encodeNodeName'd; an encoded name never contains `%q` or `%l`, so a queue can
 * never be mistaken for a holder. With the `hashIds` option, `<id>` is a keyed hash: see hashed-names.ts.)
 */
export interface LockTarget {
  readonly id: string;
  readonly scope: string;
  readonly scopeDir: string;
  readonly holder: string;
  readonly queue: string;
  /** Identity of the lock inside this process (reentrancy). */
  readonly key: string;
}

/** Names an id's node inside its scope dir: `encodeNodeName(id)` unless hashed names are configured. */
export type IdNamer = (scope: string, id: string) => string;

const plainName: IdNamer = (_scope, id) => encodeNodeName(id);

export function lockTarget(namespace: string, scope: string, id: string, nameOf: IdNamer = plainName): LockTarget {
  const scopeDir = `${namespace}/${encodeNodeName(scope)}`;
  const holder = `${scopeDir}/${nameOf(scope, id)}`;
  return { id, scope, scopeDir, holder, queue: `${holder}%q`, key: holder };
}

/** Targets in one global order (by path), so that locks taken one after another never deadlock. */
export function lockTargets(namespace: string, scope: string, ids: string[], nameOf?: IdNamer): LockTarget[] {
  return ids.map((id) => lockTarget(namespace, scope, id, nameOf)).sort((a, b) => (a.holder < b.holder ? -1 : a.holder > b.holder ? 1 : 0));
}

/** Prefix of a waiter's node name; the token lets us find our node after a create with unknown outcome. */
export function waiterPrefix(target: LockTarget, token: string, shared = false): string {
  return `${target.queue}/${shared ? 'r' : 'w'}-${token}-`;
}

/** Prefix of a shared holder's node in the group (the holder path, as a container). */
export function memberPrefix(target: LockTarget, token: string): string {
  return `${target.holder}/s-${token}-`;
}

/** The gate an exclusive waiter puts in a shared group so that no fail-fast shared caller joins it. */
export function gatePath(target: LockTarget): string {
  return `${target.holder}/x`;
}

/** The container of a concurrency-limited lock's callers. */
export function slotsPath(target: LockTarget): string {
  return `${target.holder}%l`;
}

/** Prefix of a limited caller's node: its limit, then its token. */
export function slotPrefix(target: LockTarget, token: string, limit: number): string {
  return `${slotsPath(target)}/l${limit}-${token}-`;
}
