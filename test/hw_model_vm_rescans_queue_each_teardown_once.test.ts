/**
 * A VM destroyed with many PASIDs bound, and its kernel rescanned again and again before the
 * teardown work runs (a rescan per VMM death, vm-recovery.ts requeueTeardowns, or per lost
 * chain event): the workqueue holds at most the 3 items per PASID of one teardown (KVM's
 * drop, the VDCM's quiescing, the IOMMU driver's teardown). Before, every rescan queued the
 * VDCM and IOMMU items of every freed record again, and KVM's drops: in threaded vm-crash
 * runs with kill-vmm the duplicates filled the 8192-entry ring (14.8 items per freed PASID
 * against 3.8 without kills). Then the teardown still finishes and the VM is OFF.
 */
import { describe, expect, it } from 'vitest';
import { VM_KERNEL_LOCK, VM_STATE, VMS_OFF } from '../src/hw-model/hw-layout.js';
import { Platform } from '../src/hw-model/index.js';
import { lockGive, lockTake } from '../src/hw-model/owner-lock.js';
import { vcpusOffline, vmField } from '../src/hw-model/vm.js';
import { rescanConsumers, vmKernelStep } from '../src/hw-model/vm-kernel.js';
import { vmFreeRecordsOnceStopped, vmMarkDying } from '../src/hw-model/vm-ops.js';
import { workPending } from '../src/hw-model/work-ring.js';
import { TWO_VMS } from './helpers/two-vms.js';
import { engines, settleVm0 } from './helpers/vm-engines.js';

const PASIDS = 6;
const RESCANS = 5;

describe('rescans of a dying VM', () => {
  it(`queue each teardown once: at most 3 items per PASID after ${RESCANS} rescans`, () => {
    const p = Platform.create(TWO_VMS);
    const hw = p.context;
    for (let i = 0; i < PASIDS; i++) {
      const h = p.vcmdAlloc(0);
      expect(h).toBeGreaterThan(0);
      expect(p.guestBindPasid(0, 0, h)).toBe(h);
    }
    // Let the binds' own work (KVM's programming) run, so that only teardown work follows.
    settleIdle(p);
    const before = workPending(hw, 0);
    // The destroy: the VM dying, its vCPUs out, its records freed (FREE events on the chains).
    expect(vmMarkDying(hw, 0, true)).toBe(true);
    vcpusOffline(hw, 0);
    expect(vmFreeRecordsOnceStopped(hw, 0)).toBe(1);
    const lock = vmField(hw, 0, VM_KERNEL_LOCK);
    lockTake(hw.i32, lock, hw.tag);
    for (let i = 0; i < RESCANS; i++) expect(rescanConsumers(hw, 0)).toBe(false);
    lockGive(hw.i32, lock);
    const queued = workPending(hw, 0) - before;
    // 3 per PASID, plus at most the 3 of the head item's teardown per later rescan (the head
    // may have started, so its items do not count as queued). Without the dedup: 2 per PASID
    // per rescan, plus KVM's drops: 90 here.
    expect(queued).toBeGreaterThan(0);
    expect(queued).toBeLessThanOrEqual(3 * PASIDS + 3 * (RESCANS - 1));
    settleVm0(p);
    expect(hw.ld(vmField(hw, 0, VM_STATE))).toBe(VMS_OFF);
    expect(workPending(hw, 0)).toBe(0);
    p.detach();
  });
});

/** Step VM 0's kernel (and the engines) until its workqueue is empty: the binds' work. */
function settleIdle(p: Platform): void {
  const hw = p.context;
  for (let i = 0; i < 1000; i++) {
    vmKernelStep(hw, 0);
    engines(p);
    if (workPending(hw, 0) === 0) return;
  }
}
