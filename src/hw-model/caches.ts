/**
 * The translation caches as explicit tables (§7.3): the IOMMU's PASID cache and IOTLB, and
 * each ATS PF's device TLB. Each entry remembers the ghost generation of the PASID-table
 * entry it was filled from, so a stale entry that an invalidation should have removed is a
 * state the checker can see (INV-9) and a translation through it a mismatch it can name
 * (INV-10). 4-way set associative; a fill takes an invalid way of its set, else the way the
 * cache's replacement pointer names (round robin).
 *
 * Every function here runs under the IOMMU lock (the device TLB too: the model serialises
 * the device's ATC with the IOMMU, which is what the ATS invalidation protocol achieves when
 * an invalidation completes only after the device answered).
 *
 * Tags: PASID cache and IOTLB `VALID | pf << 20 | pasid` (the IOTLB also compares the page);
 * device TLB `VALID | pasid` plus the page. Real VT-d tags IOTLB entries by domain, not by
 * requester; the model adds the PF so that a per-PF teardown can be checked exactly (a
 * PASID-selective invalidation still removes the PASID's entries of every PF, as hardware does).
 *
 * @internal
 */
import type { HwContext } from './hw-context.js';
import {
  C_AUX,
  C_BIND,
  C_GEN,
  C_S1,
  C_TAG,
  CACHE_WAYS,
  CACHE_WORDS,
  IOMMU_IOTLB_VICTIM,
  IOMMU_PC_VICTIM,
  PF_DEVTLB_VICTIM,
  TAG_PASID_MASK,
  TAG_PF_SHIFT,
  TAG_VALID,
} from './hw-layout.js';

/** One cache's place in the buffer. */
interface Cache {
  base: number;
  entries: number;
  victim: number;
}

function pcOf(hw: HwContext): Cache {
  return { base: hw.g.pcBase, entries: hw.g.shape.pcEntries, victim: IOMMU_PC_VICTIM };
}

function iotlbOf(hw: HwContext): Cache {
  return { base: hw.g.iotlbBase, entries: hw.g.shape.iotlbEntries, victim: IOMMU_IOTLB_VICTIM };
}

function devTlbOf(hw: HwContext, pf: number): Cache {
  const p = hw.g.pf[pf]!;
  return { base: p.devTlbBase, entries: p.devTlbEntries, victim: p.base + PF_DEVTLB_VICTIM };
}

function tagOf(pf: number, pasid: number): number {
  return TAG_VALID | (pf << TAG_PF_SHIFT) | (pasid & TAG_PASID_MASK);
}

function setBase(c: Cache, key: number): number {
  const sets = Math.max(1, Math.floor(c.entries / CACHE_WAYS));
  const h = Math.imul(key ^ (key >>> 15), 0x2c1b3c6d) >>> 0;
  return c.base + (h % sets) * CACHE_WAYS * CACHE_WORDS;
}

function lookup(hw: HwContext, c: Cache, tag: number, page: number): number {
  if (c.entries === 0) return -1;
  const s = setBase(c, tag ^ Math.imul(page, 0x9e3779b1));
  for (let w = 0; w < CACHE_WAYS; w++) {
    const e = s + w * CACHE_WORDS;
    if (hw.ld(e + C_TAG) === tag && (page < 0 || hw.ld(e + C_AUX) === page)) return e;
  }
  return -1;
}

function fill(hw: HwContext, c: Cache, tag: number, page: number): number {
  const s = setBase(c, tag ^ Math.imul(page, 0x9e3779b1));
  let way = -1;
  for (let w = 0; w < CACHE_WAYS && way < 0; w++)
    if (!(hw.ld(s + w * CACHE_WORDS + C_TAG) & TAG_VALID)) way = w;
  if (way < 0) {
    const v = hw.ld(c.victim);
    hw.st(c.victim, (v + 1) | 0);
    way = v & (CACHE_WAYS - 1);
  }
  const e = s + way * CACHE_WORDS;
  hw.st(e + C_TAG, 0);
  return e;
}

function invalidate(hw: HwContext, c: Cache, match: (e: number) => boolean): number {
  let n = 0;
  for (let i = 0; i < c.entries; i++) {
    const e = c.base + i * CACHE_WORDS;
    if (hw.ld(e + C_TAG) & TAG_VALID && match(e)) {
      hw.st(e + C_TAG, 0);
      n++;
    }
  }
  return n;
}

/** PASID-cache entry word for (pf, pasid), or -1. */
export function pcLookup(hw: HwContext, pf: number, pasid: number): number {
  return lookup(hw, pcOf(hw), tagOf(pf, pasid), -1);
}

/** Cache a present entry's snapshot (CTRL, S1) with its generation. */
export function pcFill(
  hw: HwContext,
  pf: number,
  pasid: number,
  gen: number,
  ctrl: number,
  s1: number,
  bind: number,
): void {
  const e = fill(hw, pcOf(hw), tagOf(pf, pasid), -1);
  hw.st(e + C_GEN, gen);
  hw.st(e + C_BIND, bind);
  hw.st(e + C_AUX, ctrl);
  hw.st(e + C_S1, s1);
  hw.st(e + C_TAG, tagOf(pf, pasid));
}

/** PASID-selective PASID-cache invalidation (every PF's entry of `pasid`). @returns entries removed */
export function pcInvalidate(hw: HwContext, pasid: number): number {
  return invalidate(hw, pcOf(hw), (e) => (hw.ld(e + C_TAG) & TAG_PASID_MASK) === pasid);
}

/** IOTLB entry word for (pf, pasid, page), or -1. */
export function iotlbLookup(hw: HwContext, pf: number, pasid: number, page: number): number {
  return lookup(hw, iotlbOf(hw), tagOf(pf, pasid), page);
}

/** Cache a translation of `page` with its generation. */
export function iotlbFill(
  hw: HwContext,
  pf: number,
  pasid: number,
  page: number,
  gen: number,
  bind: number,
): void {
  fillPage(hw, iotlbOf(hw), tagOf(pf, pasid), page, gen, bind);
}

/** Fill a translation line (IOTLB or device TLB): TAG last publishes it to lookups. */
function fillPage(
  hw: HwContext,
  c: Cache,
  tag: number,
  page: number,
  gen: number,
  bind: number,
): void {
  const e = fill(hw, c, tag, page);
  hw.st(e + C_GEN, gen);
  hw.st(e + C_BIND, bind);
  hw.st(e + C_AUX, page);
  hw.st(e + C_TAG, tag);
}

/** Matches the translation lines of `pasid`, all of them or only `page` (>= 0). */
function ofPasidPage(hw: HwContext, pasid: number, page: number): (e: number) => boolean {
  return (e) =>
    (hw.ld(e + C_TAG) & TAG_PASID_MASK) === pasid && (page < 0 || hw.ld(e + C_AUX) === page);
}

/** PASID-IOTLB invalidation: every mapping of `pasid`, or only `page` (>= 0). @returns removed */
export function iotlbInvalidate(hw: HwContext, pasid: number, page: number): number {
  return invalidate(hw, iotlbOf(hw), ofPasidPage(hw, pasid, page));
}

/** Device-TLB entry word of `pf` for (pasid, page), or -1 (always -1 without ATS). */
export function devTlbLookup(hw: HwContext, pf: number, pasid: number, page: number): number {
  return lookup(hw, devTlbOf(hw, pf), tagOf(0, pasid), page);
}

/** Cache an ATS translation in `pf`'s device TLB. */
export function devTlbFill(
  hw: HwContext,
  pf: number,
  pasid: number,
  page: number,
  gen: number,
  bind: number,
): void {
  const c = devTlbOf(hw, pf);
  if (c.entries > 0) fillPage(hw, c, tagOf(0, pasid), page, gen, bind);
}

/** PASID-based device-TLB invalidation on `pf`: all of `pasid`, or `page` (>= 0). @returns removed */
export function devTlbInvalidate(hw: HwContext, pf: number, pasid: number, page: number): number {
  return invalidate(hw, devTlbOf(hw, pf), ofPasidPage(hw, pasid, page));
}

/**
 * Call `fn(entryWord, pf, pasid, gen, bind)` for every valid entry of a cache, for the checker.
 *
 * @param which - 'pasid-cache', 'iotlb', or a PF index for its device TLB
 *
 * Context: any thread, without the IOMMU lock: the checker must never wait for a lock whose
 * holder may be waiting for the checker to drain the event log. A line is reported only when
 * its TAG reads the same before and after its other words (a fill clears TAG first and sets
 * it last), so a line being rewritten is skipped, never reported with another line's words.
 */
export function cacheForEach(
  hw: HwContext,
  which: 'pasid-cache' | 'iotlb' | number,
  fn: (e: number, pf: number, pasid: number, gen: number, bind: number) => void,
): void {
  const c =
    which === 'pasid-cache' ? pcOf(hw) : which === 'iotlb' ? iotlbOf(hw) : devTlbOf(hw, which);
  for (let i = 0; i < c.entries; i++) {
    const e = c.base + i * CACHE_WORDS;
    const tag = hw.ld(e + C_TAG);
    if (!(tag & TAG_VALID)) continue;
    const gen = hw.ld(e + C_GEN);
    const bind = hw.ld(e + C_BIND);
    if (hw.ld(e + C_TAG) !== tag) continue;
    const pf = typeof which === 'number' ? which : (tag >>> TAG_PF_SHIFT) & 0xff;
    fn(e, pf, tag & TAG_PASID_MASK, gen, bind);
  }
}
