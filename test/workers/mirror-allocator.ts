/**
 * Worker of test/first_hook_registration_races_warm_alloc_fast_path.test.ts: allocs and frees
 * ids of one set in a loop (its guessed reservation warm: the default path), loading the test's
 * epoch before each alloc. An odd epoch means a registration returned before this alloc began:
 * in mode 'subscriber' each such successful alloc is owed an ALLOC event (counted per round);
 * in mode 'custom' each such alloc must return -ENODEV (anything else is counted as wrong).
 * Acknowledges every epoch it saw, once its alloc under it returned.
 */
import { workerData } from 'node:worker_threads';
import { IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';
import {
  MC_ACK,
  MC_EPOCH,
  MC_ITER,
  MC_OWED,
  MC_STOP,
  MC_WRONG,
  type MirrorAllocatorData,
} from './mirror-protocol.js';

const ENODEV = 19;

function main(d: MirrorAllocatorData): void {
  const ctl = new Int32Array(d.control);
  const space = IoasidSpace.attach(d.handle);
  while (Atomics.load(ctl, MC_STOP) === 0) {
    const e = Atomics.load(ctl, MC_EPOCH);
    const id = space.alloc(d.set, 1, space.maxId);
    if (id > 0) space.free(d.set, id);
    if ((e & 1) === 1) {
      if (d.mode === 'subscriber' && id > 0) Atomics.add(ctl, MC_OWED + (e >> 1), 1);
      if (d.mode === 'custom' && id !== -ENODEV) Atomics.add(ctl, MC_WRONG, 1);
    }
    Atomics.store(ctl, MC_ACK, e);
    Atomics.add(ctl, MC_ITER, 1);
  }
  space.detach();
}

main(workerData as MirrorAllocatorData);
