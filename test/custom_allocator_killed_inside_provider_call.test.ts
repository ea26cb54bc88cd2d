/**
 * A guest thread terminated inside its custom allocator's call (a vcmd round trip the
 * hypervisor never answers), then `releaseThread` of its slot. Nothing hangs: the main thread,
 * another member of the group, allocates and frees through the hypervisor at once. Inside
 * `alloc`: the provider may have handed out an id nobody knows (at most once): counted in
 * `allocatorAbandoned`, everything else exact. Inside the `free` of a reclaim: the free is
 * owed; the next custom path of a member frees the id at the host (`allocatorDeferredFrees`),
 * so the host ends holding nothing. Either way the group leaves cleanly once its ids are freed.
 */
import { describe, expect, it } from 'vitest';
import { hooksHeaderGeometry, hooksThreadWord } from '../src/core/ioasid/hooks-layout.js';
import { type AllocatorOps, IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import { exited, startTestWorker, until } from './helpers/workers.js';
import {
  type GuestData,
  type HypervisorData,
  MB_GO,
  MB_HELD,
  MB_STOP,
  mailboxCall,
  OP_ALLOC,
  OP_FREE,
} from './workers/vcmd-protocol.js';

const POOL = 16;

async function killInside(holdOp: number, forgetful = false) {
  const space = IoasidSpace.create({ pasidBits: 6, maxSets: 2, maxIoasids: 64, maxThreads: 4 });
  const set = space.setAlloc(null, 20, SetType.NULL);
  const mailboxes = new SharedArrayBuffer(4 * (16 + 16 * 2));
  const mb = new Int32Array(mailboxes);
  const host = new SharedArrayBuffer(4 * (POOL + 1));
  const hostIds = () => [...new Int32Array(host)].flatMap((v, p) => (v !== 0 ? [p] : []));
  const hv = startTestWorker('vcmd-hypervisor', {
    mailboxes,
    host,
    guests: 2,
    pool: POOL,
    doubleHand: false,
    holdGuest: 0,
    holdOp,
  } satisfies HypervisorData);
  const hvExit = exited(hv);
  const victim = startTestWorker('vcmd-victim', {
    handle: space.handle,
    mailboxes,
    owners: new SharedArrayBuffer(4),
    guest: 0,
    guests: 2,
    set,
    seed: 1,
    iterations: 0,
    maxId: space.maxId,
    leakyFree: false,
    keepOwners: false,
  } satisfies GuestData);
  const messages: Array<{ slot?: number; id?: number }> = [];
  victim.on('message', (m) => messages.push(m));
  const victimExit = exited(victim);
  await until(() => messages.length > 0);
  const slot = messages[0]!.slot!;
  // The main thread joins the group with its own mailbox (guest index 1).
  const ops: AllocatorOps = {
    name: 'vcmd',
    alloc: (min, max) => mailboxCall(mb, 1, OP_ALLOC, min, max),
    free: (id) => void mailboxCall(mb, 1, OP_FREE, id, 0),
  };
  expect(space.registerAllocator(ops)).toBe(0);
  Atomics.store(mb, MB_GO, 1);
  Atomics.notify(mb, MB_GO);
  await until(() => Atomics.load(mb, MB_HELD) === 1);
  await victim.terminate();
  await victimExit;
  if (forgetful) {
    // Broken twin: a recovery that ignores the dead thread's hooks intent words.
    const hk = new Int32Array(space.handle.hooks);
    const hts = hooksThreadWord(hooksHeaderGeometry(hk), slot);
    for (let w = 0; w < 16; w++) Atomics.store(hk, hts + w, 0);
  }
  expect(space.releaseThread(slot)).toBeGreaterThan(0);
  // Nothing hangs: a member allocates and frees at once (and runs the deferred frees first).
  const a = space.alloc(set, 1, space.maxId, 7);
  expect(a).toBeGreaterThan(0);
  expect(space.find(set, a)).toBe(7);
  expect(space.free(set, a)).toBe(0);
  const st = space.stats();
  const result = {
    abandoned: st.allocatorAbandoned,
    deferred: st.allocatorDeferredFrees,
    hostHeld: hostIds(),
    count: space.setInfo(set)?.count,
    unregister: space.unregisterAllocator(ops),
    active: space.activeAllocator(),
    victimId: messages[1]?.id,
  };
  Atomics.store(mb, MB_STOP, 1);
  Atomics.notify(mb, 0);
  await hvExit;
  space.detach();
  return result;
}

describe('a guest killed inside its custom allocator call', () => {
  it('inside alloc: counted as abandoned, nothing hangs, nothing else leaks', async () => {
    const r = await killInside(OP_ALLOC);
    expect(r.abandoned).toBe(1);
    expect(r.count).toBe(0);
    expect(r.hostHeld).toEqual([]); // the held request was never served
    expect(r.unregister).toBe(0); // the dead member is gone, so this was the last one
    expect(r.active).toBe('default');
  });

  it('inside the free of a reclaim: the free is owed and done by another member', async () => {
    const r = await killInside(OP_FREE);
    expect(r.victimId).toBeGreaterThan(0);
    expect(r.deferred).toBe(1);
    expect(r.abandoned).toBe(0);
    expect(r.hostHeld).toEqual([]);
    expect(r.count).toBe(0);
    expect(r.unregister).toBe(0);
    expect(r.active).toBe('default');
  });

  it('broken twin: a recovery that ignores the hooks intent words leaks at the host', async () => {
    const r = await killInside(OP_FREE, true);
    expect(r.hostHeld).toEqual([r.victimId]);
    expect(r.unregister).toBe(-16); // the group keeps a live unit no one will give back
  });
});
