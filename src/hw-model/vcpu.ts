/**
 * A vCPU (iommu-hw-model.md §2.6, §7.4 guestEnqcmd): its guest's ENQCMD translated through
 * the VMCS PASID table as this vCPU sees it, and its VM exits, at whose VM entry it
 * acknowledges KVM's latest epoch.
 *
 * KVM kicks every vCPU in the guest when it changes an entry (vmcs.ts); a kicked vCPU keeps
 * running the guest for `latencies.vmExit` steps (the IPI is not instantaneous) and then
 * exits and re-enters, acknowledging the epoch. Until then it translates through the entry as
 * it was: the window KVM's epoch wait closes (mutation skip-epoch-wait leaves it open).
 *
 * A VM that stops running (destroyed, crashed) kicks its vCPUs the same way; at that exit a
 * vCPU does not enter again. Only the vCPU's own thread takes it out of the guest, between
 * two instructions, so a guest ENQCMD that started in the guest is logged before the VMM,
 * which waits for every vCPU to be out, frees any PASID of the VM (INV-8: the host PASID of
 * an accepted submission is Allocated. A VMM that took the vCPUs out itself and freed at once
 * let a vCPU inside an ENQCMD submit after the FREE of its PASID).
 *
 * @internal
 */
import { C } from './counters.js';
import { guestSubmit } from './cpu.js';
import { Ev } from './event-log.js';
import type { HwContext } from './hw-context.js';
import { HwErrno } from './hw-errno.js';
import {
  MD_PF,
  MD_TYPE,
  MD_VM,
  MD_WQ,
  MDT_SWQ,
  VC_ACK,
  VC_EXIT_IN,
  VC_KICK,
  VC_MSR,
  VC_STATE,
  VCS_IN_GUEST,
  VCS_OFFLINE,
  VM_EPOCH,
  VM_STATE,
  VMS_DYING,
} from './hw-layout.js';
import { mdevField, vcpuField, vmField, vmTokenOf } from './vm.js';
import { vmcsLookup } from './vmcs.js';

/** Basic exit reason 72: ENQCMD PASID translation failure (SDM; 73 is ENQCMDS's). */
export const EXIT_ENQCMD_PASID = 72;
/** IA32_PASID valid bit. */
const MSR_VALID = 1 << 31;

/**
 * The guest on vCPU `c` of VM `vm` runs ENQCMD to the vSWQ portal of `mdev` with its
 * IA32_PASID holding guest PASID `g`.
 *
 * Context: the vCPU's thread; lock-free.
 * @returns ZF_ACCEPTED (0) or ZF_RETRY (1) as a host ENQCMD; EXIT_ENQCMD_PASID (72) the
 * entry is not valid for this vCPU (no descriptor; the hypervisor injects #GP); -EINVAL the
 * mdev is not a vSWQ of this VM; -ESRCH the vCPU is not in the guest (its VM stopped running:
 * no instruction runs). Nothing changes on error.
 */
export function guestEnqcmd(
  hw: HwContext,
  vm: number,
  c: number,
  mdev: number,
  g: number,
  page: number,
): number {
  if (hw.ld(mdevField(hw, mdev, MD_VM)) !== vm || hw.ld(mdevField(hw, mdev, MD_TYPE)) !== MDT_SWQ)
    return -HwErrno.EINVAL;
  // Out of the guest only by this thread's own vcpuStep: in the guest for the whole ENQCMD.
  if (hw.ld(vcpuField(hw, vm, c, VC_STATE)) !== VCS_IN_GUEST) return -HwErrno.ESRCH;
  hw.st(vcpuField(hw, vm, c, VC_MSR), MSR_VALID | g);
  const view = vmcsLookup(hw, vm, c, g);
  const pf = hw.ld(mdevField(hw, mdev, MD_PF));
  const w = hw.ld(mdevField(hw, mdev, MD_WQ));
  if (view === null) {
    hw.count(C.guestExits);
    hw.log.emit(Ev.EXIT72, 0, 0, pf, vm, g, c);
    // The exit is a VM exit like any other: the entry after it acknowledges the epoch.
    vmEntry(hw, vm, c);
    return EXIT_ENQCMD_PASID;
  }
  // Logged before the descriptor exists (log-order rule): the checker's INV-8 and INV-4.
  hw.log.emit(Ev.GUEST_SUBMIT, view.pasid, view.gen, pf, w, vmTokenOf(hw, vm), g | (c << 20));
  const zf = guestSubmit(hw, pf, w, view.pasid, view.gen, page, -(vm + 1));
  if (zf === 0) hw.count(C.guestSubmissions);
  return zf;
}

/** VM exit and entry of vCPU `c`: it acknowledges the current epoch. */
function vmEntry(hw: HwContext, vm: number, c: number): void {
  hw.st(vcpuField(hw, vm, c, VC_KICK), 0);
  hw.st(vcpuField(hw, vm, c, VC_EXIT_IN), -1);
  hw.st(vcpuField(hw, vm, c, VC_ACK), hw.ld(vmField(hw, vm, VM_EPOCH)));
}

/**
 * One step of vCPU `c`'s exit handling: a kick starts the exit latency; when it runs out the
 * vCPU exits and re-enters (acknowledging the epoch). A vCPU of a dying VM exits
 * for good (OFFLINE): the VMM frees the VM's PASIDs once all are out.
 *
 * Context: the vCPU's thread (or a thread driving it); lock-free.
 * @returns 1 when it moved, 0 when there was nothing to do
 */
export function vcpuStep(hw: HwContext, vm: number, c: number): number {
  const state = vcpuField(hw, vm, c, VC_STATE);
  if (hw.ld(state) !== VCS_IN_GUEST) return 0;
  // DYING only: a VM that is booting has its vCPUs in the guest already (vm.ts resetVm).
  if (hw.ld(vmField(hw, vm, VM_STATE)) === VMS_DYING) {
    hw.st(vcpuField(hw, vm, c, VC_KICK), 0);
    hw.st(state, VCS_OFFLINE);
    return 1;
  }
  if (hw.ld(vcpuField(hw, vm, c, VC_KICK)) === 0) return 0;
  const w = vcpuField(hw, vm, c, VC_EXIT_IN);
  const left = hw.ld(w);
  if (left < 0) hw.st(w, hw.latencies.vmExit);
  else if (left > 0) hw.st(w, left - 1);
  else vmEntry(hw, vm, c);
  return 1;
}
