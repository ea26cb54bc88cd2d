/**
 * The platform-wide locks a thread may hold (IOMMU, PRQ, driver workqueue, each PF's table
 * and device locks, the event log's shim lock), broken for a thread that died.
 */
import type { HwContext } from './hw-context.js';
import {
  DRIVER_WQ_LOCK,
  IOMMU_LOCK,
  L_SHIM_LOCK,
  PF_DEVICE_LOCK,
  PF_TABLE_LOCK,
  PRQ_LOCK,
} from './hw-layout.js';
import { lockBreak } from './owner-lock.js';

/**
 * Break the platform locks that the dead thread tagged `tag` held.
 *
 * Why its own module: both recoveries break them. A thread's (recovery.ts recoverThread),
 * and a VM's (vm-recovery.ts reapVms), which does it before it waits for VM locks: a live
 * thread holding a VM lock may be waiting for one of these, held by the dead thread, and the
 * wait would otherwise last until the VM recovery's bound ran out (ERR_HW_LOCK_STALLED, seen
 * once in CI: free-before-unbind with kill-vmm).
 *
 * Context: any attached thread, after the dead thread stopped; never blocks.
 * @returns how many were broken
 */
export function breakPlatformLocks(hw: HwContext, tag: number): number {
  let n = 0;
  const locks = [IOMMU_LOCK, PRQ_LOCK, DRIVER_WQ_LOCK];
  for (const p of hw.g.pf) locks.push(p.base + PF_TABLE_LOCK, p.base + PF_DEVICE_LOCK);
  for (const w of locks) if (lockBreak(hw.i32, w, tag)) n++;
  if (lockBreak(hw.logI32, L_SHIM_LOCK, tag)) n++;
  return n;
}
