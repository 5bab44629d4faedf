const { fork } = require('node:child_process');
const autocannon = require('autocannon');
const harness = require('../scripts/zk.js');
(async () => {
  const server = await harness.startStandalone({ tickTime: 2000, dir: require('fs').mkdtempSync('/dev/shm/nzl-cnt-') });
  const port0 = server.clientPort;
  const child = fork('bench/http-app.ts', [], { execArgv: ['-r', 'ts-node/register/transpile-only'], env: { ...process.env, ZOOKEEPER_CONNECT: server.connectString }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise((r) => child.once('message', (m) => r(m.port)));
  const received = async () => Number((await harness.fourLetterWord(port0, 'srvr')).match(/Received: (\d+)/)[1]);
  let n = 0;
  for (const route of (process.env.R || 'locked,service,checked,locked,service,checked').split(',')) {
    const before = await received();
    const res = await autocannon({ url: `http://127.0.0.1:${port}`, connections: Number(process.env.C || 8), duration: 2, requests: [{ setupRequest: (req) => ({ ...req, path: `/${route}/c${n++}` }) }] });
    await new Promise((r) => setTimeout(r, 300));
    const after = await received();
    console.log(route, 'p50', res.latency.p50, 'avg', res.latency.average, 'requests', res.requests.total, 'zk packets/request', ((after - before) / res.requests.total).toFixed(2));
  }
  await new Promise((r) => { child.once('exit', r); child.send('stop'); });
  await server.stop();
})();
