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
 *   the line of TS_OP): 0 empty; id > 0 cached: its bit is set, its map word is 0, it counts
 *   in no set and in nothing a user sees (the quota unit was released by the reclaim that
 *   cached it, `setForEachIoasid` skips unmapped ids).
 * - Ownership moves only by atomic steps on an entry, each followed by its record in the
 *   taker's thread slot with no call between (space-core.ts "Kill points"): the owner takes
 *   with a CAS id -> 0 (then holds the bit as after a bitmap claim: intent alloc, phase 2); a
 *   thief (an alloc that found nothing in its range, a custom alloc handed a cached id) or a
 *   magazine return takes with the same CAS; the owner's reclaim puts with an Atomics.store
 *   0 -> id (before it, the reclaim's intent holds the bit; after it, the magazine does). The
 *   put is an Atomics.store, not a plain one, so that the clearing of the id's map word that
 *   precedes it is visible to a thief before the id is (a plain store could be reordered
 *   before it on a weakly ordered CPU, and the thief's publish could then be overwritten).
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
 * - Bounded: a free that finds no empty entry releases the bit (the bitmap takes the
 *   overflow). A dead thread's magazine goes back to the bitmap in its recovery
 *   (thread-recovery.ts), a detaching thread's in `detach`.
 *
 * @internal
 */

import { bitmapRelease } from './pasid-bitmap.js';
import {
  type SpaceGeometry,
  TS_ID,
  TS_MAG,
  TS_MAG_RETURNING,
  TS_MAG_SIZE,
  TS_OP,
  TS_OP_NONE,
  TS_STATE,
  TS_STATE_MASK,
  TS_UNUSED,
  threadSlotWord,
} from './space-layout.js';

type I32 = Int32Array<SharedArrayBuffer>;

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
 * `skipSlot`; -1 skips none), by a CAS id -> 0. Slots UNUSED are skipped: a thread empties
 * its magazine before it detaches, and a recovery before its slot becomes UNUSED.
 *
 * Context: any attached thread; never blocks. Kill point rule: nothing but a return follows
 * the successful CAS, so the caller records the id (it then holds the id's bit, as after a
 * bitmap claim).
 * @returns the id, or -1 when no magazine held one in range when it was scanned
 */
export function magazineSteal(
  i32: I32,
  g: SpaceGeometry,
  skipSlot: number,
  lo: number,
  hi: number,
): number {
  for (let slot = 0; slot < g.maxThreads; slot++) {
    if (slot === skipSlot) continue;
    const ts = threadSlotWord(g, slot);
    if ((Atomics.load(i32, ts + TS_STATE) & TS_STATE_MASK) === TS_UNUSED) continue;
    for (let j = ts + TS_MAG; j < ts + TS_MAG + TS_MAG_SIZE; j++) {
      const e = Atomics.load(i32, j);
      // Pairs with the owner's put (Atomics.store), which follows the map word's clearing.
      if (e >= lo && e <= hi && Atomics.compareExchange(i32, j, e, 0) === e) return e;
    }
  }
  return -1;
}

/**
 * Release every id in the magazine of thread slot `ts` to the bitmap: each taken by a CAS
 * (a thief may race), recorded as intent TS_MAG_RETURNING in that slot, released, cleared.
 *
 * Context: the slot's owner in `detach`, or its recoverer (the owner is dead). Resumable from
 * any kill point: an id taken and not released is the recorded intent (thread-recovery.ts
 * continues it before it calls this again).
 * @returns how many ids went back to the bitmap
 */
export function magazineReturn(i32: I32, g: SpaceGeometry, ts: number): number {
  let n = 0;
  for (let j = ts + TS_MAG; j < ts + TS_MAG + TS_MAG_SIZE; j++) {
    const e = Atomics.load(i32, j);
    if (e === 0 || Atomics.compareExchange(i32, j, e, 0) !== e) continue;
    i32[ts + TS_ID] = e; // kill point rule: right after the CAS
    i32[ts + TS_OP] = TS_MAG_RETURNING;
    bitmapRelease(i32, g.bitmapBase, e);
    i32[ts + TS_OP] = TS_OP_NONE;
    n++;
  }
  return n;
}
