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
import { bf } from './bonds.js';
import { Ev } from './event-log.js';
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
  VP_BOND,
  VP_IOMMU_REF,
} from './hw-layout.js';
import { releaseRecordIfDone, vpField } from './vm.js';

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
export function guestDropReference(hw: HwContext, b: number): void {
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
  hw.log.emit(Ev.PUT, pasid, gen, -1, token, HOLDER_IOMMU);
  hw.space.put(null, pasid);
  hw.st(ref, REF_NONE);
}

/** After the bond is free: release its record if nothing else holds it. */
export function guestBondFreed(hw: HwContext, b: number): void {
  const { vm, r } = guestBondOwner(hw, b);
  releaseRecordIfDone(hw, vm, r);
}
