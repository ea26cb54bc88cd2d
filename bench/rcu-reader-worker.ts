/** A registered RCU reader for the synchronize benchmark: parked (idle) or reading (busy). */
import { workerData } from 'node:worker_threads';
import { Rcu, type RcuHandle } from '../src/core/rcu/rcu.js';

const { handle, ctrl, busy } = workerData as {
  handle: RcuHandle;
  ctrl: SharedArrayBuffer;
  busy: boolean;
};
const flags = new Int32Array(ctrl);
const rcu = Rcu.attach(handle);
rcu.registerThread();
Atomics.add(flags, 1, 1); // registered
if (busy) {
  while (Atomics.load(flags, 0) === 0) {
    for (let i = 0; i < 1000; i++) {
      rcu.readLock();
      rcu.readUnlock();
    }
  }
} else {
  while (Atomics.load(flags, 0) === 0) Atomics.wait(flags, 0, 0);
}
rcu.unregisterThread();
