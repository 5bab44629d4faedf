#!/usr/bin/env node
'use strict';
/**
 * A private, real ZooKeeper for tests, the sample app and benchmarks.
 *
 * Finds ZooKeeper in this order: ZOOKEEPER_CONNECT (use that server, start nothing), ZOOKEEPER_HOME,
 * Debian's install (/usr/share/java/zookeeper.jar), else (as root with apt-get) installs Debian's
 * `zookeeper` package, else stops with a message saying what to install.
 *
 * Every JVM it starts carries `-Dnzl.harness=<run id>` on its command line so that a teardown (or CI's
 * trap) can find and stop every server of a run even when the process that started it died.
 *
 * CLI:  node scripts/zk.js start [--port 2181] [--dir .zk]   runs a standalone server until Ctrl-C
 *       node scripts/zk.js kill-all                          stops every harness server on this machine
 */
const { spawn, spawnSync, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');

const DEBIAN_JAR = '/usr/share/java/zookeeper.jar';
const MARKER = 'nzl.harness';
const READY_TIMEOUT_MS = 60_000;

function runId() {
  if (!process.env.NZL_HARNESS_RUN) process.env.NZL_HARNESS_RUN = crypto.randomBytes(6).toString('hex');
  return process.env.NZL_HARNESS_RUN;
}

/** Where ZooKeeper comes from: an external server, or a Java classpath to start our own. */
function locateZooKeeper({ install = true } = {}) {
  if (process.env.ZOOKEEPER_CONNECT) return { external: process.env.ZOOKEEPER_CONNECT };
  const home = process.env.ZOOKEEPER_HOME;
  if (home) {
    const jars = [home, path.join(home, 'lib')].filter((d) => fs.existsSync(d)).map((d) => path.join(d, '*'));
    return { classpath: jars.join(':') };
  }
  if (!fs.existsSync(DEBIAN_JAR) && install) installDebianPackage();
  if (fs.existsSync(DEBIAN_JAR)) return { classpath: `${DEBIAN_JAR}:/usr/share/java/*` };
  throw new Error(
    'ZooKeeper not found. Install it (Debian/Ubuntu: `sudo apt-get install zookeeper`), or set ZOOKEEPER_HOME ' +
      'to an Apache ZooKeeper release, or set ZOOKEEPER_CONNECT=host:port to use a running server.',
  );
}

function installDebianPackage() {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (!isRoot || !hasApt) return;
  process.stderr.write('[zk] ZooKeeper missing: installing Debian package `zookeeper` with apt-get\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'zookeeper'], { stdio: 'inherit', env });
}

/** Asks the OS for `count` free loopback ports (held until all are known, so they are distinct). */
async function freePorts(count) {
  const servers = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
      servers.push(server);
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/** Sends a four-letter word and returns the answer ('' when nothing answers). */
function fourLetterWord(port, word, timeoutMs = 1000) {
  return new Promise((resolve) => {
    let answer = '';
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = () => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, done);
    socket.on('connect', () => socket.write(word));
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('end', done);
    socket.on('error', done);
  });
}

/** True once the server answers `srvr` as a serving member (standalone, leader or follower). */
async function isServing(port) {
  const answer = await fourLetterWord(port, 'srvr');
  return /Mode: (standalone|leader|follower)/.test(answer);
}

async function waitUntil(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`[zk] timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * One ZooKeeper server process (standalone or an ensemble member) with its own data dir.
 * `stop` (SIGTERM), `kill` (SIGKILL), `pause`/`resume` (SIGSTOP/SIGCONT) and `start` again for fault tests.
 */
class ZooKeeperServer {
  constructor({ classpath, dir, clientPort, config, id, jvmFlags = [] }) {
    this.classpath = classpath;
    this.jvmFlags = jvmFlags;
    this.dir = dir;
    this.clientPort = clientPort;
    this.id = id;
    this.child = null;
    this.exited = null;
    fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
    if (id !== undefined) fs.writeFileSync(path.join(dir, 'data', 'myid'), `${id}\n`);
    this.configFile = path.join(dir, 'zoo.cfg');
    fs.writeFileSync(this.configFile, config);
  }

  get connectString() {
    return `127.0.0.1:${this.clientPort}`;
  }

  get pid() {
    return this.child ? this.child.pid : undefined;
  }

  get running() {
    return this.child !== null;
  }

  /** Starts the JVM; resolves once the process is up (not yet serving: see `waitServing`). */
  launch() {
    if (this.child) return;
    const log = fs.openSync(path.join(this.dir, 'server.log'), 'a');
    const child = spawn(
      'java',
      [
        `-D${MARKER}=${runId()}`,
        '-Xms32m',
        '-Xmx256m',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-Dzookeeper.admin.enableServer=false',
        '-Dzookeeper.jmx.log4j.disable=true',
        // Empty CONTAINER nodes are reaped every second instead of every minute, so tests can await it.
        '-Dznode.container.checkIntervalMs=1000',
        ...this.jvmFlags,
        '-cp',
        this.classpath,
        'org.apache.zookeeper.server.quorum.QuorumPeerMain',
        this.configFile,
      ],
      { stdio: ['ignore', log, log] },
    );
    fs.closeSync(log);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', resolve)).then(() => {
      if (this.child === child) this.child = null;
    });
  }

  async waitServing(timeoutMs = READY_TIMEOUT_MS) {
    await waitUntil(
      async () => {
        if (!this.child) throw new Error(`[zk] server exited; see ${path.join(this.dir, 'server.log')}`);
        return isServing(this.clientPort);
      },
      timeoutMs,
      `ZooKeeper on port ${this.clientPort}`,
    );
  }

  async start() {
    this.launch();
    await this.waitServing();
  }

  async signal(sig) {
    if (!this.child) return;
    const exited = this.exited;
    this.child.kill(sig);
    await exited;
  }

  /** Graceful stop. */
  stop() {
    if (this.child) spawnSync('kill', ['-CONT', String(this.child.pid)]); // a paused JVM cannot exit
    return this.signal('SIGTERM');
  }

  /** Crash: no goodbye to clients. */
  kill() {
    return this.signal('SIGKILL');
  }

  /** Freeze the process: connections stay open but nothing answers (a silent server). */
  pause() {
    if (this.child) this.child.kill('SIGSTOP');
  }

  resume() {
    if (this.child) this.child.kill('SIGCONT');
  }

  async restart() {
    await this.stop();
    await this.start();
  }
}

function baseConfig({ dir, tickTime, clientPort }) {
  return [
    `tickTime=${tickTime}`,
    `dataDir=${path.join(dir, 'data')}`,
    `clientPort=${clientPort}`,
    'clientPortAddress=127.0.0.1',
    '4lw.commands.whitelist=*',
    'maxClientCnxns=0',
    'admin.enableServer=false',
    `minSessionTimeout=${tickTime * 2}`,
    `maxSessionTimeout=${Math.max(tickTime * 20, 60_000)}`,
    'autopurge.purgeInterval=0',
  ];
}

function makeTempDir(label) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `nzl-zk-${label}-`));
}

/**
 * Starts a standalone server on a free loopback port (or `port`). `tickTime` 500 lets tests use session
 * timeouts down to 1 s. `config`: extra zoo.cfg lines, which override the defaults (for example
 * `maxSessionTimeout=2000` for a server that clamps session timeouts). `jvmFlags`: extra JVM arguments.
 * Resolves when the server answers.
 */
/**
 * JVM flags for a server that a benchmark measures: the JVM's full JIT (C2) and room to grow, as a
 * production server has. The defaults above stop at C1 and a small heap, for a quick start in tests; the
 * later flag wins.
 */
const BENCH_JVM_FLAGS = ['-XX:TieredStopAtLevel=4', '-Xmx1g'];

async function startStandalone({ port, dir, tickTime = 500, forceSync = true, config: extra = [], jvmFlags = [] } = {}) {
  const zk = locateZooKeeper();
  if (zk.external) return externalServer(zk.external);
  const [clientPort] = port ? [port] : await freePorts(1);
  dir = dir || makeTempDir('standalone');
  const config = baseConfig({ dir, tickTime, clientPort });
  if (!forceSync) config.push('forceSync=no');
  config.push(...extra);
  const server = new ZooKeeperServer({ classpath: zk.classpath, dir, clientPort, config: config.join('\n') + '\n', jvmFlags });
  await server.start();
  return server;
}

/** A running server we did not start: we never stop or kill it. */
function externalServer(connectString) {
  const noop = async () => {};
  return {
    external: true,
    connectString,
    start: noop,
    stop: noop,
    kill: async () => {
      throw new Error('cannot kill an external ZooKeeper (ZOOKEEPER_CONNECT is set)');
    },
    pause() {
      throw new Error('cannot pause an external ZooKeeper (ZOOKEEPER_CONNECT is set)');
    },
    resume() {},
    restart: noop,
  };
}

/**
 * Starts an ensemble of `size` members on loopback, with forceSync=no to keep suites fast.
 * Returns { members, connectString, leader(), stop() }.
 */
async function startEnsemble({ size = 3, tickTime = 500 } = {}) {
  const zk = locateZooKeeper();
  if (zk.external) throw new Error('an ensemble cannot be started while ZOOKEEPER_CONNECT is set');
  const ports = await freePorts(size * 3);
  const root = makeTempDir('ensemble');
  const peers = [];
  for (let i = 0; i < size; i++) {
    peers.push(`server.${i + 1}=127.0.0.1:${ports[size + 2 * i]}:${ports[size + 2 * i + 1]}`);
  }
  const members = [];
  for (let i = 0; i < size; i++) {
    const dir = path.join(root, `member-${i + 1}`);
    const config = [
      ...baseConfig({ dir, tickTime, clientPort: ports[i] }),
      'initLimit=20',
      'syncLimit=10',
      'forceSync=no',
      'standaloneEnabled=false',
      'reconfigEnabled=false',
      'quorumListenOnAllIPs=false',
      ...peers,
    ];
    members.push(
      new ZooKeeperServer({ classpath: zk.classpath, dir, clientPort: ports[i], config: config.join('\n') + '\n', id: i + 1 }),
    );
  }
  members.forEach((m) => m.launch());
  await Promise.all(members.map((m) => m.waitServing()));
  return {
    members,
    connectString: members.map((m) => m.connectString).join(','),
    /** The member that currently leads (asks each with `srvr`). */
    async leader() {
      for (const m of members) {
        if (m.running && /Mode: leader/.test(await fourLetterWord(m.clientPort, 'srvr'))) return m;
      }
      return undefined;
    },
    /** Resolves once a quorum serves again (after a member was killed or stopped). */
    async waitQuorum(timeoutMs = READY_TIMEOUT_MS) {
      await waitUntil(
        async () => {
          for (const m of members) if (m.running && (await isServing(m.clientPort))) return true;
          return false;
        },
        timeoutMs,
        'an ensemble quorum',
      );
    },
    async stop() {
      await Promise.all(members.map((m) => m.stop()));
    },
  };
}

/** Pids of harness JVMs on this machine; only those of `run` when given. */
function harnessPids(run) {
  const pids = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline;
    try {
      cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const args = cmdline.split('\0');
    const marker = args.find((a) => a.startsWith(`-D${MARKER}=`));
    if (marker && (!run || marker === `-D${MARKER}=${run}`)) pids.push(Number(entry));
  }
  return pids;
}

/** Kills (SIGCONT then SIGKILL) every harness JVM of `run` (or of every run) and waits for them to go. */
async function killAll(run) {
  const pids = harnessPids(run);
  for (const pid of pids) {
    for (const sig of ['SIGCONT', 'SIGKILL']) {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  }
  await waitUntil(async () => harnessPids(run).length === 0, 10_000, 'harness servers to exit');
  return pids.length;
}

async function cli(argv) {
  const [command, ...rest] = argv;
  const option = (name, fallback) => {
    const i = rest.indexOf(`--${name}`);
    return i >= 0 ? rest[i + 1] : fallback;
  };
  if (command === 'kill-all') {
    const n = await killAll();
    process.stdout.write(`[zk] stopped ${n} harness server(s)\n`);
    return;
  }
  if (command === 'start') {
    const port = Number(option('port', process.env.ZOOKEEPER_PORT || 2181));
    const dir = path.resolve(option('dir', '.zk'));
    if (process.env.ZOOKEEPER_CONNECT) {
      process.stdout.write(`[zk] using ZOOKEEPER_CONNECT=${process.env.ZOOKEEPER_CONNECT}\n`);
      return;
    }
    if (await isServing(port)) {
      process.stdout.write(`[zk] a ZooKeeper already serves 127.0.0.1:${port}; using it\n`);
      return;
    }
    const server = await startStandalone({ port, dir, tickTime: 2000 });
    process.stdout.write(`[zk] ZooKeeper serving at ${server.connectString} (data in ${dir}); Ctrl-C stops it\n`);
    const stop = async () => {
      await server.stop();
      process.exit(0);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    return;
  }
  process.stderr.write('usage: node scripts/zk.js start [--port 2181] [--dir .zk] | kill-all\n');
  process.exitCode = 2;
}

module.exports = {
  BENCH_JVM_FLAGS,
  locateZooKeeper,
  startStandalone,
  startEnsemble,
  killAll,
  harnessPids,
  fourLetterWord,
  freePorts,
  runId,
  ZooKeeperServer,
};

if (require.main === module) {
  cli(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
}
