/**
 * A VM's host-kernel side, one step at a time: the notifier handlers of its three consumers
 * (KVM, the VDCM, the IOMMU driver's guest side) fed from the VM's chains in chain order, and
 * the VM's ordered workqueue the handlers defer their real work to (spec e: handlers run in
 * atomic context; the work items run one at a time, in queue order, so the order the chain
 * delivered an event in is the order its teardown steps run in: P0 by KVM, P1 by the VDCM,
 * P2..P7 by the IOMMU driver).
 *
 * Whoever holds the VM's kernel lock (a try-lock: never waits) steps it; every piece of work
 * is a resumable state machine (work-ring.ts), so any thread can continue another's.
 *
 * @internal
 */
import { Ev } from './event-log.js';
import { iommuGuestHandle, iommuTeardownStep } from './guest-iommu.js';
import type { HwContext } from './hw-context.js';
import {
  VM_KERNEL_LOCK,
  VM_RESCAN,
  WK_KIND,
  WORK_IOMMU_TEARDOWN,
  WORK_KVM_ACK,
  WORK_KVM_PROGRAM,
  WORK_VDCM_CLEAR,
} from './hw-layout.js';
import { kvmAckStep, kvmHandle, kvmProgramStep, kvmRescan } from './kvm.js';
import { lockGive, lockTry } from './owner-lock.js';
import { TD_BLOCKED, TD_DONE } from './teardown.js';
import { vdcmHandle, vdcmStep } from './vdcm.js';
import { vmField } from './vm.js';
import { IOMMU, KVM, VDCM, type VmNotification } from './vm-chain.js';
import { wk, workDone, workHead } from './work-ring.js';

/** Steps of the head work item a kernel step runs at most (it yields when blocked). */
const ITEM_STEPS = 8;

/**
 * One step of VM `vm`'s kernel: hand what its consumers may read to their handlers, then
 * advance its workqueue's head item.
 *
 * Context: any attached thread; a try-lock (returns 0 when another thread holds it).
 * @returns events handled plus work steps that made progress (0: idle or blocked)
 */
export function vmKernelStep(hw: HwContext, vm: number): number {
  const lock = vmField(hw, vm, VM_KERNEL_LOCK);
  if (!lockTry(hw.i32, lock, hw.tag)) return 0;
  try {
    let n = hw.vmChains.poll(vm, (c, e) => dispatch(hw, vm, c, e));
    if (hw.ld(vmField(hw, vm, VM_RESCAN)) !== 0) {
      hw.st(vmField(hw, vm, VM_RESCAN), 0);
      if (kvmRescan(hw, vm)) hw.st(vmField(hw, vm, VM_RESCAN), 1);
      n++;
    }
    for (let i = 0; i < ITEM_STEPS; i++) {
      const head = workHead(hw, vm);
      if (head === null) break;
      const r = runItem(hw, vm, head.w);
      if (r === TD_BLOCKED) break;
      n++;
      if (r === TD_DONE) workDone(hw, vm, head.pos);
    }
    return n;
  } finally {
    lockGive(hw.i32, lock);
  }
}

function dispatch(hw: HwContext, vm: number, consumer: number, e: VmNotification): void {
  hw.log.emit(Ev.NOTIFY, e.id, 0, -1, consumer, e.event, vm);
  let rescan = false;
  if (consumer === KVM) rescan = kvmHandle(hw, vm, e);
  else if (consumer === VDCM) rescan = vdcmHandle(hw, vm, e);
  else if (consumer === IOMMU) rescan = iommuGuestHandle(hw, vm, e);
  if (rescan) hw.st(vmField(hw, vm, VM_RESCAN), 1);
}

function runItem(hw: HwContext, vm: number, w: number): number {
  switch (wk(hw, w, WK_KIND)) {
    case WORK_KVM_PROGRAM:
      return kvmProgramStep(hw, vm, w);
    case WORK_KVM_ACK:
      return kvmAckStep(hw, vm, w);
    case WORK_VDCM_CLEAR:
      return vdcmStep(hw, vm, w);
    case WORK_IOMMU_TEARDOWN:
      return iommuTeardownStep(hw, vm, w);
    default:
      return TD_DONE;
  }
}

/**
 * True when VM `vm`'s kernel has nothing queued (stale on return).
 *
 * Context: any thread.
 */
export function vmKernelIdle(hw: HwContext, vm: number): boolean {
  return workHead(hw, vm) === null;
}
