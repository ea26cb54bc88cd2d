/** Spawns stress workers (compiled JS from dist/) on one space and collects their results. */
import type { IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';
import { startTestWorker } from '../helpers/workers.js';
import type { StressResult, StressWorkerData } from './ioasid-stress-protocol.js';

export interface StressPlan {
  workers: number;
  seed: number;
  ops: number;
  maxHold: number;
  /** Sets (and their quotas) each worker uses. */
  setsOf: (worker: number) => { sets: number[]; quotas: number[] };
}

export async function runStress(space: IoasidSpace, plan: StressPlan): Promise<StressResult[]> {
  const maxId = space.maxId;
  const shared = new SharedArrayBuffer(4 * (1 + maxId + 1 + space.maxSets));
  const runs: Promise<StressResult>[] = [];
  for (let w = 0; w < plan.workers; w++) {
    const { sets, quotas } = plan.setsOf(w);
    const data: StressWorkerData = {
      handle: space.handle,
      worker: w,
      seed: plan.seed,
      ops: plan.ops,
      sets,
      quotas,
      shared,
      maxId,
      maxSets: space.maxSets,
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
  return Promise.all(runs);
}
