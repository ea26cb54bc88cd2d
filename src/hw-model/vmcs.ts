/**
 * The VMCS PASID translation table of a VM (iommu-hw-model.md §2.6; geometry [R]) and its
 * epoch: how a guest's ENQCMD gets a host PASID, and how KVM makes sure no vCPU still uses one
 * it took away.
 *
 * KVM changes an entry (under the VM's kernel lock: one writer) and bumps the VM's epoch; each
 * vCPU acknowledges the epoch at its next VM entry (vcpu.ts). A vCPU that has not yet done so
 * still translates through the entry as it was before the change: the window KVM must close
 * before it may say "no vCPU submits with this PASID any more" (P0, §7.5). So an entry keeps
 * its previous translation and the epoch of its last change; a lookup picks the current one
 * when the vCPU acknowledged that epoch, the previous one otherwise.
 *
 * ## Developer notes
 * One level of history is enough: KVM changes an entry only when every vCPU in the guest has
 * acknowledged its previous change (`lastChangeAcked`), so a vCPU never needs the value before
 * the previous one. Readers use the VM's VMCS seqlock (VM_VMCS_SEQ, odd while KVM writes),
 * because an entry is several words (the host PASID is one word in hardware; the generation
 * the model adds is ghost state that must match it). Leaves of 1024 entries are taken from
 * the VM's pool on first use and kept until the VM reboots.
 *
 * @internal
 */
import type { HwContext } from './hw-context.js';
import {
  VC_ACK,
  VC_KICK,
  VC_STATE,
  VCS_IN_GUEST,
  VE_CUR,
  VE_EPOCH,
  VE_GEN,
  VE_OLD,
  VE_OLD_GEN,
  VE_VALID,
  VM_EPOCH,
  VM_LEAF_NEXT,
  VM_VMCS_SEQ,
  vmcsEntryWord,
} from './hw-layout.js';
import { vcpuField, vmField } from './vm.js';

/** Word of the directory entry of guest PASID `gpasid` (bits 19:10; 0 absent, else leaf + 1). */
function dirWord(hw: HwContext, vm: number, gpasid: number): number {
  return hw.g.vm[vm]!.vmcsDir + ((gpasid >>> 10) & 0x3ff);
}

/**
 * The entry word of `gpasid`, or -1 when its directory entry is absent.
 *
 * Context: any thread; lock-free.
 */
export function vmcsEntry(hw: HwContext, vm: number, gpasid: number): number {
  const d = hw.ld(dirWord(hw, vm, gpasid));
  return d === 0 ? -1 : vmcsEntryWord(hw.g, vm, d - 1, gpasid);
}

/**
 * The entry word of `gpasid`, taking a leaf for it if needed.
 *
 * Context: KVM (the VM's kernel lock).
 * @returns the word, or -1 when the VM's leaves are used up
 */
export function vmcsEntryEnsure(hw: HwContext, vm: number, gpasid: number): number {
  const e = vmcsEntry(hw, vm, gpasid);
  if (e >= 0) return e;
  const next = vmField(hw, vm, VM_LEAF_NEXT);
  const leaf = hw.ld(next);
  if (leaf >= hw.g.shape.vm.vmcsLeaves) return -1;
  hw.st(next, leaf + 1);
  // The leaf is zero (create or reboot); the directory entry publishes it.
  hw.st(dirWord(hw, vm, gpasid), leaf + 1);
  return vmcsEntryWord(hw.g, vm, leaf, gpasid);
}

/**
 * Change entry `e` of VM `vm` to `cur` (VE_VALID | host PASID, or 0) of generation `gen`,
 * bump the epoch and kick every vCPU in the guest.
 *
 * Context: KVM (the VM's kernel lock); never blocks.
 * @returns the new epoch
 */
export function vmcsChange(hw: HwContext, vm: number, e: number, cur: number, gen: number): number {
  const seq = vmField(hw, vm, VM_VMCS_SEQ);
  const epoch = hw.ld(vmField(hw, vm, VM_EPOCH)) + 1;
  Atomics.add(hw.i32, seq, 1); // odd: readers retry
  hw.st(e + VE_OLD, hw.ld(e + VE_CUR));
  hw.st(e + VE_OLD_GEN, hw.ld(e + VE_GEN));
  hw.st(e + VE_CUR, cur);
  hw.st(e + VE_GEN, gen);
  hw.st(e + VE_EPOCH, epoch);
  Atomics.add(hw.i32, seq, 1); // even: the entry is whole
  // After the entry: a vCPU that acknowledges this epoch sees the change.
  hw.st(vmField(hw, vm, VM_EPOCH), epoch);
  for (let c = 0; c < hw.g.shape.vm.vcpus; c++)
    if (hw.ld(vcpuField(hw, vm, c, VC_STATE)) === VCS_IN_GUEST)
      hw.st(vcpuField(hw, vm, c, VC_KICK), 1);
  return epoch;
}

/**
 * True when every vCPU in the guest has acknowledged epoch `epoch` (a vCPU out of the guest
 * acknowledges the current epoch when it enters).
 *
 * Context: any thread; lock-free; exact for KVM, which alone bumps the epoch.
 */
export function allAcked(hw: HwContext, vm: number, epoch: number): boolean {
  for (let c = 0; c < hw.g.shape.vm.vcpus; c++) {
    if (hw.ld(vcpuField(hw, vm, c, VC_STATE)) !== VCS_IN_GUEST) continue;
    if (hw.ld(vcpuField(hw, vm, c, VC_ACK)) - epoch < 0) return false;
  }
  return true;
}

/** True when every vCPU acknowledged the last change of entry `e` (KVM may change it again). */
export function lastChangeAcked(hw: HwContext, vm: number, e: number): boolean {
  return allAcked(hw, vm, hw.ld(e + VE_EPOCH));
}

/** A translation as one vCPU sees it. */
export interface VmcsView {
  pasid: number;
  gen: number;
}

const SEQ_SPINS = 1000;

/**
 * Translate guest PASID `gpasid` the way vCPU `c` of VM `vm` sees the table: the current
 * entry if it acknowledged the entry's last change, else the previous one.
 *
 * Context: the vCPU's thread; lock-free (seqlock read; spins only while KVM is inside a
 * change, a few stores).
 * @returns the view, or null: not valid (ENQCMD exits with reason 72)
 */
export function vmcsLookup(hw: HwContext, vm: number, c: number, gpasid: number): VmcsView | null {
  const e = vmcsEntry(hw, vm, gpasid);
  if (e < 0) return null;
  const ack = hw.ld(vcpuField(hw, vm, c, VC_ACK));
  const seq = vmField(hw, vm, VM_VMCS_SEQ);
  for (let i = 0; i < SEQ_SPINS; i++) {
    const s1 = hw.ld(seq);
    if (s1 & 1) continue;
    const newer = hw.ld(e + VE_EPOCH) - ack > 0;
    const cur = hw.ld(e + (newer ? VE_OLD : VE_CUR));
    const gen = hw.ld(e + (newer ? VE_OLD_GEN : VE_GEN));
    if (hw.ld(seq) !== s1) continue;
    return cur & VE_VALID ? { pasid: cur & 0xfffff, gen } : null;
  }
  return null;
}
