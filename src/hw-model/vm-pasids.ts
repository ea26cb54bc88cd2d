/**
 * The VMM's host PASIDs (§7.4 "Guest (VT-d, vcmd)"): allocating one in the VM's set for the
 * guest (a vcmd Allocate in identity mode, the first bind of a guest PASID in spid mode) and
 * freeing one (a vcmd Free, the last unbind in spid mode, VM destroy). Both go through the
 * core's public API and log what the checker needs, in the log-order rule's places.
 *
 * The allocation's intent (a ticket in VM_PENDING_TICKET, VMOP_ALLOC and the record in
 * VM_VMM_OP) is recorded before the record is claimed and before the core call, so a reaper
 * knows which record a dead VMM may have claimed and that it may have allocated an id it never
 * recorded (vm-recovery.ts `resolveVmmIntent`). A record is recorded once its VP_GEN is the
 * ticket and its VP_PASID is set (recordPasid's order); a FREE record's other words mean
 * nothing.
 *
 * @internal
 */
import { Ev } from './event-log.js';
import type { HwContext } from './hw-context.js';
import { HwErrno } from './hw-errno.js';
import {
  L_TICKETS,
  REF_NONE,
  VM_PENDING_TICKET,
  VM_VMM_OP,
  VMOP_ALLOC,
  VMOP_FREE,
  VMOP_NONE,
  VP_GEN,
  VP_GPASID,
  VP_IOMMU_REF,
  VP_PASID,
  VP_STATE,
  VPASID_WORDS,
  VPS_FREE,
  VPS_FREED,
  VPS_LIVE,
} from './hw-layout.js';
import { recordHasBonds, releaseRecordIfDone, vmField, vmSet, vmTokenOf, vpField } from './vm.js';

/** Largest PASID a guest may get (the vcmd result field, §1.6). */
export const GUEST_PASID_MAX = 0xfffff;

/** The record's words before a claim, to undo it (thread-local scratch). */
const savedRecord = new Int32Array(VPASID_WORDS);

/**
 * Allocate a host PASID in VM `vm`'s set and record it (gpasid = the PASID in identity mode).
 *
 * @param gpasid - the guest PASID it stands for; -1: the PASID itself (identity)
 *
 * Context: the VMM (holds the VM's VMM lock); never blocks.
 * @returns the record index (>= 0); -EDQUOT/-ENOSPC (no PASID: the VM's quota or the space is
 * exhausted; vcmd SC = no-PASID), -ENOMEM (no VMM record or core record), -EINVAL (no set).
 * On error the hardware buffer is unchanged.
 */
export function vmmAlloc(hw: HwContext, vm: number, gpasid: number): number {
  const set = vmSet(hw, vm);
  if (set < 0) return -HwErrno.EINVAL;
  const ticket = Atomics.add(hw.logI32, L_TICKETS, 1) + 1;
  const r = claimRecordSaved(hw, vm, ticket);
  if (r < 0) return -HwErrno.ENOMEM;
  const token = vmTokenOf(hw, vm);
  const pasid = hw.space.alloc(set, 1, GUEST_PASID_MAX, token);
  if (pasid < 0) {
    hw.log.emit(Ev.ALLOC_FAIL, 0, ticket, -1, pasid, token);
    unclaimRecord(hw, vm, r);
    hw.st(vmField(hw, vm, VM_VMM_OP), VMOP_NONE);
    hw.st(vmField(hw, vm, VM_PENDING_TICKET), 0);
    return pasid;
  }
  // Logged before it is recorded (a reaper re-logs an unrecorded one: vm-recovery.ts).
  hw.log.emit(Ev.ALLOC, pasid, ticket, -1, token, 0);
  recordPasid(hw, vm, r, pasid, ticket, gpasid < 0 ? pasid : gpasid);
  return r;
}

/** Fill record `r` with an allocated PASID and clear the VMM's intent. */
export function recordPasid(
  hw: HwContext,
  vm: number,
  r: number,
  pasid: number,
  gen: number,
  gpasid: number,
): void {
  hw.st(vpField(hw, vm, r, VP_GEN), gen);
  hw.st(vpField(hw, vm, r, VP_GPASID), gpasid);
  hw.st(vpField(hw, vm, r, VP_PASID), pasid);
  hw.st(vmField(hw, vm, VM_VMM_OP), VMOP_NONE);
  hw.st(vmField(hw, vm, VM_PENDING_TICKET), 0);
}

/**
 * True when VM `vm`'s VMM has a free record (only its VMM claims them, under the VMM lock:
 * true stays true until it claims one).
 *
 * Context: the VMM; never blocks.
 */
export function recordAvailable(hw: HwContext, vm: number): boolean {
  for (let r = 0; r < hw.g.shape.vm.pasids; r++)
    if (hw.ld(vpField(hw, vm, r, VP_STATE)) === VPS_FREE) return true;
  return false;
}

/**
 * Claim a FREE record for the allocation of ticket `ticket`, its intent (the ticket, then
 * VMOP_ALLOC naming the record) stored before the claim: a VMM killed anywhere from here to
 * recordPasid leaves a reaper the record to finish or give back (vm-recovery.ts
 * `resolveVmmIntent`), never a LIVE record that names no PASID (its free would free "PASID 0").
 * The claim CAS fails only if the record left FREE since the load (only the VMM claims, under
 * its lock: it does not); then the next record is tried, the intent rewritten.
 */
function claimRecordSaved(hw: HwContext, vm: number, ticket: number): number {
  hw.st(vmField(hw, vm, VM_PENDING_TICKET), ticket);
  for (let r = 0; r < hw.g.shape.vm.pasids; r++) {
    const w = vpField(hw, vm, r, VP_STATE);
    if (hw.ld(w) !== VPS_FREE) continue;
    for (let f = 0; f < VPASID_WORDS; f++) savedRecord[f] = hw.ld(vpField(hw, vm, r, f));
    hw.st(vmField(hw, vm, VM_VMM_OP), VMOP_ALLOC | (r << 8));
    // Cleared while still FREE, not after the claim: a LIVE record naming the PASID and
    // generation of its earlier use made the VM kernel (another thread) act on that stale
    // generation and drop the current one's UNBIND and FREE (recordOfPasid).
    for (let f = 1; f < VPASID_WORDS; f++) hw.st(vpField(hw, vm, r, f), 0);
    if (Atomics.compareExchange(hw.i32, w, VPS_FREE, VPS_LIVE) !== VPS_FREE) continue;
    return r;
  }
  hw.st(vmField(hw, vm, VM_VMM_OP), VMOP_NONE);
  hw.st(vmField(hw, vm, VM_PENDING_TICKET), 0);
  return -1;
}

/**
 * Undo a claim whose allocation failed: FREE, then the record's words as they were.
 *
 * Context: the VMM that claimed it.
 */
export function unclaimRecord(hw: HwContext, vm: number, r: number): void {
  // FREE first: restored while LIVE, the old words made it a LIVE record of an earlier
  // PASID (see claimRecordSaved). Only the VMM claims, under the lock it holds.
  hw.st(vpField(hw, vm, r, VP_STATE), VPS_FREE);
  for (let f = 1; f < VPASID_WORDS; f++) hw.st(vpField(hw, vm, r, f), savedRecord[f]!);
}

/**
 * The VMM frees the PASID of record `r` (the guest's Free, the last unbind in spid mode, VM
 * destroy): always succeeds in the core (free-pending while the consumers hold references,
 * who then learn of it from FREE); the record is released once the IOMMU driver let go too.
 *
 * Context: the VMM (holds the VM's VMM lock), or a reaper; never blocks.
 */
export function vmmFree(hw: HwContext, vm: number, r: number): void {
  const pasid = hw.ld(vpField(hw, vm, r, VP_PASID));
  const gen = hw.ld(vpField(hw, vm, r, VP_GEN));
  hw.st(vmField(hw, vm, VM_VMM_OP), VMOP_FREE | (r << 8));
  hw.st(vpField(hw, vm, r, VP_STATE), VPS_FREED);
  // Logged before the free, which may reclaim (log-order rule).
  hw.log.emit(Ev.FREE_CALL, pasid, gen, -1, vmTokenOf(hw, vm));
  hw.space.free(vmSet(hw, vm), pasid);
  hw.st(vmField(hw, vm, VM_VMM_OP), VMOP_NONE);
  // After FREED is stored: of this check and the IOMMU driver's after its put, one sees both.
  releaseRecordIfDone(hw, vm, r);
}

/** True when record `r` holds no IOMMU reference and no bond (for tests and scans). */
export function recordIdle(hw: HwContext, vm: number, r: number): boolean {
  return hw.ld(vpField(hw, vm, r, VP_IOMMU_REF)) === REF_NONE && !recordHasBonds(hw, vm, r);
}
