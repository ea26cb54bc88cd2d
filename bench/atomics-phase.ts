/**
 * Which price is this vCPU charging for a locked operation right now? (bench/FINDINGS.md, "Why
 * the scaling rows were bimodal".) Every `interval` ms for `seconds` s, on this thread: one
 * probe of own-line load+CAS (timed-loop.ts probeCasNs: fastest of 8 rounds) and one of a
 * pure-ALU step (the scaling control loop's step). On this machine the first moves between
 * about 14 and 22-45 ns per vCPU for seconds at a time while the second stays put.
 *
 * Usage: `taskset -c <cpu> node dist/bench/atomics-phase.js [seconds] [interval-ms]`
 * (pin it to see one vCPU; run one per CPU at once to compare them). Not part of
 * `npm run bench`: a check of the machine before or beside a bench run.
 */
import { consume } from './harness.js';
import { probeCasNs } from './timed-loop.js';

const COMPUTE_STEPS = 8_000;
const COMPUTE_ROUNDS = 8;

let x = 0x9e3779b9;
/** ns per control-loop step: fastest of COMPUTE_ROUNDS rounds (as probeCasNs). */
function probeComputeNs(): number {
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < COMPUTE_ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < COMPUTE_STEPS; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x = Math.imul(x ^ (x << 5), 0x2545f491);
    }
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / COMPUTE_STEPS);
  }
  consume(x);
  return best;
}

const seconds = Number(process.argv[2] ?? 5);
const intervalMs = Number(process.argv[3] ?? 100);
if (!(seconds > 0 && seconds <= 600 && intervalMs >= 1 && intervalMs <= 10_000)) {
  console.error('usage: atomics-phase.js [seconds, over 0 up to 600] [interval-ms 1..10000]');
  process.exit(2);
}
// Warm: both probes run optimized before the first figure.
for (let k = 0; k < 20; k++) {
  probeCasNs();
  probeComputeNs();
}
const nap = new Int32Array(new SharedArrayBuffer(4));
const cas: number[] = [];
const alu: number[] = [];
const end = Date.now() + seconds * 1000;
while (Date.now() < end) {
  cas.push(probeCasNs());
  alu.push(probeComputeNs());
  Atomics.wait(nap, 0, 0, intervalMs); // sleep without the event loop
}
const range = (xs: number[]) => `${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)}`;
console.log(`load+CAS own line, ns: ${cas.map((v) => v.toFixed(1)).join(' ')}`);
console.log(`compute step, ns:      ${alu.map((v) => v.toFixed(2)).join(' ')}`);
console.log(
  `${cas.length} probes: load+CAS ${range(cas)} ns, compute step ${range(alu)} ns (fastest of 8 rounds each)`,
);
