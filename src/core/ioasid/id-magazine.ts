/**
 * Per-thread id magazines: ids a thread freed, kept reserved (their bitmap bit stays set) in
 * its thread slot so that its next alloc reuses them without writing the shared bitmap word.
 *
 * Why: with the `lowest` policy every CPU's ids share the first bitmap word, so a claim CAS
 * and a release `and` per alloc+free pair bounced that word's line between CPUs
 * (bench/FINDINGS.md). With a magazine an alloc+free pair writes only this thread's own line
 * for the id (an entry CAS at alloc, an entry store at free).
 *
 * Developer notes.
 * - Entries (space-layout.ts TS_MAG, TS_MAG_SIZE of them, in the second line of the slot, not
 *   the line of TS_OP): 0 empty; else `id | (set + 1) << pasidBits` (magazineEntry): id cached,
 *   its bit is set, its map word is 0, and the entry holds one quota unit ("charge") of `set`,
 *   the set it was freed from, or none when the charge field is 0. Why the charge stays: an
 *   alloc of the same set that hits the magazine, and the free that filled it, then write no
 *   COUNT word (two CASes per pair on a line that every CPU allocating in the set wrote:
 *   bench/FINDINGS.md). A set's COUNT therefore counts live ids plus ids parked in magazines
 *   with its charge; what users see (setInfo, the hooks' "units held") subtracts the parked ones
 *   (magazineParked) or reclaims them first (magazineReclaim). Entries carry no charge when
 *   the geometry leaves no room for it (magazineCharges: pasidBits + bits of maxSets > 31;
 *   the default 20 + 11 fits).
 * - Packing the set into the entry word, not a second word, is what makes a thief exact: its
 *   CAS of the whole entry proves which set's unit it took. A parallel set word could change
 *   between the thief's read of it and its CAS (the owner takes the id, reallocates it in
 *   another set and frees it into the same entry).
 * - Who takes a charge back, and so the rules that keep -EDQUOT, setFree and the hooks exact:
 *   an alloc that gets -EDQUOT first reclaims the set's parked ids from every magazine and
 *   retries, and waits (bounded) for a charge another thread took out of a magazine and has
 *   not released yet (magazineChargeInFlight; a thread that died in that window holds the
 *   charge until releaseThread; and the check reads the intent the taker stores plainly
 *   right after its CAS, so an alloc between that CAS and that store sees no charge in
 *   flight and answers -EDQUOT at once: ioasid-space.ts alloc, windows (a) and (b)); setFree reclaims them after marking the set PENDING, the
 *   sweep recorded in its slot (TS_SET_FREEING) so that a recovery redoes it; a free that
 *   parked a charge loads COUNT after its put and, if the set became PENDING meanwhile, takes
 *   the entry back (with setFree's mark-then-sweep that is a store-load pair on each side: with
 *   sequentially consistent Atomics at least one of the two sees the other's write, so no
 *   charge stays parked on a set being freed); a hit loads COUNT before its take and refuses a
 *   PENDING, DEAD or HOOKED word. detach and a dead thread's recovery give back bits and
 *   charges (magazineReturn).
 * - Ownership moves only by atomic steps on an entry, each followed by its record in the
 *   taker's thread slot with no call between (space-core.ts "Kill points"): the owner takes
 *   with a CAS entry -> 0 (then holds the bit, and the entry's unit, as after a reservation and
 *   a bitmap claim); a thief (an alloc that found nothing in its range, a custom alloc handed a
 *   cached id) or a take-back (magazineTakeBack) takes with the same CAS; the owner's reclaim
 *   puts with an Atomics.store 0 -> entry (before it, the reclaim's intent holds the bit and
 *   the unit; after it, the magazine does). The put is an Atomics.store, not a plain one, so
 *   that the clearing of the id's map word that precedes it is visible to a thief before the
 *   id is (a plain store could be reordered before it on a weakly ordered CPU, and the thief's
 *   publish could then be overwritten).
 * - The owner reads its own entries with plain loads: a hint for which entry to use (only the
 *   owner turns a 0 into an id, so a 0 it reads stays 0 until it writes; an id it reads may
 *   have been taken meanwhile, and its CAS says so).
 * - `lowest` stays exact for one thread: an alloc takes the lower of its magazine's lowest id
 *   in range and the bitmap's lowest free id below it (bitmap loads only, which keep a
 *   read-shared line clean). Another thread's cached ids are not free for it until it steals
 *   them, which it does before any -ENOSPC.
 * - `cyclic` does not cache: its meaning is "the next free id after the last one handed out",
 *   and reusing the id just freed is exactly what it promises not to do; a cyclic space's
 *   frees release their bit at once, as before.
 * - Custom allocator ids are not cached (their reclaim gives them back to the provider); a
 *   custom alloc handed an id that sits in a magazine (a default id freed before the group
 *   was registered) steals it (space-core.ts #claimCustom).
 * - Bounded: a free that finds no empty entry releases the bit and the unit (the bitmap takes
 *   the overflow). A dead thread's magazine goes back in its recovery (thread-recovery.ts), a
 *   detaching thread's in `detach`.
 *
 * @internal
 */

import { bitmapRelease } from './pasid-bitmap.js';
import { setReleaseUnit } from './sets.js';
import {
  SPACE_FAULT_MAGAZINE_FORGET_CHARGE,
  SPACE_FAULT_WORD,
  type SpaceGeometry,
  TS_ALLOC_XUNIT,
  TS_AUX,
  TS_ID,
  TS_MAG,
  TS_MAG_RETURN_UNIT,
  TS_MAG_RETURNING,
  TS_MAG_SIZE,
  TS_OP,
  TS_OP_NONE,
  TS_SET,
  TS_STATE,
  TS_STATE_MASK,
  TS_UNUSED,
  threadSlotWord,
} from './space-layout.js';

type I32 = Int32Array<SharedArrayBuffer>;

/**
 * Can this geometry's entries carry a charge: `(maxSets) << pasidBits | idMax` a positive int32?
 *
 * Context: pure.
 */
export function magazineCharges(g: SpaceGeometry): boolean {
  return g.pasidBits + (32 - Math.clz32(g.maxSets)) <= 31;
}

/**
 * The entry caching `id` with a unit of `set` (-1: without a charge).
 *
 * Context: pure; the caller checked magazineCharges for a set >= 0.
 */
export function magazineEntry(g: SpaceGeometry, id: number, set: number): number {
  return id | ((set + 1) << g.pasidBits);
}

/** The id entry `e` caches. Context: pure. */
export function magazineEntryId(g: SpaceGeometry, e: number): number {
  return e & (g.idCount - 1);
}

/** The set whose unit entry `e` carries, or -1 for none. Context: pure. */
export function magazineEntrySet(g: SpaceGeometry, e: number): number {
  return (e >>> g.pasidBits) - 1;
}

/**
 * An empty entry (0) of magazine `mag`.
 *
 * Context: the magazine's owner (only the owner turns a 0 into an id).
 * @returns the entry's word index, or -1 when the magazine is full
 */
export function magazineEmptyEntry(i32: I32, mag: number): number {
  for (let j = mag; j < mag + TS_MAG_SIZE; j++) if (i32[j] === 0) return j;
  return -1;
}

/**
 * Take a cached id in [lo, hi] from any attached thread's magazine (every slot but
 * `skipSlot`; -1 skips none), by a CAS entry -> 0. Slots UNUSED are skipped: a thread empties
 * its magazine before it detaches, and a recovery before its slot becomes UNUSED.
 *
 * Context: any attached thread; never blocks. Kill point rule: nothing but a return follows
 * the successful CAS, so the caller records the id and the entry's charge (it then holds the
 * id's bit, as after a bitmap claim, and a unit of magazineEntrySet's set, if any).
 * @returns the entry taken (magazineEntryId, magazineEntrySet), or -1 when no magazine held
 * an id in range when it was scanned
 */
export function magazineSteal(
  i32: I32,
  g: SpaceGeometry,
  skipSlot: number,
  lo: number,
  hi: number,
): number {
  const idMask = g.idCount - 1;
  for (let slot = 0; slot < g.maxThreads; slot++) {
    if (slot === skipSlot) continue;
    const ts = threadSlotWord(g, slot);
    if ((Atomics.load(i32, ts + TS_STATE) & TS_STATE_MASK) === TS_UNUSED) continue;
    for (let j = ts + TS_MAG; j < ts + TS_MAG + TS_MAG_SIZE; j++) {
      const e = Atomics.load(i32, j);
      const id = e & idMask;
      // Pairs with the owner's put (Atomics.store), which follows the map word's clearing.
      if (e !== 0 && id >= lo && id <= hi && Atomics.compareExchange(i32, j, e, 0) === e) return e;
    }
  }
  return -1;
}

/**
 * Take entry word `j` back if it still holds `e` (CAS e -> 0), and give back what it held:
 * the id's bit to the bitmap, its charge to its set (which may destroy a PENDING set). The
 * steps are recorded as intent TS_MAG_RETURNING in thread slot `ts`, the taker's, or, in a
 * recovery, the dead slot's own (thread-recovery.ts continues either).
 *
 * Context: any thread whose slot `ts` has no intent in flight; never blocks.
 * @returns true if this call took the entry
 */
export function magazineTakeBack(
  i32: I32,
  g: SpaceGeometry,
  ts: number,
  j: number,
  e: number,
): boolean {
  if (Atomics.compareExchange(i32, j, e, 0) !== e) return false;
  const set = (e >>> g.pasidBits) - 1;
  i32[ts + TS_ID] = e & (g.idCount - 1); // kill point rule: right after the CAS
  i32[ts + TS_SET] = set;
  i32[ts + TS_OP] = TS_MAG_RETURNING;
  magazineReturnSteps(i32, g, ts);
  return true;
}

/**
 * Continue intent TS_MAG_RETURNING (or TS_MAG_RETURN_UNIT) of slot `ts` to its end: release
 * the bit, then the unit of TS_SET (unless -1, or the `magazine-forget-charge` fault).
 *
 * Context: the slot's owner right after the take, or its recoverer.
 */
export function magazineReturnSteps(i32: I32, g: SpaceGeometry, ts: number): void {
  const set = i32[ts + TS_SET]!;
  if (i32[ts + TS_OP] === TS_MAG_RETURNING) {
    // Loaded before the release: between the release and its record no call may run (kill
    // point rule). A thread killed there would leave TS_MAG_RETURNING, and its recovery would
    // release the bit again, after another thread may have claimed and published the id.
    const forget = Atomics.load(i32, SPACE_FAULT_WORD) === SPACE_FAULT_MAGAZINE_FORGET_CHARGE;
    const next = set < 0 || forget ? TS_OP_NONE : TS_MAG_RETURN_UNIT;
    bitmapRelease(i32, g.bitmapBase, i32[ts + TS_ID]!);
    i32[ts + TS_OP] = next;
  }
  if (i32[ts + TS_OP] === TS_MAG_RETURN_UNIT) setReleaseUnit(i32, g, set, ts, TS_OP_NONE);
}

/**
 * Give every id in the magazine of thread slot `ts` back, with its charge
 * (magazineTakeBack, recorded in that slot).
 *
 * Context: the slot's owner in `detach`, or its recoverer (the owner is dead). Resumable from
 * any kill point: an entry taken and not given back is the recorded intent (thread-recovery.ts
 * continues it before it calls this again).
 * @returns how many ids went back to the bitmap
 */
export function magazineReturn(i32: I32, g: SpaceGeometry, ts: number): number {
  let n = 0;
  for (let j = ts + TS_MAG; j < ts + TS_MAG + TS_MAG_SIZE; j++) {
    const e = Atomics.load(i32, j);
    if (e !== 0 && magazineTakeBack(i32, g, ts, j, e)) n++;
  }
  return n;
}

/**
 * Take back every parked id charged to `set` (-1: to any set) from every attached thread's
 * magazine, releasing its charge; the steps are recorded in the caller's slot `ts`.
 *
 * Context: any attached thread with no intent in flight; never blocks.
 * @returns how many entries this call took back
 */
export function magazineReclaim(i32: I32, g: SpaceGeometry, ts: number, set: number): number {
  let n = 0;
  for (let slot = 0; slot < g.maxThreads; slot++) {
    const s = threadSlotWord(g, slot);
    if ((Atomics.load(i32, s + TS_STATE) & TS_STATE_MASK) === TS_UNUSED) continue;
    for (let j = s + TS_MAG; j < s + TS_MAG + TS_MAG_SIZE; j++) {
      const e = Atomics.load(i32, j);
      const charge = (e >>> g.pasidBits) - 1;
      if (e === 0 || charge < 0 || (set >= 0 && charge !== set)) continue;
      if (magazineTakeBack(i32, g, ts, j, e)) n++;
    }
  }
  return n;
}

/**
 * Entries charged to `set` in every attached thread's magazine, as scanned (a snapshot).
 *
 * Context: any thread; loads only.
 */
export function magazineParked(i32: I32, g: SpaceGeometry, set: number): number {
  let n = 0;
  for (let slot = 0; slot < g.maxThreads; slot++) {
    const s = threadSlotWord(g, slot);
    if ((Atomics.load(i32, s + TS_STATE) & TS_STATE_MASK) === TS_UNUSED) continue;
    for (let j = s + TS_MAG; j < s + TS_MAG + TS_MAG_SIZE; j++) {
      if ((Atomics.load(i32, j) >>> g.pasidBits) - 1 === set) n++;
    }
  }
  return n;
}

/**
 * Does a thread slot other than `skipTs` show a charge of `set` taken out of a magazine and
 * not released yet (intent TS_ALLOC_XUNIT on TS_AUX, TS_MAG_RETURNING or TS_MAG_RETURN_UNIT on
 * TS_SET)? Such a charge is counted in COUNT but is neither a live id nor parked, so neither
 * a reclaim nor a load of COUNT sees it go: -EDQUOT and setFree wait for it (space-core.ts
 * #quotaRefusalStands). A hint: the words are the owners' plain stores, loaded here as they
 * are; a slot whose thread died mid-release shows it until `releaseThread` finishes it.
 *
 * Context: any thread; loads only.
 */
export function magazineChargeInFlight(
  i32: I32,
  g: SpaceGeometry,
  skipTs: number,
  set: number,
): boolean {
  for (let slot = 0; slot < g.maxThreads; slot++) {
    const s = threadSlotWord(g, slot);
    if (s === skipTs || (Atomics.load(i32, s + TS_STATE) & TS_STATE_MASK) === TS_UNUSED) continue;
    const op = Atomics.load(i32, s + TS_OP);
    if (op === TS_ALLOC_XUNIT && Atomics.load(i32, s + TS_AUX) === set) return true;
    if (op === TS_MAG_RETURNING || op === TS_MAG_RETURN_UNIT)
      if (Atomics.load(i32, s + TS_SET) === set) return true;
  }
  return false;
}
