/**
 * The own ring (records.ts "Own ring"): in the steady state of one thread's alloc+free, a
 * retired batch comes back to the thread that retired it, once its grace period has passed,
 * without a pop of the free stack or a push onto limbo: the shared stack heads stay
 * untouched, so two CPUs allocating on disjoint sets do not hand records to each other.
 * Records are never lost on the way: flushRecords, detach and a dead thread's recovery give
 * the ring back (the kill tests cover the recovery at every call), and an idle thread's ring
 * is taken by the threads that need its records (flushRecords, a refill that found none).
 */
import { describe, expect, it } from 'vitest';
import { Errno } from '../src/core/ioasid/errno.js';
import { IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import { SPACE_FREE_HEAD_WORD, SPACE_LIMBO_HEAD_WORD } from '../src/core/ioasid/space-layout.js';
import { RCU_GP_SEQ_I64, RCU_SEQ_STEPS } from '../src/core/rcu/rcu-layout.js';

const MAX_IOASIDS = 4096;
const MAX_THREADS = 8;

/** A space of MAX_IOASIDS records and one set of quota 64. */
function spaceWithSet(): { space: IoasidSpace; set: number } {
  const space = IoasidSpace.create({
    pasidBits: 16,
    maxSets: 4,
    maxIoasids: MAX_IOASIDS,
    maxThreads: MAX_THREADS,
  });
  return { space, set: space.setAlloc(null, 64, SetType.NULL) };
}

function pairs(space: IoasidSpace, set: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const id = space.alloc(set, 1, space.maxId);
    expect(id).toBeGreaterThan(0);
    expect(space.free(set, id)).toBe(0);
  }
}

describe('own ring', () => {
  it('a thread takes its own retired batches back without touching the shared stacks', () => {
    const { space, set } = spaceWithSet();
    const words = new Int32Array(space.handle.buffer);
    // Warm up: the ring fills to the point where refills drive grace periods themselves.
    pairs(space, set, MAX_IOASIDS);
    const freeHead = Atomics.load(words, SPACE_FREE_HEAD_WORD);
    const recycled = space.stats().recycled;
    const drains = space.stats().drains;
    pairs(space, set, 4 * MAX_IOASIDS);
    // The head word carries a tag bumped by every pop and push: unchanged means neither.
    expect(Atomics.load(words, SPACE_FREE_HEAD_WORD)).toBe(freeHead);
    expect(Atomics.load(words, SPACE_LIMBO_HEAD_WORD)).toBe(0);
    expect(space.stats().drains).toBe(drains);
    // Every record allocated in the measured pairs came back from the ring.
    expect(space.stats().recycled - recycled).toBeGreaterThanOrEqual(4 * MAX_IOASIDS - 64);
    space.detach();
  });

  it('flushRecords gives the ring back: every record is free again', () => {
    const { space, set } = spaceWithSet();
    pairs(space, set, 2 * MAX_IOASIDS);
    expect(space.stats().limboRecords).toBeGreaterThan(0); // the ring is counted as waiting
    space.flushRecords();
    const s = space.stats();
    expect(s.liveRecords).toBe(0);
    expect(s.limboRecords).toBe(0);
    expect(s.freeRecords).toBe(MAX_IOASIDS);
    space.detach();
  });

  it("an idle attachment's ring never costs another thread an id (pool = ids)", () => {
    // 256 records for 255 ids and 64 threads: each ring may hold a batch of one record.
    const main = IoasidSpace.create({ pasidBits: 8, maxSets: 4, maxIoasids: 256, maxThreads: 64 });
    const set = main.setAlloc(null, 0, SetType.NULL);
    const idle = [0, 1].map(() => IoasidSpace.attach(main.handle));
    for (const v of idle) expect(v.free(set, v.alloc(set, 1, main.maxId))).toBe(0);
    let n = 0;
    let last = main.alloc(set, 1, main.maxId);
    for (; last > 0; last = main.alloc(set, 1, main.maxId)) n++;
    expect([n, last]).toEqual([main.capacity(), -Errno.EDQUOT]); // not -ENOMEM
    for (const v of idle) v.detach();
    main.detach();
  });

  it("flushRecords takes idle attachments' rings too: limbo is empty after it", () => {
    const { space, set } = spaceWithSet();
    const idle = [0, 1].map(() => IoasidSpace.attach(space.handle));
    for (const v of idle) pairs(v, set, 2 * 64);
    expect(space.stats().limboRecords).toBeGreaterThan(0);
    space.flushRecords();
    expect(space.stats().limboRecords).toBe(0);
    expect(space.stats().freeRecords).toBe(MAX_IOASIDS);
    for (const v of idle) v.detach();
    space.detach();
  });

  it('a ring batch that waited 2^30 grace periods is due, not an error', () => {
    const { space, set } = spaceWithSet();
    const ids = Array.from({ length: 64 }, () => space.alloc(set, 1, space.maxId));
    for (const id of ids) expect(space.free(set, id)).toBe(0);
    // Stand-in for 2^30 grace periods that other threads drove while this one did not refill.
    const seq = new BigInt64Array(space.rcu.handle.buffer);
    const done = space.rcu.completedGracePeriods();
    Atomics.store(seq, RCU_GP_SEQ_I64, BigInt((done + 2 ** 30 + 5) * RCU_SEQ_STEPS));
    const count = space.setInfo(set)?.count;
    for (let i = 0; i < 200; i++) {
      const id = space.alloc(set, 1, space.maxId);
      expect(id).toBeGreaterThan(0);
      expect(space.free(set, id)).toBe(0);
    }
    expect(space.setInfo(set)?.count).toBe(count);
    space.detach();
  });
});
