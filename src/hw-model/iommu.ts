/**
 * The IOMMU's translation path (§7.4 "IOMMU engine", translate): PASID cache, then the
 * directory/leaf walk with non-present faults (SPD.2, SPT.2, suppressed by FPD), then the
 * IOTLB and the first-level walk of the mm's pages; ATS requests go through the PF's device
 * TLB first. Every translation is logged with the request's generation and the generation of
 * what it used, which is where the checker asserts INV-10. Also the fault recording registers
 * (a ring of records with PFO overflow) and their software service.
 *
 * Everything runs under the IOMMU lock, which also serialises invalidation processing
 * (inv-queue.ts): an invalidation completes only after the walks that started before it,
 * which is why a walk can never refill a cache after the invalidation of its entry.
 *
 * @internal
 */

import { devTlbFill, devTlbLookup, iotlbFill, iotlbLookup, pcFill, pcLookup } from './caches.js';
import { C, type CounterName } from './counters.js';
import { Ev, SRC_DEVTLB, SRC_IOTLB, SRC_PASID_CACHE, SRC_TABLE } from './event-log.js';
import type { HwContext } from './hw-context.js';
import {
  C_BIND,
  C_GEN,
  C_S1,
  DIR_FPD,
  DIR_LEAF_SHIFT,
  DIR_PRESENT,
  E_BIND,
  E_CTRL,
  E_GEN,
  E_S1,
  EC_FPD,
  EC_PGTT_SHIFT,
  EC_PRESENT,
  entryWord,
  FAULT_WORDS,
  FLT_HEAD,
  FLT_PFO,
  FLT_STATUS,
  FLT_TAIL,
  FR_GEN,
  FR_PAGE,
  FR_PASID,
  FR_PF,
  FR_REASON,
  FR_VALID,
  IOMMU_LOCK,
  PF_TABLE_LOCK,
  PGTT_FL_ONLY,
} from './hw-layout.js';
import { pageMapped } from './mm.js';
import { lockGive, lockTake } from './owner-lock.js';
import { dirWord } from './pasid-table.js';
import { FaultReason, TR_NOT_MAPPED } from './results.js';

const REASON_COUNTER: Readonly<Record<number, CounterName>> = {
  [FaultReason.SPD2]: 'faultSpd2',
  [FaultReason.SPT2]: 'faultSpt2',
  [FaultReason.SPT4]: 'faultSpt4',
};

/** Generation and bind ticket of what the last translation of this thread used (scratch). */
let usedGen = 0;
let usedBind = 0;

/**
 * Translate `page` of `pasid` for a request from `pf` carrying ghost generation `gen`.
 *
 * Context: any attached thread; takes the IOMMU lock (spins briefly).
 * @returns the page (>= 0); -FaultReason.SPD2/SPT2/SPT4 a non-recoverable fault (recorded
 * unless FPD); TR_NOT_MAPPED the page is not mapped (recoverable with PRI)
 */
export function translate(
  hw: HwContext,
  pf: number,
  pasid: number,
  page: number,
  gen: number,
): number {
  lockTake(hw.i32, IOMMU_LOCK, hw.tag);
  const r = translateLocked(hw, pf, pasid, page, gen);
  lockGive(hw.i32, IOMMU_LOCK);
  return r;
}

/**
 * A device's translation with ATS: its device TLB first, then the IOMMU, filling the device
 * TLB on success.
 *
 * Context: the PF's device engine (or any attached thread); takes the IOMMU lock.
 * @returns as translate
 */
export function atsTranslate(
  hw: HwContext,
  pf: number,
  pasid: number,
  page: number,
  gen: number,
): number {
  lockTake(hw.i32, IOMMU_LOCK, hw.tag);
  const d = devTlbLookup(hw, pf, pasid, page);
  let r: number;
  if (d >= 0) {
    hw.count(C.devTlbHits);
    hw.count(C.translations);
    hw.count(C.translationsOk);
    hw.log.emit(Ev.TRANSLATE, pasid, gen, pf, page, hw.ld(d + C_GEN), SRC_DEVTLB);
    r = page;
  } else {
    if (hw.g.pf[pf]!.devTlbEntries > 0) hw.count(C.devTlbMisses);
    r = translateLocked(hw, pf, pasid, page, gen);
    if (r >= 0) devTlbFill(hw, pf, pasid, page, usedGen, usedBind);
  }
  lockGive(hw.i32, IOMMU_LOCK);
  return r;
}

function translateLocked(
  hw: HwContext,
  pf: number,
  pasid: number,
  page: number,
  gen: number,
): number {
  hw.count(C.translations);
  let src = SRC_PASID_CACHE;
  let s1: number;
  let pcGen: number;
  let pcBind: number;
  const pc = pcLookup(hw, pf, pasid);
  if (pc >= 0) {
    hw.count(C.pasidCacheHits);
    pcGen = hw.ld(pc + C_GEN);
    pcBind = hw.ld(pc + C_BIND);
    s1 = hw.ld(pc + C_S1);
  } else {
    hw.count(C.pasidCacheMisses);
    // The walk reads the 512-bit entry as one unit, as hardware does: under the PF's table
    // lock, so a teardown clearing it (or a bind filling it) is never seen half done.
    const lock = hw.g.pf[pf]!.base + PF_TABLE_LOCK;
    lockTake(hw.i32, lock, hw.tag);
    const d = hw.ld(dirWord(hw, pf, pasid));
    const e = d & DIR_PRESENT ? entryWord(hw.g, pf, d >>> DIR_LEAF_SHIFT, pasid) : -1;
    const ctrl = e >= 0 ? hw.ld(e + E_CTRL) : 0;
    pcGen = e >= 0 ? hw.ld(e + E_GEN) : 0;
    pcBind = e >= 0 ? hw.ld(e + E_BIND) : 0;
    s1 = e >= 0 ? hw.ld(e + E_S1) : 0;
    lockGive(hw.i32, lock);
    if (!(d & DIR_PRESENT)) return fault(hw, pf, pasid, gen, page, FaultReason.SPD2, d & DIR_FPD);
    if (!(ctrl & EC_PRESENT))
      return fault(hw, pf, pasid, gen, page, FaultReason.SPT2, (ctrl & EC_FPD) | (d & DIR_FPD));
    if (((ctrl >>> EC_PGTT_SHIFT) & 7) !== PGTT_FL_ONLY)
      return fault(hw, pf, pasid, gen, page, FaultReason.SPT4, ctrl & EC_FPD);
    pcFill(hw, pf, pasid, pcGen, ctrl, s1, pcBind);
    src = SRC_TABLE;
  }
  usedGen = pcGen;
  usedBind = pcBind;
  const t = iotlbLookup(hw, pf, pasid, page);
  if (t >= 0) {
    hw.count(C.iotlbHits);
    const g2 = hw.ld(t + C_GEN);
    if (pcGen === gen) usedGen = g2;
    usedBind = hw.ld(t + C_BIND);
    src = SRC_IOTLB;
  } else {
    hw.count(C.iotlbMisses);
    if (!pageMapped(hw, s1, page)) return TR_NOT_MAPPED;
    iotlbFill(hw, pf, pasid, page, pcGen, pcBind);
  }
  hw.count(C.translationsOk);
  hw.log.emit(Ev.TRANSLATE, pasid, gen, pf, page, usedGen, src);
  return page;
}

function fault(
  hw: HwContext,
  pf: number,
  pasid: number,
  gen: number,
  page: number,
  reason: number,
  suppressed: number,
): number {
  const counter = REASON_COUNTER[reason];
  if (counter) hw.count(C[counter]);
  if (suppressed) {
    hw.count(C.faultsSuppressed);
  } else {
    const head = hw.ld(FLT_HEAD);
    const tail = hw.ld(FLT_TAIL);
    const n = hw.g.shape.faultRecords;
    if (tail - head >= n) {
      Atomics.or(hw.i32, FLT_STATUS, FLT_PFO);
      hw.count(C.faultsLost);
    } else {
      const w = hw.g.faultBase + (tail % n) * FAULT_WORDS;
      hw.st(w + FR_REASON, reason);
      hw.st(w + FR_PF, pf);
      hw.st(w + FR_PASID, pasid);
      hw.st(w + FR_GEN, gen);
      hw.st(w + FR_PAGE, page);
      hw.st(w + FR_VALID, 1);
      // Publishes the record; pairs with the load in faultService.
      hw.st(FLT_TAIL, tail + 1);
    }
  }
  hw.log.emit(Ev.FAULT, pasid, gen, pf, reason, suppressed ? 1 : 0, page);
  return -reason;
}

/**
 * Software fault handling: read and clear up to `max` fault records, then clear PFO when the
 * ring is empty.
 *
 * Context: one consumer at a time (the PRQ thread); takes the IOMMU lock.
 * @returns records consumed
 */
export function faultService(hw: HwContext, max: number): number {
  lockTake(hw.i32, IOMMU_LOCK, hw.tag);
  let head = hw.ld(FLT_HEAD);
  const tail = hw.ld(FLT_TAIL);
  const n = hw.g.shape.faultRecords;
  let done = 0;
  while (head !== tail && done < max) {
    hw.st(hw.g.faultBase + (head % n) * FAULT_WORDS + FR_VALID, 0);
    head++;
    done++;
  }
  hw.st(FLT_HEAD, head);
  if (head === tail) Atomics.and(hw.i32, FLT_STATUS, ~FLT_PFO);
  lockGive(hw.i32, IOMMU_LOCK);
  return done;
}
