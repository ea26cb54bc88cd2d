/**
 * The id bitmap: one bit per id, set while the id number is taken.
 *
 * A set bit means "this id number belongs to an allocation in progress or live"; the id map
 * (not this bitmap) says which record holds it. Bit 0 of word 0 (id 0) is set at creation
 * and never cleared, so id 0 is never handed out.
 *
 * Developer notes: claiming is a CAS loop per 32-bit word that takes the lowest clear bit
 * inside the requested range; releasing is one `Atomics.and`. With one thread, scanning
 * words upwards from `lo` gives exactly the kernel's `xa_alloc` answer (lowest free id).
 * Rejected: a second-level "word is full" summary (it would make a crowded low range cheaper
 * to skip, but needs a set-then-recheck protocol on every fill and free; measure first).
 * Parameter names: `i32` the space view, `base` the bitmap's first word, `id` an id number.
 *
 * @internal
 */

type I32 = Int32Array<SharedArrayBuffer>;

/**
 * Claim the lowest clear bit in [lo, hi] (inclusive; 0 < lo <= hi < 2^pasidBits).
 *
 * CAS loop per word: a failed CAS means another thread changed the word (set or cleared a
 * bit), which is progress; the loop re-reads the returned value and retries while the word
 * still has a clear bit in range. No ABA hazard: the CAS is on the bit values themselves.
 *
 * Context: any thread; never blocks; legal inside an RCU read-side section. Kill point rule:
 * nothing but a return follows the successful CAS, so the caller can record the id first.
 * @returns the id, or -1 when every bit in [lo, hi] was set when its word was scanned.
 */
export function bitmapClaim(i32: I32, base: number, lo: number, hi: number): number {
  const wEnd = hi >>> 5;
  for (let w = lo >>> 5; w <= wEnd; w++) {
    let mask = -1;
    if (w === lo >>> 5) mask &= -1 << (lo & 31);
    if (w === wEnd) mask &= (0xffffffff >>> (31 - (hi & 31))) | 0;
    let word = Atomics.load(i32, base + w);
    while ((~word & mask) !== 0) {
      const free = ~word & mask;
      const bit = free & -free;
      // Computed before the CAS: after it, no call may run before the caller records the id
      // (Math.clz32 is a call, hence a kill point, in V8's lower tiers; see space-core.ts).
      const id = (w << 5) + (31 - Math.clz32(bit));
      // Takes the id number; pairs with the Atomics.and in bitmapRelease.
      const prev = Atomics.compareExchange(i32, base + w, word, word | bit);
      if (prev === word) return id;
      word = prev;
    }
  }
  return -1;
}

/**
 * Is every bit in [lo, hi] set, as far as one load of `lo`'s word can tell? True only when
 * `hi` is in `lo`'s word and that word had all of [lo, hi] set when loaded; false means "maybe
 * not" (a clear bit, or a range spanning words): the caller then runs bitmapClaim.
 *
 * Why: alloc's magazine hit checks the bitmap below its cached id on every call; as a lone
 * load and mask test the check inlines into the hit path (bitmapClaim's word loop did not:
 * about 9% of an alloc+free pair, bench/FINDINGS.md).
 *
 * Context: any thread; never blocks; loads only. Stale as soon as it returns.
 */
export function bitmapWordFull(i32: I32, base: number, lo: number, hi: number): boolean {
  const w = lo >>> 5;
  if (hi >>> 5 !== w) return false;
  // Bits lo..hi of the word: ones from lo's bit up, ones up to hi's bit.
  const mask = (-1 << (lo & 31)) & ((0xffffffff >>> (31 - (hi & 31))) | 0);
  // Pairs with the claims' CASes and bitmapRelease's `and` (a load: the line stays shared).
  return (~Atomics.load(i32, base + w) & mask) === 0;
}

/**
 * Claim the lowest clear bit in [lo, hi] of the one bitmap word holding `lo`, guessing that
 * the word holds `guess` (a value the caller saw earlier): one CAS, no load. Both ends must be
 * in that word or `hi` beyond it (only `lo`'s word is tried).
 *
 * Exact whatever the guess's age: the CAS compares the bits themselves, so it succeeds only
 * if the word holds `guess`, in which state the chosen bit is clear. A wrong guess only fails.
 *
 * Context: as bitmapClaim. Kill point rule as in bitmapClaim.
 * @returns the id, or -1 when the guess has no clear bit in range or the CAS failed
 */
export function bitmapClaimGuess(
  i32: I32,
  base: number,
  lo: number,
  hi: number,
  guess: number,
): number {
  const w = lo >>> 5;
  let mask = -1 << (lo & 31);
  if (hi >>> 5 === w) mask &= (0xffffffff >>> (31 - (hi & 31))) | 0;
  const free = ~guess & mask;
  if (free === 0) return -1;
  const bit = free & -free;
  const id = (w << 5) + (31 - Math.clz32(bit)); // before the CAS (see bitmapClaim)
  // Takes the id number if the guess is the word's value; pairs with bitmapRelease.
  return Atomics.compareExchange(i32, base + w, guess, guess | bit) === guess ? id : -1;
}

/**
 * Release id `id` (its bit must be set and owned by the caller): every release of an id bit
 * (reclaim, an alloc's rollback, and both in thread recovery) is this one `Atomics.and`.
 *
 * Context: any thread; never blocks. Must come after the id map word is cleared, so a new
 * owner of the number never meets the old record in the map. Kill point rule: nothing but a
 * return follows the `and`, so the caller records the release first.
 * @returns the word's value right after the release (a guess for bitmapClaimGuess)
 */
export function bitmapRelease(i32: I32, base: number, id: number): number {
  const bit = 1 << (id & 31);
  return Atomics.and(i32, base + (id >>> 5), ~bit) & ~bit;
}

/** Is `id` taken? Lock-free and stale as soon as it returns. */
export function bitmapTest(i32: I32, base: number, id: number): boolean {
  return (Atomics.load(i32, base + (id >>> 5)) & (1 << (id & 31))) !== 0;
}
