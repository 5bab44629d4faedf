import { Logger } from '@nestjs/common';
import { ZookeeperService } from '../zookeeper/zookeeper.service';
import { ZookeeperError } from '../zookeeper/zookeeper.error';
import { settleWithin } from '../zookeeper/settle-within';
import { LockUnavailableError } from '../lock/lock.errors';
import type { LockTarget } from './lock-paths';
import { NodeJanitor } from './node-janitor';
import { carriesToken } from './node-data';
import { AclPolicy, aclPolicy, describeAclEntry, foreignEntries } from './namespace-acl';

const INSPECT_INTERVAL_MS = 60_000;
const MAX_INSPECTED = 10_000;
const MAX_KNOWN_DIRS = 1_000;

/** What the lock recipes share: the connection, the janitor, and the parents known to exist. */
export class LockContext {
  /** Scope directories created (or found) once; the fast path then never checks parents again. */
  private readonly knownDirs = new Map<string, Promise<void>>();
  private readonly madeDirs = new Set<string>();

  /** False once the server answered that it has no container nodes. */
  private containers = true;
  /** Who may create, delete and administer our directories; undefined for `acl: 'open'` (anyone). */
  private readonly policy: AclPolicy | undefined;
  /** Directories whose ACL was read and found to be ours alone. */
  private readonly trusted = new Set<string>();
  /** When inspectHolder last looked at a holder path. */
  private readonly inspected = new Map<string, number>();
  /** Problems already logged (one error line each, not one per refused lock). */
  private readonly reported = new Set<string>();

  constructor(
    readonly zk: ZookeeperService,
    readonly janitor: NodeJanitor,
    private readonly logger: Pick<Logger, 'warn' | 'error'> = new Logger('ZookeeperLock'),
  ) {
    this.policy = aclPolicy(zk.options.acl, zk.options.auth, zk.options.tls?.cert);
  }

  /**
   * Makes sure `dir` exists and that nobody outside the configured ACL may create, delete or administer
   * in it or in the namespace (see namespace-acl.ts): one mkdirp and one ACL read per directory for the
   * life of the process (or until forgotten). A foreign ACL rejects with LockUnavailableError (503),
   * logs an error naming the node and the entry once, and marks the service unhealthy; it is checked
   * again on the next use, so fixing the ACL needs no restart.
   */
  ensureDir(dir: string): Promise<void> {
    let known = this.knownDirs.get(dir);
    if (!known) {
      // Scopes are meant to be a few fixed names; scopes made up at runtime must not grow these sets
      // for ever. Forgetting costs a mkdirp and an ACL read at each scope's next use, nothing more.
      if (this.knownDirs.size >= MAX_KNOWN_DIRS) this.forgetAllDirs();
      // The namespace first, checked before anything is made under it (never a scope dir of ours inside
      // someone else's namespace), then the dir itself.
      const namespace = this.zk.options.namespace;
      const parent = dir === namespace ? Promise.resolve() : this.ensureDir(namespace);
      known = parent.then(() => this.zk.mkdirp(dir)).then(() => this.checkAcl(dir)).then(
        () => void this.madeDirs.add(dir),
        (error) => {
          this.knownDirs.delete(dir);
          throw error;
        },
      );
      this.knownDirs.set(dir, known);
    }
    return known;
  }

  private async checkAcl(path: string): Promise<void> {
    if (!this.policy || this.trusted.has(path)) return;
    const foreign = foreignEntries(await this.zk.getAcl(path), this.policy);
    if (foreign.length > 0) {
      const message =
        `Lock directory ${path} has an ACL that lets others create, delete or administer in it ` +
        `(${foreign.map(describeAclEntry).join(', ')}): locks under it are refused, since they could delete ` +
        'or squat held locks. Give it the ACL of the acl option (setAcl), or delete it to have it re-created';
      this.zk.reportProblem(`acl:${path}`, message);
      if (!this.reported.has(message)) {
        this.reported.add(message);
        this.logger.error(message);
      }
      throw new LockUnavailableError(message);
    }
    this.zk.reportProblem(`acl:${path}`, undefined);
    this.trusted.add(path);
  }


  /**
   * A persistent node where only ephemeral ones of ours belong (a holder, or a waiter in a queue) was
   * made by someone else (a stranger under an open ACL, an operator by hand) and would block the lock
   * for ever: no session of any instance can end it. Removes it at the version read, and says so.
   */
  async removeSquatter(path: string, version: number): Promise<void> {
    this.logger.warn(`Removing ${path}: a persistent node where only a lock's ephemeral nodes belong (not made by this library)`);
    try {
      await this.zk.remove(path, version);
    } catch (error) {
      // NO_NODE or BAD_VERSION: it went or changed meanwhile; anything else: the caller's wait goes on.
      if (!(error instanceof ZookeeperError)) throw error;
    }
  }

  /**
   * After a fail-fast NODE_EXISTS: looks, in the background and at most once a minute per lock, whether
   * the holder in the way is such a squatter. Costs the conflict's answer nothing.
   */
  inspectHolder(path: string): void {
    const now = Date.now();
    if ((this.inspected.get(path) ?? -Infinity) > now - INSPECT_INTERVAL_MS) return;
    if (this.inspected.size >= MAX_INSPECTED) this.inspected.clear(); // bounded, whatever the ids
    this.inspected.set(path, now);
    this.zk.getData(path).then(
      ({ stat }) => (stat.ephemeralOwner === undefined ? this.removeSquatter(path, stat.version) : undefined),
      () => undefined, // gone already, or no answer: nothing to do
    );
  }

  /** True once `dir` is known to exist: the fast path then skips even the await. */
  hasDir(dir: string): boolean {
    return this.madeDirs.has(dir);
  }

  private forgetAllDirs(): void {
    this.knownDirs.clear();
    this.madeDirs.clear();
    this.trusted.clear();
  }

  /** After a NO_NODE on a parent we believed in (someone deleted it): forget it so it is made again. */
  forgetDir(dir: string): void {
    this.knownDirs.delete(dir);
    this.madeDirs.delete(dir);
    this.trusted.delete(dir); // re-made, perhaps by someone else: read its ACL again
  }

  /**
   * Creates a lock's queue as a CONTAINER node (ZooKeeper 3.5+): the server deletes it once its last
   * waiter is gone, within `znode.container.checkIntervalMs` (60 s by default), so queues left behind by
   * crashed waiters or an interrupted clean-up never accumulate. A server that does not know containers
   * (UNIMPLEMENTED, ZooKeeper < 3.5) gets persistent queues instead, removed eagerly as before, with a
   * warning once.
   */
  async createQueue(path: string): Promise<void> {
    if (this.containers) {
      try {
        await this.zk.create(path, { mode: 'container' });
        return;
      } catch (error) {
        if (!(error instanceof ZookeeperError && error.code === 'UNIMPLEMENTED')) throw error;
        this.containers = false;
        this.logger.warn(
          'ZooKeeper does not support container nodes (3.5+ needed): lock queues are persistent nodes, removed ' +
            'only when a release or a waiter finds them empty; queues left by crashed waiters stay until then',
        );
      }
    }
    await this.zk.create(path);
  }

  /** Best effort: removes a lock's queue once nobody waits in it (ZooKeeper refuses while not empty). */
  async removeQueueIfEmpty(target: LockTarget): Promise<void> {
    try {
      await this.zk.remove(target.queue);
    } catch {
      // NOT_EMPTY (someone waits), NO_NODE (already gone) or a connection problem: all fine to ignore;
      // the server reaps an empty container queue on its own (see createQueue).
    }
  }

  /**
   * A create whose reply was lost (connection loss, or no answer in time): did it happen? Our token in
   * the node, owned by our session, says yes. The answer is only looked for until `deadline` (the
   * acquire's own bound); when it cannot be had by then, the janitor takes over, so that a node created
   * after all is removed, never orphaned, and the caller gets LockUnavailableError in time.
   */
  async resolveCreate(
    holder: string,
    token: string,
    sessionId: string,
    cause: ZookeeperError,
    deadline: number,
  ): Promise<'ours' | 'absent' | 'taken'> {
    const connected = await this.zk.waitForConnection(deadline - Date.now());
    if (this.zk.sessionId !== sessionId) return 'absent'; // that session is over: whatever it made is gone
    const giveUp = (error: unknown) => {
      void this.janitor.removeOwned([holder], token, sessionId);
      return unavailable(error, cause);
    };
    if (!connected || Date.now() >= deadline) throw giveUp(cause);
    try {
      const { data, stat } = await settleWithin(this.zk.getData(holder), deadline - Date.now(), () => {
        throw cause;
      });
      return carriesToken(data, token) && stat.ephemeralOwner === sessionId ? 'ours' : 'taken';
    } catch (error) {
      if (error instanceof ZookeeperError && error.code === 'NO_NODE') return 'absent';
      throw giveUp(error);
    }
  }
}

/** Maps a ZooKeeper failure to the lock API's error. */
export function unavailable(error: unknown, cause?: unknown): Error {
  if (!(error instanceof ZookeeperError)) return error as Error;
  if (error.code === 'NO_AUTH') {
    return new LockUnavailableError(
      `ZooKeeper refused access to ${error.path ?? 'the lock namespace'} (NO_AUTH): check the module's auth and acl options`,
      { cause: error },
    );
  }
  return new LockUnavailableError(`ZooKeeper unavailable: ${error.message}`, { cause: cause ?? error });
}
