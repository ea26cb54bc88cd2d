/**
 * The locks a thread of the model may hold, broken for a thread that died: the platform-wide
 * ones (IOMMU, PRQ, driver workqueue, each PF's table and device locks, the event log's shim
 * lock) and every VM's (kernel, VMM) and vIOMMU's (guest, PASID table) locks.
 */
import type { HwContext } from './hw-context.js';
import {
  DRIVER_WQ_LOCK,
  IOMMU_LOCK,
  L_SHIM_LOCK,
  PF_DEVICE_LOCK,
  PF_TABLE_LOCK,
  PRQ_LOCK,
  VI_GUEST_LOCK,
  VI_PT_LOCK,
  VM_KERNEL_LOCK,
  VM_VMM_LOCK,
} from './hw-layout.js';
import { lockBreak } from './owner-lock.js';
import { viommuField, vmField } from './vm.js';

/**
 * Break every lock the dead thread tagged `tag` held.
 *
 * Why one function for both recoveries: a thread's (recovery.ts recoverThread) and a VM's
 * (vm-recovery.ts reapVms), which runs first and then waits for VM locks. When the VM
 * recovery broke only the VM locks, a live thread holding a VM lock while it waited for a
 * platform lock of the dead thread held that wait up until its bound ran out
 * (ERR_HW_LOCK_STALLED, seen once in CI: free-before-unbind with kill-vmm).
 *
 * Context: any attached thread, after the dead thread stopped; never blocks.
 * @returns how many were broken
 */
export function breakThreadLocks(hw: HwContext, tag: number): number {
  let n = 0;
  const locks = [IOMMU_LOCK, PRQ_LOCK, DRIVER_WQ_LOCK];
  for (const p of hw.g.pf) locks.push(p.base + PF_TABLE_LOCK, p.base + PF_DEVICE_LOCK);
  for (let vm = 0; vm < hw.g.shape.vm.vms; vm++) {
    locks.push(vmField(hw, vm, VM_KERNEL_LOCK), vmField(hw, vm, VM_VMM_LOCK));
    for (let vi = 0; vi < hw.g.shape.vm.viommus; vi++)
      locks.push(viommuField(hw, vm, vi, VI_GUEST_LOCK), viommuField(hw, vm, vi, VI_PT_LOCK));
  }
  for (const w of locks) if (lockBreak(hw.i32, w, tag)) n++;
  if (lockBreak(hw.logI32, L_SHIM_LOCK, tag)) n++;
  return n;
}
