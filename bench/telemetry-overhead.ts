/**
 * What the OpenTelemetry hooks cost one lock cycle when @opentelemetry/api is installed but no SDK is
 * registered (the API's no-op meter and tracer): `npm run bench:telemetry`. Compare with a fail-fast
 * acquire+release cycle (about 400 µs against a local server, see README Benchmarks).
 */
import { LockTelemetry } from '../lib/telemetry/lock-telemetry';

const telemetry = LockTelemetry.create();
if (!telemetry) throw new Error('@opentelemetry/api is not installed');
const N = 1_000_000;
const cycle = () => {
  const observed = telemetry.startAcquire('accounts', false, 1);
  observed.acquired(0.4);
  telemetry.holdEnded('accounts', 1.2, 'released');
};
for (let i = 0; i < 100_000; i++) cycle(); // warm-up
const rounds: number[] = [];
for (let round = 0; round < 5; round++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) cycle();
  rounds.push(Number(process.hrtime.bigint() - t0) / N);
}
rounds.sort((a, b) => a - b);
console.log(`telemetry hooks per lock cycle, API without SDK: median ${rounds[2].toFixed(0)} ns (rounds: ${rounds.map((r) => r.toFixed(0)).join(', ')} ns)`);
