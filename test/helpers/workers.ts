import { Worker } from 'node:worker_threads';
import { workerModuleUrl } from '../../src/workers/worker-url.js';

/** Start the compiled copy of test worker `name` (under test/workers/) with `workerData`. */
export function startTestWorker(name: string, workerData: unknown): Worker {
  return new Worker(workerModuleUrl(import.meta.url, `../workers/${name}.js`), { workerData });
}

/** Resolve when `worker` has exited; rejects on a worker error. */
export function exited(worker: Worker): Promise<number> {
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', resolve);
  });
}

/** Poll `cond` on the event loop (never blocks it) until true or `ms` pass. */
export async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}
