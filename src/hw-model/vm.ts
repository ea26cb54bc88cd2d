/**
 * VMs (iommu-hw-model.md §7.3 "VM"): field access to a VM's region, its VMM's records of the
 * host PASIDs it handed to the guest, and its life cycle.
 *
 * ```text
 *   OFF --boot--> RUNNING --destroy--> DYING --(set gone, records free)--> OFF
 *                    |                   ^
 *                    +--crash (a thread  |  the reaper resolves what the dead threads left
 *                       of the VM died)--+  half done, then destroys
 * ```
 * Boot creates the VM's IOASID set (an MM set whose token is the VMM's, quota vmQuota), its
 * consumers' subscriptions (vm-chain.ts), a clean VMCS table and vcmd registers, and puts
 * every vCPU in the guest. Destroy (§7.4 vmDestroy) frees every host PASID of the set: each
 * one goes through the FREE path (KVM, VDCM and the IOMMU driver tear it down in notifier
 * order, vm-kernel.ts), and the set is freed too, destroyed with its last id. The VM is OFF
 * again once the set is gone and every record is free.
 *
 * ## Developer notes
 * The VMM's records (VP_*) are its bookkeeping of which host PASID (and generation) stands
 * for which guest PASID; the IOMMU driver keeps its per-PF bonds and its reference there too
 * (Linux keeps them in the `intel_svm` the IOASID's private data points at). A record is
 * claimed by CAS (FREE -> LIVE) by the VMM, marked FREED when the VMM frees its PASID, and
 * released (FREED -> FREE) by whichever of the VMM and the IOMMU driver last lets go: each
 * stores its own "done" first and then checks the other's, so at least one sees both.
 *
 * @internal
 */

import { SetType } from '../core/ioasid/ioasid-space.js';
import { bf } from './bonds.js';
import type { HwContext } from './hw-context.js';
import { HwErrno } from './hw-errno.js';
import {
  B_STATE,
  BS_FREE,
  GP_GPASID,
  GP_MDEV,
  GP_PROGRAMMED,
  GP_STALE,
  GP_STATE,
  GPROC_WORDS,
  gprocWord,
  H_VM_QUOTA,
  MD_VM,
  MDEV_WORDS,
  mdevWord,
  REF_NONE,
  VC_ACK,
  VC_BUSY,
  VC_EXIT_IN,
  VC_KICK,
  VC_MSR,
  VC_STATE,
  VCS_IN_GUEST,
  VCS_OFFLINE,
  VI_REGS,
  VIOMMU_WORDS,
  VM_EPOCH,
  VM_INSTANCE,
  VM_LEAF_NEXT,
  VM_OLD_SET,
  VM_PENDING_TICKET,
  VM_RECORDS_FREED,
  VM_SET,
  VM_STATE,
  VM_TOKEN,
  VM_VMCS_SEQ,
  VM_VMM_OP,
  VMCS_DIR_ENTRIES,
  VMCS_ENTRY_WORDS,
  VMCS_LEAF_ENTRIES,
  VMOP_NONE,
  VMS_BOOTING,
  VMS_DYING,
  VMS_OFF,
  VMS_RUNNING,
  VP_BOND,
  VP_GEN,
  VP_GPASID,
  VP_IOMMU_REF,
  VP_PASID,
  VP_STATE,
  VPASID_WORDS,
  VPS_FREE,
  VPS_FREED,
  VPS_LIVE,
  vcpuWord,
  vmToken,
  vmWord,
  vpasidWord,
} from './hw-layout.js';
import { VCCAP_PAS, vccapWord } from './vcmd-regs.js';

/** Word index of field `f` of VM `vm`. */
export function vmField(hw: HwContext, vm: number, f: number): number {
  return vmWord(hw.g, vm, f);
}

/** Word index of field `f` of vCPU `c` of VM `vm`. */
export function vcpuField(hw: HwContext, vm: number, c: number, f: number): number {
  return vcpuWord(hw.g, vm, c) + f;
}

/** Word index of field `f` of guest process `p` of VM `vm`. */
export function gprocField(hw: HwContext, vm: number, p: number, f: number): number {
  return gprocWord(hw.g, vm, p) + f;
}

/** Word index of field `f` of VMM record `r` of VM `vm`. */
export function vpField(hw: HwContext, vm: number, r: number, f: number): number {
  return vpasidWord(hw.g, vm, r) + f;
}

/** Word index of word `f` of vIOMMU `i` of VM `vm`. */
export function viommuField(hw: HwContext, vm: number, i: number, f: number): number {
  return hw.g.vm[vm]!.viommu[i]! + f;
}

/** Word index of field `f` of mdev `m`. */
export function mdevField(hw: HwContext, m: number, f: number): number {
  return mdevWord(hw.g, m) + f;
}

/** The mdevs of VM `vm` (indices). */
export function mdevsOf(hw: HwContext, vm: number): number[] {
  const out: number[] = [];
  hw.g.shape.vm.mdevs.forEach((m, i) => {
    if (m.vm === vm) out.push(i);
  });
  return out;
}

/** The VM's live set (-1 when it has none). */
export function vmSet(hw: HwContext, vm: number): number {
  return hw.ld(vmField(hw, vm, VM_SET));
}

/** The VM's token (the VMM's mm token: its set's token and its PASIDs' data). */
export function vmTokenOf(hw: HwContext, vm: number): number {
  return hw.ld(vmField(hw, vm, VM_TOKEN));
}

/**
 * The VMM record of host PASID `pasid` of VM `vm`: a LIVE one first, else the FREED one of
 * the latest generation. A small PASID space reuses a value while the record of its older
 * generation is still FREED (its teardown between the reclaim and the record's release):
 * that one is never the value's current record.
 *
 * Context: any thread; lock-free; stale on return.
 * @returns the record index, or -1
 */
export function recordOfPasid(hw: HwContext, vm: number, pasid: number): number {
  let freed = -1;
  let freedGen = 0;
  for (let r = 0; r < hw.g.shape.vm.pasids; r++) {
    if (hw.ld(vpField(hw, vm, r, VP_PASID)) !== pasid) continue;
    const st = hw.ld(vpField(hw, vm, r, VP_STATE));
    // Again after the state: a record claimed between the two loads had its words cleared
    // before it became LIVE (vm-pasids.ts claimRecordSaved); the first load was stale.
    if (hw.ld(vpField(hw, vm, r, VP_PASID)) !== pasid) continue;
    if (st === VPS_LIVE) return r;
    const gen = hw.ld(vpField(hw, vm, r, VP_GEN));
    // Tickets only grow (serial-number comparison: they may wrap).
    if (st === VPS_FREED && (freed < 0 || gen - freedGen > 0)) {
      freed = r;
      freedGen = gen;
    }
  }
  return freed;
}

/**
 * The VMM record of generation `gen` of host PASID `pasid` (LIVE or FREED): what a work item
 * queued for that generation acts on.
 *
 * Context: any thread; lock-free; stale on return.
 * @returns the record index, or -1
 */
export function recordOfGeneration(hw: HwContext, vm: number, pasid: number, gen: number): number {
  for (let r = 0; r < hw.g.shape.vm.pasids; r++) {
    if (hw.ld(vpField(hw, vm, r, VP_PASID)) !== pasid) continue;
    if (hw.ld(vpField(hw, vm, r, VP_GEN)) !== gen) continue;
    const st = hw.ld(vpField(hw, vm, r, VP_STATE));
    // Again after the state, as in recordOfPasid.
    if (hw.ld(vpField(hw, vm, r, VP_PASID)) !== pasid) continue;
    if (st === VPS_LIVE || st === VPS_FREED) return r;
  }
  return -1;
}

/**
 * The LIVE VMM record whose guest PASID is `gpasid`.
 *
 * Context: any thread; lock-free; stale on return.
 * @returns the record index, or -1
 */
export function recordOfGpasid(hw: HwContext, vm: number, gpasid: number): number {
  for (let r = 0; r < hw.g.shape.vm.pasids; r++)
    if (
      hw.ld(vpField(hw, vm, r, VP_STATE)) === VPS_LIVE &&
      hw.ld(vpField(hw, vm, r, VP_GPASID)) === gpasid
    )
      return r;
  return -1;
}

/** The bond of record `r` on `pf` (-1 none). */
export function recordBond(hw: HwContext, vm: number, r: number, pf: number): number {
  return hw.ld(vpField(hw, vm, r, VP_BOND + pf)) - 1;
}

/** True when record `r` still has a bond on some PF. */
export function recordHasBonds(hw: HwContext, vm: number, r: number): boolean {
  for (let pf = 0; pf < hw.g.pf.length; pf++) {
    const b = recordBond(hw, vm, r, pf);
    if (b >= 0 && hw.ld(bf(hw, b, B_STATE)) !== BS_FREE) return true;
  }
  return false;
}

/**
 * Release record `r` if nothing holds it any more: FREED by the VMM, no IOMMU reference, no
 * bond. Called by both after their own part (module notes).
 *
 * Context: the VMM or the IOMMU driver; lock-free (one CAS).
 */
export function releaseRecordIfDone(hw: HwContext, vm: number, r: number): void {
  if (hw.ld(vpField(hw, vm, r, VP_STATE)) !== VPS_FREED) return;
  if (hw.ld(vpField(hw, vm, r, VP_IOMMU_REF)) !== REF_NONE) return;
  if (recordHasBonds(hw, vm, r)) return;
  Atomics.compareExchange(hw.i32, vpField(hw, vm, r, VP_STATE), VPS_FREED, VPS_FREE);
}

/** Claim a free VMM record (FREE -> LIVE). @returns the index, or -1 when none is free */
export function claimRecord(hw: HwContext, vm: number): number {
  for (let r = 0; r < hw.g.shape.vm.pasids; r++) {
    const w = vpField(hw, vm, r, VP_STATE);
    if (hw.ld(w) !== VPS_FREE) continue;
    // Cleared before the claim, as vm-pasids.ts claimRecordSaved (only the VMM claims).
    for (let f = 1; f < VPASID_WORDS; f++) hw.st(vpField(hw, vm, r, f), 0);
    if (Atomics.compareExchange(hw.i32, w, VPS_FREE, VPS_LIVE) !== VPS_FREE) continue;
    return r;
  }
  return -1;
}

/** True while every record of the VM is free. */
export function recordsFree(hw: HwContext, vm: number): boolean {
  for (let r = 0; r < hw.g.shape.vm.pasids; r++)
    if (hw.ld(vpField(hw, vm, r, VP_STATE)) !== VPS_FREE) return false;
  return true;
}

/**
 * What a boot asks of the VM's consumers (vm-chain.ts) and log. A resumed boot
 * (`vmBootFinish`) calls them again: the subscriptions must then do nothing they already did;
 * `booted` skips its VM_BOOT when VM_TOKEN already names this boot, so it logs twice only
 * after a kill between its append and that store, which the checker takes as one (it maps
 * the token to the VM again; the VM submitted nothing while BOOTING).
 */
export interface BootSteps {
  /** Before the set exists: subscribe the consumers that follow the VMM's mm token (KVM). */
  subscribeMm(token: number): void;
  /** Once the set exists: subscribe the set's consumers (VDCM, IOMMU driver). */
  subscribeSet(set: number): void;
  /** Everything is in place; the VM runs right after (logged before its first guest event). */
  booted(set: number, token: number): void;
}

/**
 * Boot VM `vm`: a new instance (token), its IOASID set, clean VMCS and vcmd registers, every
 * vCPU in the guest, its consumers subscribed.
 *
 * Context: the VMM (or create()); the VM must be OFF; never blocks.
 * @returns the set (>= 0); -EBUSY the VM is not OFF; the core's error when the set could not be
 * created (the VM stays OFF)
 */
export function vmBoot(hw: HwContext, vm: number, steps: BootSteps): number {
  const state = vmField(hw, vm, VM_STATE);
  if (Atomics.compareExchange(hw.i32, state, VMS_OFF, VMS_BOOTING) !== VMS_OFF)
    return -HwErrno.EBUSY;
  return vmBootFinish(hw, vm, steps);
}

/**
 * Run the boot of VM `vm`, BOOTING, to its end: from its start, or from wherever a VMM killed
 * inside it left it (the VM stays BOOTING, which only the VM's VMM actor touches: its
 * replaced thread finishes it, vm-ops.ts finishBootVm). Every step is skipped when its effect
 * is already there:
 * - the instance: VM_TOKEN names the last finished boot's until this one ends, and VM_SET is
 *   -1 until this boot's set is in it; so with VM_SET -1, an instance whose token is still
 *   VM_TOKEN was not taken yet;
 * - the set: found by its token (`findMmSet`) when it was made but not recorded;
 * - the subscriptions: their words, or, for a VMM killed between a registration and the
 *   store of its id, the core's findNotifier by the consumer's owner tag (vm-chain.ts): the
 *   subscriber is adopted, not registered twice (an unread twin would hold up the chain).
 *
 * Context: vmBoot's caller, or the VM's VMM thread for a boot its predecessor left (the VM
 * BOOTING); never blocks.
 * @returns as vmBoot
 */
export function vmBootFinish(hw: HwContext, vm: number, steps: BootSteps): number {
  const state = vmField(hw, vm, VM_STATE);
  let set = hw.ld(vmField(hw, vm, VM_SET));
  let instance = hw.ld(vmField(hw, vm, VM_INSTANCE));
  if (set < 0 && vmToken(vm, instance) === hw.ld(vmField(hw, vm, VM_TOKEN)))
    instance = Atomics.add(hw.i32, vmField(hw, vm, VM_INSTANCE), 1) + 1;
  const token = vmToken(vm, instance);
  steps.subscribeMm(token);
  if (set < 0) {
    set = hw.space.findMmSet(token);
    if (set < 0) set = hw.space.setAlloc(token, hw.ld(H_VM_QUOTA), SetType.MM);
    if (set < 0) {
      // KVM's subscription stays: the next boot takes this instance again (VM_TOKEN still
      // names the last finished boot), so it finds the subscription in place.
      hw.st(state, VMS_OFF);
      return set;
    }
    resetVm(hw, vm);
    hw.st(vmField(hw, vm, VM_SET), set);
  }
  steps.subscribeSet(set);
  steps.booted(set, token);
  hw.st(vmField(hw, vm, VM_TOKEN), token);
  // Last: a VM is RUNNING only once everything above is in place.
  hw.st(state, VMS_RUNNING);
  return set;
}

/** Guest memory, VMCS, registers and vCPUs as a freshly booted VM has them. */
function resetVm(hw: HwContext, vm: number): void {
  const g = hw.g.vm[vm]!;
  const s = hw.g.shape.vm;
  for (let d = 0; d < VMCS_DIR_ENTRIES; d++) hw.st(g.vmcsDir + d, 0);
  const leaves = Math.min(hw.ld(vmField(hw, vm, VM_LEAF_NEXT)), s.vmcsLeaves);
  for (let w = 0; w < leaves * VMCS_LEAF_ENTRIES * VMCS_ENTRY_WORDS; w++)
    hw.st(g.vmcsLeafBase + w, 0);
  hw.st(vmField(hw, vm, VM_LEAF_NEXT), 0);
  hw.st(vmField(hw, vm, VM_VMCS_SEQ), 0);
  hw.st(vmField(hw, vm, VM_EPOCH), 0);
  hw.st(vmField(hw, vm, VM_PENDING_TICKET), 0);
  hw.st(vmField(hw, vm, VM_VMM_OP), VMOP_NONE);
  hw.st(vmField(hw, vm, VM_RECORDS_FREED), 0);
  for (let p = 0; p < s.procs; p++)
    for (const f of [GP_STATE, GP_GPASID, GP_MDEV, GP_PROGRAMMED, GP_STALE])
      hw.st(gprocField(hw, vm, p, f), 0);
  for (let i = 0; i < s.viommus; i++) {
    for (let w = 0; w < VIOMMU_WORDS; w++) hw.st(viommuField(hw, vm, i, w), 0);
    const cap = hw.spidMode ? 0 : VCCAP_PAS;
    hw.st(viommuField(hw, vm, i, VI_REGS + vccapWord(hw.vcmdRev)), cap);
  }
  for (let c = 0; c < s.vcpus; c++) {
    hw.st(vcpuField(hw, vm, c, VC_ACK), 0);
    hw.st(vcpuField(hw, vm, c, VC_KICK), 0);
    hw.st(vcpuField(hw, vm, c, VC_MSR), 0);
    hw.st(vcpuField(hw, vm, c, VC_BUSY), 0);
    hw.st(vcpuField(hw, vm, c, VC_EXIT_IN), -1);
    hw.st(vcpuField(hw, vm, c, VC_STATE), VCS_IN_GUEST);
  }
}

/**
 * Ask every vCPU of a VM that is no longer running to leave the guest: a kick, as for an
 * epoch; the vCPU's own thread takes it out at its next exit (vcpu.ts vcpuStep), never inside
 * an instruction. Context: any thread; never blocks.
 */
export function vcpusStop(hw: HwContext, vm: number): void {
  for (let c = 0; c < hw.g.shape.vm.vcpus; c++)
    if (hw.ld(vcpuField(hw, vm, c, VC_STATE)) === VCS_IN_GUEST)
      hw.st(vcpuField(hw, vm, c, VC_KICK), 1);
}

/** True when no vCPU of the VM is in the guest. Context: any thread; stale on return. */
export function vcpusStopped(hw: HwContext, vm: number): boolean {
  for (let c = 0; c < hw.g.shape.vm.vcpus; c++)
    if (hw.ld(vcpuField(hw, vm, c, VC_STATE)) !== VCS_OFFLINE) return false;
  return true;
}

/**
 * Take every vCPU of the VM out of the guest at once (KVM then waits for none of them): only
 * for vCPUs whose thread is dead (vm-recovery.ts), which runs no instruction any more.
 */
export function vcpusOffline(hw: HwContext, vm: number): void {
  for (let c = 0; c < hw.g.shape.vm.vcpus; c++) hw.st(vcpuField(hw, vm, c, VC_STATE), VCS_OFFLINE);
}

/** True when VM `vm` is destroyed and its teardown finished: the set gone, every record free. */
export function vmTornDown(hw: HwContext, vm: number): boolean {
  if (hw.ld(vmField(hw, vm, VM_STATE)) !== VMS_DYING) return false;
  const old = hw.ld(vmField(hw, vm, VM_OLD_SET));
  if (old >= 0 && hw.space.findMmSet(hw.ld(vmField(hw, vm, VM_TOKEN))) === old) return false;
  return recordsFree(hw, vm);
}

/** mdev `m`'s VM. */
export function mdevVm(hw: HwContext, m: number): number {
  return hw.ld(mdevField(hw, m, MD_VM));
}

/** Words of one mdev record (for scans). */
export const MDEV_RECORD_WORDS = MDEV_WORDS;
/** Words of one guest process (for scans). */
export const GPROC_RECORD_WORDS = GPROC_WORDS;
