#!/usr/bin/env node
'use strict';
/**
 * A private, real PostgreSQL for the benchmark that compares row locks with ZooKeeper locks
 * (bench/pg.bench.ts), started the way scripts/zk.js starts ZooKeeper: `initdb` into a temp dir, a free
 * loopback port, stopped (and the dir removed) afterwards.
 *
 * Finds the server binaries in this order: PG_BIN (a directory holding initdb and postgres), Debian's
 * install (/usr/lib/postgresql/<newest>/bin), `pg_config --bindir`; else, as root with apt-get, installs
 * Debian's `postgresql` package; else stops with a message saying what to install.
 *
 * PostgreSQL refuses to run as root: as root, initdb and the server run as the `postgres` user that
 * Debian's package creates. Every server started here carries `-c cluster_name=nzl-pg-<run id>` on its
 * command line, so that `killAll` can find the servers of a run even when the process that started them
 * died.
 *
 * CLI:  node scripts/pg.js start      runs a server until Ctrl-C, prints its connection string
 *       node scripts/pg.js kill-all   stops every server this harness started on this machine
 */
const { spawn, spawnSync, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { freePorts, runId } = require('./zk.js');

const MARKER = 'cluster_name=nzl-pg-';
const READY_TIMEOUT_MS = 60_000;
const USER = 'bench';

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

function newestDebianBin() {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return undefined;
  const versions = fs
    .readdirSync(root)
    .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(root, versions[0], 'bin') : undefined;
}

function pgConfigBin() {
  const out = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const dir = out.status === 0 ? out.stdout.trim() : '';
  return dir && fs.existsSync(path.join(dir, 'initdb')) ? dir : undefined;
}

/** The directory holding initdb and postgres; installs Debian's package as root when there is none. */
function locatePostgres({ install = true } = {}) {
  if (process.env.PG_BIN) {
    if (fs.existsSync(path.join(process.env.PG_BIN, 'initdb'))) return process.env.PG_BIN;
    throw new Error(`PG_BIN=${process.env.PG_BIN} holds no initdb`);
  }
  let bin = newestDebianBin() || pgConfigBin();
  if (!bin && install) {
    installDebianPackage();
    bin = newestDebianBin();
  }
  if (bin) return bin;
  throw new Error(
    'PostgreSQL not found. Install it (Debian/Ubuntu: `sudo apt-get install postgresql`; as root the harness ' +
      'installs it itself), or set PG_BIN to a directory holding initdb and postgres.',
  );
}

function installDebianPackage() {
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (!isRoot() || !hasApt) return;
  process.stderr.write('[pg] PostgreSQL missing: installing Debian package `postgresql` with apt-get\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'postgresql'], { stdio: 'inherit', env });
}

/** As root: the uid/gid to run PostgreSQL as (Debian's `postgres` user). Otherwise: ourselves. */
function serverIdentity() {
  if (!isRoot()) return {};
  const id = (flag) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const uid = id('-u');
  const gid = id('-g');
  if (uid.status !== 0 || gid.status !== 0) {
    throw new Error('running as root, PostgreSQL must run as another user, and there is no `postgres` user (Debian\'s package makes it)');
  }
  return { uid: Number(uid.stdout), gid: Number(gid.stdout) };
}

/** Runs a PostgreSQL tool to completion as the server's user; throws with its output on failure. */
function runTool(bin, tool, args, identity) {
  const out = spawnSync(path.join(bin, tool), args, { encoding: 'utf8', cwd: os.tmpdir(), ...identity });
  if (out.status !== 0) {
    throw new Error(`[pg] ${tool} failed (${out.status ?? out.signal}): ${(out.stderr || out.stdout || out.error?.message || '').trim()}`);
  }
}

/**
 * Starts a server on a free loopback port with its data in a new temp dir (under `dir`'s parent when
 * given). `settings`: extra `-c name=value` server settings. Resolves with
 * { connectionString, port, dir, pid, stop() } once it accepts connections; stop() is idempotent and
 * removes the data dir.
 */
async function startPostgres({ root = os.tmpdir(), settings = {} } = {}) {
  const bin = locatePostgres();
  const identity = serverIdentity();
  const dir = fs.mkdtempSync(path.join(root, 'nzl-pg-'));
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'server.log');
  if (identity.uid !== undefined) fs.chownSync(dir, identity.uid, identity.gid);
  let child;
  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT'); // "fast" shutdown: rolls back open transactions, then exits
      const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(force);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    runTool(bin, 'initdb', ['-D', data, '-U', USER, '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], identity);
    const [port] = await freePorts(1);
    const config = {
      listen_addresses: '127.0.0.1',
      port: String(port),
      unix_socket_directories: dir, // not /var/run/postgresql, which a private server may not write
      cluster_name: `nzl-pg-${runId()}`,
      ...settings,
    };
    const args = ['-D', data, ...Object.entries(config).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
    const out = fs.openSync(log, 'a');
    if (identity.uid !== undefined) fs.fchownSync(out, identity.uid, identity.gid);
    child = spawn(path.join(bin, 'postgres'), args, { stdio: ['ignore', out, out], cwd: dir, ...identity });
    fs.closeSync(out);
    await waitReady(bin, port, dir, child, log);
    return { connectionString: `postgresql://${USER}@127.0.0.1:${port}/postgres`, port, dir, pid: child.pid, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function waitReady(bin, port, dir, child, log) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const tail = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').slice(-10).join('\n') : '';
      throw new Error(`[pg] postgres exited (${child.exitCode ?? child.signalCode}) before accepting connections:\n${tail}`);
    }
    const ready = spawnSync(path.join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port), '-U', USER]);
    if (ready.status === 0) return;
    if (Date.now() > deadline) throw new Error(`[pg] timed out after ${READY_TIMEOUT_MS} ms waiting for PostgreSQL on port ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Pids of postmasters started by this harness (only those of `run` when given). */
function harnessPids(run) {
  const pids = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args;
    try {
      args = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const marker = args.find((a) => a.startsWith(MARKER));
    if (marker && (!run || marker === `${MARKER}${run}`)) pids.push(Number(entry));
  }
  return pids;
}

/** Stops (SIGQUIT: immediate shutdown) every postmaster of `run` (or of every run) and waits for them. */
async function killAll(run) {
  const pids = harnessPids(run);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGQUIT');
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + 10_000;
  while (harnessPids(run).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return pids.length;
}

async function cli(argv) {
  const [command] = argv;
  if (command === 'kill-all') {
    process.stdout.write(`[pg] stopped ${await killAll()} harness server(s)\n`);
    return;
  }
  if (command === 'start') {
    const server = await startPostgres();
    process.stdout.write(`[pg] PostgreSQL serving at ${server.connectionString} (data in ${server.dir}); Ctrl-C stops it\n`);
    const stop = () => server.stop().then(() => process.exit(0));
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    return;
  }
  process.stderr.write('usage: node scripts/pg.js start | kill-all\n');
  process.exitCode = 2;
}

module.exports = { locatePostgres, startPostgres, killAll, harnessPids };

if (require.main === module) {
  cli(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
}
