/**
 * A guest's MOVDIR64B to its vDWQ mdev (§7.4 `movdir64b`, for a guest; `dwqMdevs`): the
 * mdev's portal is a dedicated WQ of its own, mapped into the guest. MOVDIR64B carries no
 * PASID (no IA32_PASID, no VMCS translation, never exit 72): the device runs the descriptor
 * with WQCFG.pasid, which the VDCM set to the host PASID of the guest PASID the guest
 * programmed (vdcm.ts `vdcmProgram`). So INV-8's DWQ clause is about WQCFG: the checker holds
 * every execution on a guest's DWQ to the PASID the VDCM programmed there, owned by that VM.
 *
 * A posted write: the CPU learns nothing. A WQ the VDCM has not enabled (no PASID programmed,
 * or being cleared) drops it; a full one drops it and latches SWERR (overflow is a software
 * bug on a DWQ).
 *
 * @internal
 */
import { RING_FULL } from './claim-ring.js';
import { C } from './counters.js';
import { swerrLatch, wqCfg, wqClaim, wqPublish } from './device.js';
import { Ev } from './event-log.js';
import type { HwContext } from './hw-context.js';
import { HwErrno } from './hw-errno.js';
import {
  MD_PF,
  MD_TYPE,
  MD_VM,
  MD_WQ,
  MDT_DWQ,
  VC_STATE,
  VCS_IN_GUEST,
  WQ_GEN,
  WQ_PASID,
  WQ_SIZE,
  WQ_STATE,
  WQS_ENABLED,
} from './hw-layout.js';
import { SwerrCode } from './results.js';
import { mdevField, vcpuField, vmTokenOf } from './vm.js';

/** guestMovdir64b: the descriptor was queued. */
export const DWQ_POSTED = 0;
/** guestMovdir64b: the device dropped it (WQ not enabled, or full: SWERR). */
export const DWQ_DROPPED = 1;

/**
 * vCPU `c` of VM `vm` writes a descriptor to the portal of its vDWQ mdev `mdev`.
 *
 * @param page - the page the descriptor touches
 *
 * Context: the vCPU's thread; lock-free; never blocks.
 * @returns DWQ_POSTED or DWQ_DROPPED; -EINVAL the mdev is not a vDWQ of this VM; -ESRCH the
 * vCPU is not in the guest. Nothing changes on error.
 */
export function guestMovdir64b(
  hw: HwContext,
  vm: number,
  c: number,
  mdev: number,
  page: number,
): number {
  if (hw.ld(mdevField(hw, mdev, MD_VM)) !== vm || hw.ld(mdevField(hw, mdev, MD_TYPE)) !== MDT_DWQ)
    return -HwErrno.EINVAL;
  if (hw.ld(vcpuField(hw, vm, c, VC_STATE)) !== VCS_IN_GUEST) return -HwErrno.ESRCH;
  const pf = hw.ld(mdevField(hw, mdev, MD_PF));
  const w = hw.ld(mdevField(hw, mdev, MD_WQ));
  if (hw.ld(wqCfg(hw, pf, w, WQ_STATE)) !== WQS_ENABLED) return DWQ_DROPPED;
  // What WQCFG says now (for the checker's INV-4 at submission); the device reads it again
  // when it runs the descriptor, and that is the PASID INV-8 holds it to.
  const pasid = hw.ld(wqCfg(hw, pf, w, WQ_PASID));
  const gen = hw.ld(wqCfg(hw, pf, w, WQ_GEN));
  const submitter = -(vm + 1);
  const pos = wqClaim(hw, pf, w, 0, 0, 0, page, submitter, hw.ld(wqCfg(hw, pf, w, WQ_SIZE)));
  if (pos === RING_FULL) {
    if (hw.ld(wqCfg(hw, pf, w, WQ_STATE)) === WQS_ENABLED)
      swerrLatch(hw, pf, SwerrCode.WQ_OVERFLOW, w, pasid, gen);
    return DWQ_DROPPED;
  }
  hw.count(C.submissions);
  hw.count(C.guestSubmissions);
  // Logged before the device can see it (log-order rule).
  hw.log.emit(Ev.GUEST_MOVDIR, pasid, gen, pf, w, vmTokenOf(hw, vm), mdev | (c << 20));
  hw.log.emit(Ev.SUBMIT, pasid, gen, pf, w, submitter, pos);
  wqPublish(hw, pf, w, pos);
  return DWQ_POSTED;
}
