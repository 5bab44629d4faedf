const { fork } = require('node:child_process');
const http = require('node:http');
const harness = require('../scripts/zk.js');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = (port, path) => new Promise((res, rej) => http.get({ host: '127.0.0.1', port, path, agent }, (r) => { r.resume(); r.on('end', res); }).on('error', rej));
(async () => {
  const server = await harness.startStandalone({ tickTime: 2000, dir: require('fs').mkdtempSync('/dev/shm/nzl-s-') });
  const child = fork('bench/http-app.ts', [], { execArgv: ['-r', 'ts-node/register/transpile-only'], env: { ...process.env, ZOOKEEPER_CONNECT: server.connectString }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise((r) => child.once('message', (m) => r(m.port)));
  let n = 0;
  for (let round = 0; round < 2; round++) for (const route of ['manual', 'checked', 'locked']) {
    const lat = [];
    for (let i = 0; i < 1500; i++) { const t0 = performance.now(); await get(port, `/${route}/s${n++}`); lat.push(performance.now() - t0); }
    lat.sort((a, b) => a - b);
    const q = (x) => (lat[Math.floor(x * lat.length)] * 1000).toFixed(0);
    console.log(route.padEnd(8), 'µs p10', q(0.1), 'p50', q(0.5), 'p90', q(0.9), 'p99', q(0.99), 'mean', (lat.reduce((a, b) => a + b) / lat.length * 1000).toFixed(0));
  }
  await new Promise((r) => { child.once('exit', r); child.send('stop'); });
  await server.stop();
})();
