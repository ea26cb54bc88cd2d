/**
 * The synchronous VM operations of `Platform` (§7.4 "Guest (VT-d, vcmd)"): each one runs the
 * guest's part, then drives the VMM, the VM's kernel, its vCPUs and the engines until the
 * hardware is done, as the host operations do. The actors of a model run call the same
 * one-job functions without waiting.
 *
 * @internal
 */
import { Ev } from './event-log.js';
import { guestBind, guestUnbind, vmmOwedFrees } from './guest-iommu.js';
import type { HwContext } from './hw-context.js';
import { HwErrno } from './hw-errno.js';
import {
  MD_VM,
  VM_OLD_SET,
  VM_RECORDS_FREED,
  VM_SET,
  VM_STATE,
  VM_TOKEN,
  VM_VMM_LOCK,
  VMS_BOOTING,
  VMS_DYING,
  VMS_OFF,
  VMS_RUNNING,
  VP_FREE_OWED,
  VP_SPID,
  VP_STATE,
  VPS_LIVE,
} from './hw-layout.js';
import { lockGive, lockTake } from './owner-lock.js';
import { VCMD_BUSY, vcmdPoll, vcmdPost, vcmdSplit, vmmVcmdStep } from './vcmd.js';
import { SC_SUCCESS, scNoPasid, VCMD_ALLOC, VCMD_FREE } from './vcmd-regs.js';
import { vcpuStep } from './vcpu.js';
import { vdcmProgram, vdcmQueueClear } from './vdcm.js';
import {
  type BootSteps,
  mdevField,
  recordOfPasid,
  recordsFree,
  vcpusStop,
  vcpusStopped,
  vmBoot,
  vmBootFinish,
  vmField,
  vmSet,
  vmTokenOf,
  vpField,
} from './vm.js';
import { vmKernelIdle, vmKernelStep } from './vm-kernel.js';
import { vmmFree } from './vm-pasids.js';

/** Drive the hardware until `done()` (Platform's pump). @returns false on timeout */
export type Pump = (done: () => boolean) => boolean;

/**
 * Step every VM's VMM channels, kernel and vCPUs once (part of the pump).
 *
 * Context: any attached thread.
 * @returns progress made
 */
export function vmsStep(hw: HwContext): number {
  let n = 0;
  const s = hw.g.shape.vm;
  for (let vm = 0; vm < s.vms; vm++) {
    for (let vi = 0; vi < s.viommus; vi++) n += vmmVcmdStep(hw, vm, vi);
    n += vmKernelStep(hw, vm);
    n += vmmOwedFrees(hw, vm);
    n += vmFreeRecordsOnceStopped(hw, vm);
    for (let c = 0; c < s.vcpus; c++) n += vcpuStep(hw, vm, c);
  }
  return n;
}

/**
 * The boot's steps of VM `vm`: the consumers' subscriptions and the VM_BOOT event.
 *
 * VM_BOOT is logged once per boot, a resumed one included: vmBootFinish stores VM_TOKEN
 * right after `booted`, so a boot resumed with VM_TOKEN already its token (its VMM killed
 * between that store and RUNNING) has logged it. Left: a kill between the log append and the
 * VM_TOKEN store (one statement) still logs it twice, which the checker takes as one.
 */
function bootSteps(hw: HwContext, vm: number): BootSteps {
  return {
    subscribeMm: (token) => hw.vmChains.subscribeMm(vm, token),
    subscribeSet: (set) => hw.vmChains.subscribeSet(vm, set),
    booted: (set, token) => {
      if (hw.ld(vmField(hw, vm, VM_TOKEN)) === token) return;
      hw.log.emit(Ev.VM_BOOT, 0, 0, -1, vm, set, token);
    },
  };
}

/**
 * Boot VM `vm`: its set (quota from the header), KVM's subscription on the VMM's mm token
 * before the set exists, the VDCM's and the IOMMU driver's on the set right after.
 *
 * Context: any attached thread (create() for the first boot; the VMM's thread after).
 * @returns the set (>= 0), or the negative errno of vmBoot (-EBUSY: not OFF, BOOTING included)
 */
export function bootVm(hw: HwContext, vm: number): number {
  return vmBoot(hw, vm, bootSteps(hw, vm));
}

/**
 * Finish the boot of VM `vm` that a VMM thread killed inside it left BOOTING (vm.ts
 * vmBootFinish). Only the VM's VMM actor calls it, at the start of its step: a boot runs
 * within one step of that actor, whose steps never overlap, so a VM it finds BOOTING was left
 * so by its dead predecessor, never by a boot still running.
 *
 * Context: the VM's VMM thread; never blocks.
 * @returns the set (>= 0); -EBUSY the VM is not BOOTING; the core's errno (the VM is OFF)
 */
export function finishBootVm(hw: HwContext, vm: number): number {
  if (hw.ld(vmField(hw, vm, VM_STATE)) !== VMS_BOOTING) return -HwErrno.EBUSY;
  return vmBootFinish(hw, vm, bootSteps(hw, vm));
}

/**
 * A full vcmd round trip from the guest: post, let the VMM handle it, read the response.
 *
 * Context: a guest thread of VM `vm`; drives the VMM while it waits.
 * @returns `{ sc, result }`; or a negative errno: -EAGAIN another command is in flight on the
 * vIOMMU; -ETIMEDOUT no answer within the pump limit
 */
export function vcmdRoundTrip(
  hw: HwContext,
  pump: Pump,
  vm: number,
  vi: number,
  op: number,
  operand: number,
): { sc: number; result: number } | number {
  const posted = vcmdPost(hw, vm, vi, op, operand);
  if (posted < 0) return posted;
  let v = VCMD_BUSY;
  const ok = pump(() => {
    v = vcmdPoll(hw, vm, vi);
    return v !== VCMD_BUSY;
  });
  return ok ? vcmdSplit(v) : -HwErrno.ETIMEDOUT;
}

/**
 * vcmdAlloc: the guest's custom allocator asks the VMM for a PASID (gPASID = hPASID).
 *
 * @returns the PASID (> 0); -ENOSPC SC = no PASID (quota or space exhausted); -ENODEV any
 * other status (VCCAP.PAS clear: spid mode); -EAGAIN/-ETIMEDOUT as vcmdRoundTrip
 */
export function vcmdAlloc(hw: HwContext, pump: Pump, vm: number, vi: number): number {
  const r = vcmdRoundTrip(hw, pump, vm, vi, VCMD_ALLOC, 0);
  if (typeof r === 'number') return r;
  if (r.sc === SC_SUCCESS) return r.result;
  return r.sc === scNoPasid(hw.vcmdRev) ? -HwErrno.ENOSPC : -HwErrno.ENODEV;
}

/**
 * vcmdFree: the guest gives a PASID back. The guest refuses while the PASID is still bound
 * (`guestCheck`; a misbehaving guest skips it: free before unbind).
 *
 * @returns 0; -EBUSY still bound (the guest's refusal, nothing sent); -EINVAL SC = invalid
 * PASID (not the VM's: nothing changes); -ENODEV other status; -EAGAIN/-ETIMEDOUT
 */
export function vcmdFree(
  hw: HwContext,
  pump: Pump,
  vm: number,
  vi: number,
  pasid: number,
  guestCheck: boolean,
): number {
  if (guestCheck) {
    const r = recordOfPasid(hw, vm, pasid);
    if (r >= 0 && hw.ld(vpField(hw, vm, r, VP_SPID)) === 1) return -HwErrno.EBUSY;
  }
  const r = vcmdRoundTrip(hw, pump, vm, vi, VCMD_FREE, pasid);
  if (typeof r === 'number') return r;
  if (r.sc === SC_SUCCESS) {
    // The guest waits for the FREE path it started (its consumers' work) to finish.
    pump(() => vmKernelIdle(hw, vm));
    return 0;
  }
  return r.sc === scNoPasid(hw.vcmdRev) ? -HwErrno.EINVAL : -HwErrno.ENODEV;
}

/** True when `mdev` is VM `vm`'s. */
export function mdevOfVm(hw: HwContext, vm: number, mdev: number): boolean {
  return hw.ld(mdevField(hw, mdev, MD_VM)) === vm;
}

/**
 * guestBindPasid: the host bind_gpasid (after the guest wrote its PASID entry and flushed),
 * then the BIND it caused handled (KVM's VMCS entry programmed).
 *
 * @returns the host PASID (> 0), or guestBind's errno
 */
export function guestBindPasid(
  hw: HwContext,
  pump: Pump,
  vm: number,
  mdev: number,
  g: number,
): number {
  if (!mdevOfVm(hw, vm, mdev)) return -HwErrno.EINVAL;
  const h = guestBind(hw, vm, mdev, g);
  if (h > 0) pump(() => vmKernelIdle(hw, vm) && vmsStep(hw) === 0);
  return h;
}

/**
 * guestProgramWq: the guest writes `g` into its mdev; the VDCM translates it by SPID.
 *
 * @returns the host PASID (> 0), or vdcmProgram's errno; -EINVAL not the VM's mdev
 */
export function guestProgramWq(hw: HwContext, vm: number, mdev: number, g: number): number {
  if (!mdevOfVm(hw, vm, mdev)) return -HwErrno.EINVAL;
  return vdcmProgram(hw, vm, mdev, g);
}

/**
 * guestUnbindPasid: host unbind_gpasid, then every piece of the teardown it starts (KVM's
 * epoch wait, the VDCM's drain, the IOMMU driver's P2..P7).
 *
 * @returns 0, or guestUnbind's errno; -ETIMEDOUT the teardown did not finish
 */
export function guestUnbindPasid(
  hw: HwContext,
  pump: Pump,
  vm: number,
  mdev: number,
  g: number,
): number {
  if (!mdevOfVm(hw, vm, mdev)) return -HwErrno.EINVAL;
  const r = guestUnbind(hw, vm, mdev, g);
  if (r < 0) return r;
  return pump(() => vmKernelIdle(hw, vm) && vmsStep(hw) === 0) ? 0 : -HwErrno.ETIMEDOUT;
}

/**
 * guestMdevClear: the VDCM drains every PASID programmed into the mdev, clears it and puts.
 *
 * @returns 0; -EINVAL not the VM's mdev; -EAGAIN workqueue full; -ETIMEDOUT
 */
export function guestMdevClear(hw: HwContext, pump: Pump, vm: number, mdev: number): number {
  if (!mdevOfVm(hw, vm, mdev)) return -HwErrno.EINVAL;
  const q = vdcmQueueClear(hw, vm, mdev);
  if (q < 0) return q;
  return pump(() => vmKernelIdle(hw, vm)) ? 0 : -HwErrno.ETIMEDOUT;
}

/**
 * Start destroying VM `vm` (vmDestroy, and a guest crash): every vCPU is asked to stop; once
 * all are out of the guest the VMM frees every PASID of the VM's set (each one through the
 * FREE path: KVM, VDCM, IOMMU driver in chain order; vmFreeRecordsOnceStopped).
 *
 * @param crash - log it as a crash (the same teardown)
 *
 * Context: any attached thread; never blocks.
 * @returns 0; -ESRCH the VM is not running
 */
export function vmDestroyStart(hw: HwContext, vm: number, crash: boolean): number {
  if (!vmMarkDying(hw, vm, crash)) return -HwErrno.ESRCH;
  vmFreeRecordsOnceStopped(hw, vm);
  return 0;
}

/**
 * The first half of vmDestroyStart: RUNNING -> DYING (logged), every vCPU kicked to leave the
 * guest. From here on the VMM answers no vcmd of the VM (vcmd.ts) and binds nothing, so no
 * PASID joins the dying set.
 *
 * Context: any attached thread; never blocks.
 * @returns true when this call marked it; false when the VM was not running
 */
export function vmMarkDying(hw: HwContext, vm: number, crash: boolean): boolean {
  const state = vmField(hw, vm, VM_STATE);
  if (Atomics.compareExchange(hw.i32, state, VMS_RUNNING, VMS_DYING) !== VMS_RUNNING) return false;
  hw.log.emit(Ev.VM_DESTROY, 0, 0, -1, vm, crash ? 1 : 0, vmTokenOf(hw, vm));
  vcpusStop(hw, vm);
  return true;
}

/**
 * The second half, once every vCPU is out of the guest: the VMM frees the VM's records (once;
 * a VMM killed inside is redone by the next call, vmFreeRecords is idempotent). Freed while a
 * vCPU was still inside an ENQCMD, the submission would carry a free-pending PASID (INV-8).
 *
 * @param take - takes the VMM lock for this thread (default lockTake; a reaper's is bounded)
 *
 * Context: any attached thread (the VMM's); never blocks for long (takes the VMM lock).
 * @returns 1 when it freed them now, 0 otherwise
 */
export function vmFreeRecordsOnceStopped(
  hw: HwContext,
  vm: number,
  take: (word: number) => void = (w) => lockTake(hw.i32, w, hw.tag),
): number {
  if (hw.ld(vmField(hw, vm, VM_STATE)) !== VMS_DYING) return 0;
  const done = vmField(hw, vm, VM_RECORDS_FREED);
  if (hw.ld(done) !== 0 || !vcpusStopped(hw, vm)) return 0;
  vmFreeRecords(hw, vm, take);
  hw.st(done, 1);
  return 1;
}

/**
 * The VMM frees every live PASID of the VM (each through the FREE path); called by
 * vmFreeRecordsOnceStopped once every vCPU is out of the guest.
 *
 * Context: any attached thread, the VM DYING; takes the VM's VMM lock with `take` (lockTake
 * by default, which waits as long as the holder keeps it; the main thread's reaper passes a
 * bounded take, vm-recovery.ts reapVms).
 */
export function vmFreeRecords(
  hw: HwContext,
  vm: number,
  take: (word: number) => void = (w) => lockTake(hw.i32, w, hw.tag),
): void {
  // Under the VMM lock: no bind or vcmd of the VM is half done while its records go.
  const lock = vmField(hw, vm, VM_VMM_LOCK);
  take(lock);
  for (let r = 0; r < hw.g.shape.vm.pasids; r++) {
    hw.st(vpField(hw, vm, r, VP_FREE_OWED), 0);
    if (hw.ld(vpField(hw, vm, r, VP_STATE)) === VPS_LIVE) vmmFree(hw, vm, r);
  }
  lockGive(hw.i32, lock);
}

/**
 * Finish destroying VM `vm` once its teardown is done: its consumers' subscriptions retired,
 * its (empty) set freed, the VM OFF.
 *
 * Context: any attached thread; never blocks.
 * @returns true when it finished (this call), false while work or records remain
 */
export function vmDestroyDone(hw: HwContext, vm: number): boolean {
  if (hw.ld(vmField(hw, vm, VM_RECORDS_FREED)) === 0) return false;
  if (!vmKernelIdle(hw, vm) || !recordsFree(hw, vm)) return false;
  const state = vmField(hw, vm, VM_STATE);
  if (hw.ld(state) !== VMS_DYING) return false;
  const set = vmSet(hw, vm);
  hw.vmChains.retire(vm);
  hw.st(vmField(hw, vm, VM_OLD_SET), set);
  hw.st(vmField(hw, vm, VM_SET), -1);
  hw.space.setFree(set);
  return Atomics.compareExchange(hw.i32, state, VMS_DYING, VMS_OFF) === VMS_DYING;
}

/**
 * vmDestroy: start, then drive the teardown until the VM is OFF.
 *
 * Context: any attached thread.
 * @returns 0; -ESRCH the VM is not running; -ETIMEDOUT the teardown did not finish
 */
export function vmDestroy(hw: HwContext, pump: Pump, vm: number, crash: boolean): number {
  const r = vmDestroyStart(hw, vm, crash);
  if (r < 0) return r;
  const off = () => hw.ld(vmField(hw, vm, VM_STATE)) === VMS_OFF;
  // The pump steps the vCPUs out and frees the records (vmsStep).
  return pump(() => off() || vmDestroyDone(hw, vm)) ? 0 : -HwErrno.ETIMEDOUT;
}
