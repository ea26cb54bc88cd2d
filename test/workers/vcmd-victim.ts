/**
 * A guest vCPU thread that is killed inside its provider call (test of custom allocator kill
 * safety): registers its member of group 'vcmd', reports its slot, waits for the go, then
 * allocates once (kill inside alloc) or allocates and frees (kill inside the free of the
 * reclaim); the hypervisor holds that request back, so the thread is still inside the call when
 * the main thread terminates it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';
import { type GuestData, MB_GO, mailboxCall, OP_ALLOC, OP_FREE } from './vcmd-protocol.js';

const d = workerData as GuestData;
const space = IoasidSpace.attach(d.handle);
const mb = new Int32Array(d.mailboxes);
space.registerAllocator({
  name: 'vcmd',
  alloc: (min, max) => mailboxCall(mb, d.guest, OP_ALLOC, min, max),
  free: (id) => void mailboxCall(mb, d.guest, OP_FREE, id, 0),
});
parentPort?.postMessage({ slot: space.rcu.slot });
while (Atomics.load(mb, MB_GO) === 0) Atomics.wait(mb, MB_GO, 0, 50);
const id = space.alloc(d.set, 1, d.maxId, 1);
parentPort?.postMessage({ id });
space.free(d.set, id); // held back when the test kills inside free
