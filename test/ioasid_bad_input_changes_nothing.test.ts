/**
 * Bad input for every method: each call returns its documented errno (or throws IoasidError
 * for API misuse) and a byte-for-byte snapshot of all shared memory (space and RCU buffers)
 * is unchanged afterwards. The broken twin proves the snapshot comparison sees a change.
 */
import { describe, expect, it } from 'vitest';
import {
  Errno,
  INVALID_IOASID,
  IoasidError,
  IoasidSpace,
  SetType,
} from '../src/core/ioasid/ioasid-space.js';

const { ENOENT, EAGAIN, EACCES, EBUSY, EEXIST, EINVAL, ENOSPC } = Errno;

function snapshot(space: IoasidSpace): Buffer {
  return Buffer.concat([
    Buffer.from(new Uint8Array(space.handle.buffer).slice()),
    Buffer.from(new Uint8Array(space.handle.rcu.buffer).slice()),
  ]);
}

function setup() {
  const space = IoasidSpace.create({ pasidBits: 5, maxSets: 4, maxIoasids: 32 });
  const A = space.setAlloc(null, 4, SetType.NULL);
  const B = space.setAlloc(9, 3, SetType.MM);
  const D = space.setAlloc(null, 1, SetType.NULL);
  expect(space.setFree(D)).toBe(0); // a dead set
  const a1 = space.alloc(A, 1, 31);
  const a2 = space.alloc(A, 1, 31, 7);
  const a3 = space.alloc(A, 1, 31);
  expect(space.attachSpid(a2, 5)).toBe(0);
  expect(space.get(A, a3)).toBe(0);
  expect(space.free(A, a3)).toBe(0); // free-pending
  const unalloc = 20;
  return { space, A, B, D, a1, a2, a3, unalloc };
}

type Case = [string, (s: ReturnType<typeof setup>) => unknown, number | 'throws'];

const cases: Case[] = [
  // alloc
  ['alloc NaN set', (s) => s.space.alloc(Number.NaN, 1, 10), 'throws'],
  ['alloc fractional min', (s) => s.space.alloc(s.A, 1.5, 10), 'throws'],
  ['alloc string data', (s) => s.space.alloc(s.A, 1, 10, '3' as unknown as number), 'throws'],
  ['alloc negative set', (s) => s.space.alloc(-1, 1, 10), -EINVAL],
  ['alloc set out of range', (s) => s.space.alloc(99, 1, 10), -EINVAL],
  ['alloc dead set', (s) => s.space.alloc(s.D, 1, 10), -EINVAL],
  ['alloc negative min', (s) => s.space.alloc(s.A, -1, 10), -EINVAL],
  ['alloc max < min', (s) => s.space.alloc(s.A, 10, 5), -EINVAL],
  ['alloc range past the space', (s) => s.space.alloc(s.A, 100, 200), -EINVAL],
  ['alloc range [0, 0]', (s) => s.space.alloc(s.A, 0, 0), -EINVAL],
  ['alloc negative data', (s) => s.space.alloc(s.A, 1, 10, -5), -EINVAL],
  ['alloc data >= 2^31', (s) => s.space.alloc(s.A, 1, 10, 2 ** 31), -EINVAL],
  // free
  ['free id 0', (s) => s.space.free(s.A, 0), -ENOENT],
  ['free id out of range', (s) => s.space.free(s.A, 999), -ENOENT],
  ['free unallocated id', (s) => s.space.free(s.A, s.unalloc), -ENOENT],
  ['free foreign set', (s) => s.space.free(s.B, s.a1), -EACCES],
  ['free null set', (s) => s.space.free(null, s.a1), -EACCES],
  ['free negative set', (s) => s.space.free(-1, s.a1), -EACCES],
  ['double free', (s) => s.space.free(s.A, s.a3), -EBUSY],
  ['free NaN id', (s) => s.space.free(s.A, Number.NaN), 'throws'],
  // get / put
  ['get unallocated', (s) => s.space.get(null, s.unalloc), -EINVAL],
  ['get negative id', (s) => s.space.get(null, -3), -EINVAL],
  ['get free-pending', (s) => s.space.get(s.A, s.a3), -EBUSY],
  ['get foreign set', (s) => s.space.get(s.B, s.a1), -EACCES],
  ['get negative set', (s) => s.space.get(-1, s.a1), -EACCES],
  ['get Infinity', (s) => s.space.get(null, Number.POSITIVE_INFINITY), 'throws'],
  ['put unallocated (no reference)', (s) => s.space.put(null, s.unalloc), -ENOENT],
  ['put foreign set', (s) => s.space.put(s.B, s.a1), -EACCES],
  ['put id 1e9', (s) => s.space.put(s.A, 1e9), -ENOENT],
  // find
  ['find unallocated', (s) => s.space.find(null, s.unalloc), -ENOENT],
  ['find foreign set', (s) => s.space.find(s.B, s.a1), -EACCES],
  [
    'find getter not a function',
    (s) => s.space.find(null, s.a1, 3 as unknown as () => boolean),
    'throws',
  ],
  ['find getter refuses', (s) => s.space.find(null, s.a2, () => false), -EAGAIN],
  // data
  ['attachData already attached', (s) => s.space.attachData(s.a2, 3), -EBUSY],
  ['attachData unallocated', (s) => s.space.attachData(s.unalloc, 3), -ENOENT],
  ['attachData 0', (s) => s.space.attachData(s.a1, 0), -EINVAL],
  ['attachData negative', (s) => s.space.attachData(s.a1, -1), -EINVAL],
  ['attachData fractional', (s) => s.space.attachData(s.a1, 1.5), 'throws'],
  ['detachData unallocated', (s) => s.space.detachData(s.unalloc), -ENOENT],
  // SPIDs
  ['attachSpid INVALID_IOASID', (s) => s.space.attachSpid(s.a1, INVALID_IOASID), -EINVAL],
  ['attachSpid used in the set', (s) => s.space.attachSpid(s.a1, 5), -EINVAL],
  ['attachSpid negative', (s) => s.space.attachSpid(s.a1, -1), -EINVAL],
  ['attachSpid >= 2^32', (s) => s.space.attachSpid(s.a1, 2 ** 32), -EINVAL],
  ['attachSpid unallocated', (s) => s.space.attachSpid(s.unalloc, 6), -ENOENT],
  ['detachSpid without SPID', (s) => s.space.detachSpid(s.a1), -ENOENT],
  ['detachSpid unallocated', (s) => s.space.detachSpid(s.unalloc), -ENOENT],
  ['findBySpid unknown spid', (s) => s.space.findBySpid(s.A, 99, true), -ENOENT],
  ['findBySpid other set', (s) => s.space.findBySpid(s.B, 5, true), -ENOENT],
  ['findBySpid dead set', (s) => s.space.findBySpid(s.D, 5, true), -ENOENT],
  ['findBySpid set out of range', (s) => s.space.findBySpid(-1, 5, true), -ENOENT],
  [
    'findBySpid get not boolean',
    (s) => s.space.findBySpid(s.A, 5, 1 as unknown as boolean),
    'throws',
  ],
  // sets
  ['setAlloc bad type', (s) => s.space.setAlloc(null, 1, 3 as SetType), -EINVAL],
  ['setAlloc type 0', (s) => s.space.setAlloc(null, 1, 0 as SetType), -EINVAL],
  ['setAlloc MM with null token', (s) => s.space.setAlloc(null, 1, SetType.MM), -EINVAL],
  ['setAlloc NULL with a token', (s) => s.space.setAlloc(5, 1, SetType.NULL), -EINVAL],
  ['setAlloc negative token', (s) => s.space.setAlloc(-4, 1, SetType.MM), -EINVAL],
  ['setAlloc duplicate MM token', (s) => s.space.setAlloc(9, 1, SetType.MM), -EEXIST],
  ['setAlloc quota > available', (s) => s.space.setAlloc(null, 1000, SetType.NULL), -ENOSPC],
  ['setAlloc negative quota', (s) => s.space.setAlloc(null, -1, SetType.NULL), -EINVAL],
  ['setAlloc fractional token', (s) => s.space.setAlloc(1.5, 1, SetType.MM), 'throws'],
  ['setFree dead set', (s) => s.space.setFree(s.D), -EINVAL],
  ['setFree negative', (s) => s.space.setFree(-1), -EINVAL],
  ['setFree out of range', (s) => s.space.setFree(99), -EINVAL],
  ['setForEachIoasid dead set', (s) => s.space.setForEachIoasid(s.D, () => {}), -EINVAL],
  [
    'setForEachIoasid fn not a function',
    (s) => s.space.setForEachIoasid(s.A, 'x' as unknown as () => void),
    'throws',
  ],
  ['freeAllInSet dead set', (s) => s.space.freeAllInSet(s.D), -EINVAL],
  ['freeAllInSet out of range', (s) => s.space.freeAllInSet(99), -EINVAL],
  ['findMmSet unknown token', (s) => s.space.findMmSet(77), -ENOENT],
  ['findMmSet negative token', (s) => s.space.findMmSet(-1), -ENOENT],
  // capacity
  ['reserveCapacity negative', (s) => s.space.reserveCapacity(-1), -EINVAL],
  ['reserveCapacity too much', (s) => s.space.reserveCapacity(10_000), -ENOSPC],
  ['cancelCapacity too much', (s) => s.space.cancelCapacity(10_000), -EINVAL],
  ['cancelCapacity negative', (s) => s.space.cancelCapacity(-2), -EINVAL],
  ['installCapacity negative', (s) => s.space.installCapacity(-1), -EINVAL],
  ['installCapacity past the space', (s) => s.space.installCapacity(2 ** 20), -EINVAL],
  ['installCapacity with reservations', (s) => s.space.installCapacity(10), -EBUSY],
];

describe('bad input changes nothing', () => {
  for (const [name, call, want] of cases) {
    it(name, () => {
      const s = setup();
      const before = snapshot(s.space);
      if (want === 'throws') {
        let err: unknown;
        try {
          call(s);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(IoasidError);
        expect((err as IoasidError).code).toBe('ERR_IOASID_BAD_ARGUMENT');
      } else {
        expect(call(s)).toBe(want);
      }
      expect(snapshot(s.space).equals(before)).toBe(true);
      s.space.detach();
    });
  }

  it('every method of a detached space throws ERR_IOASID_DETACHED and changes nothing', () => {
    const s = setup();
    const other = IoasidSpace.attach(s.space.handle);
    other.detach();
    const before = snapshot(s.space);
    const calls: Array<() => unknown> = [
      () => other.alloc(s.A, 1, 10),
      () => other.free(s.A, s.a1),
      () => other.get(null, s.a1),
      () => other.put(null, s.a1),
      () => other.find(null, s.a1),
      () => other.setAlloc(null, 1, SetType.NULL),
      () => other.setFree(s.A),
      () => other.attachSpid(s.a1, 3),
      () => other.findBySpid(s.A, 5, false),
      () => other.available(),
      () => other.detach(),
    ];
    for (const c of calls) {
      expect(c).toThrow(IoasidError);
      try {
        c();
      } catch (e) {
        expect((e as IoasidError).code).toBe('ERR_IOASID_DETACHED');
      }
    }
    expect(snapshot(s.space).equals(before)).toBe(true);
    s.space.detach();
  });

  it('broken twin: the snapshot comparison sees a call that does change state', () => {
    const s = setup();
    const before = snapshot(s.space);
    expect(s.space.alloc(s.A, 1, 31)).toBeGreaterThan(0);
    expect(snapshot(s.space).equals(before)).toBe(false);
    s.space.detach();
  });
});
