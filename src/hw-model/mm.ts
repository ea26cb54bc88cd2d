/**
 * Processes (§7.3 "Process / mm", "CPU thread context"): process slots, each running one mm
 * instance at a time, its threads with their IA32_PASID MSR, and the mm records. An mm record
 * outlives its process while the IOMMU driver still tears down its bonds; its token (instance
 * << 12 | record) is the private data the core keeps with the mm's PASID, so a lookup can tell
 * a recycled record from the one it was looking for.
 *
 * A process's words are written by the actor that runs it (one actor per process), by the
 * IOMMU driver's teardown (bond bits) and by recovery after that actor died.
 *
 * @internal
 */

import { Ev } from './event-log.js';
import type { HwContext } from './hw-context.js';
import { HwErrno } from './hw-errno.js';
import {
  FREE_NONE,
  G_MM_INSTANCES,
  MM_BOND,
  MM_CLAIM,
  MM_DWQ,
  MM_FREE_STATE,
  MM_GEN,
  MM_PAGES,
  MM_PASID,
  MM_PENDING_TICKET,
  MM_PID,
  MM_PORTAL,
  MM_STATE,
  MM_SVM_REF,
  MM_TOKEN,
  MM_WORDS,
  MMS_ALIVE,
  MSR_VALID,
  mmWord,
  PS_MM,
  PS_SPAWNS,
  processWord,
  SVM_NONE,
  TH_ACTIVATED,
  TH_MM,
  TH_MSR,
  TH_MSR_GEN,
  TOKEN_INSTANCE_SHIFT,
  TOKEN_RECORD_MASK,
  threadWord,
} from './hw-layout.js';

/** The mm record index a process slot runs, or -1. */
export function mmOfProcess(hw: HwContext, pid: number): number {
  return hw.ld(processWord(hw.g, pid) + PS_MM) - 1;
}

/** The mm record index of a token (the record may since have been reused: compare tokens). */
export function recordOfToken(token: number): number {
  return token & TOKEN_RECORD_MASK;
}

/** Word index of field `f` of mm record `rec`. */
export function mmField(hw: HwContext, rec: number, f: number): number {
  return mmWord(hw.g, rec) + f;
}

/** First thread slot of process `pid`. */
export function firstThread(hw: HwContext, pid: number): number {
  return pid * hw.g.shape.threadsPerProcess;
}

/**
 * Start a new mm in process slot `pid`: claim a free mm record, give it a fresh token, reset
 * the process's threads (MSR invalid, not activated).
 *
 * Context: the process's actor (or any thread for an idle slot); lock-free.
 * @returns the token (> 0); -EBUSY the slot runs a process; -EAGAIN no free mm record (the
 * driver still tears down exited ones). On error nothing changes.
 */
export function spawn(hw: HwContext, pid: number): number {
  const ps = processWord(hw.g, pid);
  if (hw.ld(ps + PS_MM) !== 0) return -HwErrno.EBUSY;
  const n = hw.g.shape.mmRecords;
  for (let i = 0; i < n; i++) {
    const rec = (pid + i) % n;
    const claim = mmField(hw, rec, MM_CLAIM);
    if (hw.ld(claim) !== 0) continue;
    // The claim names the process slot in the same CAS, for recovery; CLAIM is cleared last
    // when a record is freed, so a 0 means STATE is FREE.
    if (Atomics.compareExchange(hw.i32, claim, 0, pid + 1) !== 0) continue;
    const instance = Atomics.add(hw.i32, G_MM_INSTANCES, 1) + 1;
    const token = ((instance << TOKEN_INSTANCE_SHIFT) | rec) & 0x7fffffff;
    const base = mmWord(hw.g, rec);
    for (let f = MM_PASID; f < MM_WORDS; f++) if (f !== MM_CLAIM) hw.st(base + f, 0);
    hw.st(base + MM_PID, pid);
    hw.st(base + MM_SVM_REF, SVM_NONE);
    hw.st(base + MM_FREE_STATE, FREE_NONE);
    hw.st(base + MM_TOKEN, token);
    hw.st(base + MM_STATE, MMS_ALIVE);
    const t0 = firstThread(hw, pid);
    for (let t = t0; t < t0 + hw.g.shape.threadsPerProcess; t++) {
      const tw = threadWord(hw.g, t);
      hw.st(tw + TH_MSR, 0);
      hw.st(tw + TH_MSR_GEN, 0);
      hw.st(tw + TH_ACTIVATED, 0);
      hw.st(tw + TH_MM, rec + 1);
    }
    // Publishes the record to the process slot; pairs with mmOfProcess.
    hw.st(ps + PS_MM, rec + 1);
    Atomics.add(hw.i32, ps + PS_SPAWNS, 1);
    hw.log.emit(Ev.SPAWN, 0, 0, -1, token, pid);
    return token;
  }
  return -HwErrno.EAGAIN;
}

/** True when `page` of mm record `rec` is mapped. Context: any thread; lock-free. */
export function pageMapped(hw: HwContext, rec: number, page: number): boolean {
  const w = mmField(hw, rec, MM_PAGES + (page >>> 5));
  return (hw.ld(w) & (1 << (page & 31))) !== 0;
}

/** Map `page` of mm record `rec` (a CPU touch, or the PRQ thread resolving a fault). */
export function mapPage(hw: HwContext, rec: number, page: number): void {
  Atomics.or(hw.i32, mmField(hw, rec, MM_PAGES + (page >>> 5)), 1 << (page & 31));
}

/** Unmap `page` of mm record `rec` (the caller invalidates the IOMMU's caches). */
export function unmapPage(hw: HwContext, rec: number, page: number): void {
  Atomics.and(hw.i32, mmField(hw, rec, MM_PAGES + (page >>> 5)), ~(1 << (page & 31)));
}

/** The bond index of mm record `rec` on `pf`, or -1. */
export function bondOf(hw: HwContext, rec: number, pf: number): number {
  return hw.ld(mmField(hw, rec, MM_BOND + pf)) - 1;
}

/** Bit mask of the WQs of `pf` whose portal mm record `rec` has mapped. */
export function portals(hw: HwContext, rec: number, pf: number): number {
  return hw.ld(mmField(hw, rec, MM_PORTAL + pf));
}

/** Bit mask of the DWQs of `pf` that mm record `rec` owns. */
export function dwqsOf(hw: HwContext, rec: number, pf: number): number {
  return hw.ld(mmField(hw, rec, MM_DWQ + pf));
}

/** The (pasid, gen) of mm record `rec`: pasid 0 when it has none. */
export function mmPasid(hw: HwContext, rec: number): { pasid: number; gen: number } {
  return { pasid: hw.ld(mmField(hw, rec, MM_PASID)), gen: hw.ld(mmField(hw, rec, MM_GEN)) };
}

/** Ticket recorded before an alloc whose result is not recorded yet (recovery reads it). */
export function pendingTicket(hw: HwContext, rec: number): number {
  return hw.ld(mmField(hw, rec, MM_PENDING_TICKET));
}

/** Clear the IA32_PASID MSR of every thread of mm record `rec` (an IPI in 2021 Linux). */
export function clearMsrs(hw: HwContext, rec: number): void {
  const pid = hw.ld(mmField(hw, rec, MM_PID));
  const t0 = firstThread(hw, pid);
  for (let t = t0; t < t0 + hw.g.shape.threadsPerProcess; t++) {
    const tw = threadWord(hw.g, t);
    if (hw.ld(tw + TH_MM) !== rec + 1) continue;
    hw.st(tw + TH_MSR, 0);
    hw.st(tw + TH_ACTIVATED, 0);
    hw.st(tw + TH_MSR_GEN, 0);
  }
}

/** Load every thread of mm record `rec` with its PASID (bind lifetime: the 2021 IPI at bind). */
export function loadMsrs(hw: HwContext, rec: number, pasid: number, gen: number): void {
  const pid = hw.ld(mmField(hw, rec, MM_PID));
  const t0 = firstThread(hw, pid);
  for (let t = t0; t < t0 + hw.g.shape.threadsPerProcess; t++) {
    const tw = threadWord(hw.g, t);
    if (hw.ld(tw + TH_MM) !== rec + 1) continue;
    hw.st(tw + TH_MSR_GEN, gen);
    hw.st(tw + TH_ACTIVATED, 1);
    hw.st(tw + TH_MSR, MSR_VALID | pasid);
  }
}
