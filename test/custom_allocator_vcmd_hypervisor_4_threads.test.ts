/**
 * A guest-style custom allocator: 4 guest vCPU threads each register their own ops object
 * under the group 'vcmd', whose alloc and free ask a "hypervisor" thread over a shared-memory
 * mailbox (Atomics.wait/notify), as a VT-d guest uses the virtual command interface. The
 * hypervisor owns fewer PASIDs than the guests want, so its -ENOSPC passes through. Checked,
 * by name: no id live twice (`duplicate-live`), find returns each allocation's data
 * (`bad-data`), every PASID the host handed out comes back exactly once (`host-leak`,
 * `host-bad-free`), the space ends empty with the default allocator active (`space-leak`),
 * and a thread without a member gets -ENODEV. Broken twins: a guest whose free does not
 * reach the host (`host-leak`); an owner table never cleared (`duplicate-live`). A host that
 * hands a PASID out twice never gets it live twice here.
 */
import { describe, expect, it } from 'vitest';
import { IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import { testSeed } from './helpers/seed.js';
import { exited, startTestWorker, until } from './helpers/workers.js';
import {
  type GuestData,
  type GuestResult,
  type HypervisorData,
  MB_BAD_FREES,
  MB_DOUBLE_HANDS,
  MB_GO,
  MB_REGISTERED,
  MB_STOP,
} from './workers/vcmd-protocol.js';

const FILE = 'test/custom_allocator_vcmd_hypervisor_4_threads.test.ts';
const GUESTS = 4;
const POOL = 24;

interface Twin {
  leakyFree?: boolean;
  keepOwners?: boolean;
  doubleHand?: boolean;
}

async function run(seed: number, twin: Twin = {}) {
  const space = IoasidSpace.create({ pasidBits: 8, maxSets: 2, maxIoasids: 512, maxThreads: 8 });
  const set = space.setAlloc(null, 100, SetType.NULL);
  const mailboxes = new SharedArrayBuffer(4 * (16 + 16 * GUESTS));
  const mb = new Int32Array(mailboxes);
  const host = new SharedArrayBuffer(4 * (POOL + 1));
  const owners = new SharedArrayBuffer(4 * (space.maxId + 1));
  const hv = startTestWorker('vcmd-hypervisor', {
    mailboxes,
    host,
    guests: GUESTS,
    pool: POOL,
    doubleHand: twin.doubleHand ?? false,
  } satisfies HypervisorData);
  const hvExit = exited(hv);
  const guests = Array.from({ length: GUESTS }, (_, guest) =>
    startTestWorker('vcmd-guest', {
      handle: space.handle,
      mailboxes,
      owners,
      guest,
      guests: GUESTS,
      set,
      seed,
      iterations: 1500,
      maxId: space.maxId,
      leakyFree: twin.leakyFree ?? false,
      keepOwners: twin.keepOwners ?? false,
    } satisfies GuestData),
  );
  const results = guests.map(
    (w) =>
      new Promise<GuestResult>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      }),
  );
  const guestsExit = guests.map(exited);
  // Every guest is a member now; this thread is none: -ENODEV, and nothing changes.
  await until(() => Atomics.load(mb, MB_REGISTERED) === GUESTS);
  const enodev = space.alloc(set, 1, space.maxId);
  const activeDuring = space.activeAllocator();
  Atomics.store(mb, MB_GO, 1);
  Atomics.notify(mb, MB_GO);
  const r = await Promise.all(results);
  await Promise.all(guestsExit);
  Atomics.store(mb, MB_STOP, 1);
  Atomics.notify(mb, 0);
  await hvExit;
  const hostHeld = [...new Int32Array(host)].flatMap((v, p) => (v !== 0 ? [p] : []));
  const sum = (k: keyof GuestResult) => r.reduce((a, x) => a + x[k], 0);
  const violations: string[] = [];
  if (sum('duplicateLive') > 0) violations.push('duplicate-live');
  if (sum('badData') > 0) violations.push('bad-data');
  if (hostHeld.length > 0) violations.push('host-leak');
  if (Atomics.load(mb, MB_BAD_FREES) > 0) violations.push('host-bad-free');
  const info = space.setInfo(set);
  const st = space.stats();
  if (info?.count !== 0 || space.activeAllocator() !== 'default' || st.allocatorAbandoned !== 0)
    violations.push('space-leak');
  const out = {
    violations,
    enodev,
    activeDuring,
    registers: r.map((x) => x.register),
    unregisters: r.map((x) => x.unregister),
    allocs: sum('allocs'),
    enospc: sum('enospc'),
    eexist: sum('eexist'),
    doubleHands: Atomics.load(mb, MB_DOUBLE_HANDS),
  };
  space.detach();
  return out;
}

describe('custom allocator backed by a hypervisor thread', () => {
  it('4 guest threads share the group; ids, data and host PASIDs all check out', async () => {
    const o = await run(testSeed(FILE));
    console.log(JSON.stringify(o));
    expect(o.violations).toEqual([]);
    expect(o.registers).toEqual([0, 0, 0, 0]);
    expect(o.unregisters).toEqual([0, 0, 0, 0]);
    expect(o.activeDuring).toBe('vcmd');
    expect(o.enodev).toBe(-19);
    expect(o.allocs).toBeGreaterThan(100);
    expect(o.enospc).toBeGreaterThan(0); // the host's -ENOSPC passed through
    expect(o.eexist).toBe(0);
  });

  it('broken twin: a free that does not reach the host is caught as host-leak', async () => {
    const o = await run(testSeed(FILE), { leakyFree: true });
    expect(o.violations).toContain('host-leak');
  });

  it('broken twin: an owner table never cleared is caught as duplicate-live', async () => {
    const o = await run(testSeed(FILE), { keepOwners: true });
    expect(o.violations).toContain('duplicate-live');
  });

  it('a host that hands a PASID out twice never gets it live twice', async () => {
    // Refused with -EEXIST when the PASID is live here; waited for and taken when its holder
    // is reclaiming it (then it was free at the host). Which one happens is a race: the exact
    // -EEXIST rule is the model test's ('live' fault).
    const o = await run(testSeed(FILE), { doubleHand: true });
    console.log(`double hands ${o.doubleHands}, -EEXIST ${o.eexist}`);
    expect(o.doubleHands).toBeGreaterThan(0);
    expect(o.violations).not.toContain('duplicate-live');
  });
});
