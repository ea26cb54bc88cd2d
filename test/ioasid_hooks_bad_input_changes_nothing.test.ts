/**
 * Bad input for every notifier and allocator method: each call returns its documented errno
 * or throws IoasidError with its code, and a byte-for-byte snapshot of all shared memory (the
 * space, its Rcu and its hooks buffer) is unchanged afterwards. Also the refusals a thread
 * without a member of the active group gets (-ENODEV). The broken twin proves the snapshot
 * sees a change in the hooks buffer.
 */
import { describe, expect, it } from 'vitest';
import {
  type AllocatorOps,
  Errno,
  IoasidError,
  type IoasidErrorCode,
  IoasidSpace,
  NotifierPriority,
  SetType,
} from '../src/core/ioasid/ioasid-space.js';

const { ENOENT, EBUSY, EEXIST, EINVAL, ENOSPC, EAGAIN, ENODEV } = Errno;

function snapshot(space: IoasidSpace): Buffer {
  const h = space.handle;
  return Buffer.concat(
    [h.buffer, h.rcu.buffer, h.hooks].map((b) => Buffer.from(new Uint8Array(b).slice())),
  );
}

function provider(name: string): AllocatorOps {
  const used = new Set<number>();
  return {
    name,
    alloc(min, max) {
      for (let id = min; id <= max; id++)
        if (!used.has(id)) {
          used.add(id);
          return id;
        }
      return -ENOSPC;
    },
    free(id) {
      used.delete(id);
    },
  };
}

/** Default allocator with ids; every subscriber slot taken; an MM set with ids; a dead set. */
function notifierFixture() {
  const space = IoasidSpace.create({ pasidBits: 5, maxSets: 4, maxIoasids: 32, maxSubscribers: 2 });
  const A = space.setAlloc(null, 4, SetType.NULL);
  const B = space.setAlloc(9, 3, SetType.MM);
  const D = space.setAlloc(null, 1, SetType.NULL);
  expect(space.setFree(D)).toBe(0);
  const subA = space.registerNotifier(A, NotifierPriority.CPU);
  const stale = space.registerNotifier(null, NotifierPriority.IOMMU);
  expect(space.unregisterNotifier(stale)).toBe(0);
  const subG = space.registerNotifier(null, NotifierPriority.IOMMU);
  expect(Math.min(subA, subG)).toBeGreaterThanOrEqual(0);
  const a1 = space.alloc(A, 1, 31, 5);
  space.alloc(B, 1, 31);
  space.readNotifications(subA);
  return { space, A, B, D, subA, subG, stale, a1, ops: provider('g') };
}

/** A custom group active with ids; 8 groups (all the slots); a second attachment, no member. */
function allocatorFixture() {
  const space = IoasidSpace.create({ pasidBits: 5, maxSets: 4, maxIoasids: 32 });
  const A = space.setAlloc(null, 6, SetType.NULL);
  const ops = provider('vcmd');
  expect(space.registerAllocator(ops)).toBe(0);
  for (let g = 1; g < 8; g++) expect(space.registerAllocator(provider(`standby${g}`))).toBe(0);
  const c1 = space.alloc(A, 1, 31);
  const c2 = space.alloc(A, 1, 31);
  expect(space.get(A, c2)).toBe(0);
  const other = IoasidSpace.attach(space.handle);
  return { space, A, ops, c1, c2, other };
}

type N = ReturnType<typeof notifierFixture>;
type Al = ReturnType<typeof allocatorFixture>;
type Want = number | IoasidErrorCode;
const BAD = 'ERR_IOASID_BAD_ARGUMENT';

const notifierCases: Array<[string, (f: N) => unknown, Want]> = [
  ['registerNotifier NaN set', (f) => f.space.registerNotifier(Number.NaN, 1), BAD],
  ['registerNotifier string priority', (f) => f.space.registerNotifier(f.A, '1' as never), BAD],
  ['registerNotifier priority -1', (f) => f.space.registerNotifier(f.A, -1), -EINVAL],
  ['registerNotifier priority 4', (f) => f.space.registerNotifier(f.A, 4), -EINVAL],
  ['registerNotifier dead set', (f) => f.space.registerNotifier(f.D, 1), -EINVAL],
  ['registerNotifier set out of range', (f) => f.space.registerNotifier(99, 1), -EINVAL],
  ['registerNotifier negative set', (f) => f.space.registerNotifier(-1, 1), -EINVAL],
  ['registerNotifier no slot left', (f) => f.space.registerNotifier(f.A, 1), -ENOSPC],
  ['registerNotifier global, no slot left', (f) => f.space.registerNotifier(null, 0), -ENOSPC],
  ['registerNotifierMm fractional token', (f) => f.space.registerNotifierMm(1.5, 1), BAD],
  ['registerNotifierMm negative token', (f) => f.space.registerNotifierMm(-1, 1), -EINVAL],
  ['registerNotifierMm token 2^31', (f) => f.space.registerNotifierMm(2 ** 31, 1), -EINVAL],
  ['registerNotifierMm bad priority', (f) => f.space.registerNotifierMm(3, 7), -EINVAL],
  ['registerNotifierMm set has ids', (f) => f.space.registerNotifierMm(9, 1), -EBUSY],
  ['registerNotifierMm no slot left', (f) => f.space.registerNotifierMm(4, 1), -ENOSPC],
  ['registerNotifier negative owner', (f) => f.space.registerNotifier(f.A, 1, -1), -EINVAL],
  ['registerNotifier owner 2^31', (f) => f.space.registerNotifier(null, 1, 2 ** 31), -EINVAL],
  ['registerNotifier fractional owner', (f) => f.space.registerNotifier(f.A, 1, 0.5), BAD],
  ['registerNotifierMm negative owner', (f) => f.space.registerNotifierMm(3, 1, -2), -EINVAL],
  ['findNotifier set out of range', (f) => f.space.findNotifier(99, 1, 1), BAD],
  ['findNotifier priority 4', (f) => f.space.findNotifier(f.A, 4, 1), BAD],
  ['findNotifier owner 0 (no tag)', (f) => f.space.findNotifier(null, 2, 0), BAD],
  ['findNotifier NaN owner', (f) => f.space.findNotifier(f.A, 3, Number.NaN), BAD],
  ['findNotifier dead set', (f) => f.space.findNotifier(f.D, 3, 1), -ENOENT],
  ['findNotifier untagged subscriber', (f) => f.space.findNotifier(f.A, 3, 1), -ENOENT],
  ['findNotifierMm negative token', (f) => f.space.findNotifierMm(-1, 3, 1), BAD],
  ['findNotifierMm priority -1', (f) => f.space.findNotifierMm(9, -1, 1), BAD],
  ['findNotifierMm none', (f) => f.space.findNotifierMm(9, 3, 1), -ENOENT],
  ['unregisterNotifier never registered', (f) => f.space.unregisterNotifier(12345), -ENOENT],
  ['unregisterNotifier unregistered', (f) => f.space.unregisterNotifier(f.stale), -ENOENT],
  ['unregisterNotifier -1', (f) => f.space.unregisterNotifier(-1), -ENOENT],
  ['unregisterNotifier 1.5', (f) => f.space.unregisterNotifier(1.5), BAD],
  [
    'readNotifications unregistered',
    (f) => f.space.readNotifications(f.stale),
    'ERR_IOASID_NOT_SUBSCRIBED',
  ],
  [
    'readNotifications never registered',
    (f) => f.space.readNotifications(777),
    'ERR_IOASID_NOT_SUBSCRIBED',
  ],
  ['readNotifications max -1', (f) => f.space.readNotifications(f.subA, -1), BAD],
  ['readNotifications max 1.5', (f) => f.space.readNotifications(f.subA, 1.5), BAD],
  ['readNotifications sub NaN', (f) => f.space.readNotifications(Number.NaN), BAD],
  ['waitNotifications unregistered', (f) => f.space.waitNotifications(f.stale, 0), -ENOENT],
  ['waitNotifications negative timeout', (f) => f.space.waitNotifications(f.subA, -1), BAD],
  ['waitNotifications NaN timeout', (f) => f.space.waitNotifications(f.subA, Number.NaN), BAD],
  [
    'waitNotifications inside a read-side section',
    (f) => {
      f.space.rcu.readLock();
      try {
        return f.space.waitNotifications(f.subA, 0);
      } finally {
        f.space.rcu.readUnlock();
      }
    },
    'ERR_IOASID_IN_READ_SECTION',
  ],
  ['waitNotifications nothing to read, 0 ms', (f) => f.space.waitNotifications(f.subA, 0), 0],
  [
    'readNotifications nothing to read',
    (f) => (f.space.readNotifications(f.subA).length === 0 ? 0 : 1),
    0,
  ],
  ['registerAllocator null', (f) => f.space.registerAllocator(null as never), BAD],
  ['registerAllocator no name', (f) => f.space.registerAllocator({ ...f.ops, name: '' }), BAD],
  [
    "registerAllocator name 'default'",
    (f) => f.space.registerAllocator({ ...f.ops, name: 'default' }),
    BAD,
  ],
  [
    'registerAllocator name too long',
    (f) => f.space.registerAllocator({ ...f.ops, name: 'x'.repeat(33) }),
    BAD,
  ],
  [
    'registerAllocator alloc not a function',
    (f) => f.space.registerAllocator({ ...f.ops, alloc: 3 as never }),
    BAD,
  ],
  ['registerAllocator while the default has ids', (f) => f.space.registerAllocator(f.ops), -EAGAIN],
  ['unregisterAllocator never registered', (f) => f.space.unregisterAllocator(f.ops), -ENOENT],
  ['unregisterAllocator null', (f) => f.space.unregisterAllocator(null as never), BAD],
];

const allocatorCases: Array<[string, (f: Al) => unknown, Want]> = [
  ['registerAllocator same ops again', (f) => f.space.registerAllocator(f.ops), -EEXIST],
  ['registerAllocator a ninth group', (f) => f.space.registerAllocator(provider('ninth')), -ENOSPC],
  ['unregisterAllocator last member, ids live', (f) => f.space.unregisterAllocator(f.ops), -EBUSY],
  ['no member: alloc', (f) => f.other.alloc(f.A, 1, 31), -ENODEV],
  ['no member: free that would reclaim', (f) => f.other.free(f.A, f.c1), -ENODEV],
  ['no member: put that would reclaim', (f) => f.other.put(null, f.c1), -ENODEV],
];

function expectOutcome(call: () => unknown, want: Want): void {
  if (typeof want === 'number') {
    expect(call()).toBe(want);
    return;
  }
  let err: unknown;
  try {
    call();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(IoasidError);
  expect((err as IoasidError).code).toBe(want);
}

describe('notifier and allocator bad input changes nothing', () => {
  for (const [name, call, want] of notifierCases) {
    it(name, () => {
      const f = notifierFixture();
      const before = snapshot(f.space);
      expectOutcome(() => call(f), want);
      expect(snapshot(f.space).equals(before)).toBe(true);
      f.space.detach();
    });
  }
  for (const [name, call, want] of allocatorCases) {
    it(name, () => {
      const f = allocatorFixture();
      const before = snapshot(f.space);
      expectOutcome(() => call(f), want);
      expect(snapshot(f.space).equals(before)).toBe(true);
      f.other.detach();
    });
  }

  it('broken twin: the snapshot sees a registration in the hooks buffer', () => {
    const f = notifierFixture();
    expect(f.space.unregisterNotifier(f.subG)).toBe(0);
    const before = snapshot(f.space);
    expect(f.space.registerNotifier(f.A, 0)).toBeGreaterThanOrEqual(0);
    expect(snapshot(f.space).equals(before)).toBe(false);
  });

  it("attach refuses a handle without hooks, or with another space's hooks buffer", () => {
    const a = IoasidSpace.create({ pasidBits: 5, maxSets: 4, maxIoasids: 32 });
    const b = IoasidSpace.create({ pasidBits: 5, maxSets: 4, maxIoasids: 32 });
    const before = snapshot(a);
    const { hooks: _, ...noHooks } = a.handle;
    for (const h of [noHooks, { ...a.handle, hooks: b.handle.hooks }, { ...a.handle, hooks: 7 }]) {
      let err: unknown;
      try {
        IoasidSpace.attach(h as typeof a.handle);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(IoasidError);
      expect((err as IoasidError).code).toBe('ERR_IOASID_BAD_HANDLE');
    }
    expect(snapshot(a).equals(before)).toBe(true);
    a.detach();
    b.detach();
  });
});
