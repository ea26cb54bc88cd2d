/**
 * The CPU side of submission (§2.3, §7.4): ENQCMD with the lazy IA32_PASID MSR and its #GP
 * fix-up, ENQCMDS for the kernel, MOVDIR64B to a dedicated WQ. A submission is accepted only
 * through a WQ portal the thread's mm has mapped; that is what P0 (portal unmapped) removes.
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
  DESC_PRIV,
  MM_GEN,
  MM_PASID,
  MSR_VALID,
  TH_ACTIVATED,
  TH_MM,
  TH_MSR,
  TH_MSR_GEN,
  threadWord,
  WQ_GEN,
  WQ_MODE,
  WQ_PASID,
  WQ_SIZE,
  WQ_THRESH,
  WQM_DEDICATED,
  WQM_SHARED,
} from './hw-layout.js';
import { mmField, portals } from './mm.js';
import { SwerrCode, ZF_ACCEPTED, ZF_RETRY } from './results.js';

/**
 * ENQCMD from thread `tid` to WQ `w` of `pf`.
 *
 * Context: the thread's actor (any attached thread); lock-free.
 * @returns ZF_ACCEPTED; ZF_RETRY (WQ full, above threshold, disabled, not shared, or the
 * portal is not mapped: payload dropped, nothing changed); -EFAULT a #GP was delivered (MSR
 * invalid and the mm has no PASID, or the thread already activated it: nothing changed)
 */
export function enqcmd(
  hw: HwContext,
  tid: number,
  pf: number,
  w: number,
  page: number,
  flags: number,
): number {
  const tw = threadWord(hw.g, tid);
  let msr = hw.ld(tw + TH_MSR);
  const rec = hw.ld(tw + TH_MM) - 1;
  if (!(msr & MSR_VALID)) {
    const pasid = rec >= 0 ? hw.ld(mmField(hw, rec, MM_PASID)) : 0;
    if (pasid === 0 || hw.ld(tw + TH_ACTIVATED) !== 0) {
      hw.count(C.gpFaults);
      hw.log.emit(Ev.GP_FAULT, 0, 0, pf, tid);
      return -HwErrno.EFAULT;
    }
    // The #GP handler of Linux >= 5.18: the mm has a PASID this thread has not loaded yet;
    // write the MSR and re-execute the instruction.
    const gen = hw.ld(mmField(hw, rec, MM_GEN));
    hw.st(tw + TH_MSR_GEN, gen);
    hw.st(tw + TH_ACTIVATED, 1);
    msr = MSR_VALID | pasid;
    hw.st(tw + TH_MSR, msr);
    hw.count(C.gpFixups);
    hw.log.emit(Ev.GP_FIXUP, pasid, gen, pf, tid);
  }
  const pasid = msr & 0xfffff;
  const gen = hw.ld(tw + TH_MSR_GEN);
  if (
    rec < 0 ||
    hw.ld(wqCfg(hw, pf, w, WQ_MODE)) !== WQM_SHARED ||
    !(portals(hw, rec, pf) & (1 << w))
  )
    return retry(hw, pf, w, tid + 1);
  return submit(hw, pf, w, pasid, gen, flags, page, tid + 1);
}

/**
 * ENQCMDS (CPL 0): PASID and privilege come from the command itself.
 *
 * @param gen - ghost generation of `pasid` as the kernel caller knows it
 *
 * Context: any attached thread (the kernel); lock-free.
 * @returns ZF_ACCEPTED or ZF_RETRY (WQ full, above threshold, disabled or not shared)
 */
export function enqcmds(
  hw: HwContext,
  pf: number,
  w: number,
  pasid: number,
  priv: boolean,
  gen: number,
  page: number,
  flags: number,
): number {
  if (hw.ld(wqCfg(hw, pf, w, WQ_MODE)) !== WQM_SHARED) return retry(hw, pf, w, 0);
  return submit(hw, pf, w, pasid | (priv ? DESC_PRIV : 0), gen, flags, page, 0);
}

function submit(
  hw: HwContext,
  pf: number,
  w: number,
  pasidWord: number,
  gen: number,
  flags: number,
  page: number,
  submitter: number,
): number {
  const limit = hw.ld(wqCfg(hw, pf, w, WQ_THRESH));
  const pos = wqClaim(hw, pf, w, pasidWord, gen, flags, page, submitter, limit);
  if (pos === RING_FULL) return retry(hw, pf, w, submitter);
  hw.count(C.submissions);
  // Logged before the device can see it (log-order rule).
  hw.log.emit(Ev.SUBMIT, pasidWord & 0xfffff, gen, pf, w, submitter, pos);
  wqPublish(hw, pf, w, pos);
  return ZF_ACCEPTED;
}

function retry(hw: HwContext, pf: number, w: number, submitter: number): number {
  hw.count(C.zfRetries);
  hw.log.emit(Ev.SUBMIT_RETRY, 0, 0, pf, w, submitter);
  return ZF_RETRY;
}

/**
 * MOVDIR64B from thread `tid` to dedicated WQ `w` of `pf` (a posted write: the CPU learns
 * nothing; a full WQ drops the descriptor and latches SWERR, §7.4).
 *
 * Context: the thread's actor; lock-free.
 * @returns 0 posted (or dropped); -EFAULT the portal is not mapped by the thread's mm or the
 * WQ is not dedicated (the store faults on the CPU: SIGSEGV; nothing changed)
 */
export function movdir64b(
  hw: HwContext,
  tid: number,
  pf: number,
  w: number,
  page: number,
  flags: number,
): number {
  const rec = hw.ld(threadWord(hw.g, tid) + TH_MM) - 1;
  if (
    rec < 0 ||
    hw.ld(wqCfg(hw, pf, w, WQ_MODE)) !== WQM_DEDICATED ||
    !(portals(hw, rec, pf) & (1 << w))
  )
    return -HwErrno.EFAULT;
  const pasid = hw.ld(wqCfg(hw, pf, w, WQ_PASID));
  const gen = hw.ld(wqCfg(hw, pf, w, WQ_GEN));
  const pos = wqClaim(hw, pf, w, 0, 0, flags, page, tid + 1, hw.ld(wqCfg(hw, pf, w, WQ_SIZE)));
  if (pos === RING_FULL) {
    swerrLatch(hw, pf, SwerrCode.WQ_OVERFLOW, w, pasid, gen);
    return 0;
  }
  hw.count(C.submissions);
  hw.log.emit(Ev.SUBMIT, pasid, gen, pf, w, tid + 1, pos);
  wqPublish(hw, pf, w, pos);
  return 0;
}
