/**
 * The set table: `maxSets` slots, each a set with a type, a token, a quota and a live count.
 *
 * A set id is its slot index. A slot is free when its COUNT word is DEAD; `setAlloc` re-creates
 * a free slot under the set lock.
 *
 * Developer notes.
 * - COUNT packs [count - quota : 30 (signed) | DEAD | PENDING] (space-layout.ts SET_*), so
 *   that "is the set alive", "is it being freed" and "has it room for one more id" change
 *   together in one CAS and are read off the word alone: the word is negative exactly when
 *   count < quota. That is what makes quota enforcement exact and immune to slot reuse: a
 *   reservation is a CAS from a live, negative word w to w + SET_UNIT, and whatever history
 *   the slot had, the CAS succeeds only while COUNT holds w, in which state taking a unit is
 *   right. A remembered w (space-core.ts keeps one per thread as a guess) is therefore never
 *   trusted, only compared, and no generation is needed: the former 8-bit generation in COUNT,
 *   checked against a quota read apart from it, let a slot re-created 256 times with a smaller
 *   quota pass the CAS and go over it (issue 8).
 * - HOOKED (hooks-mirror.ts) rides along in COUNT: every CAS here keeps it (a release or
 *   setFree changes the field or PENDING only; death stores exactly DEAD, creation sets it as
 *   the mirror says). A reservation refuses a word with it unless the caller is the hooked
 *   path of alloc: that is how alloc's default path learns of subscribers and custom
 *   allocators without a load of its own.
 * - The last release of a PENDING set swings it to DEAD in the same CAS, so no alloc can slip
 *   in between "count reached 0" and "set destroyed".
 * - TYPE/TOKEN/QUOTA are written by setAlloc under the set lock inside a seqlock (SEQ odd while
 *   they are rewritten), then COUNT is published. Who reads them: setInfo (lock-free, through
 *   SEQ), findMmSet (set lock), setFree (set lock: a slot is re-created only under it, so
 *   QUOTA cannot change between its load and setFree's CAS), and a release, whose caller holds
 *   a unit of the set (a set holding units cannot die, so cannot be re-created).
 * - The set lock (SPACE_SET_LOCK_WORD) protects: choosing a free slot, MM-token uniqueness,
 *   writing TYPE/TOKEN/QUOTA, setFree's decision, and installCapacity. Destruction by the last
 *   release of a PENDING set needs no lock (a CAS to DEAD). Lock order: set lock, then SPID
 *   lock (no code takes both today).
 * - Model choices (spec appendix): quota goes back to AVAILABLE on destruction; a set freed
 *   with ids left is marked PENDING and destroyed when its last id is reclaimed (DCP); a
 *   PENDING set refuses new allocations (-EINVAL) but keeps its token until destroyed.
 * - Kill safety: every CAS that moves a quota unit or destroys a set is followed, with no call
 *   in between, by a plain store into the caller's thread slot (space-core.ts "Kill points").
 * Rejected: a separate state word next to COUNT (two words cannot change in one CAS, which
 * reopens the V4-era check-then-act race between alloc and set destruction); a wider
 * generation in COUNT (32 bits hold no 32-bit generation next to a count, and any generation
 * checked against a separately read quota only bounds the race by its width).
 *
 * @internal
 */
import { capacityReserve, capacityReturn } from './capacity.js';
import { Errno } from './errno.js';
import {
  MIRROR_OFF,
  SET_COUNT,
  SET_DEAD,
  SET_FLAGS,
  SET_HOOKED,
  SET_PENDING,
  SET_QUOTA,
  SET_SEQ,
  SET_TOKEN,
  SET_TOKEN_NULL,
  SET_TYPE,
  SET_UNIT,
  SET_UNIT_SHIFT,
  SPACE_MIRROR_LOCK_WORD,
  SPACE_MIRROR_WORD,
  SPACE_SET_LOCK_WORD,
  SPACE_SET_WORDS,
  SPACE_STAT_SET_DESTROYED_WORD,
  type SpaceGeometry,
  TS_ALLOC_UNIT,
  TS_AUX,
  TS_CAP,
  TS_OP,
  TS_OP_NONE,
  TS_SET,
  TS_SET_ALLOC_RESERVED,
  TS_SET_FREEING,
} from './space-layout.js';
import { assertLocked, lockAcquire, lockRelease } from './space-lock.js';

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
 * The live-id count a COUNT word stands for.
 *
 * @param w - a live COUNT word
 * @param quota - the quota of the same incarnation of the set
 *
 * Context: pure.
 * @returns the count (above `quota` only under the quota-check-then-act fault)
 */
export function setCountOf(w: number, quota: number): number {
  return quota + (w >> SET_UNIT_SHIFT);
}

/**
 * Reserve one quota unit of `set` for an allocation about to happen.
 *
 * CAS loop on COUNT: retries only when COUNT changed (another alloc, release or setFree made
 * progress). No ABA hazard: whether a unit may be taken is decided by the word the CAS
 * compares, alone (module notes), so a slot re-created any number of times in between is
 * harmless.
 *
 * @param hooked - the caller is alloc's hooked path; otherwise a word with SET_HOOKED is refused
 * @param ts - the caller's thread slot base word
 *
 * Context: any thread; never blocks; legal inside a read-side section. Kill points: right
 * after the CAS, with no call in between, TS_SET and TS_OP (TS_ALLOC_UNIT) record the unit, so
 * `releaseThread` gives it back wherever the caller dies afterwards.
 * @returns the COUNT word it stored, which has SET_FLAGS clear (it may be negative: test the
 * result with setReserveFailed); -EINVAL set not alive (DEAD or PENDING); SET_RESERVE_HOOKED
 * the word has SET_HOOKED and `hooked` is false (nothing taken); -EDQUOT count already at
 * quota. All three have SET_FLAGS bits set, which no stored word has.
 */
export function setReserveUnit(
  i32: I32,
  g: SpaceGeometry,
  set: number,
  hooked: boolean,
  ts: number,
): number {
  const word = setWord(g, set) + SET_COUNT;
  for (;;) {
    const w = Atomics.load(i32, word);
    if ((w & SET_FLAGS) !== 0) return -Errno.EINVAL;
    if (!hooked && (w & SET_HOOKED) !== 0) return SET_RESERVE_HOOKED;
    if (w >= 0) return -Errno.EDQUOT;
    // Linearisation point of the reservation: count never exceeds quota, even for an instant.
    if (Atomics.compareExchange(i32, word, w, w + SET_UNIT) === w) {
      // Kill point rule, here and not in the caller: a caller's check of the result (a call
      // to setReserveFailed unless inlined) is a kill point that leaked the unit.
      i32[ts + TS_SET] = set;
      i32[ts + TS_OP] = TS_ALLOC_UNIT;
      return w + SET_UNIT;
    }
  }
}

/** setReserveUnit's refusal of a word with SET_HOOKED (not an errno: its low bits are set). */
export const SET_RESERVE_HOOKED = -0x7ffffffd;

/**
 * Did setReserveUnit fail?
 *
 * @param w - what setReserveUnit returned
 *
 * Context: pure.
 * @returns true when `w` is an errno, false when it is the COUNT word stored
 */
export function setReserveFailed(w: number): boolean {
  return (w & SET_FLAGS) !== 0;
}
// The one property setReserveFailed relies on (checked once, at load).
if (
  !setReserveFailed(-Errno.EINVAL) ||
  !setReserveFailed(-Errno.EDQUOT) ||
  !setReserveFailed(SET_RESERVE_HOOKED)
)
  throw new Error('internal: setReserveUnit errnos must have SET_FLAGS bits');

/**
 * Reserve one unit of the set whose COUNT word is `word`, guessing that it holds `guess` (a
 * value the caller saw earlier): one CAS, no load.
 *
 * Exact whatever the guess's age: the CAS succeeds only if COUNT holds `guess` now, and
 * `guess` alone says the set is live, not pending, below its quota and not HOOKED (module
 * notes); a wrong guess only fails. No generation, so no wrap bound. A guess with SET_HOOKED
 * is refused without a CAS: success proves the word had no SET_HOOKED at the CAS.
 *
 * Context: as setReserveUnit. Kill point rule: the caller records the unit right after.
 * @returns true if a unit was taken (COUNT is now `guess + SET_UNIT`)
 */
export function setReserveGuess(i32: I32, word: number, guess: number): boolean {
  return (
    guess < 0 &&
    (guess & (SET_FLAGS | SET_HOOKED)) === 0 &&
    Atomics.compareExchange(i32, word, guess, guess + SET_UNIT) === guess
  );
}

/**
 * Give back one unit of the set whose COUNT word is `word`, guessing COUNT holds `guess`: one
 * CAS, no load; only when the set is not PENDING (a release that may destroy the set takes
 * setReleaseUnit).
 *
 * Exact whatever the guess's age: the caller holds a unit of the set's current incarnation
 * (a set holding units cannot die, so cannot be re-created), so if COUNT holds `guess`, a
 * live word that is not PENDING, subtracting a unit is what any release would do.
 *
 * Context: as setReleaseUnit. Kill point rule: the caller records the release right after.
 * @returns true if the unit was given back (COUNT is now `guess - SET_UNIT`)
 */
export function setReleaseGuess(i32: I32, word: number, guess: number): boolean {
  return (
    (guess & SET_FLAGS) === 0 &&
    Atomics.compareExchange(i32, word, guess, guess - SET_UNIT) === guess
  );
}

/**
 * Give back one unit of `set` (an id was reclaimed, or an alloc rolled back). When the set
 * is PENDING and this was its last unit, destroy it in the same CAS and return its quota.
 *
 * @param ts - the caller's thread slot base word
 * @param opAfter - the caller's TS_OP once the unit is given back
 *
 * CAS loop on COUNT: retries only when COUNT changed (progress elsewhere). The caller owns
 * the unit, so the set cannot be DEAD or re-created meanwhile (no ABA), and QUOTA is stable.
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
  const quota = Atomics.load(i32, base + SET_QUOTA); // stable: we hold a unit of this set
  for (;;) {
    const w = Atomics.load(i32, base + SET_COUNT);
    const last = (w & SET_PENDING) !== 0 && setCountOf(w, quota) === 1;
    const next = last ? SET_DEAD : w - SET_UNIT;
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
 * @param ts - the caller's thread slot base word (TS_CAP, see setReleaseUnit; TS_SET_FREEING,
 * the sweep of the set's parked charges the caller owes after a PENDING mark)
 *
 * CAS loop on COUNT, retried only when COUNT changed (an alloc or release: progress). The set
 * lock keeps the slot from being re-created between the loads of COUNT and QUOTA and the CAS,
 * so "empty" (count 0) and the quota returned are this incarnation's.
 *
 * Context: caller holds the set lock; never blocks.
 * @returns 0 destroyed; -EBUSY ids remain (the set is now, or already was, PENDING: the one
 * failure that changes state, by design); -EINVAL not a live set (DEAD; nothing changes).
 */
export function setFreeLocked(i32: I32, g: SpaceGeometry, set: number, ts: number): number {
  if (DEBUG_LOCKS) assertLocked(i32, SPACE_SET_LOCK_WORD);
  const base = setWord(g, set);
  for (;;) {
    const w = Atomics.load(i32, base + SET_COUNT);
    if ((w & SET_DEAD) !== 0) return -Errno.EINVAL;
    const quota = Atomics.load(i32, base + SET_QUOTA); // stable under the set lock
    const empty = setCountOf(w, quota) === 0;
    const next = empty ? SET_DEAD : w | SET_PENDING;
    if (Atomics.compareExchange(i32, base + SET_COUNT, w, next) === w) {
      if (!empty) {
        // Kill point rule: no call since the CAS. Its parked charges are still to be swept
        // (space-core.ts setFree; a recovery redoes the sweep: thread-recovery.ts).
        i32[ts + TS_SET_FREEING] = set + 1;
        return -Errno.EBUSY;
      }
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
 * @param tag - the caller's lock-owner tag (for the mirror lock)
 *
 * Kill points: the reserved capacity is recorded as a SET_ALLOC intent right after the
 * reservation and cleared right after the publishing store, so `releaseThread` gives it back
 * if the caller died in between (TYPE/TOKEN/QUOTA of a DEAD slot are harmless leftovers).
 *
 * Context: caller holds the set lock; takes the mirror lock (a leaf, held briefly).
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
  tag: number,
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
  i32[ts + TS_OP] = TS_SET_ALLOC_RESERVED;
  const base = setWord(g, set);
  // Seqlock for setInfo: odd while the fields are rewritten. `| 1` rather than `+ 1`: a
  // setAlloc killed here leaves SEQ odd (the slot stays DEAD, which readers check first).
  const seq = Atomics.load(i32, base + SET_SEQ) | 1;
  Atomics.store(i32, base + SET_SEQ, seq);
  Atomics.store(i32, base + SET_TYPE, type);
  Atomics.store(i32, base + SET_TOKEN, token);
  Atomics.store(i32, base + SET_QUOTA, reserved);
  Atomics.store(i32, base + SET_SEQ, (seq + 1) | 0);
  // Under the mirror lock, so a mirror sweep (hooks-mirror.ts) either ran before, and the
  // state it left says whether the new set gets SET_HOOKED, or runs after and sees it live.
  // MIRROR_DIRTY (a sweep killed midway) counts as on: a stray HOOKED only costs slow paths.
  lockAcquire(i32, SPACE_MIRROR_LOCK_WORD, tag);
  const hooked = Atomics.load(i32, SPACE_MIRROR_WORD) !== MIRROR_OFF ? SET_HOOKED : 0;
  // Publishes TYPE/TOKEN/QUOTA: the slot becomes live here, with count 0. Pairs with the
  // COUNT loads in setReserveUnit, setInfo and setFindMmLocked. A store, not a CAS: DEAD
  // slots are only written under the set lock, which we hold.
  Atomics.store(i32, base + SET_COUNT, (-reserved * SET_UNIT) | hooked);
  i32[ts + TS_OP] = TS_OP_NONE; // kill point rule: before the release (a call)
  lockRelease(i32, SPACE_MIRROR_LOCK_WORD);
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
 * Lock-free seqlock read: SEQ (even), COUNT, the fields, SEQ again; retried when SEQ moved or
 * was odd while COUNT was live (a setAlloc completed meanwhile: each retry follows progress).
 * COUNT loaded between two equal even SEQ values belongs to the incarnation whose fields were
 * read: a re-creation makes SEQ odd before it touches them and publishes COUNT after making it
 * even, and a slot is only re-created while DEAD. Wrap bound: SEQ is 32 bits, bumped twice per
 * re-creation, so a wrong snapshot needs 2^31 re-creations of this slot between two adjacent
 * loads. A setAlloc killed mid-rewrite leaves SEQ odd and the slot DEAD: readers see DEAD.
 * The snapshot is stale as soon as it returns (count in particular).
 *
 * Context: any thread; never blocks.
 * @returns the snapshot, or undefined when the set is not live.
 */
export function setInfo(i32: I32, g: SpaceGeometry, set: number): SetInfo | undefined {
  const base = setWord(g, set);
  for (;;) {
    const seq = Atomics.load(i32, base + SET_SEQ);
    const w = Atomics.load(i32, base + SET_COUNT);
    if ((w & SET_DEAD) !== 0) return undefined;
    if ((seq & 1) !== 0) continue; // re-created since the SEQ load: read the new one
    const type = Atomics.load(i32, base + SET_TYPE);
    const token = Atomics.load(i32, base + SET_TOKEN);
    const quota = Atomics.load(i32, base + SET_QUOTA);
    if (Atomics.load(i32, base + SET_SEQ) !== seq) continue;
    return {
      type,
      token: token === SET_TOKEN_NULL ? null : token,
      quota,
      count: setCountOf(w, quota),
      freePending: (w & SET_PENDING) !== 0,
    };
  }
}
