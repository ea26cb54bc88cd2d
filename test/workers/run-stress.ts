/**
 * Spawns stress workers (compiled JS from dist/) on one space and collects their results and
 * the violations their shadow oracle reported.
 */
import type { IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';
import { runWords } from '../../src/workers/run-layout.js';
import { checkWords, shadowSetBase } from '../../stress/check/check-layout.js';
import { readViolations } from '../../stress/check/violations.js';
import { N_OPS } from '../../stress/ops/index.js';
import { mixOf } from '../../stress/scenarios.js';
import { startTestWorker } from '../helpers/workers.js';
import type { StressResult, StressWorkerData } from './ioasid-stress-protocol.js';

export interface StressPlan {
  workers: number;
  seed: number;
  ops: number;
  maxHold: number;
  /** The sets every worker uses and the quota the shadow oracle holds each to. */
  sets: number[];
  quotas: number[];
}

export interface StressOutcome {
  results: StressResult[];
  /** Each violation kind reported, with its first report's reason. */
  violations: { kind: string; count: number; why: string }[];
}

/** The operations of these tests: allocation, release and lookups of held ids. */
const MIX = mixOf({ alloc: 45, free: 31, find: 12, get: 6, put: 6 });

export async function runStress(space: IoasidSpace, plan: StressPlan): Promise<StressOutcome> {
  const runGeometry = { cpus: plan.workers, nOps: N_OPS };
  const pasidBits = Math.log2(space.maxId + 1);
  const checkGeometry = { cpus: plan.workers, pasidBits, maxSets: space.maxSets };
  const check = new SharedArrayBuffer(checkWords(checkGeometry) * 4);
  const cw = new Int32Array(check);
  plan.sets.forEach((set, i) => {
    Atomics.store(cw, shadowSetBase(checkGeometry, set) + 1, plan.quotas[i]!);
  });
  const run = new SharedArrayBuffer(runWords(runGeometry) * 4);
  const clock = new SharedArrayBuffer(4);
  const runs: Promise<StressResult>[] = [];
  for (let w = 0; w < plan.workers; w++) {
    const data: StressWorkerData = {
      handle: space.handle,
      worker: w,
      seed: plan.seed,
      ops: plan.ops,
      sets: plan.sets,
      mix: MIX,
      check,
      checkGeometry,
      run,
      runGeometry,
      clock,
      maxHold: plan.maxHold,
    };
    runs.push(
      new Promise((resolve, reject) => {
        const worker = startTestWorker('ioasid-stress-worker', data);
        worker.once('message', (m: StressResult) => resolve(m));
        worker.once('error', reject);
        worker.once('exit', (code) => {
          if (code !== 0) reject(new Error(`worker ${w} exited with ${code}`));
        });
      }),
    );
  }
  const results = await Promise.all(runs);
  const violations = readViolations(cw)
    .filter((t) => t.count > 0)
    .map((t) => ({ kind: t.kind, count: t.count, why: t.first?.why ?? '' }));
  return { results, violations };
}
