/**
 * A registered RCU reader for the synchronize benchmark, in the shape of liburcu's
 * urcu-bench readers: a short read-side section (16 dependent multiply-adds on the published
 * object) followed by 512 outside it, until told to stop. A qsbr reader announces a
 * quiescent state after each section (its sections cost nothing; that is its part).
 */
import { workerData } from 'node:worker_threads';
import { Rcu, type RcuHandle } from '../src/core/rcu/rcu.js';
import { consume } from './harness.js';

/** Dependent multiply-adds inside a section, and outside it (urcu-bench's CS_WORK, OUTSIDE_WORK). */
const CS_WORK = 16;
const OUTSIDE_WORK = 512;

const { handle, ctrl, object } = workerData as {
  handle: RcuHandle;
  /** [0] stop flag, [1] readers registered. */
  ctrl: SharedArrayBuffer;
  /** The published object: 8 Int32 words the section reads. */
  object: SharedArrayBuffer;
};
const flags = new Int32Array(ctrl);
const obj = new Int32Array(object);
const rcu = Rcu.attach(handle);
rcu.registerThread();
Atomics.add(flags, 1, 1); // registered
let x = 0x2545f491;
while (Atomics.load(flags, 0) === 0) {
  rcu.readLock();
  for (let k = 0; k < CS_WORK; k++) x = (Math.imul(x, 0x5851f42d) + Atomics.load(obj, k & 7)) | 0;
  rcu.readUnlock();
  rcu.quiescentState();
  for (let k = 0; k < OUTSIDE_WORK; k++) x = (Math.imul(x, 0x5851f42d) + 0x14057b7e) | 0;
}
consume(x);
rcu.unregisterThread();
