#!/usr/bin/env node
/**
 * Top self-time frames of a V8 .cpuprofile (from `node --cpu-prof`), as a Markdown table:
 *   node scripts/cpu-profile-top.js <file.cpuprofile> [N=15]
 * Self time = samples whose top frame is the function; frames are grouped by function, file and line.
 */
const fs = require('node:fs');
const path = require('node:path');

const [file, count = '15'] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node scripts/cpu-profile-top.js <file.cpuprofile> [N]\n');
  process.exit(2);
}
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const deltas = profile.timeDeltas;
let total = 0;
profile.samples.forEach((id, i) => {
  const node = byId.get(id);
  const f = node.callFrame;
  const where = f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : '';
  const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
  const dt = deltas[i] ?? 0;
  self.set(key, (self.get(key) ?? 0) + dt);
  total += dt;
});
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(count));
process.stdout.write(`| self % | self ms | frame |\n|---|---|---|\n`);
for (const [key, us] of rows) process.stdout.write(`| ${((us / total) * 100).toFixed(1)} | ${(us / 1000).toFixed(0)} | ${key.replace(/\|/g, '\\|')} |\n`);
