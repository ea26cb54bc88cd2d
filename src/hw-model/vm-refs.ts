/**
 * The references a VM's consumers hold on one generation of a host PASID, as their own words
 * record them: the record's alloc reference (until the VMM frees it), the IOMMU driver's
 * (VP_IOMMU_REF), KVM's (the VMCS entry's VE_REF), the VDCM's (one per mdev slot). A thread
 * that dies between a core get or put and the word that records it leaves the core's count
 * one apart from these; whoever resumes its step (the VM's kernel, a reaper) compares the two
 * to learn whether the get or put happened.
 *
 * ## Developer notes
 * The count is exact only while no other holder changes: the reaper holds the VM's VMM lock
 * (binds, the VDCM's programming, vcmds) and its kernel lock (KVM's and the VDCM's work, the
 * IOMMU driver's teardown), which together cover every get and put on the VM's PASIDs.
 *
 * @internal
 */
import type { HwContext } from './hw-context.js';
import {
  MD_SLOT_COUNT,
  MD_SLOT_WORDS,
  MD_SLOTS,
  REF_HELD,
  SL_GEN,
  SL_PASID,
  SL_STATE,
  VE_REF,
  VE_REF_GEN,
  VE_REF_STATE,
  VP_GEN,
  VP_GPASID,
  VP_IOMMU_REF,
  VP_STATE,
  VPS_LIVE,
} from './hw-layout.js';
import { mdevField, mdevsOf, recordOfGeneration, recordOfPasid, vmSet, vpField } from './vm.js';
import { vmcsEntry } from './vmcs.js';

/**
 * 1 when KVM's VMCS entry of record `r`'s guest PASID holds a reference on (pasid, gen).
 *
 * @param hw - the platform
 * @param vm - the VM
 * @param r - the VMM record of the PASID
 * @param pasid - the host PASID
 * @param gen - its generation
 *
 * Context: the VM's kernel lock held (KVM's words do not move); never blocks.
 * @returns 1 or 0
 */
export function kvmHolds(hw: HwContext, vm: number, r: number, pasid: number, gen: number): number {
  const e = vmcsEntry(hw, vm, hw.ld(vpField(hw, vm, r, VP_GPASID)));
  if (e < 0 || hw.ld(e + VE_REF_STATE) !== REF_HELD) return 0;
  return hw.ld(e + VE_REF) === pasid && hw.ld(e + VE_REF_GEN) === gen ? 1 : 0;
}

/**
 * The VDCM's references on (pasid, gen): the mdev slots of the VM holding it.
 *
 * @param hw - the platform
 * @param vm - the VM
 * @param pasid - the host PASID
 * @param gen - its generation
 *
 * Context: the VM's kernel and VMM locks held (the slots do not move); never blocks.
 * @returns the count
 */
export function vdcmHolds(hw: HwContext, vm: number, pasid: number, gen: number): number {
  let n = 0;
  for (const m of mdevsOf(hw, vm))
    for (let s = 0; s < MD_SLOT_COUNT; s++) {
      const w = MD_SLOTS + s * MD_SLOT_WORDS;
      if (
        hw.ld(mdevField(hw, m, w + SL_STATE)) === REF_HELD &&
        hw.ld(mdevField(hw, m, w + SL_PASID)) === pasid &&
        hw.ld(mdevField(hw, m, w + SL_GEN)) === gen
      )
        n++;
    }
  return n;
}

/**
 * Does the core hold a reference on (pasid, gen) that no consumer's word records? The one
 * the dead thread got (or did not put) if so.
 *
 * @param hw - the platform
 * @param vm - the VM
 * @param pasid - the host PASID
 * @param gen - its generation
 *
 * Context: the VM's kernel lock held, and either the VMM lock with the VMM's intent resolved
 * (a reaper: a FREED record's alloc reference is gone) or no VMM intent before and after the
 * call with the record's state unchanged (guestDropOwed); never blocks.
 * @returns true when the core holds one more than recorded
 */
export function unrecordedRef(hw: HwContext, vm: number, pasid: number, gen: number): boolean {
  const s = hw.space.inspect(pasid);
  if (s.state === 'free' || s.set !== vmSet(hw, vm)) return false;
  // A value of a later generation (the one in transition was reclaimed, then allocated again).
  const now = recordOfPasid(hw, vm, pasid);
  if (now >= 0 && hw.ld(vpField(hw, vm, now, VP_GEN)) !== gen) return false;
  const r = recordOfGeneration(hw, vm, pasid, gen);
  let recorded = vdcmHolds(hw, vm, pasid, gen);
  if (r >= 0) {
    if (hw.ld(vpField(hw, vm, r, VP_STATE)) === VPS_LIVE) recorded++;
    if (hw.ld(vpField(hw, vm, r, VP_IOMMU_REF)) === REF_HELD) recorded++;
    recorded += kvmHolds(hw, vm, r, pasid, gen);
  }
  return s.refs > recorded;
}
