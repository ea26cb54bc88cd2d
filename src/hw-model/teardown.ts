/**
 * The teardown of one bond, phase by phase (§7.5), as a step function over the bond record:
 * any thread can resume it from what the record says (B_PHASES: phases done; B_SUB: where in
 * the current phase). Each call does at most one observable thing and never waits; it returns
 * TD_BLOCKED while the hardware has not answered yet.
 *
 * | phase | what                                                  | normal | exception (exit) |
 * |-------|-------------------------------------------------------|--------|------------------|
 * | P0    | portals of the PF unmapped: no more submission        | 1st    | at mm exit       |
 * | P1    | Drain PASID, then disable the mm's DWQs (PRI stopped) | 2nd    | after P5         |
 * | P2    | entry cleared (FPD = 1 on the exception path)         | 3rd    | at mm exit       |
 * | P3    | PASID-cache invalidation + wait                       |        |                  |
 * | P4    | PASID-IOTLB invalidation + wait                       |        |                  |
 * | P5    | device-TLB invalidation + wait (ATS, not caching mode) |       |                  |
 * | P6    | PRQ drained: no entry left, Wait{PD} + IOTLB + devTLB  |        |                  |
 * |       | + wait, again while PRS.PRO is set                     |        |                  |
 * | P7    | bond freed after an RCU grace period; the driver's     |        |                  |
 * |       | reference dropped with the last bond                   |        |                  |
 *
 * The exception order follows Linux's mm release notifier: the entry is cleared and the
 * caches flushed before the device is stopped (§1.9), which §7.5 allows (P2 with FPD may
 * precede P0/P1; P0, P1 <= P7).
 *
 * A guest bond (BF_GUEST, guest-bonds.ts) starts at P2: its P0 (KVM's epoch wait) and P1 (the
 * VDCM's drain) are the other consumers' work, done before this one runs because the VM's
 * notifier chain hands each event to KVM, then the VDCM, then the IOMMU driver, whose work
 * runs in that order (vm-kernel.ts). At P7 it leaves its VMM record, and the record's last
 * bond gives the driver's reference back.
 *
 * ## Developer notes
 * Every sub-step is idempotent or guarded by the record, so a thread that dies anywhere in
 * a step leaves a bond another thread can finish: a queued invalidation is queued again (a
 * duplicate is harmless; the wait's value is a fresh ticket, and the queue is in order, so an
 * older wait can never satisfy a newer ticket), a device command is recognised by its owner
 * (bond + 1) and re-published if its poster died between claim and publish, the grace-period
 * cookie is taken again. The PHASE event is logged after the phase completed; the reference
 * drop is logged (P7, then PUT or FREE_CALL) before the core call that may reclaim.
 *
 * @internal
 */
import { anyBondOf, bf, bondCookie, bondFree, bondSetCookie, otherBondsHoldRef } from './bonds.js';
import { C } from './counters.js';
import {
  commandOp,
  commandPost,
  commandRelease,
  commandRepublish,
  commandStatus,
  pfField,
  wqCfg,
} from './device.js';
import { Ev, PH_EXCEPTION, PH_FPD, PH_SKIPPED } from './event-log.js';
import {
  DROP_BUSY,
  DROP_OWED,
  guestBondFree,
  guestDropOwed,
  guestDropReference,
  guestUnlink,
} from './guest-bonds.js';
import type { HwContext } from './hw-context.js';
import {
  B_FLAGS,
  B_GEN,
  B_MM,
  B_PASID,
  B_PF,
  B_PHASES,
  B_STATE,
  B_SUB,
  B_TOKEN,
  B_WAIT_STATUS,
  B_WAIT_TICKET,
  BF_EXCEPTION,
  BF_FPD,
  BF_GUEST,
  BF_REF_DROPPED,
  BS_FREE,
  CMD_DISABLE_WQ,
  CMD_DRAIN_PASID,
  CMDS_PENDING,
  FREE_DONE,
  FREE_FREEING,
  FREE_NONE,
  H_SVA_SET,
  MM_BOND,
  MM_CLAIM,
  MM_DWQ,
  MM_FREE_STATE,
  MM_GEN,
  MM_PASID,
  MM_PORTAL,
  MM_STATE,
  MM_SVM_REF,
  MM_TOKEN,
  MMS_DEAD,
  MMS_FREE,
  P0_STOP_SUBMISSION,
  P1_DEVICE_QUIESCED,
  P2_ENTRY_CLEARED,
  P3_PASID_CACHE,
  P4_IOTLB,
  P5_DEVTLB,
  P6_PRQ_DRAINED,
  P7_REFS_DROPPED,
  PF_CMD_OPERAND,
  PF_FLAGS,
  PFF_ATS,
  PFF_PRI,
  QF_FN,
  QF_PD,
  QF_SW,
  QG_PASID_ALL,
  QT_DEVTLB_PASID,
  QT_IOTLB_PASID,
  QT_PASID_CACHE,
  QT_WAIT,
  SVA_DID,
  SVM_HELD,
  SVM_NONE,
  SVM_PUTTING,
  WQ_FLAGS,
  WQ_GEN,
  WQ_MODE,
  WQ_OWNER,
  WQ_PASID,
  WQM_DEDICATED,
} from './hw-layout.js';
import { qiRoom, qiSubmit } from './inv-queue.js';
import { clearMsrs, mmField } from './mm.js';
import {
  M_BOND_FREE_WITHOUT_GP,
  M_RECLAIM_AT_P2,
  M_SKIP_DEVTLB_INV,
  M_SKIP_IOTLB_INV,
  M_SKIP_PASID_CACHE_INV,
  M_SKIP_PRQ_DRAIN,
} from './mutations.js';
import { tableClear } from './pasid-table.js';
import { prqOverflowed, prqPending } from './prq.js';

/** teardownStep results. */
export const TD_BLOCKED = 0;
export const TD_PROGRESS = 1;
export const TD_DONE = 2;

const NORMAL_ORDER = [0, 1, 2, 3, 4, 5, 6, 7] as const;
const EXCEPTION_ORDER = [0, 2, 3, 4, 5, 1, 6, 7] as const;
const GUEST_ORDER = [2, 3, 4, 5, 6, 7] as const;

/**
 * Advance the teardown of bond `b` by one sub-step.
 *
 * Context: the one thread driving this bond (the unbinding process, or the driver's
 * workqueue after a hand-over); never blocks.
 * @returns TD_DONE (the bond is free), TD_PROGRESS, or TD_BLOCKED (waiting for hardware)
 */
export function teardownStep(hw: HwContext, b: number): number {
  if (hw.ld(bf(hw, b, B_STATE)) === BS_FREE) return TD_DONE;
  const flags = hw.ld(bf(hw, b, B_FLAGS));
  const done = hw.ld(bf(hw, b, B_PHASES));
  const order: readonly number[] =
    flags & BF_GUEST ? GUEST_ORDER : flags & BF_EXCEPTION ? EXCEPTION_ORDER : NORMAL_ORDER;
  const phase = order.find((p) => !(done & (1 << p)));
  switch (phase) {
    case P0_STOP_SUBMISSION:
      return stopSubmission(hw, b);
    case P1_DEVICE_QUIESCED:
      return quiesceDevice(hw, b);
    case P2_ENTRY_CLEARED:
      return clearEntry(hw, b, flags);
    case P3_PASID_CACHE:
      return flushPhase(hw, b, P3_PASID_CACHE, QT_PASID_CACHE);
    case P4_IOTLB:
      return flushPhase(hw, b, P4_IOTLB, QT_IOTLB_PASID);
    case P5_DEVTLB:
      if (!flushesDevTlb(hw, hw.ld(bf(hw, b, B_PF)))) return complete(hw, b, P5_DEVTLB, PH_SKIPPED);
      return flushPhase(hw, b, P5_DEVTLB, QT_DEVTLB_PASID);
    case P6_PRQ_DRAINED:
      return drainPrq(hw, b);
    default:
      return release(hw, b);
  }
}

/**
 * Where bond `b` is inside `phase` (0 = not started). B_SUB holds (phase + 1) << 24 | sub, so
 * a sub-state left by another phase (a teardown whose path changed when its process was
 * killed and the exit took it over) reads as 0 here.
 */
function subOf(hw: HwContext, b: number, phase: number): number {
  const v = hw.ld(bf(hw, b, B_SUB));
  return v >>> 24 === phase + 1 ? v & 0xffffff : 0;
}

function setSub(hw: HwContext, b: number, phase: number, sub: number): void {
  hw.st(bf(hw, b, B_SUB), ((phase + 1) << 24) | sub);
}

/** Mark `phase` of bond `b` done and log it (after the fact). */
export function complete(hw: HwContext, b: number, phase: number, extra = 0): number {
  // Logged before its bit is set: a thread killed inside the append leaves the phase undone,
  // and whoever resumes the bond completes (and logs) it again, which the checker takes as one.
  // Set first, a kill there would lose the event and the next phase would come "before" it.
  const flags = hw.ld(bf(hw, b, B_FLAGS));
  const c = extra | (flags & BF_EXCEPTION ? PH_EXCEPTION : 0);
  hw.log.emit(
    Ev.PHASE,
    hw.ld(bf(hw, b, B_PASID)),
    hw.ld(bf(hw, b, B_GEN)),
    hw.ld(bf(hw, b, B_PF)),
    phase,
    b,
    c,
  );
  Atomics.or(hw.i32, bf(hw, b, B_PHASES), 1 << phase);
  hw.st(bf(hw, b, B_SUB), 0);
  return TD_PROGRESS;
}

/** P0: unmap the PF's portals of the mm (and forget its DWQs there). */
function stopSubmission(hw: HwContext, b: number): number {
  const rec = hw.ld(bf(hw, b, B_MM));
  const pf = hw.ld(bf(hw, b, B_PF));
  if (hw.ld(mmField(hw, rec, MM_TOKEN)) === hw.ld(bf(hw, b, B_TOKEN))) {
    hw.st(mmField(hw, rec, MM_PORTAL + pf), 0);
    hw.st(mmField(hw, rec, MM_DWQ + pf), 0);
  }
  return complete(hw, b, P0_STOP_SUBMISSION);
}

/**
 * P1 of bond `b` alone (the VDCM's drain of a guest PASID, vdcm.ts): one sub-step.
 *
 * Context: the VM's kernel; never blocks.
 * @returns TD_PROGRESS or TD_BLOCKED
 */
export function quiesceStep(hw: HwContext, b: number): number {
  return quiesceDevice(hw, b);
}

/** Sub-states of P1: 0 post drain, 1 wait drain, 2 next DWQ, 3 | w << 4 wait disable of DWQ w. */
function quiesceDevice(hw: HwContext, b: number): number {
  const P = P1_DEVICE_QUIESCED;
  const pf = hw.ld(bf(hw, b, B_PF));
  const pasid = hw.ld(bf(hw, b, B_PASID));
  const owner = b + 1;
  let sub = subOf(hw, b, P);
  // A command of this bond still in the register (posted by a thread that died, or before
  // the exit changed the path): wait for it instead of posting another.
  if ((sub & 0xf) !== 1 && (sub & 0xf) !== 3 && commandStatus(hw, pf, owner) >= 0) {
    sub =
      commandOp(hw, pf) === CMD_DISABLE_WQ ? 3 | (hw.ld(pfField(hw, pf, PF_CMD_OPERAND)) << 4) : 1;
    setSub(hw, b, P, sub);
  }
  const step = sub & 0xf;
  if (step === 0) {
    if (commandPost(hw, pf, CMD_DRAIN_PASID, pasid, owner) < 0) return TD_BLOCKED;
    setSub(hw, b, P, 1);
    return TD_PROGRESS;
  }
  if (step === 1 || step === 3) {
    const op = step === 1 ? CMD_DRAIN_PASID : CMD_DISABLE_WQ;
    const operand = step === 1 ? pasid : sub >>> 4;
    const st = commandStatus(hw, pf, owner);
    if (st < 0) {
      setSub(hw, b, P, step === 1 ? 0 : 2);
      return TD_PROGRESS;
    }
    if (st === CMDS_PENDING) {
      if (commandOp(hw, pf) === 0) commandRepublish(hw, pf, op, operand, owner);
      return TD_BLOCKED;
    }
    commandRelease(hw, pf, owner);
    if (step === 3) clearDwq(hw, b, pf, operand);
    setSub(hw, b, P, 2);
    return TD_PROGRESS;
  }
  const w = ownedDwq(hw, pf, hw.ld(bf(hw, b, B_TOKEN)));
  if (w < 0) return complete(hw, b, P);
  if (commandPost(hw, pf, CMD_DISABLE_WQ, w, owner) < 0) return TD_BLOCKED;
  setSub(hw, b, P, 3 | (w << 4));
  return TD_PROGRESS;
}

function ownedDwq(hw: HwContext, pf: number, token: number): number {
  const n = hw.g.pf[pf]!.wqCfg.length;
  for (let w = 0; w < n; w++)
    if (
      hw.ld(wqCfg(hw, pf, w, WQ_MODE)) === WQM_DEDICATED &&
      hw.ld(wqCfg(hw, pf, w, WQ_OWNER)) === token
    )
      return w;
  return -1;
}

/** After the WQ is disabled (drained): clear WQCFG's PASID and give the DWQ up. */
function clearDwq(hw: HwContext, b: number, pf: number, w: number): void {
  const pasid = hw.ld(wqCfg(hw, pf, w, WQ_PASID));
  const gen = hw.ld(wqCfg(hw, pf, w, WQ_GEN));
  hw.st(wqCfg(hw, pf, w, WQ_FLAGS), 0);
  hw.st(wqCfg(hw, pf, w, WQ_PASID), 0);
  hw.st(wqCfg(hw, pf, w, WQ_GEN), 0);
  hw.log.emit(Ev.WQ_CLEAR, pasid, gen, pf, w, b);
  hw.st(wqCfg(hw, pf, w, WQ_OWNER), 0);
}

/** P2: clear the entry (FPD on the exception path); mutation reclaim-at-p2 drops the ref here. */
function clearEntry(hw: HwContext, b: number, flags: number): number {
  const fpd = (flags & BF_EXCEPTION) !== 0;
  tableClear(hw, hw.ld(bf(hw, b, B_PF)), hw.ld(bf(hw, b, B_PASID)), fpd);
  if (fpd) Atomics.or(hw.i32, bf(hw, b, B_FLAGS), BF_FPD);
  complete(hw, b, P2_ENTRY_CLEARED, fpd ? PH_FPD : 0);
  if (hw.mutation === M_RECLAIM_AT_P2) dropReference(hw, b);
  return TD_PROGRESS;
}

function flushesDevTlb(hw: HwContext, pf: number): boolean {
  return (hw.ld(pfField(hw, pf, PF_FLAGS)) & PFF_ATS) !== 0 && !hw.cachingMode;
}

/**
 * Queue one PASID-selective invalidation of `type` for bond `b`: the one place where the
 * skip-*-inv mutations leave one out.
 *
 * @returns the queue position, 0 when skipped, -EAGAIN when the queue is full
 */
function queueFlush(hw: HwContext, b: number, type: number): number {
  if (type === QT_PASID_CACHE && hw.mutation === M_SKIP_PASID_CACHE_INV) return 0;
  if (type === QT_IOTLB_PASID && hw.mutation === M_SKIP_IOTLB_INV) return 0;
  if (type === QT_DEVTLB_PASID && hw.mutation === M_SKIP_DEVTLB_INV) return 0;
  const pasid = hw.ld(bf(hw, b, B_PASID));
  const gen = hw.ld(bf(hw, b, B_GEN));
  const pf = hw.ld(bf(hw, b, B_PF));
  const hdr = type === QT_PASID_CACHE ? type | (1 << 4) : type | (QG_PASID_ALL << 4);
  return qiSubmit(hw, hdr, pasid, SVA_DID, pf, -1, gen, 0);
}

/** Queue a wait descriptor that writes a fresh ticket into the bond's status word. */
function queueWait(hw: HwContext, b: number, extra: number): number {
  const ticketW = bf(hw, b, B_WAIT_TICKET);
  const t = (hw.ld(ticketW) + 1) | 0;
  hw.st(ticketW, t);
  return qiSubmit(hw, QT_WAIT | QF_SW | extra, 0, 0, -1, bf(hw, b, B_WAIT_STATUS), t, 0);
}

function waitDone(hw: HwContext, b: number): boolean {
  return hw.ld(bf(hw, b, B_WAIT_STATUS)) === hw.ld(bf(hw, b, B_WAIT_TICKET));
}

/** P3/P4/P5: sub 0 queue the invalidation and a wait; sub 1 wait for it. */
function flushPhase(hw: HwContext, b: number, phase: number, type: number): number {
  if (subOf(hw, b, phase) === 0) {
    if (qiRoom(hw) < 2) return TD_BLOCKED;
    if (queueFlush(hw, b, type) < 0 || queueWait(hw, b, 0) < 0) return TD_BLOCKED;
    setSub(hw, b, phase, 1);
    return TD_PROGRESS;
  }
  return waitDone(hw, b) ? complete(hw, b, phase) : TD_BLOCKED;
}

/**
 * P6 (Linux's intel_svm_drain_prq): sub 0 wait until the PRQ holds no request of the PASID;
 * sub 1 queue Wait{FN, PD}, PASID-IOTLB, device-TLB and a status wait; sub 2 wait for it and
 * start over if the PRQ overflowed meanwhile.
 */
function drainPrq(hw: HwContext, b: number): number {
  const pf = hw.ld(bf(hw, b, B_PF));
  if (!(hw.ld(pfField(hw, pf, PF_FLAGS)) & PFF_PRI))
    return complete(hw, b, P6_PRQ_DRAINED, PH_SKIPPED);
  if (hw.mutation === M_SKIP_PRQ_DRAIN) return complete(hw, b, P6_PRQ_DRAINED);
  const P = P6_PRQ_DRAINED;
  const sub = subOf(hw, b, P);
  if (sub === 0) {
    if (prqPending(hw, pf, hw.ld(bf(hw, b, B_PASID)))) return TD_BLOCKED;
    setSub(hw, b, P, 1);
    return TD_PROGRESS;
  }
  if (sub === 1) {
    if (qiRoom(hw) < 4) return TD_BLOCKED;
    if (qiSubmit(hw, QT_WAIT | QF_FN | QF_PD, 0, 0, -1, -1, 0, 0) < 0) return TD_BLOCKED;
    if (queueFlush(hw, b, QT_IOTLB_PASID) < 0) return TD_BLOCKED;
    if (flushesDevTlb(hw, pf) && queueFlush(hw, b, QT_DEVTLB_PASID) < 0) return TD_BLOCKED;
    if (queueWait(hw, b, QF_FN) < 0) return TD_BLOCKED;
    setSub(hw, b, P, 2);
    return TD_PROGRESS;
  }
  if (!waitDone(hw, b)) return TD_BLOCKED;
  if (prqOverflowed(hw)) {
    hw.count(C.prqOverflowRetries);
    setSub(hw, b, P, 0);
    return TD_PROGRESS;
  }
  return complete(hw, b, P6_PRQ_DRAINED);
}

/**
 * P7 (RCU: unlink, grace period, free): sub 0 unlinks the bond from its mm (the PRQ thread
 * walks the mm's bonds under RCU) and takes a grace-period cookie; sub 1 waits for the grace
 * period, drops the driver's reference with the mm's last bond, frees the bond. Mutation
 * bond-free-without-gp skips the wait.
 */
function release(hw: HwContext, b: number): number {
  if (subOf(hw, b, P7_REFS_DROPPED) === 0) {
    unlink(hw, b);
    bondSetCookie(hw, b, hw.rcu.getState());
    setSub(hw, b, P7_REFS_DROPPED, 1);
    if (hw.mutation !== M_BOND_FREE_WITHOUT_GP) return TD_PROGRESS;
  }
  if (hw.mutation !== M_BOND_FREE_WITHOUT_GP && !hw.rcu.pollState(bondCookie(hw, b)))
    return TD_BLOCKED;
  const rec = hw.ld(bf(hw, b, B_MM));
  const flags = hw.ld(bf(hw, b, B_FLAGS));
  const dropped = (flags & BF_REF_DROPPED) !== 0;
  Atomics.or(hw.i32, bf(hw, b, B_PHASES), 1 << P7_REFS_DROPPED);
  // Marked dropped already: the thread that dropped may have died inside the drop, before its
  // P7 or its put. While the reference is still owed nothing was reclaimed, so drop again (a
  // P7 logged twice is one phase to the checker) instead of leaking the reference.
  if (!dropped) dropReference(hw, b);
  else if (flags & BF_GUEST) {
    const owed = guestDropOwed(hw, b);
    if (owed === DROP_BUSY) return TD_BLOCKED;
    if (owed === DROP_OWED) dropReference(hw, b, true);
  } else if (referenceStillHeld(hw, b)) dropReference(hw, b, true);
  if (flags & BF_GUEST) guestBondFree(hw, b);
  else {
    bondFree(hw, b);
    freeMmIfDone(hw, rec);
  }
  return TD_DONE;
}

/** Remove the bond from its mm's list, or a guest bond from its VMM record (idempotent). */
function unlink(hw: HwContext, b: number): void {
  if (hw.ld(bf(hw, b, B_FLAGS)) & BF_GUEST) {
    guestUnlink(hw, b);
    return;
  }
  const rec = hw.ld(bf(hw, b, B_MM));
  const pf = hw.ld(bf(hw, b, B_PF));
  Atomics.compareExchange(hw.i32, mmField(hw, rec, MM_BOND + pf), b + 1, 0);
}

/**
 * Log P7 and, with the mm's last bond, give the driver's reference back (mm lifetime: put;
 * bind lifetime: the PASID itself is freed). Normally after the grace period; under mutation
 * reclaim-at-p2 right after P2 (the bond is then unlinked here too).
 */
function dropReference(hw: HwContext, b: number, resumed = false): void {
  const pf = hw.ld(bf(hw, b, B_PF));
  const pasid = hw.ld(bf(hw, b, B_PASID));
  const gen = hw.ld(bf(hw, b, B_GEN));
  Atomics.or(hw.i32, bf(hw, b, B_FLAGS), BF_REF_DROPPED);
  unlink(hw, b);
  const flags = hw.ld(bf(hw, b, B_FLAGS));
  if (!resumed) hw.count(C.teardowns);
  // Logged before the reference drop below (log-order rule): P7 precedes any reclaim.
  hw.log.emit(
    Ev.PHASE,
    pasid,
    gen,
    pf,
    P7_REFS_DROPPED,
    b,
    flags & BF_EXCEPTION ? PH_EXCEPTION : 0,
  );
  if (flags & BF_GUEST) {
    guestDropReference(hw, b, resumed);
    return;
  }
  giveBackReference(hw, b);
}

/**
 * The driver's reference of bond `b`'s mm is still held (mm lifetime: SVM_REF HELD; bind
 * lifetime: the PASID not freed). The record is still the bond's mm: it is not recycled while
 * a bond of its token exists.
 */
function referenceStillHeld(hw: HwContext, b: number): boolean {
  const rec = hw.ld(bf(hw, b, B_MM));
  if (hw.ld(mmField(hw, rec, MM_TOKEN)) !== hw.ld(bf(hw, b, B_TOKEN))) return false;
  if (!hw.bindLifetime) return hw.ld(mmField(hw, rec, MM_SVM_REF)) === SVM_HELD;
  return (
    hw.ld(mmField(hw, rec, MM_PASID)) === hw.ld(bf(hw, b, B_PASID)) &&
    hw.ld(mmField(hw, rec, MM_GEN)) === hw.ld(bf(hw, b, B_GEN)) &&
    hw.ld(mmField(hw, rec, MM_FREE_STATE)) === FREE_NONE
  );
}

/** With the mm's last bond (the one whose mark is not set), give the driver's reference back. */
function giveBackReference(hw: HwContext, b: number): void {
  const rec = hw.ld(bf(hw, b, B_MM));
  const pasid = hw.ld(bf(hw, b, B_PASID));
  const gen = hw.ld(bf(hw, b, B_GEN));
  const token = hw.ld(bf(hw, b, B_TOKEN));
  if (otherBondsHoldRef(hw, token, b)) return;
  if (hw.bindLifetime) freeBindLifetimePasid(hw, rec, pasid, gen, token);
  else putDriverReference(hw, rec, pasid, gen, token);
}

function noBondsLeft(hw: HwContext, rec: number): boolean {
  for (let pf = 0; pf < hw.g.pf.length; pf++)
    if (hw.ld(mmField(hw, rec, MM_BOND + pf)) !== 0) return false;
  return true;
}

/** mm lifetime: the driver's reference, taken with the mm's first bond, goes with its last. */
function putDriverReference(
  hw: HwContext,
  rec: number,
  pasid: number,
  gen: number,
  token: number,
): void {
  const ref = mmField(hw, rec, MM_SVM_REF);
  // The record cannot be recycled while SVM_REF is not NONE (freeMmIfDone), so this is still
  // the bond's mm.
  if (Atomics.compareExchange(hw.i32, ref, SVM_HELD, SVM_PUTTING) !== SVM_HELD) return;
  hw.log.emit(Ev.PUT, pasid, gen, -1, token);
  hw.space.put(null, pasid);
  hw.st(ref, SVM_NONE);
}

/** bind lifetime (2021): the last unbind frees the PASID and clears the threads' MSRs. */
function freeBindLifetimePasid(
  hw: HwContext,
  rec: number,
  pasid: number,
  gen: number,
  token: number,
): void {
  const fs = mmField(hw, rec, MM_FREE_STATE);
  if (hw.ld(mmField(hw, rec, MM_PASID)) !== pasid || hw.ld(mmField(hw, rec, MM_GEN)) !== gen)
    return;
  hw.st(fs, FREE_FREEING);
  clearMsrs(hw, rec);
  hw.log.emit(Ev.FREE_CALL, pasid, gen, -1, token);
  hw.space.free(hw.ld(H_SVA_SET), pasid);
  hw.st(mmField(hw, rec, MM_PASID), 0);
  hw.st(mmField(hw, rec, MM_GEN), 0);
  hw.st(fs, FREE_DONE);
}

/**
 * Give an exited mm's record back once nothing refers to it: no bond, no driver reference,
 * and its PASID given back (freed at exit, or at the last unbind with bind lifetime).
 */
export function freeMmIfDone(hw: HwContext, rec: number): void {
  if (hw.ld(mmField(hw, rec, MM_STATE)) !== MMS_DEAD) return;
  if (!noBondsLeft(hw, rec) || anyBondOf(hw, hw.ld(mmField(hw, rec, MM_TOKEN)))) return;
  if (hw.ld(mmField(hw, rec, MM_SVM_REF)) !== SVM_NONE) return;
  if (
    hw.ld(mmField(hw, rec, MM_PASID)) !== 0 &&
    hw.ld(mmField(hw, rec, MM_FREE_STATE)) !== FREE_DONE
  )
    return;
  if (Atomics.compareExchange(hw.i32, mmField(hw, rec, MM_STATE), MMS_DEAD, MMS_FREE) !== MMS_DEAD)
    return;
  // Last: a spawner that sees CLAIM 0 finds the record free.
  hw.st(mmField(hw, rec, MM_CLAIM), 0);
}
