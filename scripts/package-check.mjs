#!/usr/bin/env node
/**
 * Packaging and compatibility check (issue #7). Run from any checkout: `node scripts/package-check.mjs`.
 *
 *  1. `npm pack` of this checkout (prepack builds dist/) into a temporary directory, its files listed; then
 *     the ecosystem's checkers on the tarball: publint --strict (package.json fields, `exports`, files they
 *     name) and @arethetypeswrong/cli (types of `.` and `./testing` resolve and match the JavaScript under
 *     node10, node16 CJS and ESM, and bundler resolution).
 *  2. Fresh temporary apps outside the repository, each installing the tarball and one Nest major with
 *     `npm install` (as a user would, so peerDependencies must admit that major):
 *        nest11-cjs-express    NestJS 11, CommonJS (app.cjs), Express
 *        nest12-esm-express    NestJS 12, ESM (app.mjs, "type": "module"), Express, with
 *                              @nestjs/microservices, @nestjs/websockets and @opentelemetry/api installed
 *        nest12-esm-fastify    NestJS 12, ESM, Fastify
 *     The apps are plain JavaScript run with plain `node` (no TypeScript, no loaders): decorators are
 *     applied by hand the way TypeScript's emitted code does.
 *  3. One ZooKeeper (scripts/zk.js) for all apps. Per app, over HTTP: a @WithLock route holds a lock until
 *     released; meanwhile the same id gets 409 (with Retry-After) on @WithLock routes and a conflict from
 *     LockService.withLock (constructor-injected), another id is free, a @Locked provider method runs;
 *     after the release the held request answers 201 with its @CurrentLock fencing token and the id can be
 *     locked again. Then the app must stop on SIGTERM (enableShutdownHooks). A probe checks that a lock
 *     conflict in an RPC / WebSocket context becomes the installed RpcException / WsException (the
 *     interceptor's lazy `require`), or the library's fallback error when those packages are absent.
 *     A second probe (testing.cjs / testing.mjs, in the app's module system) imports
 *     `nestjs-zookeeper-lock/testing`, runs ZookeeperLockTestingModule with the main entry's LockService
 *     and errors (one copy of each), finds the test doubles absent from the main entry and deep imports
 *     refused by the `exports` map, and reports whether @opentelemetry/api was loaded (only where installed).
 *  4. Always cleans up: apps, this run's ZooKeeper JVM (found by its -Dnzl.harness=<run> tag), temp dirs.
 *
 * Usage: node scripts/package-check.mjs [variant ...] [--keep]
 *   variant   run only these (names above); default all
 *   --keep    keep the temporary directory (printed) for inspection
 * Env: NZL_NEST11_RANGE (default ^11.0.0), NZL_NEST12_RANGE (default ^12.0.0): the Nest versions to install;
 *      ZOOKEEPER_CONNECT: use that server instead of starting one (see scripts/zk.js).
 * Exits 0 when every check passed, 1 (with the reason) otherwise.
 */
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const started = Date.now();
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const runTag = `pkgcheck-${crypto.randomBytes(4).toString('hex')}`;
process.env.NZL_HARNESS_RUN = runTag; // every JVM the harness starts for us carries -Dnzl.harness=<runTag>
const zkHarness = createRequire(import.meta.url)('./zk.js');

const NEST11 = process.env.NZL_NEST11_RANGE || '^11.0.0';
const NEST12 = process.env.NZL_NEST12_RANGE || '^12.0.0';
const COMMON_DEPS = ['reflect-metadata@^0.2.0', 'rxjs@^7.8.0'];

const VARIANTS = [
  {
    name: 'nest11-cjs-express',
    esm: false,
    platform: 'express',
    deps: [`@nestjs/common@${NEST11}`, `@nestjs/core@${NEST11}`, `@nestjs/platform-express@${NEST11}`],
    transportPackages: false,
  },
  {
    name: 'nest12-esm-express',
    esm: true,
    platform: 'express',
    deps: [
      `@nestjs/common@${NEST12}`,
      `@nestjs/core@${NEST12}`,
      `@nestjs/platform-express@${NEST12}`,
      `@nestjs/microservices@${NEST12}`,
      `@nestjs/websockets@${NEST12}`,
      '@opentelemetry/api@^1.3.0',
    ],
    transportPackages: true,
    openTelemetry: true,
  },
  {
    name: 'nest12-esm-fastify',
    esm: true,
    platform: 'fastify',
    deps: [`@nestjs/common@${NEST12}`, `@nestjs/core@${NEST12}`, `@nestjs/platform-fastify@${NEST12}`],
    transportPackages: false,
  },
];

// ---------------------------------------------------------------------------------------------- output

const log = (line = '') => process.stdout.write(`${line}\n`);
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

class CheckFailed extends Error {}
function fail(message) {
  throw new CheckFailed(message);
}
function expect(condition, message) {
  if (!condition) fail(message);
}

// ------------------------------------------------------------------------------------ child processes

const children = new Set(); // every app process still running, killed on any exit

/**
 * Env for nested npm and the apps: without what `npm run` exports (npm_config_local_prefix would make a
 * nested `npm install` install into this repository) and without NODE_OPTIONS (the apps run on plain node).
 */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_(package_|lifecycle_|command$|config_local_prefix$|config_loglevel$)/i.test(key)) continue;
    if (key === 'INIT_CWD' || key === 'NODE_OPTIONS') continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/** Runs a command to completion; resolves { code, output } (stdout and stderr together). */
function run(cmd, args, { cwd, env = cleanEnv(), logFile } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (logFile) fs.writeFileSync(logFile, output);
      resolve({ code: code ?? signal, output });
    });
  });
}

function tail(text, lines = 25) {
  return text.trimEnd().split('\n').slice(-lines).map((l) => `    | ${l}`).join('\n');
}

// ------------------------------------------------------------------------------------------- 1. pack

const bin = (name) => path.join(repoRoot, 'node_modules', '.bin', name);

async function pack(tmp) {
  const dest = path.join(tmp, 'pack');
  fs.mkdirSync(dest);
  const t0 = Date.now();
  const result = await run('npm', ['pack', '--pack-destination', dest], { cwd: repoRoot });
  if (result.code !== 0) fail(`npm pack failed (exit ${result.code}):\n${tail(result.output)}`);
  const tarballs = fs.readdirSync(dest).filter((f) => f.endsWith('.tgz'));
  expect(tarballs.length === 1, `npm pack produced ${tarballs.length} tarballs in ${dest}`);
  const tarball = path.join(dest, tarballs[0]);

  const listing = spawnSync('tar', ['-tvzf', tarball], { encoding: 'utf8' });
  expect(listing.status === 0, `tar -tvzf ${tarball} failed: ${listing.stderr}`);
  const entries = listing.stdout
    .trim()
    .split('\n')
    .map((line) => {
      const fields = line.trim().split(/\s+/);
      return { size: Number(fields[2]), name: fields.slice(5).join(' ') };
    })
    .sort((a, b) => a.name.localeCompare(b.name));

  log(`tarball ${tarballs[0]}: ${entries.length} files, ${(fs.statSync(tarball).size / 1024).toFixed(1)} kB packed, ` +
    `${(entries.reduce((s, e) => s + e.size, 0) / 1024).toFixed(1)} kB unpacked (npm pack ${seconds(Date.now() - t0)})`);
  for (const e of entries) log(`  ${String(e.size).padStart(7)}  ${e.name}`);

  const manifest = JSON.parse(spawnSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }).stdout);

  const publint = await run(bin('publint'), ['run', tarball, '--strict'], { cwd: tmp });
  if (publint.code !== 0) fail(`publint --strict found problems in the tarball:\n${tail(publint.output, 40)}`);
  log(`PASS publint --strict: ${publint.output.trim().split('\n').pop()}`);
  const attw = await run(bin('attw'), [tarball, '--format', 'table-flipped', '--no-color'], { cwd: tmp });
  if (attw.code !== 0) fail(`@arethetypeswrong/cli found problems in the tarball's types:\n${tail(attw.output, 60)}`);
  log(`PASS attw (node10, node16 CJS/ESM, bundler; entries . and ./testing):\n${tail(attw.output, 20)}`);
  return { tarball, manifest };
}

// --------------------------------------------------------------------------------------- 2. the apps

/** The test app: plain JavaScript, decorators applied as TypeScript's emitted code would apply them. */
function appSource({ esm, platform }) {
  const adapter = platform === 'fastify' ? 'FastifyAdapter' : 'ExpressAdapter';
  const adapterPackage = `@nestjs/platform-${platform}`;
  const names = {
    common: 'Controller, Get, Injectable, Module, Param, Post',
    lib: 'CurrentLock, LockConflictError, LockService, Locked, WithLock, ZookeeperLockModule, currentLock',
  };
  const imports = esm
    ? `import 'reflect-metadata';
import { ${names.common} } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ${adapter} } from '${adapterPackage}';
import { ${names.lib} } from 'nestjs-zookeeper-lock';`
    : `'use strict';
require('reflect-metadata');
const { ${names.common} } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { ${adapter} } = require('${adapterPackage}');
const { ${names.lib} } = require('nestjs-zookeeper-lock');`;
  return `${imports}

// Written by scripts/package-check.mjs. No TypeScript here: decorators are applied by hand, as tsc emits them.
function decorate(decorators, target, key) {
  if (key === undefined) return Reflect.decorate(decorators, target);
  const descriptor = Reflect.decorate(decorators, target, key, Object.getOwnPropertyDescriptor(target, key));
  Object.defineProperty(target, key, descriptor);
}
const param = (index, decorator) => (target, key) => decorator(target, key, index);

/** Requests of /items/:id/hold waiting for /gates/:id/release, by id. */
const gates = new Map();

let Jobs = class Jobs {
  // @Locked((id) => id, { scope: 'jobs' })
  async run(id) {
    const lock = currentLock();
    return { id, ran: true, scope: lock && lock.scope };
  }
};
decorate([Locked((id) => id, { scope: 'jobs' })], Jobs.prototype, 'run');
Jobs = decorate([Injectable()], Jobs);

let ItemsController = class ItemsController {
  constructor(locks, jobs) {
    this.locks = locks;
    this.jobs = jobs;
  }

  // @Post(':id/hold') @WithLock('params.id') hold(@Param('id') id, @CurrentLock() lock)
  async hold(id, lock) {
    const token = String(await lock.fencingToken());
    await new Promise((resolve) => gates.set(id, resolve));
    return { id, held: true, token };
  }

  // @Post(':id/touch') @WithLock('params.id') touch(@Param('id') id)
  touch(id) {
    return { id, touched: true };
  }

  // @Post(':id/direct') direct(@Param('id') id): LockService used directly
  async direct(id) {
    try {
      return await this.locks.withLock(id, (lock) => ({ id, direct: true, scope: lock.scope }));
    } catch (error) {
      if (error instanceof LockConflictError) return { id, conflict: true, code: error.code };
      throw error;
    }
  }

  // @Post(':id/job') job(@Param('id') id): a @Locked provider method
  job(id) {
    return this.jobs.run(id);
  }
};
decorate([Post(':id/hold'), WithLock('params.id'), param(0, Param('id')), param(1, CurrentLock())], ItemsController.prototype, 'hold');
decorate([Post(':id/touch'), WithLock('params.id'), param(0, Param('id'))], ItemsController.prototype, 'touch');
decorate([Post(':id/direct'), param(0, Param('id'))], ItemsController.prototype, 'direct');
decorate([Post(':id/job'), param(0, Param('id'))], ItemsController.prototype, 'job');
ItemsController = decorate([Controller('items'), Reflect.metadata('design:paramtypes', [LockService, Jobs])], ItemsController);

let GatesController = class GatesController {
  state(id) {
    return { id, holding: gates.has(id) };
  }
  release(id) {
    const resolve = gates.get(id);
    gates.delete(id);
    if (resolve) resolve();
    return { id, released: Boolean(resolve) };
  }
};
decorate([Get(':id'), param(0, Param('id'))], GatesController.prototype, 'state');
decorate([Post(':id/release'), param(0, Param('id'))], GatesController.prototype, 'release');
GatesController = decorate([Controller('gates')], GatesController);

let AppModule = class AppModule {};
AppModule = decorate(
  [
    Module({
      imports: [ZookeeperLockModule.forRoot({ connectionString: process.env.ZK_CONNECT, namespace: process.env.LOCK_NAMESPACE })],
      controllers: [ItemsController, GatesController],
      providers: [Jobs],
    }),
  ],
  AppModule,
);

async function main() {
  // Stop when the checker goes away without killing us (its stdin pipe to us closes).
  process.stdin.on('end', () => process.exit(3));
  process.stdin.resume();
  const app = await NestFactory.create(AppModule, new ${adapter}(), { logger: ['error', 'warn'] });
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  console.log('READY port=' + app.getHttpServer().address().port);
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;
}

/**
 * A lock conflict in an RPC and a WebSocket context, through WithLockInterceptor.throwLockError: the
 * interceptor lazily require()s @nestjs/microservices / @nestjs/websockets for RpcException / WsException.
 * Prints JSON: per transport, the class of the thrown error and the body it carries.
 */
const PROBE_SOURCE = `import 'reflect-metadata';
import { LockConflictError, WithLockInterceptor } from 'nestjs-zookeeper-lock';

const optional = async (pkg, name) => {
  try {
    return (await import(pkg))[name];
  } catch (error) {
    if (error && error.code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw error;
  }
};
const expected = { rpc: await optional('@nestjs/microservices', 'RpcException'), ws: await optional('@nestjs/websockets', 'WsException') };
const interceptor = new WithLockInterceptor(undefined, undefined);
const result = {};
for (const type of ['rpc', 'ws']) {
  const context = { getType: () => type };
  try {
    interceptor.throwLockError(context, new LockConflictError(['a'], 'default', 0), { idFrom: 'id', options: {} });
    result[type] = { thrown: false };
  } catch (error) {
    const body = typeof error.getError === 'function' ? error.getError() : error.body;
    result[type] = {
      installed: Boolean(expected[type]),
      kind: expected[type] && error instanceof expected[type] ? expected[type].name : 'fallback',
      errorName: error.constructor.name,
      statusCode: body && body.statusCode,
      code: body && body.code,
    };
  }
}
console.log(JSON.stringify(result));
`;

/**
 * `nestjs-zookeeper-lock/testing` in the app's own module system: ZookeeperLockTestingModule on the main
 * entry's LockService and errors, test doubles absent from the main entry, deep imports refused.
 * Prints JSON.
 */
function testingProbeSource({ esm }) {
  const imports = esm
    ? `import 'reflect-metadata';
import { createRequire } from 'node:module';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import * as main from 'nestjs-zookeeper-lock';
import { InMemoryLockBackend, ZookeeperLockTestingModule } from 'nestjs-zookeeper-lock/testing';
const require = createRequire(import.meta.url);
const deepImport = async (specifier) => import(specifier);`
    : `'use strict';
require('reflect-metadata');
const { Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const main = require('nestjs-zookeeper-lock');
const { InMemoryLockBackend, ZookeeperLockTestingModule } = require('nestjs-zookeeper-lock/testing');
const deepImport = async (specifier) => require(specifier);`;
  return `${imports}

// Written by scripts/package-check.mjs.
async function probe() {
  let TestModule = class TestModule {};
  TestModule = Reflect.decorate([Module({ imports: [ZookeeperLockTestingModule.forRoot()] })], TestModule);
  const app = await NestFactory.createApplicationContext(TestModule, { logger: ['error', 'warn'] });
  const locks = app.get(main.LockService); // the main entry's class: one copy shared by both entries
  const backend = app.get(InMemoryLockBackend);
  const release = backend.holdElsewhere('acct-1');
  const conflict = await locks.acquire('acct-1').then(() => 'acquired', (error) => (error instanceof main.LockConflictError ? 'LockConflictError' : String(error)));
  release();
  const lock = await locks.acquire('acct-1');
  const heldAfterRelease = backend.isHeld('acct-1');
  await lock.release();
  await app.close();
  const deep = await deepImport('nestjs-zookeeper-lock/dist/lock/lock-backend.js').then(() => 'loaded', (error) => error.code);
  return {
    conflict,
    heldAfterRelease,
    mainHasTestDoubles: ['InMemoryLockBackend', 'ZookeeperLockTestingModule', 'OfflineZookeeperService', 'InMemoryLockStore'].filter((name) => name in main),
    mainHasInternals: ['ZookeeperLockBackend', 'LockedMethodsExplorer', 'GrantGoneError', 'LOCK_BACKEND'].filter((name) => name in main),
    deepImport: deep,
    openTelemetryLoaded: Object.keys(require.cache).some((file) => file.includes('@opentelemetry' + '/api')),
  };
}
probe().then(
  (result) => console.log(JSON.stringify(result)),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
`;
}

async function installApp(variant, tmp, tarball) {
  const dir = path.join(tmp, variant.name);
  fs.mkdirSync(dir);
  const pkg = { name: `nzl-package-check-${variant.name}`, version: '0.0.0', private: true };
  if (variant.esm) pkg.type = 'module';
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  const appFile = variant.esm ? 'app.mjs' : 'app.cjs';
  fs.writeFileSync(path.join(dir, appFile), appSource(variant));
  fs.writeFileSync(path.join(dir, 'probe.mjs'), PROBE_SOURCE);
  fs.writeFileSync(path.join(dir, variant.esm ? 'testing.mjs' : 'testing.cjs'), testingProbeSource(variant));
  const t0 = Date.now();
  const args = ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, ...variant.deps, ...COMMON_DEPS];
  const result = await run('npm', args, { cwd: dir, logFile: path.join(dir, 'npm-install.log') });
  if (result.code !== 0) {
    let hint = '';
    if (/ERESOLVE/.test(result.output)) {
      hint =
        '\n  npm refused the peer dependencies: the packed package.json has ' +
        `@nestjs/common ${JSON.stringify(variant.manifest.peerDependencies?.['@nestjs/common'])}, ` +
        `@nestjs/core ${JSON.stringify(variant.manifest.peerDependencies?.['@nestjs/core'])}; ` +
        `this variant installs ${variant.deps.join(' ')}.`;
    }
    fail(`${variant.name}: npm ${args.join(' ')} failed (exit ${result.code}):\n${tail(result.output)}${hint}`);
  }
  const version = (name) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch {
      return undefined;
    }
  };
  const installed = ['@nestjs/common', '@nestjs/core', `@nestjs/platform-${variant.platform}`, '@nestjs/microservices', '@nestjs/websockets', 'express', 'fastify', 'rxjs', 'reflect-metadata', 'nestjs-zookeeper-lock', 'node-zookeeper-client', '@opentelemetry/api']
    .map((name) => [name, version(name)])
    .filter(([, v]) => v);
  return { dir, appFile, installed: Object.fromEntries(installed), installMs: Date.now() - t0 };
}

// ------------------------------------------------------------------------------------ 3. the checks

function startApp(variant, app, zkConnect) {
  const child = spawn(process.execPath, [app.appFile], {
    cwd: app.dir,
    env: cleanEnv({ ZK_CONNECT: zkConnect, LOCK_NAMESPACE: `/package-check/${variant.name}` }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  const state = { child, stdout: '', stderr: '', exit: null };
  state.exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      state.exit = { code, signal };
      children.delete(child);
      resolve(state.exit);
    }),
  );
  child.stderr.on('data', (d) => (state.stderr += d));
  state.ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new CheckFailed(`${variant.name}: the app printed no READY line within 30 s`)), 30_000);
    child.stdout.on('data', (d) => {
      state.stdout += d;
      const match = /READY port=(\d+)/.exec(state.stdout);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    state.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new CheckFailed(`${variant.name}: the app exited (code ${code}, signal ${signal}) before it was ready:\n${tail(state.stdout + state.stderr)}`));
    });
  });
  return state;
}

async function request(base, method, url) {
  const response = await fetch(`${base}${url}`, { method, signal: AbortSignal.timeout(15_000) });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, headers: response.headers, body };
}

function expectResponse(variant, what, res, status, matches = {}) {
  const show = `${res.status} ${JSON.stringify(res.body)}`;
  expect(res.status === status, `${variant.name}: ${what}: expected HTTP ${status}, got ${show}`);
  for (const [key, value] of Object.entries(matches)) {
    const actual = res.body?.[key];
    const ok = value instanceof RegExp ? value.test(String(actual)) : actual === value;
    expect(ok, `${variant.name}: ${what}: expected ${key} ${value}, got ${show}`);
  }
}

async function checkApp(variant, app, zkConnect) {
  const t0 = Date.now();
  const proc = startApp(variant, app, zkConnect);
  const port = await proc.ready;
  const base = `http://127.0.0.1:${port}`;
  const id = 'acct-1';

  expectResponse(variant, 'GET /gates/acct-1 (app answers)', await request(base, 'GET', `/gates/${id}`), 200, { holding: false });

  const held = request(base, 'POST', `/items/${id}/hold`); // holds the lock until /gates/acct-1/release
  held.catch(() => {}); // awaited below; do not let a failure surface as an unhandled rejection meanwhile
  const deadline = Date.now() + 15_000;
  for (;;) {
    const res = await request(base, 'GET', `/gates/${id}`);
    if (res.body?.holding === true) break;
    expect(Date.now() < deadline, `${variant.name}: the first POST /items/${id}/hold never reached its handler (lock not taken?)`);
    await new Promise((r) => setTimeout(r, 50));
  }

  const conflict = await request(base, 'POST', `/items/${id}/touch`);
  expectResponse(variant, `POST /items/${id}/touch while held`, conflict, 409, { statusCode: 409 });
  expect(conflict.headers.get('retry-after') === '1', `${variant.name}: the 409 lacks Retry-After: 1 (got ${conflict.headers.get('retry-after')})`);
  expectResponse(variant, `second POST /items/${id}/hold while held`, await request(base, 'POST', `/items/${id}/hold`), 409);
  expectResponse(variant, `LockService.withLock(${id}) while held`, await request(base, 'POST', `/items/${id}/direct`), 201, { conflict: true, code: 'LOCK_CONFLICT' });
  expectResponse(variant, 'POST /items/acct-2/touch (another id) while acct-1 is held', await request(base, 'POST', '/items/acct-2/touch'), 201, { touched: true });
  expectResponse(variant, '@Locked provider method (scope jobs)', await request(base, 'POST', `/items/${id}/job`), 201, { ran: true, scope: 'jobs' });

  expectResponse(variant, `POST /gates/${id}/release`, await request(base, 'POST', `/gates/${id}/release`), 201, { released: true });
  expectResponse(variant, `the held POST /items/${id}/hold after release`, await held, 201, { held: true, token: /^\d+$/ });
  expectResponse(variant, `POST /items/${id}/touch after release`, await request(base, 'POST', `/items/${id}/touch`), 201, { touched: true });
  expectResponse(variant, `LockService.withLock(${id}) after release`, await request(base, 'POST', `/items/${id}/direct`), 201, { direct: true, scope: 'default' });

  // Graceful stop: enableShutdownHooks closes the app (and the ZooKeeper session) on SIGTERM.
  proc.child.kill('SIGTERM');
  const stopped = await Promise.race([proc.exited, new Promise((r) => setTimeout(() => r(null), 10_000))]);
  if (!stopped) {
    proc.child.kill('SIGKILL');
    await proc.exited;
    fail(`${variant.name}: the app did not stop within 10 s of SIGTERM`);
  }
  expect(
    stopped.signal === 'SIGTERM' || stopped.code === 0,
    `${variant.name}: the app ended badly on SIGTERM (code ${stopped.code}, signal ${stopped.signal}):\n${tail(proc.stderr)}`,
  );

  // RpcException / WsException through the interceptor's lazy require.
  const probe = await run(process.execPath, ['probe.mjs'], { cwd: app.dir });
  expect(probe.code === 0, `${variant.name}: the RPC/WebSocket exception probe failed:\n${tail(probe.output)}`);
  const transport = JSON.parse(probe.output.trim().split('\n').pop());
  for (const [type, expectedKind] of [['rpc', 'RpcException'], ['ws', 'WsException']]) {
    const r = transport[type];
    const want = variant.transportPackages ? expectedKind : 'fallback';
    expect(
      r.kind === want && r.statusCode === 409 && r.code === 'LOCK_CONFLICT',
      `${variant.name}: a lock conflict in a ${type} context should throw ${want} with statusCode 409, got ${JSON.stringify(r)}`,
    );
  }
  // nestjs-zookeeper-lock/testing, in this app's module system.
  const testingFile = variant.esm ? 'testing.mjs' : 'testing.cjs';
  const testingRun = await run(process.execPath, [testingFile], { cwd: app.dir });
  expect(testingRun.code === 0, `${variant.name}: ${testingFile} (nestjs-zookeeper-lock/testing) failed:\n${tail(testingRun.output)}`);
  const testing = JSON.parse(testingRun.output.trim().split('\n').pop());
  const wantTesting = {
    conflict: 'LockConflictError',
    heldAfterRelease: true,
    mainHasTestDoubles: [],
    mainHasInternals: [],
    deepImport: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    openTelemetryLoaded: Boolean(variant.openTelemetry),
  };
  expect(
    JSON.stringify(testing) === JSON.stringify(wantTesting),
    `${variant.name}: ${testingFile} should report ${JSON.stringify(wantTesting)}, got ${JSON.stringify(testing)}`,
  );
  return {
    ms: Date.now() - t0,
    testing: `./testing (${variant.esm ? 'ESM' : 'CJS'}): in-memory conflict with the main entry's LockConflictError, deep import refused` +
      (variant.openTelemetry ? ', @opentelemetry/api loaded (no SDK)' : ', @opentelemetry/api absent and not needed'),
    transport: variant.transportPackages
      ? 'conflict in rpc/ws context -> RpcException/WsException (409)'
      : 'conflict in rpc/ws context -> fallback Error (409; transports not installed)',
    stderr: proc.stderr.trim(),
  };
}

// ------------------------------------------------------------------------------------------- cleanup

let tmpRoot;
let zkStarting;
let keep = false;
let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    for (const child of children) child.kill('SIGKILL');
    const deadline = Date.now() + 5000;
    while (children.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    try {
      await zkHarness.killAll(runTag);
      if (zkStarting) {
        // A server still starting may have spawned its JVM after that look: wait for the start to settle.
        await Promise.race([zkStarting.catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
        await zkHarness.killAll(runTag);
      }
    } catch (error) {
      log(`cleanup: ${error.message}`);
    }
    if (tmpRoot && !keep) fs.rmSync(tmpRoot, { recursive: true, force: true });
    else if (tmpRoot) log(`kept ${tmpRoot}`);
    const leftovers = spawnSync('pgrep', ['-f', `nzl.harness=${runTag}`], { encoding: 'utf8' }).stdout.trim();
    if (leftovers || children.size) {
      log(`FAIL cleanup: processes left running: ${[leftovers, ...[...children].map((c) => c.pid)].filter(Boolean).join(' ')}`);
      process.exitCode = 1;
    }
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    log(`\n${signal}: cleaning up`);
    cleanup().finally(() => process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 })[signal]));
  });
}

// ---------------------------------------------------------------------------------------------- main

async function main() {
  const args = process.argv.slice(2);
  keep = args.includes('--keep');
  const wanted = args.filter((a) => !a.startsWith('--'));
  const unknown = wanted.filter((w) => !VARIANTS.some((v) => v.name === w));
  if (unknown.length) fail(`unknown variant(s) ${unknown.join(', ')}; known: ${VARIANTS.map((v) => v.name).join(', ')}`);
  const variants = wanted.length ? VARIANTS.filter((v) => wanted.includes(v.name)) : VARIANTS;

  tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'nzl-package-check-'));
  log(`package check of ${repoRoot} (node ${process.version}, run ${runTag}, temp ${tmpRoot})`);
  const { tarball, manifest } = await pack(tmpRoot);
  log(`peerDependencies: ${JSON.stringify(manifest.peerDependencies)}`);
  for (const v of variants) v.manifest = manifest;

  log(`installing ${variants.length} app(s) and starting ZooKeeper ...`);
  const t0 = Date.now();
  zkStarting = zkHarness.startStandalone({ dir: path.join(tmpRoot, 'zk'), forceSync: false });
  zkStarting.catch(() => {});
  const installs = await Promise.allSettled(variants.map((v) => installApp(v, tmpRoot, tarball)));
  const failed = installs.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  const zk = await zkStarting;
  log(`installed in ${seconds(Date.now() - t0)}; ZooKeeper at ${zk.connectString}`);

  for (const [i, variant] of variants.entries()) {
    const app = installs[i].value;
    const versions = Object.entries(app.installed).map(([n, v]) => `${n}@${v}`).join(' ');
    log(`${variant.name}: ${versions}`);
    const result = await checkApp(variant, app, zk.connectString);
    if (result.stderr) log(`  (app stderr)\n${tail(result.stderr)}`);
    log(
      `PASS ${variant.name}: Nest ${app.installed['@nestjs/core']} ${variant.esm ? 'ESM' : 'CommonJS'} on ${variant.platform} ` +
        `${app.installed[variant.platform] ?? ''}: 409 while held, 201 after release, LockService injected, @Locked, ` +
        `@CurrentLock token, SIGTERM stop; ${result.transport}; ${result.testing} (${seconds(result.ms)})`,
    );
  }
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  exitCode = 1;
  log(`FAIL ${error instanceof CheckFailed ? error.message : error.stack}`);
}
await cleanup();
if (process.exitCode) exitCode = 1;
log(`${exitCode ? 'package check FAILED' : 'package check passed'} in ${seconds(Date.now() - started)}`);
process.exit(exitCode);
