/**
 * Per-PF VT-d PASID tables (§1.2, §1.3): a directory indexed by PASID bits 19:6 whose present
 * entries point at 64-entry leaves indexed by bits 5:0. Leaves are allocated on first use and
 * never freed (as Linux does until the whole table goes). Writers hold the PF's table lock, and
 * so does the IOMMU's walk (iommu.ts), which must read an entry whole: hardware reads the
 * 512-bit entry at once, and a walk that saw P set then the fields a teardown had already
 * zeroed would cache a line of no generation (found by the checker on threads, INV-10).
 *
 * ## Developer notes
 * The directory is sized for the whole PASID space of the platform, not the device's width:
 * the width is a driver check (EOVERFLOW at bind), and sizing the table for it would make a
 * driver that skips the check (mutation skip-width-check) crash instead of leaving the
 * too-wide entry the checker must find (INV-1).
 *
 * @internal
 */

import type { HwContext } from './hw-context.js';
import { HwErrno } from './hw-errno.js';
import {
  DIR_FPD,
  DIR_LEAF_SHIFT,
  DIR_PRESENT,
  E_BIND,
  E_BINDING,
  E_CTRL,
  E_DID,
  E_GEN,
  E_S1,
  EC_FPD,
  EC_PGTT_SHIFT,
  EC_PRESENT,
  entryWord,
  PF_LEAF_NEXT,
  PF_TABLE_LOCK,
} from './hw-layout.js';
import { lockGive, lockTake } from './owner-lock.js';

/** What a present entry holds. */
export interface EntryFields {
  pgtt: number;
  did: number;
  /** First-level table: the mm record whose page bitmap the IOMMU walks. */
  s1: number;
  /** The owner: the mm token (host SVA). */
  binding: number;
  /** Ghost: the allocation ticket of the PASID. */
  gen: number;
  /** Ghost: the bind ticket of the bond. */
  bind: number;
}

/** Word index of the directory entry for `pasid` on `pf`. */
export function dirWord(hw: HwContext, pf: number, pasid: number): number {
  return hw.g.pf[pf]!.dirBase + (pasid >>> 6);
}

/**
 * The entry word of `pasid` on `pf`, or -1 when its directory entry is not present.
 *
 * Context: any thread; lock-free; the entry may change right after.
 */
export function entryOf(hw: HwContext, pf: number, pasid: number): number {
  const d = hw.ld(dirWord(hw, pf, pasid));
  if (!(d & DIR_PRESENT)) return -1;
  return entryWord(hw.g, pf, d >>> DIR_LEAF_SHIFT, pasid);
}

/**
 * Program a present entry for `pasid` on `pf` (clear, fill, then set P, as Linux does).
 *
 * @param overwrite - skip the "present" check (only a broken driver asks for it)
 *
 * Context: any attached thread; takes the PF's table lock (spins briefly).
 * @returns 0; -EBUSY the entry is present; -ENOMEM no leaf left for a new directory entry.
 * On error nothing changes.
 */
export function tableProgram(
  hw: HwContext,
  pf: number,
  pasid: number,
  f: EntryFields,
  overwrite = false,
): number {
  const lock = hw.g.pf[pf]!.base + PF_TABLE_LOCK;
  lockTake(hw.i32, lock, hw.tag);
  const r = programLocked(hw, pf, pasid, f, overwrite);
  lockGive(hw.i32, lock);
  return r;
}

function programLocked(
  hw: HwContext,
  pf: number,
  pasid: number,
  f: EntryFields,
  overwrite: boolean,
): number {
  let e = entryOf(hw, pf, pasid);
  if (e >= 0 && hw.ld(e + E_CTRL) & EC_PRESENT && !overwrite) return -HwErrno.EBUSY;
  if (e < 0) {
    const next = hw.g.pf[pf]!.base + PF_LEAF_NEXT;
    const leaf = hw.ld(next);
    if (leaf >= hw.g.shape.leavesPerPf) return -HwErrno.ENOMEM;
    hw.st(next, leaf + 1);
    // Leaves are zero from create(); the directory entry publishes the leaf.
    hw.st(dirWord(hw, pf, pasid), (leaf << DIR_LEAF_SHIFT) | DIR_PRESENT);
    e = entryWord(hw.g, pf, leaf, pasid);
  }
  hw.st(e + E_CTRL, 0);
  hw.st(e + E_DID, f.did);
  hw.st(e + E_S1, f.s1);
  hw.st(e + E_BINDING, f.binding);
  hw.st(e + E_GEN, f.gen);
  hw.st(e + E_BIND, f.bind);
  // Publishes the fields above; pairs with the IOMMU's load of CTRL in translate.
  hw.st(e + E_CTRL, EC_PRESENT | (f.pgtt << EC_PGTT_SHIFT));
  return 0;
}

/**
 * Clear the entry of `pasid` on `pf` (all words zero; with `fpd`, FPD = 1 so late DMA is
 * blocked without a fault report).
 *
 * Context: any attached thread; takes the PF's table lock. Idempotent.
 * @returns true when the entry was present
 */
export function tableClear(hw: HwContext, pf: number, pasid: number, fpd: boolean): boolean {
  const lock = hw.g.pf[pf]!.base + PF_TABLE_LOCK;
  lockTake(hw.i32, lock, hw.tag);
  const e = entryOf(hw, pf, pasid);
  let was = false;
  if (e >= 0) {
    was = (hw.ld(e + E_CTRL) & EC_PRESENT) !== 0;
    // Unpublish first: a walk that loads CTRL after this store sees "not present".
    hw.st(e + E_CTRL, fpd ? EC_FPD : 0);
    hw.st(e + E_DID, 0);
    hw.st(e + E_S1, 0);
    hw.st(e + E_BINDING, 0);
    hw.st(e + E_GEN, 0);
    hw.st(e + E_BIND, 0);
  }
  lockGive(hw.i32, lock);
  return was;
}

/** True when the directory entry of `pasid` has FPD set (faults through it are not reported). */
export function dirFpd(hw: HwContext, pf: number, pasid: number): boolean {
  return (hw.ld(dirWord(hw, pf, pasid)) & DIR_FPD) !== 0;
}

/** True when `pasid` has a present entry on `pf`. Context: any thread; lock-free; stale. */
export function entryPresent(hw: HwContext, pf: number, pasid: number): boolean {
  const e = entryOf(hw, pf, pasid);
  return e >= 0 && (hw.ld(e + E_CTRL) & EC_PRESENT) !== 0;
}
