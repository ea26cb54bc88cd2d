/**
 * Worker for test/ioasid_fault_injection_is_detectable.test.ts (see FaultWorkerData for the
 * modes). Runs until the test sets the stop word, then detaches and posts a FaultWorkerResult.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';
import { Prng } from '../../src/workers/prng.js';
import {
  FAULT_ALLOCS,
  FAULT_BUSY_NAPS,
  FAULT_MAX_COUNT,
  FAULT_NAPS,
  FAULT_STOP,
  type FaultWorkerData,
  type FaultWorkerResult,
} from './ioasid-fault-protocol.js';

const d = workerData as FaultWorkerData;
const space = IoasidSpace.attach(d.handle);
const stop = new Int32Array(d.stop);
const nap = new Int32Array(new SharedArrayBuffer(4));
const prng = new Prng(d.seed, d.worker);
const next = (): number => prng.nextU32();

/** The getter: holds the read-side section open for 0.05 ms. */
function slowGetter(): boolean {
  Atomics.add(stop, FAULT_NAPS, 1); // progress the test can wait for
  const allocs = Atomics.load(stop, FAULT_ALLOCS);
  Atomics.wait(nap, 0, 0, 0.05);
  // A busy nap: a churner allocated while this reader held its section (a real chance for a
  // broken grace period to recycle the record under it).
  if (Atomics.load(stop, FAULT_ALLOCS) !== allocs) Atomics.add(stop, FAULT_BUSY_NAPS, 1);
  return true;
}

const held: number[] = [];
let ops = 0;
let maxCountSeen = 0;
while (Atomics.load(stop, FAULT_STOP) === 0) {
  ops++;
  if (d.mode === 'reader') {
    // Mostly the low ids, which the churners keep allocated (policy lowest).
    space.find(null, 1 + (next() % 4), slowGetter);
    continue;
  }
  if (held.length > 0 && (held.length >= 3 || next() % 2 === 0)) {
    space.free(d.set, held.splice(next() % held.length, 1)[0]!);
    continue;
  }
  Atomics.add(stop, FAULT_ALLOCS, 1); // progress the test bounds its run by
  const id = space.alloc(d.set, 1, space.maxId, ops & 0xffff);
  if (id < 0) continue;
  held.push(id);
  if (d.mode !== 'quota') continue;
  const count = space.setInfo(d.set)?.count ?? 0;
  if (count > maxCountSeen) {
    maxCountSeen = count;
    if (count > Atomics.load(stop, FAULT_MAX_COUNT)) Atomics.store(stop, FAULT_MAX_COUNT, count); // a hint for the test
  }
}
for (const id of held) space.free(d.set, id);
space.detach();
parentPort?.postMessage({
  worker: d.worker,
  ops,
  maxCountSeen,
} satisfies FaultWorkerResult);
