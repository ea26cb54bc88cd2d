/**
 * IOASID bench: single-CPU alloc+free pair, find and findBySpid as ns/op and as a ratio to
 * one Atomics.load + Atomics.compareExchange measured in the same run, all in one worker
 * thread (bench/ioasid-single-worker.ts); byteLength of a space with the default options.
 * The multi-CPU figures (disjoint sets, one set, separate spaces, against the control loop)
 * are the scaling bench's (bench/scaling.ts).
 *
 * The machines are shared and noisy, so the figures are measured in 31 short interleaved
 * rounds: each round times the baseline, every figure, and the baseline again, and divides
 * each figure by the lower of the two baselines around it. The table reports the median ns
 * and the median of those per-round ratios, which moves far less than a ratio of two
 * separately taken medians. The RCU read side (readLock + readUnlock) is shown as a
 * reference row: `find` is that plus the map and data loads.
 *
 * Run alone with `node dist/bench/ioasid.js` (after `npm run build`), or through
 * `npm run bench`.
 */
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { workerModuleUrl } from '../src/workers/worker-url.js';
import type { SingleCpuRow } from './ioasid-single-worker.js';
import { renderTargets, type Target, target } from './targets.js';

/** Targets of issues 3 and 13 judged here: 1-CPU figures as multiples of one load+CAS. */
const TARGETS: Record<string, { name: string; max: number }> = {
  'alloc + free pair, 1 CPU': { name: 'alloc+free pair, 1 CPU, vs one load+CAS', max: 10 },
  'find, 1 CPU': { name: 'find, 1 CPU, vs one load+CAS (issue 3)', max: 3 },
};
const BYTES_MAX = 8 * 2 ** 20;

/** What bench/ioasid.ts measures. */
export interface IoasidBenchResult {
  rows: SingleCpuRow[];
  byteLength: number;
  targets: Target[];
}

function measure(): Promise<{ rows: SingleCpuRow[]; byteLength: number }> {
  const w = new Worker(workerModuleUrl(import.meta.url, './ioasid-single-worker.js'));
  return new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
}

/** Print the IOASID bench table and its targets. */
export async function main(): Promise<IoasidBenchResult> {
  const { rows, byteLength } = await measure();
  const base = rows[0]!;
  const ts: Target[] = [];
  for (const r of rows) {
    const t = TARGETS[r.name];
    if (t)
      ts.push(
        target(
          t.name,
          r.ratio,
          'x',
          '<=',
          t.max,
          `${r.ns.toFixed(1)} ns; load+CAS ${base.ns.toFixed(1)} ns`,
        ),
      );
  }
  const row = (name: string, ns: number, ratio: number) =>
    `${name.padEnd(44)} ${ns.toFixed(1).padStart(9)} ${ratio.toFixed(1).padStart(8)}x`;
  const lines = [
    `${'IOASID, 1 CPU (a worker; median of 31 interleaved rounds)'.padEnd(44)} ${'ns/op'.padStart(9)} ${'vs L+CAS'.padStart(9)}`,
    ...rows.map((r) => row(r.name, r.ns, r.ratio)),
    `${'byteLength, default options (target <= 8 MiB)'.padEnd(44)} ${String(byteLength).padStart(9)} bytes = ${(byteLength / 2 ** 20).toFixed(2)} MiB ${byteLength <= BYTES_MAX ? 'met' : 'MISSED'}`,
    ...renderTargets('Targets (IOASID, 1 CPU)', ts),
  ];
  console.log(lines.join('\n'));
  return { rows, byteLength, targets: ts };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
