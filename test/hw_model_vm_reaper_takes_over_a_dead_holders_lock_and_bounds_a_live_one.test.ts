/**
 * The main thread's kill recovery (vm-recovery.ts `reapVms`, run by hw-fleet.ts `kill`)
 * takes VM locks. It used `lockTake`, which waits forever: a lock held by a thread that died
 * unreaped (a crashed worker: nobody breaks its locks) or by a live thread that never gives it
 * back hung the whole run. Now a dead holder's lock is taken over (its owner tag names it:
 * a tag whose log row no thread owns, or one the harness says exited), and a live holder is
 * waited for within a bound that ends in ERR_HW_LOCK_STALLED. Deterministic: the holders are
 * test doubles, a tag written into the lock word, and "live" is a claimed log row whose
 * thread never runs.
 */
import { describe, expect, it } from 'vitest';
import { HwModelError } from '../src/hw-model/hw-errors.js';
import {
  L_ROWS,
  ROW_OWNER,
  rowWord,
  VM_KERNEL_LOCK,
  VM_STATE,
  VM_VMM_LOCK,
  VMS_DYING,
  VMS_OFF,
} from '../src/hw-model/hw-layout.js';
import { Platform } from '../src/hw-model/index.js';
import { lockTakeBounded } from '../src/hw-model/owner-lock.js';
import { claimRow } from '../src/hw-model/platform-init.js';
import { vmField } from '../src/hw-model/vm.js';
import { reapVms, recoveryLockWait } from '../src/hw-model/vm-recovery.js';
import { TWO_VMS } from './helpers/two-vms.js';
import { settleVm0 } from './helpers/vm-engines.js';

/** A tag whose log row no thread owns: its thread is gone (reaped and released). */
function unownedTag(p: Platform): number {
  const log = p.context.logI32;
  const rows = Atomics.load(log, L_ROWS);
  for (let r = rows - 1; r >= 0; r--)
    if (Atomics.load(log, rowWord(r) + ROW_OWNER) === 0) return r + 1;
  throw new Error('no free log row');
}

/** A tag of a live thread: a claimed log row (the double never runs, never unlocks). */
function liveTag(p: Platform): number {
  const r = claimRow(p.context.logI32);
  expect(r).toBeGreaterThanOrEqual(0);
  return r + 1;
}

describe('the reaper and a VM lock held by another thread', () => {
  it('takes the lock over from a holder whose row no thread owns, and finishes the reap', () => {
    const p = Platform.create(TWO_VMS);
    const hw = p.context;
    p.vcmdAlloc(0);
    const lock = vmField(hw, 0, VM_VMM_LOCK);
    const dead = unownedTag(p);
    Atomics.store(hw.i32, lock, dead);
    const wait = recoveryLockWait(hw, hw.tag, undefined, 3);
    const took: Array<[number, number]> = [];
    wait.tookOver = (word, holder) => took.push([word, holder]);
    // The VMM's thread (this thread's tag stands for it) died: its VMs are reaped.
    expect(reapVms(hw, [0], hw.tag, true, wait)).toBe(1);
    expect(took).toContainEqual([lock, dead]);
    expect(Atomics.load(hw.i32, lock)).toBe(0);
    settleVm0(p);
    expect(hw.ld(vmField(hw, 0, VM_STATE))).toBe(VMS_OFF);
    p.detach();
  });

  it('takes the lock over from a crashed thread the harness names, its row still owned', () => {
    const p = Platform.create(TWO_VMS);
    const hw = p.context;
    const lock = vmField(hw, 0, VM_KERNEL_LOCK);
    const crashed = liveTag(p);
    Atomics.store(hw.i32, lock, crashed);
    const wait = recoveryLockWait(hw, hw.tag, (holder) => holder === crashed, 3);
    const took: number[] = [];
    wait.tookOver = (_word, holder) => took.push(holder);
    expect(reapVms(hw, [0], hw.tag, true, wait)).toBe(1);
    expect(took).toEqual([crashed]);
    expect(Atomics.load(hw.i32, lock)).toBe(0);
    p.detach();
  });

  it('ends the wait on a live holder that never gives the VMM lock back with ERR_HW_LOCK_STALLED', () => {
    const p = Platform.create(TWO_VMS);
    const hw = p.context;
    const lock = vmField(hw, 0, VM_VMM_LOCK);
    const live = liveTag(p);
    Atomics.store(hw.i32, lock, live);
    let err: unknown;
    try {
      reapVms(hw, [0], hw.tag, true, recoveryLockWait(hw, hw.tag, undefined, 3));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HwModelError);
    expect((err as HwModelError).code).toBe('ERR_HW_LOCK_STALLED');
    expect((err as HwModelError).message).toContain(`live thread tag ${live}`);
    // Not taken from the live holder; the VM stays DYING for a later recovery.
    expect(Atomics.load(hw.i32, lock)).toBe(live);
    expect(hw.ld(vmField(hw, 0, VM_STATE))).toBe(VMS_DYING);
    p.detach();
  });

  it("bounds a dead guest thread's reap too: freeing the records waits on the VMM lock", () => {
    const p = Platform.create(TWO_VMS);
    const hw = p.context;
    p.vcmdAlloc(0);
    const lock = vmField(hw, 0, VM_VMM_LOCK);
    Atomics.store(hw.i32, lock, liveTag(p));
    // A guest's thread died (not inside a trap): only vmFreeRecords takes the VMM lock.
    expect(() =>
      reapVms(hw, [0], hw.tag, false, recoveryLockWait(hw, hw.tag, undefined, 2)),
    ).toThrow(expect.objectContaining({ code: 'ERR_HW_LOCK_STALLED' }));
    p.detach();
  });

  it('lockTakeBounded: a free lock is taken, a dead holder replaced, neither reported as the other', () => {
    const p = Platform.create(TWO_VMS);
    const hw = p.context;
    const lock = vmField(hw, 1, VM_KERNEL_LOCK);
    const never = { dead: () => false, waits: 0 };
    expect(lockTakeBounded(hw.i32, lock, hw.tag, never)).toBe(false);
    expect(Atomics.load(hw.i32, lock)).toBe(hw.tag);
    Atomics.store(hw.i32, lock, 0x77);
    expect(lockTakeBounded(hw.i32, lock, hw.tag, { dead: (h) => h === 0x77, waits: 0 })).toBe(true);
    expect(Atomics.load(hw.i32, lock)).toBe(hw.tag);
    expect(() => lockTakeBounded(hw.i32, lock, 5, never)).toThrow(
      expect.objectContaining({ name: 'HwModelError', code: 'ERR_HW_LOCK_STALLED' }),
    );
    p.detach();
  });
});
