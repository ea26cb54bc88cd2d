/**
 * Worker for test/ioasid_kill_points_are_call_boundaries.test.ts: spins on a pattern until
 * terminated. Word 0 counts an atomic step, word 16 records it with a plain store.
 * - `atomic-then-plain`: CAS, then the plain record (what space-core.ts relies on: no kill point
 *   between them);
 * - `atomic-then-call`: CAS, a call to another Atomics builtin, then the plain record (the
 *   broken twin: the call is a kill point in every tier, so a kill can separate them; a call
 *   to a small JS function would be too, but only until the optimizer inlines it).
 */
import { parentPort, workerData } from 'node:worker_threads';

/** workerData of the kill-point worker. */
export interface KillPointWorkerData {
  buffer: SharedArrayBuffer;
  mode: 'atomic-then-plain' | 'atomic-then-call';
}

const d = workerData as KillPointWorkerData;
const a = new Int32Array(d.buffer);

parentPort?.postMessage('ready');
let sink = 0;
export const keep = () => sink;
if (d.mode === 'atomic-then-plain') {
  for (;;) {
    const v = a[16]!;
    if (Atomics.compareExchange(a, 0, v, v + 1) === v) a[16] = v + 1;
  }
} else {
  for (;;) {
    const v = a[16]!;
    if (Atomics.compareExchange(a, 0, v, v + 1) === v) {
      sink += Atomics.load(a, 40);
      a[16] = v + 1;
    }
  }
}
