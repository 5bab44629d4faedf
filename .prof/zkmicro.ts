import { Logger } from '@nestjs/common';
import { mkdtempSync } from 'node:fs';
import { LockService } from '../lib/lock/lock.service';
import { ZookeeperLockBackend } from '../lib/recipes/zookeeper-lock.backend';
import { ZookeeperService } from '../lib/zookeeper/zookeeper.service';
const harness = require('../scripts/zk.js');
(async () => {
  Logger.overrideLogger(['error']);
  const server = await harness.startStandalone({ tickTime: 2000, dir: mkdtempSync('/dev/shm/nzl-m-') });
  const zk = new ZookeeperService({ connectionString: server.connectString, namespace: '/m' });
  await zk.connect();
  const locks = new LockService(new ZookeeperLockBackend(zk), zk.options);
  await zk.mkdirp('/raw');
  let t = 0;
  const checked = async (i: number) => { const p = `/raw/n${i}`; const tok = `t${++t}`; const c = await zk.create(p, { mode: 'ephemeral', data: Buffer.from(tok) }); const { data, stat } = await zk.getData(p); if (stat.ephemeralOwner === c.sessionId && data.toString() === tok) await zk.remove(p, stat.version); };
  const lock = async (i: number) => (await locks.acquire(`id-${i}`)).release();
  const withLock = async (i: number) => { await locks.withLock(`w-${i}`, () => i); };
  for (let r = 0; r < 3; r++) for (const [name, f] of [['checked', checked], ['lock', lock], ['withLock', withLock]] as const) {
    const t0 = performance.now(); let n = 0; const C = Number(process.env.C || 1); const c0 = process.cpuUsage();
    await Promise.all(Array.from({ length: C }, async (_, lane) => { while (performance.now() - t0 < 2000) await f(lane * 1e7 + r * 1e6 + n++); }));
    const cpu = process.cpuUsage(c0);
    console.log(name, 'C', C, (n * 1000 / (performance.now() - t0)).toFixed(0), '/s; CPU µs/op', ((cpu.user + cpu.system) / n).toFixed(0));
  }
  await zk.close(); await server.stop();
})();
