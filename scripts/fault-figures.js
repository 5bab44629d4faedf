#!/usr/bin/env node
'use strict';
/**
 * Prints the reliability suite's figures (reports/fault-figures.json, written by test/faults) as a
 * markdown table. Usage: node scripts/fault-figures.js [figures.json]
 */
const fs = require('node:fs');
const path = require('node:path');

const file = process.argv[2] || process.env.NZL_FAULT_FIGURES || path.join(__dirname, '..', 'reports', 'fault-figures.json');
if (!fs.existsSync(file)) {
  process.stderr.write(`${file} not found: run the fault suite first (npx jest -c jest.faults.config.js)\n`);
  process.exit(1);
}
const figures = JSON.parse(fs.readFileSync(file, 'utf8'));
const EXPECTED = 10; // scenarios 0 (control) to 9

const dash = (value) => (value === null || value === undefined ? '–' : String(value));
const cell = (value) => dash(value).replace(/\|/g, '\\|');
const extra = (record) =>
  Object.entries(record.extra || {})
    .map(([key, value]) => `${key}: ${value}`)
    .join('; ');

const m = figures.machine || {};
const lines = [];
lines.push(
  `Fault suite figures, ${(figures.startedAt || '').slice(0, 10)}: ${m.cpus} vCPU ${m.cpuModel}, ${m.memoryGb} GB, ` +
    `Node ${m.node}, ZooKeeper ${m.zookeeper} (Debian package; loopback; standalone fsync on, ensemble forceSync=no).`,
);
lines.push('');
lines.push('| scenario | requests | 200 | 400 | 409 | 503 | other | lost updates | overlaps | max latency ms | orphaned nodes | notes |');
lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
for (const record of figures.scenarios) {
  const o = record.outcomes;
  lines.push(
    `| ${cell(record.scenario)} | ${record.requests} | ${o[200]} | ${o[400]} | ${o[409]} | ${o[503]} | ${o.other} | ` +
      `${dash(record.lostUpdates)} | ${dash(record.overlaps)} | ${dash(record.maxLatencyMs)} | ${dash(record.orphanedNodes)} | ${cell(extra(record))} |`,
  );
}
lines.push('');
lines.push(
  'For LockService scenarios (3, 4, 6, 7, 8) the columns count lock calls: 200 acquired, 400 InvalidLockIdError, ' +
    '409 LockConflictError, 503 LockUnavailableError; other = anything else (a failure). – = not applicable.',
);
if (figures.scenarios.length < EXPECTED) {
  lines.push('');
  lines.push(`Only ${figures.scenarios.length} of ${EXPECTED} scenarios recorded figures: some did not run to the end.`);
}
process.stdout.write(lines.join('\n') + '\n');
