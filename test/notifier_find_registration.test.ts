/**
 * findNotifier / findNotifierMm: a caller killed between a registration's return and the store
 * of its id finds the subscriber again by what it registered with (chain, priority, owner
 * tag) and adopts it. Found, not found, and bad input (a typed error, nothing read or
 * changed); a registration whose call has not returned (a thread inside it, or one recovery
 * doomed) is not found.
 */
import { describe, expect, it } from 'vitest';
import {
  HK_REG_ARG,
  HK_REG_OP,
  hooksHeaderGeometry,
  hooksThreadWord,
  REG_NONE,
  REG_REGISTERING,
  S_DOOMED,
  SUB_SLOT_MASK,
  subWord,
} from '../src/core/ioasid/hooks-layout.js';
import {
  Errno,
  IoasidError,
  IoasidSpace,
  NotifierPriority,
  SetType,
} from '../src/core/ioasid/ioasid-space.js';

const { CPU, DEVICE, IOMMU } = NotifierPriority;

function setup() {
  const space = IoasidSpace.create({ pasidBits: 8, maxSets: 4, maxIoasids: 64 });
  const set = space.setAlloc(null, 20, SetType.NULL);
  return { space, set };
}

/** Every shared word of the space (its buffer and its hooks buffer), copied. */
function snapshot(space: IoasidSpace): Int32Array[] {
  return [new Int32Array(space.handle.buffer).slice(), new Int32Array(space.handle.hooks).slice()];
}

describe('findNotifier', () => {
  it('finds a set subscriber by set, priority and owner; two owners of one priority apart', () => {
    const { space, set } = setup();
    const vdcm = space.registerNotifier(set, DEVICE, 2);
    const iommu = space.registerNotifier(set, DEVICE, 3);
    const untagged = space.registerNotifier(set, DEVICE);
    expect(Math.min(vdcm, iommu, untagged)).toBeGreaterThanOrEqual(0);
    expect(space.findNotifier(set, DEVICE, 2)).toBe(vdcm);
    expect(space.findNotifier(set, DEVICE, 3)).toBe(iommu);
    // Another priority, owner or chain: not it.
    expect(space.findNotifier(set, CPU, 2)).toBe(-Errno.ENOENT);
    expect(space.findNotifier(set, DEVICE, 4)).toBe(-Errno.ENOENT);
    expect(space.findNotifier(null, DEVICE, 2)).toBe(-Errno.ENOENT);
    const other = space.setAlloc(null, 4, SetType.NULL);
    expect(space.findNotifier(other, DEVICE, 2)).toBe(-Errno.ENOENT);
  });

  it('finds a global subscriber, and the earliest registered of several', () => {
    const { space } = setup();
    const first = space.registerNotifier(null, IOMMU, 9);
    const second = space.registerNotifier(null, IOMMU, 9);
    expect(second).not.toBe(first);
    expect(space.findNotifier(null, IOMMU, 9)).toBe(first);
    expect(space.unregisterNotifier(first)).toBe(0);
    expect(space.findNotifier(null, IOMMU, 9)).toBe(second);
  });

  it('finds an MM subscriber pending for its token and attached to its set', () => {
    const { space } = setup();
    const kvm = space.registerNotifierMm(42, CPU, 1);
    expect(space.findNotifierMm(42, CPU, 1)).toBe(kvm);
    const mm = space.setAlloc(42, 8, SetType.MM);
    expect(mm).toBeGreaterThanOrEqual(0);
    expect(space.findNotifierMm(42, CPU, 1)).toBe(kvm);
    expect(space.findNotifierMm(43, CPU, 1)).toBe(-Errno.ENOENT);
    // An MM subscriber is not a subscriber of the set's chain registered by set.
    expect(space.findNotifier(mm, CPU, 1)).toBe(-Errno.ENOENT);
  });

  it('does not find an unregistered subscriber, nor one of a freed set (or its next life)', () => {
    const { space, set } = setup();
    const sub = space.registerNotifier(set, CPU, 5);
    expect(space.unregisterNotifier(sub)).toBe(0);
    expect(space.findNotifier(set, CPU, 5)).toBe(-Errno.ENOENT);
    const orphan = space.registerNotifier(set, CPU, 5);
    expect(space.findNotifier(set, CPU, 5)).toBe(orphan);
    expect(space.setFree(set)).toBe(0);
    expect(space.findNotifier(set, CPU, 5)).toBe(-Errno.ENOENT);
    // The slot again, a new incarnation: the orphan is not its subscriber.
    expect(space.setAlloc(null, 20, SetType.NULL)).toBe(set);
    expect(space.findNotifier(set, CPU, 5)).toBe(-Errno.ENOENT);
    const fresh = space.registerNotifier(set, CPU, 5);
    expect(space.findNotifier(set, CPU, 5)).toBe(fresh);
  });

  it('does not find a registration whose call has not returned, nor one recovery doomed', () => {
    const { space, set } = setup();
    const sub = space.registerNotifier(set, CPU, 6);
    const hk = new Int32Array(space.handle.hooks);
    const hg = hooksHeaderGeometry(hk);
    // White-box: another thread (slot 5) is between filling this slot and returning its id.
    const ts = hooksThreadWord(hg, 5);
    Atomics.store(hk, ts + HK_REG_ARG, sub & SUB_SLOT_MASK);
    Atomics.store(hk, ts + HK_REG_OP, REG_REGISTERING);
    expect(space.findNotifier(set, CPU, 6)).toBe(-Errno.ENOENT);
    Atomics.store(hk, ts + HK_REG_OP, REG_NONE);
    expect(space.findNotifier(set, CPU, 6)).toBe(sub);
    // Its thread died before it returned: recovery doomed it (the next DLOCK holder drops it).
    Atomics.store(hk, subWord(hg, sub & SUB_SLOT_MASK) + S_DOOMED, 1);
    expect(space.findNotifier(set, CPU, 6)).toBe(-Errno.ENOENT);
  });

  it('bad input: a typed error, nothing read or changed', () => {
    const { space, set } = setup();
    space.registerNotifier(set, CPU, 1);
    space.registerNotifierMm(7, CPU, 1);
    const before = snapshot(space);
    const bad: Array<[string, () => number]> = [
      ['set out of range', () => space.findNotifier(4, CPU, 1)],
      ['negative set', () => space.findNotifier(-1, CPU, 1)],
      ['non-integer set', () => space.findNotifier(0.5, CPU, 1)],
      ['priority 4', () => space.findNotifier(set, 4, 1)],
      ['negative priority', () => space.findNotifier(set, -1, 1)],
      ['owner 0 (no tag)', () => space.findNotifier(set, CPU, 0)],
      ['negative owner', () => space.findNotifier(set, CPU, -3)],
      ['owner past 2^31 - 1', () => space.findNotifier(set, CPU, 2 ** 31)],
      ['string owner', () => space.findNotifier(set, CPU, '1' as unknown as number)],
      ['negative token', () => space.findNotifierMm(-1, CPU, 1)],
      ['token past 2^31 - 1', () => space.findNotifierMm(2 ** 31, CPU, 1)],
      ['NaN token', () => space.findNotifierMm(Number.NaN, CPU, 1)],
      ['Mm priority 9', () => space.findNotifierMm(7, 9, 1)],
      ['Mm owner 0', () => space.findNotifierMm(7, CPU, 0)],
    ];
    for (const [what, call] of bad) {
      let thrown: unknown;
      try {
        call();
      } catch (e) {
        thrown = e;
      }
      expect(thrown, what).toBeInstanceOf(IoasidError);
      expect((thrown as IoasidError).code, what).toBe('ERR_IOASID_BAD_ARGUMENT');
    }
    expect(snapshot(space)).toEqual(before);
  });

  it('registration: a bad owner is -EINVAL (a non-integer throws) and registers nothing', () => {
    const { space, set } = setup();
    const before = snapshot(space);
    expect(space.registerNotifier(set, CPU, -1)).toBe(-Errno.EINVAL);
    expect(space.registerNotifier(set, CPU, 2 ** 31)).toBe(-Errno.EINVAL);
    expect(space.registerNotifierMm(3, CPU, -1)).toBe(-Errno.EINVAL);
    expect(() => space.registerNotifier(set, CPU, 1.5)).toThrow(IoasidError);
    expect(snapshot(space)).toEqual(before);
  });
});
