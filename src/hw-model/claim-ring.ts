/**
 * A bounded ring in shared memory whose slots are claimed by CAS with the claimer's tag:
 * the one queue shape of the model (event log, invalidation queue, page request queue, work
 * queues). Many producers, one consumer at a time (the caller serialises consumers).
 *
 * ## Developer notes
 * Slot word 0 is the slot's STATE:
 * - `pos & POS_MASK` (bits 30, 31 clear): empty, ready to be claimed at absolute position pos;
 * - `BUSY | tag`: claimed by the thread tagged `tag`, payload being written;
 * - `BUSY | PUBLISHED | tag`: payload complete;
 * - `BUSY | TOMBSTONE`: claimed by a thread that died before publishing (`ringTombstone`).
 * The ring's meta line holds HEAD (next position to consume) and TAIL (next to claim).
 *
 * Claim (lock-free): read TAIL t and HEAD h; full when t - h >= limit; CAS the slot's STATE
 * from EMPTY(t) to BUSY | tag, then advance TAIL by CAS (any thread that finds slot t busy
 * helps advance it). The claim CAS records the owner in the same word, so a claimer
 * terminated at any point leaves either nothing or a slot tagged with its tag: recovery
 * tombstones it and the consumer skips it. Forward progress: a retry happens only when
 * another thread claimed a slot or moved TAIL. ABA: EMPTY carries the position (mod 2^30),
 * so a slot of an older lap never matches.
 *
 * Consume: the consumer reads the slot at HEAD; when it is published it processes the
 * payload, then releases: STATE = EMPTY(pos + size), then HEAD = pos + 1 (in that order, so a
 * producer that sees the new HEAD finds the slot empty). A claimed-but-unpublished slot at
 * HEAD blocks the consumer until it is published or tombstoned, which keeps the order.
 * Positions are int32 and wrap; every difference is taken with `| 0`.
 *
 * @internal
 */
import { RING_HEAD, RING_TAIL } from './hw-layout.js';

type I32 = Int32Array<SharedArrayBuffer>;

export const POS_MASK = 0x3fffffff;
export const BUSY = 0x40000000;
export const PUBLISHED = 0x20000000;
export const TOMBSTONE = 0x10000000;
const KIND_MASK = BUSY | PUBLISHED | TOMBSTONE;
/** Largest tag a claimer may use. */
export const TAG_MAX = 0xffff;
/** `ringClaim` result when the ring holds `limit` entries. */
export const RING_FULL = -1;

/** A ring's fixed geometry. */
export interface Ring {
  readonly i32: I32;
  /** Word index of the meta line (HEAD, TAIL). */
  readonly meta: number;
  /** Word index of slot 0. */
  readonly slots: number;
  readonly slotWords: number;
  /** Slots, a power of two. */
  readonly size: number;
}

/** Word index of the slot that holds absolute position `pos`. */
export function ringSlot(r: Ring, pos: number): number {
  return r.slots + (pos & (r.size - 1)) * r.slotWords;
}

/**
 * Set every slot empty for its first lap and HEAD = TAIL = 0.
 *
 * Context: create() only, before the buffer is shared.
 */
export function ringInit(r: Ring): void {
  for (let i = 0; i < r.size; i++) Atomics.store(r.i32, ringSlot(r, i), i);
  Atomics.store(r.i32, r.meta + RING_HEAD, 0);
  Atomics.store(r.i32, r.meta + RING_TAIL, 0);
}

/**
 * Claim the next slot for `tag` if fewer than `limit` entries are queued.
 *
 * Context: any thread; lock-free, never blocks.
 * @returns the absolute position claimed (write its payload, then `ringPublish`), or
 * RING_FULL (nothing changed)
 */
export function ringClaim(r: Ring, limit: number, tag: number): number {
  const i32 = r.i32;
  for (;;) {
    const t = Atomics.load(i32, r.meta + RING_TAIL);
    const h = Atomics.load(i32, r.meta + RING_HEAD);
    if (((t - h) | 0) >= limit) return RING_FULL;
    const w = ringSlot(r, t);
    const s = Atomics.load(i32, w);
    // Claim: pairs with the consumer's release store of EMPTY(t) (then HEAD).
    if (s === (t & POS_MASK) && Atomics.compareExchange(i32, w, s, BUSY | tag) === s) {
      Atomics.compareExchange(i32, r.meta + RING_TAIL, t, (t + 1) | 0);
      return t;
    }
    // Slot t is taken: help move TAIL past it (the claimer may have died before doing so).
    if (s & BUSY) Atomics.compareExchange(i32, r.meta + RING_TAIL, t, (t + 1) | 0);
  }
}

/**
 * Publish the payload written into the slot at `pos`.
 *
 * Context: the claimer, after writing every payload word with Atomics.store.
 */
export function ringPublish(r: Ring, pos: number, tag: number): void {
  // Publishes the payload; pairs with the consumer's load in ringPeek.
  Atomics.store(r.i32, ringSlot(r, pos), BUSY | PUBLISHED | tag);
}

/**
 * The position at HEAD if its payload is published. Tombstoned slots at HEAD are released
 * on the way.
 *
 * Context: the ring's one consumer at a time; never blocks.
 * @returns the position, or -1 when the ring is empty or HEAD's claimer has not published yet
 */
export function ringPeek(r: Ring): number {
  const i32 = r.i32;
  for (;;) {
    const h = Atomics.load(i32, r.meta + RING_HEAD);
    const s = Atomics.load(i32, ringSlot(r, h));
    const kind = s & KIND_MASK;
    if (kind === (BUSY | PUBLISHED)) return h;
    if (kind === (BUSY | TOMBSTONE)) {
      ringRelease(r, h);
      continue;
    }
    return -1;
  }
}

/**
 * Give the slot at HEAD (position `pos`) back to producers.
 *
 * Context: the ring's one consumer, after reading the payload.
 */
export function ringRelease(r: Ring, pos: number): void {
  Atomics.store(r.i32, ringSlot(r, pos), ((pos + r.size) | 0) & POS_MASK);
  // After the slot is empty: a producer that reads the new HEAD finds it claimable.
  Atomics.store(r.i32, r.meta + RING_HEAD, (pos + 1) | 0);
}

/** True when the slot at `pos` holds a published payload (for scans between HEAD and TAIL). */
export function ringIsPublished(r: Ring, pos: number): boolean {
  return (Atomics.load(r.i32, ringSlot(r, pos)) & KIND_MASK) === (BUSY | PUBLISHED);
}

/** Entries claimed and not yet consumed (stale on return). */
export function ringCount(r: Ring): number {
  return (Atomics.load(r.i32, r.meta + RING_TAIL) - Atomics.load(r.i32, r.meta + RING_HEAD)) | 0;
}

/**
 * Tombstone every slot still claimed (not published) by `tag`, a thread that died.
 *
 * Context: recovery, after the thread has stopped; races only with live producers, which
 * never hold `tag`.
 * @returns how many slots were tombstoned
 */
export function ringTombstone(r: Ring, tag: number): number {
  let n = 0;
  for (let i = 0; i < r.size; i++) {
    const w = r.slots + i * r.slotWords;
    if (Atomics.compareExchange(r.i32, w, BUSY | tag, BUSY | TOMBSTONE) === (BUSY | tag)) n++;
  }
  return n;
}
