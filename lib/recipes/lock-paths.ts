import { encodeNodeName } from '../lock/lock-id';

/**
 * Where one lock lives in ZooKeeper:
 *
 *   <namespace>/<scope>/<id>          holder: ephemeral; exists exactly while the lock is held
 *   <namespace>/<scope>/<id>%q/       queue: a container node (the server deletes it once empty; persistent
 *                                     on ZooKeeper < 3.5), removed eagerly too when a release finds it empty
 *   <namespace>/<scope>/<id>%q/w-<token>-<seq>   one waiter: ephemeral sequential
 *
 * (`<scope>` and `<id>` are encodeNodeName'd; an encoded name never contains `%q`, so a queue can
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
export function waiterPrefix(target: LockTarget, token: string): string {
  return `${target.queue}/w-${token}-`;
}
