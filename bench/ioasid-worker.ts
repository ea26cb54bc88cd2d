/**
 * Worker for bench/ioasid.ts: attaches the space, waits for the start flag, runs `n`
 * alloc+free pairs on its set, ids in [min, max], and posts the elapsed nanoseconds.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type IoasidHandle, IoasidSpace } from '../src/core/ioasid/ioasid-space.js';

interface BenchWorkerData {
  handle: IoasidHandle;
  set: number;
  min: number;
  max: number;
  n: number;
  /** Int32 [0] ready count, [1] start flag. */
  sync: SharedArrayBuffer;
}

const d = workerData as BenchWorkerData;
const space = IoasidSpace.attach(d.handle);
const sync = new Int32Array(d.sync);
// Warm-up, so both workers measure optimized code.
for (let i = 0; i < 20_000; i++) space.free(d.set, space.alloc(d.set, d.min, d.max));
Atomics.add(sync, 0, 1);
Atomics.notify(sync, 0);
Atomics.wait(sync, 1, 0);
const t0 = process.hrtime.bigint();
let fails = 0;
for (let i = 0; i < d.n; i++) {
  const id = space.alloc(d.set, d.min, d.max);
  if (id < 0) fails++;
  else space.free(d.set, id);
}
const ns = Number(process.hrtime.bigint() - t0);
space.detach();
parentPort?.postMessage({ ns, fails });
