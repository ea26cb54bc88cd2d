/**
 * Bonds: the IOMMU driver's per-(PF, mm) binding records (Linux's `intel_svm_dev`), in a pool
 * in the hardware buffer so that any thread can resume a teardown from the phase a bond
 * records. A bond is claimed by CAS (lowest free index first, so a freed bond is reused soon:
 * what makes a missing grace period visible), and given back only after an RCU grace period
 * (the PRQ thread reads bonds inside read-side sections). STAMP counts the bond's reuses;
 * a reader that saw one stamp and later sees another knows the bond was recycled under it
 * (INV-15).
 *
 * @internal
 */
import type { HwContext } from './hw-context.js';
import {
  B_CLAIM,
  B_COOKIE_HI,
  B_COOKIE_LO,
  B_FLAGS,
  B_GEN,
  B_MM,
  B_OWNER,
  B_PASID,
  B_PF,
  B_PHASES,
  B_REFS,
  B_STAMP,
  B_STATE,
  B_SUB,
  B_TOKEN,
  B_WAIT_STATUS,
  B_WAIT_TICKET,
  BF_REF_DROPPED,
  BOND_WORDS,
  BS_BINDING,
  BS_FREE,
  bondWord,
} from './hw-layout.js';

/** Word index of field `f` of bond `b`. */
export function bf(hw: HwContext, b: number, f: number): number {
  return bondWord(hw.g, b) + f;
}

/**
 * Claim a free bond for (pf, pasid, gen, mm) in state BINDING.
 *
 * @param saved - receives the bond's previous words, for `bondUnclaim`
 *
 * Context: any attached thread; lock-free (a CAS per free candidate).
 * @returns the bond index, or -1 when the pool is exhausted (nothing changed)
 */
export function bondClaim(
  hw: HwContext,
  pf: number,
  pasid: number,
  gen: number,
  rec: number,
  token: number,
  saved: Int32Array,
): number {
  for (let b = 0; b < hw.g.shape.bonds; b++) {
    const claim = bf(hw, b, B_CLAIM);
    if (hw.ld(claim) !== 0) continue;
    // The claim records who took the bond in the same CAS (recovery finds a dead bind's
    // claim by it); CLAIM is cleared last when a bond is freed, so a 0 means STATE is FREE.
    if (Atomics.compareExchange(hw.i32, claim, 0, rec + 1) !== 0) continue;
    for (let f = 0; f < BOND_WORDS; f++) saved[f] = hw.ld(bf(hw, b, f));
    saved[B_CLAIM] = 0;
    Atomics.add(hw.i32, bf(hw, b, B_STAMP), 1);
    hw.st(bf(hw, b, B_PF), pf);
    hw.st(bf(hw, b, B_PASID), pasid);
    hw.st(bf(hw, b, B_GEN), gen);
    hw.st(bf(hw, b, B_MM), rec);
    hw.st(bf(hw, b, B_TOKEN), token);
    hw.st(bf(hw, b, B_REFS), 1);
    for (const f of [B_PHASES, B_FLAGS, B_OWNER, B_WAIT_TICKET, B_WAIT_STATUS, B_SUB])
      hw.st(bf(hw, b, f), 0);
    hw.st(bf(hw, b, B_COOKIE_LO), 0);
    hw.st(bf(hw, b, B_COOKIE_HI), 0);
    // Last: a bond is seen as in use (by the scans for an mm's bonds, teardown.ts
    // `freeMmIfDone`) only once it names its new mm; set first, it would briefly count as a
    // bond of the mm it belonged to before, and that mm's record could be left unfreed.
    hw.st(bf(hw, b, B_STATE), BS_BINDING);
    return b;
  }
  return -1;
}

/**
 * Undo a claim whose bind failed: the bond's words as they were, then FREE.
 *
 * Context: the claimer; the bond was never published to anyone.
 */
export function bondUnclaim(hw: HwContext, b: number, saved: Int32Array): void {
  for (let f = 1; f < BOND_WORDS; f++) if (f !== B_CLAIM) hw.st(bf(hw, b, f), saved[f]!);
  hw.st(bf(hw, b, B_STATE), BS_FREE);
  hw.st(bf(hw, b, B_CLAIM), 0);
}

/** Give bond `b` back to the pool. Context: the teardown that owns it, after a grace period. */
export function bondFree(hw: HwContext, b: number): void {
  hw.st(bf(hw, b, B_OWNER), 0);
  hw.st(bf(hw, b, B_STATE), BS_FREE);
  // Last: a claimer that sees CLAIM 0 finds the bond free.
  hw.st(bf(hw, b, B_CLAIM), 0);
}

/** Store an RCU cookie (< 2^53) in the bond. */
export function bondSetCookie(hw: HwContext, b: number, cookie: number): void {
  hw.st(bf(hw, b, B_COOKIE_LO), cookie % 2 ** 26);
  hw.st(bf(hw, b, B_COOKIE_HI), Math.floor(cookie / 2 ** 26));
}

/** The RCU cookie stored in the bond. */
export function bondCookie(hw: HwContext, b: number): number {
  return hw.ld(bf(hw, b, B_COOKIE_HI)) * 2 ** 26 + hw.ld(bf(hw, b, B_COOKIE_LO));
}

/**
 * True when a bond of the mm with `token`, other than `except`, still holds its share of the
 * driver's reference (not freed, reference not dropped).
 *
 * Context: any thread; lock-free; exact for the one thread that drives the mm's teardowns.
 */
export function otherBondsHoldRef(hw: HwContext, token: number, except: number): boolean {
  for (let b = 0; b < hw.g.shape.bonds; b++) {
    if (b === except || hw.ld(bf(hw, b, B_STATE)) === BS_FREE) continue;
    if (hw.ld(bf(hw, b, B_TOKEN)) === token && !(hw.ld(bf(hw, b, B_FLAGS)) & BF_REF_DROPPED))
      return true;
  }
  return false;
}

/** True when some bond of the mm with `token` is not free yet. */
export function anyBondOf(hw: HwContext, token: number): boolean {
  for (let b = 0; b < hw.g.shape.bonds; b++)
    if (hw.ld(bf(hw, b, B_STATE)) !== BS_FREE && hw.ld(bf(hw, b, B_TOKEN)) === token) return true;
  return false;
}
