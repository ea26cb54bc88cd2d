/**
 * The SPID table: (set, spid) -> record, so `findBySpid` is a hash probe, not a scan.
 *
 * Open addressing with linear probing over `spidBuckets` words (a power of two, at least
 * twice the record count, so the live load factor stays <= 1/2). An entry is the record
 * index + 1; its key is read from the record itself (the set in REC_KEY, REC_SPID), which
 * keeps the table one word per bucket.
 *
 * Developer notes.
 * - Writers (attachSpid, detachSpid, reclaim of an id that has a SPID) hold the SPID lock;
 *   readers (`findBySpid`) probe lock-free inside an RCU read-side section, which keeps the
 *   records they inspect from being recycled under them.
 * - Deletion leaves a tombstone, so a concurrent probe never loses its way (backward-shift
 *   deletion would move entries behind a running reader). Invariant: no EMPTY bucket lies
 *   between a key's home bucket and the key. A tombstone turns back into EMPTY only when the
 *   bucket after it is EMPTY, which keeps the invariant and stops tombstones piling up.
 * - Kill safety: each store of insert/remove leaves the invariant above intact, so a holder
 *   terminated anywhere in a critical section leaves a consistent table (its lock is then
 *   released by `releaseThread`).
 * - Inserts reuse the first tombstone or empty bucket on the key's probe path; uniqueness was
 *   checked under the lock just before.
 * Rejected: a lock-free insert (duplicate keys race into different buckets); a linear scan of
 *   the set as in the kernel (findBySpid would cost O(ids)).
 *
 * @internal
 */

import { recWord } from './records.js';
import {
  REC_KEY,
  REC_KEY_SET_MASK,
  REC_SPID,
  REC_SPID_NONE,
  SPACE_REC_WORDS,
  SPACE_SPID_LOCK_WORD,
  SPID_EMPTY,
  SPID_TOMBSTONE,
  type SpaceGeometry,
} from './space-layout.js';
import { assertLocked, lockAcquire, lockRelease } from './space-lock.js';

type I32 = Int32Array<SharedArrayBuffer>;

const DEBUG_LOCKS = true;

/** Home bucket of (set, spid). `spid` is the Int32 form. */
function home(g: SpaceGeometry, set: number, spid: number): number {
  let h = Math.imul(set + 1, 0x9e3779b1) ^ Math.imul(spid, 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h & (g.spidBuckets - 1);
}

/**
 * Find the record holding (set, spid).
 *
 * Context: inside an RCU read-side section (lock-free) or under the SPID lock; never blocks.
 * Lock-free callers may miss an entry inserted or see one removed concurrently (stale).
 * @returns the record index, or -1.
 */
export function spidLookup(i32: I32, g: SpaceGeometry, set: number, spid: number): number {
  const mask = g.spidBuckets - 1;
  let b = home(g, set, spid);
  for (let n = 0; n < g.spidBuckets; n++, b = (b + 1) & mask) {
    const e = Atomics.load(i32, g.spidBase + b);
    if (e === SPID_EMPTY) return -1;
    if (e === SPID_TOMBSTONE) continue;
    const r = recWord(g, e - 1);
    if (
      Atomics.load(i32, r + REC_SPID) === spid &&
      (Atomics.load(i32, r + REC_KEY) & REC_KEY_SET_MASK) === set
    ) {
      return e - 1;
    }
  }
  return -1;
}

/**
 * Insert record `idx` under key (set, spid); the key must be absent.
 *
 * Context: caller holds the SPID lock; never blocks.
 */
export function spidInsertLocked(
  i32: I32,
  g: SpaceGeometry,
  set: number,
  spid: number,
  idx: number,
): void {
  if (DEBUG_LOCKS) assertLocked(i32, SPACE_SPID_LOCK_WORD);
  const mask = g.spidBuckets - 1;
  let b = home(g, set, spid);
  for (let n = 0; n < g.spidBuckets; n++, b = (b + 1) & mask) {
    const e = Atomics.load(i32, g.spidBase + b);
    if (e === SPID_EMPTY || e === SPID_TOMBSTONE) {
      // Publishes the entry; the record's SET and SPID words are the key readers compare.
      Atomics.store(i32, g.spidBase + b, idx + 1);
      return;
    }
  }
  throw new Error('internal: SPID table full'); // impossible: buckets >= 2 * records
}

/**
 * Remove record `idx`'s entry under key (set, spid), if present.
 *
 * Context: caller holds the SPID lock; never blocks.
 */
export function spidRemoveLocked(
  i32: I32,
  g: SpaceGeometry,
  set: number,
  spid: number,
  idx: number,
): void {
  if (DEBUG_LOCKS) assertLocked(i32, SPACE_SPID_LOCK_WORD);
  const mask = g.spidBuckets - 1;
  let b = home(g, set, spid);
  for (let n = 0; n < g.spidBuckets; n++, b = (b + 1) & mask) {
    const e = Atomics.load(i32, g.spidBase + b);
    if (e === SPID_EMPTY) return;
    if (e !== idx + 1) continue;
    Atomics.store(i32, g.spidBase + b, SPID_TOMBSTONE);
    // Turn trailing tombstones back into EMPTY (see the invariant in the module notes).
    while (
      Atomics.load(i32, g.spidBase + b) === SPID_TOMBSTONE &&
      Atomics.load(i32, g.spidBase + ((b + 1) & mask)) === SPID_EMPTY
    ) {
      Atomics.store(i32, g.spidBase + b, SPID_EMPTY);
      b = (b - 1) & mask;
    }
    return;
  }
}

/**
 * Remove record `r`'s SPID binding (a reclaim, or releaseThread finishing one). Idempotent.
 *
 * @param set - the record's set
 * @param tag - the caller's lock-owner tag (thread slot + 1)
 *
 * Context: not inside a read-side section; takes the SPID lock (may block briefly).
 */
export function unhashSpid(i32: I32, g: SpaceGeometry, r: number, set: number, tag: number): void {
  lockAcquire(i32, SPACE_SPID_LOCK_WORD, tag);
  const spid = Atomics.load(i32, r + REC_SPID);
  if (spid !== REC_SPID_NONE) {
    spidRemoveLocked(i32, g, set, spid, (r - g.recordsBase) / SPACE_REC_WORDS);
    Atomics.store(i32, r + REC_SPID, REC_SPID_NONE);
  }
  lockRelease(i32, SPACE_SPID_LOCK_WORD);
}
