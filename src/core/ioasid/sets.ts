/**
 * The set table: `maxSets` slots, each a set with a type, a token, a quota and a live count.
 *
 * A set id is its slot index. A slot is free when its COUNT word has the DEAD flag; the
 * generation in COUNT is bumped at each creation, so a CAS prepared against an older
 * incarnation of the slot fails.
 *
 * Developer notes.
 * - COUNT packs [gen:8 | DEAD | PENDING | count:21] so that "is the set alive", "is it being
 *   freed" and "how many ids does it hold" change together in one CAS. That is what makes
 *   quota enforcement exact: alloc reserves a unit by CAS (count < quota, set alive), and the
 *   last release of a PENDING set swings it to DEAD in the same CAS, so no alloc can slip in
 *   between "count reached 0" and "set destroyed".
 * - TYPE/TOKEN/QUOTA are written by setAlloc under the set lock before COUNT is published
 *   (Atomics.store of a live COUNT); they are valid while COUNT's generation is unchanged.
 * - The set lock (SPACE_SET_LOCK_WORD) protects: choosing a free slot, MM-token uniqueness,
 *   writing TYPE/TOKEN/QUOTA, and installCapacity. Destruction needs no lock (a CAS to DEAD),
 *   because a DEAD slot is only reused under the lock. Lock order: set lock, then SPID lock.
 * - Model choices (spec appendix): quota goes back to AVAILABLE on destruction; a set freed
 *   with ids left is marked PENDING and destroyed when its last id is reclaimed (DCP); a
 *   PENDING set refuses new allocations (-EINVAL) but keeps its token until destroyed.
 * - Kill safety: every CAS that moves a quota unit or destroys a set is followed, with no call
 *   in between, by a plain store into the caller's thread slot (space-core.ts "Kill points").
 * Rejected: a separate state word next to COUNT (two words cannot change in one CAS, which
 * reopens the V4-era check-then-act race between alloc and set destruction).
 *
 * @internal
 */
import { capacityReserve, capacityReturn } from './capacity.js';
import { Errno } from './errno.js';
import {
  SET_COUNT,
  SET_COUNT_MASK,
  SET_DEAD,
  SET_GEN_MASK,
  SET_GEN_SHIFT,
  SET_PENDING,
  SET_QUOTA,
  SET_TOKEN,
  SET_TOKEN_NULL,
  SET_TYPE,
  SPACE_SET_LOCK_WORD,
  SPACE_SET_WORDS,
  SPACE_STAT_SET_DESTROYED_WORD,
  type SpaceGeometry,
  TS_AUX,
  TS_CAP,
  TS_OP,
  TS_OP_NONE,
  TS_OP_SET_ALLOC,
  TS_PHASE_1,
} from './space-layout.js';
import { assertLocked } from './space-lock.js';

type I32 = Int32Array<SharedArrayBuffer>;

/** Set types (kernel numbering). */
export const SET_TYPE_NULL = 1;
export const SET_TYPE_MM = 2;

/** Debug assertions in *Locked helpers (cheap: one load). */
const DEBUG_LOCKS = true;

/** First word of set slot `set`. */
export function setWord(g: SpaceGeometry, set: number): number {
  return g.setsBase + set * SPACE_SET_WORDS;
}

/**
 * Reserve one quota unit of `set` for an allocation about to happen.
 *
 * CAS loop on COUNT: retries only when COUNT changed (another alloc, release or setFree made
 * progress). ABA defence: COUNT carries the slot generation, and QUOTA is loaded after COUNT,
 * so a quota read from a newer incarnation can only pair with a COUNT the CAS will reject.
 *
 * Context: any thread; never blocks; legal inside a read-side section. Kill point rule: the
 * caller records the unit in its thread slot right after this returns.
 * @returns the COUNT word it stored (>= 0); -EINVAL set not alive (DEAD or PENDING); -EDQUOT
 * count already at quota.
 */
export function setReserveUnit(i32: I32, g: SpaceGeometry, set: number): number {
  const base = setWord(g, set);
  for (;;) {
    const w = Atomics.load(i32, base + SET_COUNT);
    if ((w & (SET_DEAD | SET_PENDING)) !== 0) return -Errno.EINVAL;
    if ((w & SET_COUNT_MASK) >= Atomics.load(i32, base + SET_QUOTA)) return -Errno.EDQUOT;
    // Linearisation point of the reservation: count never exceeds quota, even for an instant.
    if (Atomics.compareExchange(i32, base + SET_COUNT, w, w + 1) === w) return w + 1;
  }
}

/**
 * Give back one unit of `set` (an id was reclaimed, or an alloc rolled back). When the set
 * is PENDING and this was its last unit, destroy it in the same CAS and return its quota.
 *
 * @param ts - the caller's thread slot base word
 * @param opAfter - the caller's TS_OP once the unit is given back
 *
 * CAS loop on COUNT: retries only when COUNT changed (progress elsewhere). The caller owns
 * the unit, so the count is >= 1 and the set cannot be DEAD or reborn meanwhile (no ABA).
 *
 * Kill points: right after the CAS, with no call in between, TS_OP becomes `opAfter` and, if
 * the set died, TS_CAP holds its quota until it is back in AVAILABLE; `releaseThread` trusts
 * exactly these words.
 *
 * Context: any thread; never blocks.
 * @returns the COUNT word this call stored
 */
export function setReleaseUnit(
  i32: I32,
  g: SpaceGeometry,
  set: number,
  ts: number,
  opAfter: number,
): number {
  const base = setWord(g, set);
  for (;;) {
    const w = Atomics.load(i32, base + SET_COUNT);
    const last = (w & SET_COUNT_MASK) === 1 && (w & SET_PENDING) !== 0;
    const next = last ? (w & ~(SET_PENDING | SET_COUNT_MASK)) | SET_DEAD : w - 1;
    const quota = Atomics.load(i32, base + SET_QUOTA); // stable: we hold a unit of this gen
    if (Atomics.compareExchange(i32, base + SET_COUNT, w, next) === w) {
      i32[ts + TS_OP] = opAfter;
      if (last) {
        i32[ts + TS_CAP] = quota;
        destroyed(i32, ts, quota);
      }
      return next;
    }
  }
}

/** A set was destroyed by this thread, which recorded its quota in TS_CAP: give it back. */
function destroyed(i32: I32, ts: number, quota: number): void {
  capacityReturn(i32, quota);
  i32[ts + TS_CAP] = 0;
  Atomics.add(i32, SPACE_STAT_SET_DESTROYED_WORD, 1);
}

/**
 * Free `set`: destroy it now if it holds no ids, else mark it PENDING so that the release
 * of its last id destroys it.
 *
 * @param ts - the caller's thread slot base word (TS_CAP, see setReleaseUnit)
 *
 * CAS loop on COUNT, retried only when COUNT changed (progress elsewhere).
 *
 * Context: any thread; never blocks; takes no lock.
 * @returns 0 destroyed; -EBUSY ids remain (the set is now, or already was, PENDING);
 * -EINVAL not a live set (DEAD). On -EINVAL nothing changes.
 */
export function setFree(i32: I32, g: SpaceGeometry, set: number, ts: number): number {
  const base = setWord(g, set);
  for (;;) {
    const w = Atomics.load(i32, base + SET_COUNT);
    if ((w & SET_DEAD) !== 0) return -Errno.EINVAL;
    const empty = (w & SET_COUNT_MASK) === 0;
    const next = empty ? (w & ~SET_PENDING) | SET_DEAD : w | SET_PENDING;
    const quota = Atomics.load(i32, base + SET_QUOTA);
    if (Atomics.compareExchange(i32, base + SET_COUNT, w, next) === w) {
      if (!empty) return -Errno.EBUSY;
      i32[ts + TS_CAP] = quota; // kill point rule: no call since the CAS
      destroyed(i32, ts, quota);
      return 0;
    }
  }
}

/** Is `set` a live set (not DEAD; PENDING counts as live)? Lock-free; stale on return. */
export function setIsLive(i32: I32, g: SpaceGeometry, set: number): boolean {
  return (Atomics.load(i32, setWord(g, set) + SET_COUNT) & SET_DEAD) === 0;
}

/**
 * Find the live MM set whose token is `token`.
 *
 * Context: caller holds the set lock (so no slot is being rewritten); never blocks.
 * @returns the set id, or -ENOENT.
 */
export function setFindMmLocked(i32: I32, g: SpaceGeometry, token: number): number {
  if (DEBUG_LOCKS) assertLocked(i32, SPACE_SET_LOCK_WORD);
  for (let set = 0; set < g.maxSets; set++) {
    const base = setWord(g, set);
    if ((Atomics.load(i32, base + SET_COUNT) & SET_DEAD) !== 0) continue;
    if (
      Atomics.load(i32, base + SET_TYPE) === SET_TYPE_MM &&
      Atomics.load(i32, base + SET_TOKEN) === token
    ) {
      return set;
    }
  }
  return -Errno.ENOENT;
}

/**
 * Create a set in the lowest free slot.
 *
 * @param token - MM token (integer >= 0), or SET_TOKEN_NULL
 * @param quota - ids the set may hold at once; 0 takes all available capacity
 * @param type - SET_TYPE_NULL or SET_TYPE_MM
 * @param ts - the caller's thread slot base word
 *
 * Kill points: the reserved capacity is recorded as a SET_ALLOC intent right after the
 * reservation and cleared right after the publishing store, so `releaseThread` gives it back
 * if the caller died in between (TYPE/TOKEN/QUOTA of a DEAD slot are harmless leftovers).
 *
 * Context: caller holds the set lock; never blocks.
 * @returns the set id; -EINVAL bad type or token for the type; -EEXIST an MM set with this
 * token is live; -ENOSPC no free slot, or quota exceeds available capacity (or quota 0 and
 * nothing is available). On error nothing changes.
 */
export function setAllocLocked(
  i32: I32,
  g: SpaceGeometry,
  token: number,
  quota: number,
  type: number,
  ts: number,
): number {
  if (DEBUG_LOCKS) assertLocked(i32, SPACE_SET_LOCK_WORD);
  if (type !== SET_TYPE_NULL && type !== SET_TYPE_MM) return -Errno.EINVAL;
  if ((type === SET_TYPE_MM) !== (token !== SET_TOKEN_NULL)) return -Errno.EINVAL;
  if (type === SET_TYPE_MM && setFindMmLocked(i32, g, token) >= 0) return -Errno.EEXIST;
  let set = 0;
  while (set < g.maxSets && setIsLive(i32, g, set)) set++;
  if (set === g.maxSets) return -Errno.ENOSPC;
  const reserved = capacityReserve(i32, quota);
  if (reserved < 0) return reserved;
  i32[ts + TS_AUX] = reserved;
  i32[ts + TS_OP] = TS_OP_SET_ALLOC | TS_PHASE_1;
  const base = setWord(g, set);
  const old = Atomics.load(i32, base + SET_COUNT);
  Atomics.store(i32, base + SET_TYPE, type);
  Atomics.store(i32, base + SET_TOKEN, token);
  Atomics.store(i32, base + SET_QUOTA, reserved);
  const gen = (((old >>> SET_GEN_SHIFT) & SET_GEN_MASK) + 1) & SET_GEN_MASK;
  // Publishes TYPE/TOKEN/QUOTA: the slot becomes live here. Pairs with the COUNT loads in
  // setReserveUnit, setInfo and setFindMmLocked. A plain store is enough: DEAD slots are
  // only written under the set lock, which we hold.
  Atomics.store(i32, base + SET_COUNT, gen << SET_GEN_SHIFT);
  i32[ts + TS_OP] = TS_OP_NONE;
  return set;
}

/** Snapshot of one set, as returned by `IoasidSpace.setInfo`. */
export interface SetInfo {
  /** The set's type (a value of `SetType`). */
  type: number;
  /** The MM set's token, or null for a NULL set. */
  token: number | null;
  /** Most ids the set may hold at once. */
  quota: number;
  /** Ids the set holds now, counted against its quota. */
  count: number;
  /** `setFree` was called while ids remained: the set dies with its last id. */
  freePending: boolean;
}

/**
 * Read a consistent snapshot of `set`'s fields.
 *
 * Lock-free: reads COUNT, the fields, then COUNT again, and retries if the generation moved
 * (the slot was destroyed and reborn meanwhile; each retry follows a completed setAlloc).
 * The snapshot is stale as soon as it returns (count in particular).
 *
 * Context: any thread; never blocks.
 * @returns the snapshot, or undefined when the set is not live.
 */
export function setInfo(i32: I32, g: SpaceGeometry, set: number): SetInfo | undefined {
  const base = setWord(g, set);
  for (;;) {
    const w = Atomics.load(i32, base + SET_COUNT);
    if ((w & SET_DEAD) !== 0) return undefined;
    const type = Atomics.load(i32, base + SET_TYPE);
    const token = Atomics.load(i32, base + SET_TOKEN);
    const quota = Atomics.load(i32, base + SET_QUOTA);
    const w2 = Atomics.load(i32, base + SET_COUNT);
    if ((w2 ^ w) >>> SET_GEN_SHIFT !== 0) continue; // reborn meanwhile: read the new one
    if ((w2 & SET_DEAD) !== 0) return undefined;
    return {
      type,
      token: token === SET_TOKEN_NULL ? null : token,
      quota,
      count: w2 & SET_COUNT_MASK,
      freePending: (w2 & SET_PENDING) !== 0,
    };
  }
}
