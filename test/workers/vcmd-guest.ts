/**
 * A guest vCPU thread of the custom allocator test: registers its own ops object under the
 * group 'vcmd' (alloc and free go to the hypervisor through its mailbox), then runs a seeded
 * mix of alloc, get, find, free and put on its own ids in the VM's set, claiming each id in a
 * shared owner table (an id live twice would fail the claim). At the end it frees everything,
 * waits for the other guests, and unregisters.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';
import { Prng } from '../../src/workers/prng.js';
import {
  type GuestData,
  type GuestResult,
  MB_GO,
  MB_GUESTS_DONE,
  MB_REGISTERED,
  mailboxCall,
  OP_ALLOC,
  OP_FREE,
} from './vcmd-protocol.js';

function run(d: GuestData): GuestResult {
  const space = IoasidSpace.attach(d.handle);
  const mb = new Int32Array(d.mailboxes);
  const owners = new Int32Array(d.owners);
  const prng = new Prng(d.seed, 300 + d.guest);
  const me = d.guest + 1;
  const res: GuestResult = {
    allocs: 0,
    enospc: 0,
    eexist: 0,
    frees: 0,
    duplicateLive: 0,
    badData: 0,
    unregister: 0,
    register: 0,
  };
  const ops = {
    name: 'vcmd',
    alloc: (min: number, max: number) => mailboxCall(mb, d.guest, OP_ALLOC, min, max),
    free: (id: number) => {
      if (!d.leakyFree) mailboxCall(mb, d.guest, OP_FREE, id, 0);
    },
  };
  res.register = space.registerAllocator(ops);
  Atomics.add(mb, MB_REGISTERED, 1);
  while (Atomics.load(mb, MB_GO) === 0) Atomics.wait(mb, MB_GO, 0, 50);
  const held: Array<{ id: number; data: number }> = [];
  const release = (k: number) => {
    const { id } = held[k]!;
    held[k] = held[held.length - 1]!;
    held.pop();
    // Cleared before the call that reclaims (the id may be handed out again right after).
    if (!d.keepOwners) Atomics.store(owners, id, 0);
    const got = prng.oneIn(3);
    if (got && space.get(d.set, id) !== 0) throw new Error('get');
    if (space.free(d.set, id) !== 0) throw new Error('free');
    if (got && space.put(d.set, id) !== 1) throw new Error('put');
    res.frees++;
  };
  for (let i = 0; i < d.iterations; i++) {
    if (held.length > 0 && (held.length >= 12 || prng.oneIn(2))) {
      release(prng.below(held.length));
      continue;
    }
    const data = (me << 20) | i;
    const id = space.alloc(d.set, 1, d.maxId, data);
    if (id === -28) res.enospc++;
    else if (id === -17) res.eexist++;
    else if (id <= 0) throw new Error(`guest ${d.guest}: alloc ${id}`);
    else {
      res.allocs++;
      if (Atomics.compareExchange(owners, id, 0, me) !== 0) res.duplicateLive++;
      held.push({ id, data });
      if (space.find(d.set, id) !== data) res.badData++;
    }
  }
  while (held.length > 0) release(held.length - 1);
  // Barrier: the last member's unregister needs every guest's ids freed.
  Atomics.add(mb, MB_GUESTS_DONE, 1);
  while (Atomics.load(mb, MB_GUESTS_DONE) < d.guests)
    Atomics.wait(mb, MB_GUESTS_DONE, Atomics.load(mb, MB_GUESTS_DONE), 50);
  res.unregister = space.unregisterAllocator(ops);
  space.detach();
  return res;
}

parentPort?.postMessage(run(workerData as GuestData));
