/**
 * The SPID table: (set, spid) -> record, so `findBySpid` is a hash probe, not a scan.
 *
 * Open addressing with linear probing over `spidBuckets` words (a power of two, at least
 * twice the record count, so the live load factor stays <= 1/2). An entry is the record
 * index + 1; its key is read from the record itself (the set in REC_KEY, REC_SPID), which
 * keeps the table one word per bucket.
 *
 * Developer notes.
 * - Writers of bindings (attachSpid, detachSpid) hold the SPID lock. The reclaim of an id that
 *   has a SPID does not: it removes the entry with a CAS (record idx + 1 -> TOMBSTONE) and
 *   swings the record's SPID word to NONE, so `free` and `put` never wait for a lock, and
 *   thread recovery, which finishes a dead thread's reclaim, never waits on a lock another dead
 *   thread may hold (issue 8). Readers (`findBySpid`) probe lock-free inside an RCU read-side
 *   section, which keeps the records they inspect from being recycled under them.
 * - Deletion leaves a tombstone, so a concurrent probe never loses its way (backward-shift
 *   deletion would move entries behind a running reader). Invariant: no EMPTY bucket lies
 *   between a key's home bucket and the key. A tombstone turns back into EMPTY only under the
 *   lock and only when the bucket after it is EMPTY, which keeps the invariant: right after a
 *   locked removal (that bucket's run), and in a sweep of the whole table once lock-free
 *   removals have left SPID_TOMBSTONES of them (at most spidBuckets / 8 between sweeps).
 * - Why a lock-free removal is safe next to locked writers: it changes only a bucket holding
 *   its own record's index, which no insert writes (inserts write buckets that are EMPTY or
 *   TOMBSTONE) and no sweep touches (sweeps turn TOMBSTONE into EMPTY). A reclaim that races
 *   an attachSpid of the same record (the attach set HAS_SPID before the reclaim's CAS to
 *   FREE, so the reclaim unhashes) may look before the attach stored the SPID or inserted the
 *   entry: attachSpid checks STATE again after inserting and removes its own binding if the
 *   record was reclaimed meanwhile (spidBindLocked). The record cannot be recycled during that
 *   check: attachSpid runs inside a read-side section.
 * - Kill safety: each store of insert/remove leaves the invariant above intact, so a thread
 *   terminated anywhere leaves a consistent table; an attachSpid cut short after setting
 *   HAS_SPID is finished by its recoverer (spidBindLocked again, under the dead thread's lock).
 * - Inserts reuse the first tombstone or empty bucket on the key's probe path; uniqueness was
 *   checked under the lock just before.
 * Rejected: a lock-free insert (duplicate keys race into different buckets); a linear scan of
 *   the set as in the kernel (findBySpid would cost O(ids)); taking the SPID lock in the reclaim
 *   (a dead holder blocks every free of an id with a SPID, and the recovery of any thread that
 *   died in one, until the holder is recovered).
 *
 * @internal
 */

import { clearStateFlag, recWord } from './records.js';
import {
  REC_GEN_BITS,
  REC_HAS_SPID,
  REC_KEY,
  REC_KEY_SET_MASK,
  REC_SPID,
  REC_SPID_NONE,
  REC_ST_FREE,
  REC_ST_MASK,
  REC_STATE,
  SPACE_REC_WORDS,
  SPACE_SPID_LOCK_WORD,
  SPACE_SPID_TOMBSTONES_WORD,
  SPID_EMPTY,
  SPID_TOMBSTONE,
  type SpaceGeometry,
} from './space-layout.js';
import { assertLocked } from './space-lock.js';

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
 * Insert record `idx` under key (set, spid); the key must be absent. Sweeps the table first
 * when lock-free removals have left enough tombstones (see the module notes).
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
  if (Atomics.load(i32, SPACE_SPID_TOMBSTONES_WORD) >= g.spidBuckets >>> 3) spidSweepLocked(i32, g);
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
 * Remove record `idx`'s entry under key (set, spid), if present: a CAS of the entry to a
 * tombstone, so that only one of racing removers acts. Lock-free.
 *
 * Context: any thread (the reclaimer of the record, or a holder of the SPID lock); never
 * blocks.
 * @returns the bucket it tombstoned, or -1 when the entry was not there
 */
function spidRemove(i32: I32, g: SpaceGeometry, set: number, spid: number, idx: number): number {
  const mask = g.spidBuckets - 1;
  let b = home(g, set, spid);
  for (let n = 0; n < g.spidBuckets; n++, b = (b + 1) & mask) {
    const e = Atomics.load(i32, g.spidBase + b);
    if (e === SPID_EMPTY) return -1;
    if (e !== idx + 1) continue;
    // Only this record's entry is ever CASed away (module notes); pairs with the loads of
    // spidLookup, which skip tombstones.
    return Atomics.compareExchange(i32, g.spidBase + b, e, SPID_TOMBSTONE) === e ? b : -1;
  }
  return -1;
}

/**
 * Remove record `idx`'s entry under key (set, spid), if present, and turn the tombstones it
 * ends (up to an EMPTY bucket) back into EMPTY.
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
  let b = spidRemove(i32, g, set, spid, idx);
  if (b < 0) return;
  const mask = g.spidBuckets - 1;
  // Turn trailing tombstones back into EMPTY (see the invariant in the module notes).
  while (
    Atomics.load(i32, g.spidBase + b) === SPID_TOMBSTONE &&
    Atomics.load(i32, g.spidBase + ((b + 1) & mask)) === SPID_EMPTY
  ) {
    Atomics.store(i32, g.spidBase + b, SPID_EMPTY);
    b = (b - 1) & mask;
  }
}

/**
 * Turn every tombstone that ends a run (an EMPTY bucket follows it) back into EMPTY: one pass
 * backwards round the table from an EMPTY bucket, so each conversion enables the one before.
 *
 * Context: caller holds the SPID lock; never blocks. O(spidBuckets).
 */
function spidSweepLocked(i32: I32, g: SpaceGeometry): void {
  const mask = g.spidBuckets - 1;
  let e = 0;
  while (e < g.spidBuckets && Atomics.load(i32, g.spidBase + e) !== SPID_EMPTY) e++;
  if (e === g.spidBuckets) return; // no EMPTY bucket: nothing can be turned back
  // Counted before the sweep: a tombstone made during it is counted again, never lost.
  Atomics.store(i32, SPACE_SPID_TOMBSTONES_WORD, 0);
  for (let i = 1; i < g.spidBuckets; i++) {
    const b = (e - i) & mask;
    if (
      Atomics.load(i32, g.spidBase + b) === SPID_TOMBSTONE &&
      Atomics.load(i32, g.spidBase + ((b + 1) & mask)) === SPID_EMPTY
    )
      Atomics.store(i32, g.spidBase + b, SPID_EMPTY);
  }
}

/**
 * Remove record `r`'s SPID binding, lock-free: the reclaim of an id whose STATE had HAS_SPID,
 * or its recovery. Idempotent (a recovery may repeat it after a kill).
 *
 * CAS loop on the record's SPID word: remove the entry of the SPID it holds, then CAS that SPID
 * to NONE; retried only when an attachSpid racing with the reclaim stored another SPID
 * meanwhile (that attach then also removes its binding itself, see spidBindLocked).
 *
 * @param set - the record's set
 *
 * Context: any thread; never blocks; takes no lock.
 */
export function unhashSpid(i32: I32, g: SpaceGeometry, r: number, set: number): void {
  const idx = (r - g.recordsBase) / SPACE_REC_WORDS;
  for (;;) {
    const spid = Atomics.load(i32, r + REC_SPID);
    if (spid === REC_SPID_NONE) return;
    if (spidRemove(i32, g, set, spid, idx) >= 0) Atomics.add(i32, SPACE_SPID_TOMBSTONES_WORD, 1);
    if (Atomics.compareExchange(i32, r + REC_SPID, spid, REC_SPID_NONE) === spid) return;
  }
}

/**
 * Bind `spid` to record `r` (the incarnation of map word `m`, of set `set`), whose STATE has
 * HAS_SPID already: drop its old binding, store SPID, insert the entry, then make sure a
 * reclaim that raced with all this leaves no binding behind. Idempotent, so that the recovery
 * of a thread killed inside it can run it again (under the dead thread's SPID lock).
 *
 * Context: caller holds the SPID lock and is inside a read-side section (or is recovering a
 * thread that died inside one, whose Rcu slot is not released yet): the record is not
 * recycled meanwhile. Never blocks.
 */
export function spidBindLocked(
  i32: I32,
  g: SpaceGeometry,
  r: number,
  m: number,
  set: number,
  spid: number,
): void {
  if (DEBUG_LOCKS) assertLocked(i32, SPACE_SPID_LOCK_WORD);
  const idx = (r - g.recordsBase) / SPACE_REC_WORDS;
  const old = Atomics.load(i32, r + REC_SPID);
  if (old !== spid) {
    if (old !== REC_SPID_NONE) spidRemoveLocked(i32, g, set, old, idx);
    Atomics.store(i32, r + REC_SPID, spid);
  }
  if (spidLookup(i32, g, set, spid) !== idx) spidInsertLocked(i32, g, set, spid, idx);
  // A reclaim whose CAS to FREE came after our HAS_SPID may have unhashed before the store or
  // the insert above: look at STATE again, after them, and undo our binding if so.
  const s = Atomics.load(i32, r + REC_STATE);
  if ((s & REC_ST_MASK) === REC_ST_FREE || ((s ^ m) & REC_GEN_BITS) !== 0) {
    spidRemoveLocked(i32, g, set, spid, idx);
    Atomics.compareExchange(i32, r + REC_SPID, spid, REC_SPID_NONE);
  }
}

/**
 * Remove binding `spid` (set `set`) of record `r`, the live incarnation of map word `m`: the
 * entry, then the SPID word, then HAS_SPID (after SPID is NONE: see attachSpid). Idempotent,
 * so that the recovery of a thread killed inside it can run it again (under the dead
 * thread's SPID lock).
 *
 * Context: caller holds the SPID lock and is inside a read-side section (or recovers a thread
 * that was); never blocks.
 */
export function spidUnbindLocked(
  i32: I32,
  g: SpaceGeometry,
  r: number,
  m: number,
  set: number,
  spid: number,
): void {
  if (DEBUG_LOCKS) assertLocked(i32, SPACE_SPID_LOCK_WORD);
  spidRemoveLocked(i32, g, set, spid, (r - g.recordsBase) / SPACE_REC_WORDS);
  // Only a racing reclaim writes it meanwhile, to NONE too (unhashSpid).
  Atomics.store(i32, r + REC_SPID, REC_SPID_NONE);
  clearStateFlag(i32, r, m, REC_HAS_SPID);
}
