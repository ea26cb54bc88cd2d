/**
 * Guest bonds: the IOMMU driver's per-(PF, VM PASID) binding records for nested (guest SVA)
 * entries, in the same pool as the host bonds (bonds.ts) so that one teardown machine
 * (teardown.ts) takes both through P2..P7. A guest bond names its VM and the VMM record of
 * its PASID (B_MM = vm << 16 | record), which holds the bond per PF and the driver's one
 * reference on the PASID for all of them (Linux: the `intel_svm` of a guest PASID and its
 * list of devices).
 *
 * What differs from a host bond, and lives here: P0 and P1 of a guest bond are the other
 * consumers' (KVM's epoch wait, the VDCM's drain, in notifier order: vm-kernel.ts), so the
 * IOMMU driver's teardown starts at P2; at P7 the bond is unlinked from its record, and the
 * last bond of the record gives the driver's reference back.
 *
 * @internal
 */
import { bf, bondFree } from './bonds.js';
import { Ev, RELOGGED } from './event-log.js';
import type { HwContext } from './hw-context.js';
import {
  B_FLAGS,
  B_GEN,
  B_MM,
  B_PASID,
  B_PF,
  B_STATE,
  B_TOKEN,
  BF_REF_DROPPED,
  BS_FREE,
  REF_HELD,
  REF_NONE,
  REF_PUTTING,
  VM_VMM_OP,
  VMOP_NONE,
  VP_BOND,
  VP_IOMMU_REF,
  VP_STATE,
} from './hw-layout.js';
import { releaseRecordIfDone, vmField, vpField } from './vm.js';
import { unrecordedRef } from './vm-refs.js';

/** GET/PUT event operand b: which consumer holds the reference (0: the host driver). */
export const HOLDER_HOST = 0;
export const HOLDER_IOMMU = 1;
export const HOLDER_KVM = 2;
export const HOLDER_VDCM = 3;
/** Holder names, for traces and the refcount walk. */
export const HOLDER_NAMES = ['host', 'IOMMU', 'KVM', 'VDCM'] as const;

/** B_MM of a guest bond. */
export function guestBondMm(vm: number, r: number): number {
  return (vm << 16) | r;
}

/** The VM and VMM record of guest bond `b`. */
export function guestBondOwner(hw: HwContext, b: number): { vm: number; r: number } {
  const mm = hw.ld(bf(hw, b, B_MM));
  return { vm: mm >>> 16, r: mm & 0xffff };
}

/** Remove guest bond `b` from its record (idempotent). */
export function guestUnlink(hw: HwContext, b: number): void {
  const { vm, r } = guestBondOwner(hw, b);
  const pf = hw.ld(bf(hw, b, B_PF));
  Atomics.compareExchange(hw.i32, vpField(hw, vm, r, VP_BOND + pf), b + 1, 0);
}

/** True when another bond of `b`'s record still holds its share of the driver's reference. */
export function guestOtherBondsHoldRef(hw: HwContext, b: number): boolean {
  const { vm, r } = guestBondOwner(hw, b);
  for (let pf = 0; pf < hw.g.pf.length; pf++) {
    const x = hw.ld(vpField(hw, vm, r, VP_BOND + pf)) - 1;
    if (x < 0 || x === b || hw.ld(bf(hw, x, B_STATE)) === BS_FREE) continue;
    if (!(hw.ld(bf(hw, x, B_FLAGS)) & BF_REF_DROPPED)) return true;
  }
  return false;
}

/**
 * With the last bond of its record: give the IOMMU driver's reference back (logged before the
 * put, which may reclaim), then release the record if the VMM is done with it too.
 *
 * Context: the thread driving the teardown of `b`; never blocks.
 */
export function guestDropReference(hw: HwContext, b: number, resumed = false): void {
  if (guestOtherBondsHoldRef(hw, b)) return;
  const { vm, r } = guestBondOwner(hw, b);
  const ref = vpField(hw, vm, r, VP_IOMMU_REF);
  if (Atomics.compareExchange(hw.i32, ref, REF_HELD, REF_PUTTING) !== REF_HELD) return;
  const pasid = hw.ld(bf(hw, b, B_PASID));
  const gen = hw.ld(bf(hw, b, B_GEN));
  const token = hw.ld(bf(hw, b, B_TOKEN));
  // FREE before unbind leaves the SPID attached: the reclaim unhashes it, and no UNBIND
  // follows a FREE (a detach here would send one, which a consumer could take for the
  // value's next generation).
  // Resumed after a kill: the dead thread may have appended it already (counted once).
  hw.log.emit(Ev.PUT, pasid, gen, -1, token, HOLDER_IOMMU, resumed ? RELOGGED : 0);
  hw.space.put(null, pasid);
  hw.st(ref, REF_NONE);
}

/** guestDropOwed: the driver's reference is still to be given back (drop again). */
export const DROP_OWED = 0;
/** guestDropOwed: nothing is owed (given back, or held for another bond of the record). */
export const DROP_DONE = 1;
/** guestDropOwed: the VMM is allocating or freeing in the VM right now: ask again later. */
export const DROP_BUSY = 2;

/**
 * Guest bond `b` was marked dropped (BF_REF_DROPPED) by a thread that may have died inside
 * the drop: is the IOMMU driver's reference still owed? HELD: it died before taking the word
 * (owed; with another bond still holding it, guestDropReference leaves it). PUTTING: it died
 * between taking the word and NONE, either side of the core's put, which the core's count
 * tells against the references others hold on that generation (vm-refs.ts unrecordedRef: the record's own until the
 * VMM freed it, KVM's VMCS entry, the VDCM's slots; the VM's kernel lock, held, keeps the last
 * two still); owed, the word goes back to HELD for the drop, else to NONE. A value the core
 * reclaimed (free, another set, or a LIVE record of a later generation) was put.
 *
 * Context: the VM's kernel (its lock held), resuming the bond's P7; never blocks.
 * @returns DROP_OWED, DROP_DONE or DROP_BUSY
 */
export function guestDropOwed(hw: HwContext, b: number): number {
  const { vm, r } = guestBondOwner(hw, b);
  const ref = vpField(hw, vm, r, VP_IOMMU_REF);
  const st = hw.ld(ref);
  if (st === REF_HELD) return DROP_OWED;
  if (st !== REF_PUTTING) return DROP_DONE;
  const pasid = hw.ld(bf(hw, b, B_PASID));
  const gen = hw.ld(bf(hw, b, B_GEN));
  const op = vmField(hw, vm, VM_VMM_OP);
  const state = vpField(hw, vm, r, VP_STATE);
  // The record's state and the VMM's intent around the read of the core: a free or alloc in
  // between would make the count disagree with them.
  const before = hw.ld(state);
  if (hw.ld(op) !== VMOP_NONE) return DROP_BUSY;
  // The word is PUTTING, so the driver's own reference is not among those recorded.
  const owed = unrecordedRef(hw, vm, pasid, gen);
  if (hw.ld(op) !== VMOP_NONE || hw.ld(state) !== before) return DROP_BUSY;
  hw.st(ref, owed ? REF_HELD : REF_NONE);
  return owed ? DROP_OWED : DROP_DONE;
}

/**
 * Free guest bond `b` (the end of its P7), then release its record if nothing else holds it.
 * The record is read before the free: a free bond may be claimed at once by another guest
 * bind, which rewrites B_MM, and a release that looked at the bond after the free would try
 * that bind's record and leave this one FREED for good (the VMM's own check, made while the
 * bond still stood, has already passed).
 *
 * Context: the thread driving the teardown of `b`; never blocks.
 */
export function guestBondFree(hw: HwContext, b: number): void {
  const { vm, r } = guestBondOwner(hw, b);
  bondFree(hw, b);
  releaseRecordIfDone(hw, vm, r);
}
