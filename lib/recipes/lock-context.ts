import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { MultiOp, ZookeeperService } from '../zookeeper/zookeeper.service';
import { secretsOf } from '../zookeeper/connection-secrets';
import { ZookeeperError } from '../zookeeper/zookeeper.error';
import { settleWithin } from '../zookeeper/settle-within';
import { LockUnavailableError } from '../lock/lock.errors';
import type { LockTarget } from './lock-paths';
import { NodeJanitor } from './node-janitor';
import { carriesToken } from './node-data';
import { AclPolicy, aclPolicy, describeAclEntry, foreignEntries } from './namespace-acl';
import { HandOffs } from './hand-off';
import { HolderWatchBudget, HOLDER_WATCHES_MAX } from './holder-watch';
import { isMarked, mayHoldGroups, ScopeKnowledge, SHARED_SCOPE_MARK } from './shared-scopes';

const INSPECT_INTERVAL_MS = 60_000;
const GROUP_INSPECT_INTERVAL_MS = 1_000;
const MAX_INSPECTED = 10_000;
const MAX_KNOWN_DIRS = 1_000;
/** Name prefix of the child that proves a node is persistent before it is removed as a squatter. */
const PERSISTENCE_PROBE = 'persistent-probe-';

/** A fresh name for that child (it is made and removed in one MULTI: never seen by anyone). */
export function persistenceProbe(): string {
  return `${PERSISTENCE_PROBE}${randomBytes(6).toString('hex')}`;
}

/** What the lock recipes share: the connection, the janitor, and the parents known to exist. */
export class LockContext {
  /** Scope directories created (or found) once; the fast path then never checks parents again. */
  private readonly knownDirs = new Map<string, Promise<void>>();
  private readonly madeDirs = new Set<string>();

  /** Whether the server has container nodes: 'no' once it answered UNIMPLEMENTED, 'yes' once it made one. */
  private containers: 'yes' | 'no' | 'unknown' = 'unknown';
  /** Waiting acquires of this process under way, per lock (see uncontended.ts). */
  private readonly waiting = new Map<string, number>();
  /** Who may create, delete and administer our directories; undefined for `acl: 'open'` (anyone). */
  private readonly policy: AclPolicy | undefined;
  /** Directories whose ACL was read and found to be ours alone. */
  private readonly trusted = new Set<string>();
  /** Creation zxid of the namespace when its ACL was found to be ours (it identifies that very node). */
  private namespaceCzxid?: bigint;
  /** When inspectHolder last looked at a holder path. */
  private readonly inspected = new Map<string, number>();
  /** Problems already logged (one error line each, not one per refused lock). */
  private readonly reported = new Set<string>();
  /** Waiters of this process that a release on the same session may hand its lock to (hand-off.ts). */
  readonly handOffs = new HandOffs();
  /** Holder watches this process keeps at once, on the live session (see holderWatches). */
  private watchBudget?: { sessionId: string | undefined; budget: HolderWatchBudget };
  /** What we know of each scope dir's shared mark (see shared-scopes.ts), and the watch behind an unmarked one. */
  private readonly marks = new Map<string, { known: ScopeKnowledge; watch?: () => void }>();
  /** Reads of a scope dir's mark under way. */
  private readonly learningMarks = new Map<string, Promise<void>>();

  constructor(
    readonly zk: ZookeeperService,
    readonly janitor: NodeJanitor,
    private readonly logger: Pick<Logger, 'warn' | 'error'> = new Logger('ZookeeperLock'),
  ) {
    const { acl, auth, tls } = secretsOf(zk); // digest ids need the passwords
    this.policy = aclPolicy(acl, auth, tls?.cert);
    // A new session has none of the old one's watches: what we knew of unmarked scopes is read again at
    // once, so that a conflict soon after still knows whether to look. (Ends with the service's state$.)
    let session = zk.sessionId;
    zk.state$.subscribe((event) => {
      if (event.state !== 'connected' || event.sessionId === session) return;
      session = event.sessionId;
      for (const [dir, { known }] of this.marks) if (!known.marked) void this.learnMark(dir);
    });
  }

  /**
   * Makes sure `dir` exists and that nobody outside the configured ACL may create, delete or administer
   * in it or in the namespace (see namespace-acl.ts): one mkdirp and one ACL read per directory for the
   * life of the process (or until forgotten). A foreign ACL rejects with LockUnavailableError (503),
   * logs an error naming the node and the entry once, and marks the service unhealthy; it is checked
   * again on the next use, so fixing the ACL needs no restart.
   *
   * Making a directory is one create per missing level and an ACL read or two, one after the other, each
   * allowed an operation timeout; the caller waits one operation timeout in all at most, then gets
   * OPERATION_TIMEOUT (the work goes on unobserved, and the next caller finds it done or waits for it
   * again). So the first lock of a scope answers in time against a slow server too.
   */
  ensureDir(dir: string): Promise<void> {
    const made = this.dirMade(dir);
    if (this.madeDirs.has(dir)) return made;
    return settleWithin(made, this.zk.options.operationTimeout, () => {
      throw new ZookeeperError('OPERATION_TIMEOUT', `ZooKeeper did not make the lock directory ${dir} within operationTimeout`, dir);
    });
  }

  private dirMade(dir: string): Promise<void> {
    let known = this.knownDirs.get(dir);
    if (!known) {
      // Scopes are meant to be a few fixed names; scopes made up at runtime must not grow these sets
      // for ever. Forgetting costs a mkdirp and an ACL read at each scope's next use, nothing more.
      if (this.knownDirs.size >= MAX_KNOWN_DIRS) this.forgetAllDirs();
      // The namespace first, checked before anything is made under it (never a scope dir of ours inside
      // someone else's namespace), then the dir itself.
      const namespace = this.zk.options.namespace;
      const made =
        dir === namespace
          ? this.zk.mkdirp(dir).then(() => this.checkAcl(dir))
          : this.dirMade(namespace).then(() => this.makeScopeDir(dir));
      known = made.then(
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

  /**
   * Makes a scope dir inside the namespace, and checks it. Who may delete and re-create a directory is
   * decided by its parent's ACL: the namespace's parent (often the open root) lets anyone swap the
   * namespace while it is empty, between its check and our first scope dir. So after making the scope
   * dir the namespace is read again: the same node (creation zxid) with our ACL means the scope dir is in
   * it, and from then on it is safe (a namespace with a child cannot be deleted, and only we may delete
   * that child). Costs one more pipelined read per new scope dir, with an ACL policy only.
   */
  private async makeScopeDir(dir: string): Promise<void> {
    await this.zk.mkdirp(dir);
    // Sent now, before the caller's own request: its answer (one session's replies come in order) is
    // known when that request's is, so even the first conflict in the scope knows whether to look.
    void this.learnMark(dir);
    await this.checkAcl(dir);
    if (!this.policy) return;
    const namespace = this.zk.options.namespace;
    const checked = this.namespaceCzxid;
    const { czxid } = await this.checkAcl(namespace, { again: true });
    if (czxid === checked) return;
    // Re-created since we checked it (with our ACL, or checkAcl would have refused): our scope dir is in
    // the new one or gone with the old one. Make sure it is there.
    await this.zk.mkdirp(dir);
    await this.checkAcl(dir, { again: true });
  }

  /**
   * Refuses a directory whose ACL lets anyone outside the configured ACL create, delete or administer in
   * it (see ensureDir), or that does not exist. Returns its creation zxid.
   */
  private async checkAcl(path: string, { again = false } = {}): Promise<{ czxid?: bigint }> {
    if (!this.policy || (!again && this.trusted.has(path))) return {};
    const [acl, stat] = await Promise.all([this.zk.getAcl(path), this.zk.exists(path)]);
    if (stat === null) throw new LockUnavailableError(`Lock directory ${path} was deleted while it was being checked`);
    const foreign = foreignEntries(acl, this.policy);
    if (foreign.length > 0) {
      const message =
        `Lock directory ${path} has an ACL that lets others create, delete or administer in it ` +
        `(${foreign.map(describeAclEntry).join(', ')}): locks under it are refused, since they could delete ` +
        'or squat held locks. Give it the ACL of the acl option (setAcl), or delete it to have it re-created';
      this.trusted.delete(path);
      this.zk.reportProblem(`acl:${path}`, message);
      if (!this.reported.has(message)) {
        if (this.reported.size >= MAX_KNOWN_DIRS) this.reported.clear(); // bounded, whatever the scopes
        this.reported.add(message);
        this.logger.error(message);
      }
      throw new LockUnavailableError(message);
    }
    this.zk.reportProblem(`acl:${path}`, undefined);
    this.trusted.add(path);
    if (path === this.zk.options.namespace) this.namespaceCzxid = stat.czxid;
    return { czxid: stat.czxid };
  }


  /**
   * A persistent node where only ephemeral ones of ours belong (a holder, or a waiter in a queue) was
   * made by someone else (a stranger under an open ACL, an operator by hand) and would block the lock
   * for ever: no session of any instance can end it. Removes it, only while it is still persistent, and
   * says so.
   *
   * The version read cannot tell the squatter from a lock taken after it: a fresh ephemeral node is at
   * version 0 too, and between our read and our delete another instance may remove the same squatter and
   * someone take the lock. So the delete goes in one MULTI after creating and deleting a child of the node:
   * ephemeral nodes cannot have children, so the whole MULTI fails, deleting nothing, when the node at
   * `path` is a live lock by then. True when the caller should look again; false when the node stays
   * (it cannot be removed) and the caller should wait for it to change instead.
   */
  async removeSquatter(path: string, version: number, emptyGroup = false): Promise<boolean> {
    const probe = `${path}/${persistenceProbe()}`;
    try {
      await this.zk.multi([
        { op: 'create', path: probe },
        { op: 'remove', path: probe },
        { op: 'remove', path, version },
      ]);
      // A node with no data is most likely an empty shared group (its last member crashed): no warning.
      if (!emptyGroup) this.warnRemovedSquatter(path);
      return true;
    } catch (error) {
      if (!(error instanceof ZookeeperError)) throw error;
      // An empty group that someone joined meanwhile (NOT_EMPTY) is a live group: nothing to report.
      if (emptyGroup && error.code === 'NOT_EMPTY') return true;
      // NOT_EMPTY (it has children) or NO_AUTH (its ACL forbids us): it stays, and blocks the id until an
      // operator removes it; said once per node, and the caller waits on it rather than trying again.
      if (error.code === 'NOT_EMPTY' || error.code === 'NO_AUTH') {
        const message = `${path} is a persistent node where only a lock's ephemeral nodes belong, and it cannot be removed (${error.code}): the lock is blocked until it is deleted by hand`;
        if (!this.reported.has(message)) {
          if (this.reported.size >= MAX_KNOWN_DIRS) this.reported.clear();
          this.reported.add(message);
          this.logger.error(message);
        }
        return false;
      }
      // NO_CHILDREN_FOR_EPHEMERALS (a lock now), NO_NODE or BAD_VERSION (it went or changed meanwhile), or
      // connection trouble: the caller looks again.
      return true;
    }
  }

  /** Says that a persistent node that was not ours was removed from where a lock belongs. */
  warnRemovedSquatter(path: string): void {
    this.logger.warn(`Removed ${path}: a persistent node where only a lock's ephemeral nodes belong (not made by this library)`);
  }

  /**
   * Whether the node in an exclusive caller's way in `scopeDir` may be a shared group (see
   * shared-scopes.ts): the caller then reads it once. False only while this session knows the scope is not
   * marked; when it does not know (a mark set since, a read that failed), true, and the mark is read again.
   * Waits, within `deadline`, for a read of the mark under way.
   */
  async mayHoldGroups(scopeDir: string, deadline: number): Promise<boolean> {
    // A read of the mark under way was most likely sent before the caller's request (at the scope's first
    // use): answered already, its bookkeeping is only a few promise turns behind. Wait for it, in time.
    const under = this.learningMarks.get(scopeDir);
    if (under) await settleWithin(under, deadline - performance.now(), () => undefined);
    const known = this.marks.get(scopeDir)?.known;
    const may = mayHoldGroups(known, this.zk.sessionId);
    if (may && known?.marked !== true) void this.learnMark(scopeDir);
    return may;
  }

  /** The op that marks `scopeDir` in a MULTI that makes a shared group in it; none once it is known marked. */
  markOps(scopeDir: string): MultiOp[] {
    return this.marks.get(scopeDir)?.known.marked ? [] : [{ op: 'setData', path: scopeDir, data: SHARED_SCOPE_MARK }];
  }

  /** A MULTI with markOps went through: the scope is marked, for good. */
  confirmMark(scopeDir: string): void {
    this.setMark(scopeDir, { known: { marked: true } });
  }

  /**
   * Reads `scopeDir`'s mark, leaving a data watch while it is not marked: the watch fires when it is set
   * (or the dir changes or goes), and we forget what we knew, so the next conflict looks and reads again.
   */
  private learnMark(scopeDir: string): Promise<void> {
    const sessionId = this.zk.sessionId;
    const under = this.learningMarks.get(scopeDir);
    if (under || sessionId === undefined) return under ?? Promise.resolve();
    let fired = false;
    const watch = () => {
      fired = true; // also when it fires before our answer is handled (both in one packet)
      const entry = this.marks.get(scopeDir);
      if (entry?.watch === watch) this.marks.delete(scopeDir);
    };
    const learning = this.zk.getData(scopeDir, watch).then(
      ({ data }) => {
        if (isMarked(data)) {
          this.zk.unwatch(scopeDir, watch);
          this.confirmMark(scopeDir);
        } else if (!fired && this.marks.get(scopeDir)?.known.marked !== true && this.zk.sessionId === sessionId) {
          this.setMark(scopeDir, { known: { marked: false, sessionId }, watch });
        } else this.zk.unwatch(scopeDir, watch);
      },
      () => undefined, // no answer (or no dir): unknown, which counts as marked; read again at the next conflict
    );
    const done = learning.finally(() => this.learningMarks.delete(scopeDir));
    this.learningMarks.set(scopeDir, done);
    return done;
  }

  private setMark(scopeDir: string, entry: { known: ScopeKnowledge; watch?: () => void }): void {
    const before = this.marks.get(scopeDir);
    if (before?.watch && before.watch !== entry.watch) this.zk.unwatch(scopeDir, before.watch);
    if (!before && this.marks.size >= MAX_KNOWN_DIRS) this.forgetMarks(); // bounded, whatever the scopes
    this.marks.set(scopeDir, entry);
  }

  private forgetMarks(scopeDir?: string): void {
    for (const [dir, entry] of this.marks) {
      if (scopeDir !== undefined && dir !== scopeDir) continue;
      if (entry.watch) this.zk.unwatch(dir, entry.watch);
      this.marks.delete(dir);
    }
  }

  /**
   * After a fail-fast NODE_EXISTS: looks, in the background and at most once a minute per lock, whether
   * the holder in the way is such a squatter. Costs the conflict's answer nothing.
   */
  inspectHolder(path: string): void {
    const now = performance.now();
    if ((this.inspected.get(path) ?? -Infinity) > now) return;
    if (this.inspected.size >= MAX_INSPECTED) this.inspected.clear(); // bounded, whatever the ids
    this.inspected.set(path, now + INSPECT_INTERVAL_MS);
    this.zk.getData(path).then(
      ({ stat }) => {
        if (stat.ephemeralOwner !== undefined) return undefined;
        // A shared group: looked at again sooner, since an empty one (its last member crashed, or left
        // at the same moment as another) would make this id a conflict until the server reaps it.
        if (stat.dataLength === 0) this.inspected.set(path, now + GROUP_INSPECT_INTERVAL_MS);
        return stat.numChildren > 0 ? undefined : this.removeSquatter(path, stat.version, stat.dataLength === 0);
      },
      () => undefined, // gone already, or no answer: nothing to do
    );
  }

  /**
   * The holder-watch budget of the live session (holder-watch.ts). One per session: the watches of a
   * session that ended went with it, whether or not their locks were ever released.
   */
  get holderWatches(): HolderWatchBudget {
    const sessionId = this.zk.sessionId;
    if (!this.watchBudget || this.watchBudget.sessionId !== sessionId) {
      this.watchBudget = { sessionId, budget: new HolderWatchBudget(HOLDER_WATCHES_MAX) };
    }
    return this.watchBudget.budget;
  }

  /** True once `dir` is known to exist: the fast path then skips even the await. */
  hasDir(dir: string): boolean {
    return this.madeDirs.has(dir);
  }

  private forgetAllDirs(): void {
    this.knownDirs.clear();
    this.madeDirs.clear();
    this.trusted.clear();
    this.forgetMarks();
  }

  /** After a NO_NODE on a parent we believed in (someone deleted it): forget it so it is made again. */
  forgetDir(dir: string): void {
    this.knownDirs.delete(dir);
    this.madeDirs.delete(dir);
    this.trusted.delete(dir); // re-made, perhaps by someone else: read its ACL again
    this.forgetMarks(dir); // and its mark: a new dir has none
  }

  /**
   * Creates a lock's queue as a CONTAINER node (ZooKeeper 3.5+): the server deletes it once its last
   * waiter is gone, within `znode.container.checkIntervalMs` (60 s by default), so queues left behind by
   * crashed waiters or an interrupted clean-up never accumulate. A server that does not know containers
   * (UNIMPLEMENTED, ZooKeeper < 3.5) gets persistent queues instead, removed eagerly as before, with a
   * warning once.
   */
  async createQueue(path: string): Promise<void> {
    if (this.containers !== 'no') {
      try {
        await this.zk.create(path, { mode: 'container' });
        this.containers = 'yes';
        return;
      } catch (error) {
        if (error instanceof ZookeeperError && error.code === 'NODE_EXISTS') this.containers = 'yes'; // the op is known
        if (!(error instanceof ZookeeperError && error.code === 'UNIMPLEMENTED')) throw error;
        this.containers = 'no';
        this.logger.warn(
          'ZooKeeper does not support container nodes (3.5+ needed): lock queues are persistent nodes, removed ' +
            'only when a release or a waiter finds them empty; queues left by crashed waiters stay until then',
        );
      }
    }
    await this.zk.create(path);
  }

  /** 'yes' once the server made (or knew) a container, 'no' once it refused the op, 'unknown' before. */
  get containerSupport(): 'yes' | 'no' | 'unknown' {
    return this.containers;
  }

  /** The server made a container (inside a MULTI). */
  confirmContainers(): void {
    if (this.containers === 'unknown') this.containers = 'yes';
  }

  /** How many waiting acquires of `key` this process has under way. */
  waitingHere(key: string): number {
    return this.waiting.get(key) ?? 0;
  }

  /** Counts a waiting acquire of `key` under way; returns how many others were, and the function that ends it. */
  startWaiting(key: string): { others: number; done: () => void } {
    const others = this.waiting.get(key) ?? 0;
    this.waiting.set(key, others + 1);
    let ended = false;
    return {
      others,
      done: () => {
        if (ended) return;
        ended = true;
        const left = (this.waiting.get(key) ?? 1) - 1;
        if (left === 0) this.waiting.delete(key);
        else this.waiting.set(key, left);
      },
    };
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
    const connected = await this.zk.waitForConnection(deadline - performance.now());
    if (this.zk.sessionId !== sessionId) return 'absent'; // that session is over: whatever it made is gone
    const giveUp = (error: unknown) => {
      void this.janitor.removeOwned([holder], token, sessionId);
      return unavailable(error, cause);
    };
    if (!connected || performance.now() >= deadline) throw giveUp(cause);
    try {
      const { data, stat } = await settleWithin(this.zk.getData(holder), deadline - performance.now(), () => {
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
