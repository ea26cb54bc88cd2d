/**
 * The stress harness's SpaceProbe (stress/space-probe.ts) reads the space's words directly to
 * say where a killed CPU died and what is left at the end of a run. Its broken twin would be a
 * probe that reads the wrong words and always says "nothing": so here it must see a set lock,
 * a SPID lock and a read-side section held by a thread, name their owner, count SPID
 * bindings, and see none of it once `releaseThread` has recovered that thread.
 *
 * The "dead" thread is a second attachment of the space in this thread (its own Rcu slot and
 * thread slot, as in ioasid_kill_at_any_builtin_call_is_recovered); it takes the locks with
 * its own owner tag and is never used again after `releaseThread`.
 */
import { threadId } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import { SPACE_SET_LOCK_WORD, SPACE_SPID_LOCK_WORD } from '../src/core/ioasid/space-layout.js';
import { lockAcquire } from '../src/core/ioasid/space-lock.js';
import { type DeathSite, SpaceProbe } from '../stress/space-probe.js';

const NOTHING: DeathSite = {
  setLock: false,
  spidLock: false,
  gracePeriod: false,
  readSection: false,
  halfDone: false,
};

function space(): IoasidSpace {
  return IoasidSpace.create({ pasidBits: 8, maxSets: 4, maxIoasids: 64, maxThreads: 4 });
}

describe('SpaceProbe', () => {
  it('sees the locks and the read-side section a thread holds, and none after releaseThread', () => {
    const main = space();
    const victim = IoasidSpace.attach(main.handle);
    const probe = new SpaceProbe(main);
    const slot = victim.rcu.slot;
    expect(probe.deathSite(slot, threadId)).toEqual(NOTHING);

    const i32 = new Int32Array(main.handle.buffer);
    lockAcquire(i32, SPACE_SET_LOCK_WORD, slot + 1);
    lockAcquire(i32, SPACE_SPID_LOCK_WORD, slot + 1);
    victim.rcu.readLock();
    expect(probe.deathSite(slot, threadId)).toEqual({
      ...NOTHING,
      setLock: true,
      spidLock: true,
      readSection: true,
    });
    expect(probe.holds('setLock', slot, threadId)).toBe(true);
    expect(probe.holds('spidLock', slot, threadId)).toBe(true);
    expect(probe.holds('setLock', main.rcu.slot, threadId)).toBe(false);
    expect(probe.holds('gracePeriod', slot, threadId)).toBe(false);
    expect(probe.leftovers()).toEqual({
      setLockOwner: slot + 1,
      spidLockOwner: slot + 1,
      gpLockOwner: 0,
      spidEntries: 0,
    });

    expect(main.releaseThread(slot)).toBeGreaterThanOrEqual(2); // both locks
    expect(probe.deathSite(slot, threadId)).toEqual(NOTHING);
    expect(probe.leftovers()).toEqual({
      setLockOwner: 0,
      spidLockOwner: 0,
      gpLockOwner: 0,
      spidEntries: 0,
    });
  });

  it('counts SPID bindings until they are detached or their ids freed', () => {
    const main = space();
    const probe = new SpaceProbe(main);
    const set = main.setAlloc(null, 4, SetType.NULL);
    const a = main.alloc(set, 1, 255);
    const b = main.alloc(set, 1, 255);
    expect(main.attachSpid(a, 7)).toBe(0);
    expect(main.attachSpid(b, 8)).toBe(0);
    expect(probe.leftovers().spidEntries).toBe(2);
    expect(main.detachSpid(a)).toBe(0);
    expect(probe.leftovers().spidEntries).toBe(1);
    expect(main.free(set, b)).toBe(0);
    expect(probe.leftovers().spidEntries).toBe(0);
  });
});
