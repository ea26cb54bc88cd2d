/**
 * The HOOKS mirror: "the hooks buffer's HOOKS word is non-zero" (a subscriber or a custom
 * allocator group exists) copied into SET_HOOKED of every live set's COUNT word, so that
 * alloc's default path learns it from the reservation CAS it makes anyway and loads nothing
 * of its own: with no subscriber and no custom allocator, alloc costs what it cost before
 * either existed (issue 10's target).
 *
 * Developer notes.
 * - What alloc relies on: a reservation from a word without SET_HOOKED (sets.ts
 *   setReserveGuess, setReserveUnit with `hooked` false) succeeds only while the set's word
 *   has no SET_HOOKED. Every change that makes HOOKS non-zero is made by a registration,
 *   which then calls `mirrorSync` before it returns (and, for a first allocator group, before
 *   it scans the sets' counts). So an alloc whose default-path CAS succeeded either ran before
 *   that sweep reached its set (the registration had not returned: concurrent, so the ALLOC
 *   event is not owed; and the first group's scan, which follows the sweep, sees the unit and
 *   answers -EAGAIN), or ran with no registration pending. An alloc that finds SET_HOOKED
 *   takes the hooked path, which decides everything again from HOOKS and the registry
 *   (-ENODEV before taking anything). This replaces the two HOOKS loads alloc made before
 *   (one before its unit, one after it as the handshake with a first group).
 * - Serialization: sweeps and set creation run under the mirror lock (SPACE_MIRROR_LOCK_WORD),
 *   and a sweep reads HOOKS after taking it. Unserialized sweeps could lose a registration:
 *   one clearing (it read HOOKS 0) could clear a set after one setting had passed it. Under
 *   the lock, a HOOKS change made before a sweep starts is covered by that sweep, one made
 *   after it by the sweep its maker runs next. SPACE_MIRROR_WORD says what the last sweep
 *   left: outside the lock, MIRROR_ON means every live set has SET_HOOKED and MIRROR_OFF that
 *   none has (a set changes its bit only under the lock, or dies, storing exactly DEAD);
 *   MIRROR_DIRTY (a sweep in progress, or killed midway) means unknown. A sweep is skipped when
 *   the word already says what HOOKS wants.
 * - The lock is a leaf: its holder takes no other lock and waits for nothing (a sweep is a
 *   bounded walk of CAS loops), so it may be taken under the set lock, DLOCK or the registry
 *   lock. Lock order: set lock, DLOCK or registry lock, then the mirror lock.
 * - Stale in the safe direction only: HOOKS may drop to 0 without a sweep (recovery, which
 *   takes no lock, unregisters a dead thread's half-made registration; or a sweep was killed),
 *   leaving SET_HOOKED on sets: that costs hooked-path allocs, never an event or a handshake.
 *   An alloc that meets SET_HOOKED while HOOKS is 0 repairs it with a try-lock sweep
 *   (`mirrorRepair`). HOOKS never rises without a sync: only registrations raise it.
 * - Kill safety: a thread killed holding the lock leaves MIRROR_DIRTY (or, killed in set
 *   creation, a state that is still true); `releaseThread` force-releases the lock
 *   (thread-recovery.ts), and the next sweep redoes everything.
 * Rejected: one HOOKS load in alloc after its unit (an alloc by a thread with no member of the
 *   active group would hold a quota unit for a moment before learning -ENODEV, visible to a
 *   concurrent alloc at quota as a spurious -EDQUOT); a lock-free sweep (see Serialization).
 *
 * @internal
 */
import { HOOKS_WORD } from './hooks-layout.js';
import {
  MIRROR_DIRTY,
  MIRROR_OFF,
  MIRROR_ON,
  SET_COUNT,
  SET_DEAD,
  SET_HOOKED,
  SPACE_LOCK_FREE,
  SPACE_MIRROR_LOCK_WORD,
  SPACE_MIRROR_WORD,
  SPACE_SET_WORDS,
  type SpaceGeometry,
} from './space-layout.js';
import { lockAcquire, lockRelease } from './space-lock.js';

type I32 = Int32Array<SharedArrayBuffer>;

/**
 * Make every live set's SET_HOOKED say whether HOOKS is non-zero, as HOOKS is once the mirror
 * lock is held. Called after every registration that may have changed HOOKS, before it
 * returns.
 *
 * @param i32 - the space buffer
 * @param g - its geometry
 * @param hk - the space's hooks buffer
 * @param tag - the caller's lock-owner tag (thread slot + 1)
 *
 * Context: any attached thread, not inside a read-side section; takes the mirror lock (may
 * block briefly behind another sweep); a caller may hold the set lock, DLOCK or the registry
 * lock.
 * @returns nothing; every live set's SET_HOOKED matches HOOKS as read under the lock
 */
export function mirrorSync(i32: I32, g: SpaceGeometry, hk: I32, tag: number): void {
  lockAcquire(i32, SPACE_MIRROR_LOCK_WORD, tag);
  syncLocked(i32, g, hk);
  lockRelease(i32, SPACE_MIRROR_LOCK_WORD);
}

/**
 * `mirrorSync` if the mirror lock is free and the mirror is not already off (the repair an
 * alloc makes when it met SET_HOOKED while HOOKS was 0); otherwise nothing: a holder of the
 * lock is sweeping, and reads HOOKS itself.
 *
 * Context: any attached thread, inside a read-side section too; never blocks.
 * @returns nothing
 */
export function mirrorRepair(i32: I32, g: SpaceGeometry, hk: I32, tag: number): void {
  if (Atomics.load(i32, SPACE_MIRROR_WORD) === MIRROR_OFF) return;
  // Try-lock: the CAS that lockAcquire's fast path makes, without its waiting.
  if (Atomics.compareExchange(i32, SPACE_MIRROR_LOCK_WORD, SPACE_LOCK_FREE, tag) !== 0) return;
  syncLocked(i32, g, hk);
  lockRelease(i32, SPACE_MIRROR_LOCK_WORD);
}

/** The sweep, under the mirror lock: skipped when MIRROR already says what HOOKS wants. */
function syncLocked(i32: I32, g: SpaceGeometry, hk: I32): void {
  // Read under the lock (module notes: a change of HOOKS before this load is ours to mirror).
  const on = Atomics.load(hk, HOOKS_WORD) !== 0;
  const want = on ? MIRROR_ON : MIRROR_OFF;
  if (Atomics.load(i32, SPACE_MIRROR_WORD) === want) return;
  Atomics.store(i32, SPACE_MIRROR_WORD, MIRROR_DIRTY);
  for (let set = 0; set < g.maxSets; set++) {
    const word = g.setsBase + set * SPACE_SET_WORDS + SET_COUNT;
    // CAS loop: retries only when COUNT changed (an alloc, a release or setFree: progress).
    // Only the bit is toggled, on the word the CAS compares, so no ABA hazard. Pairs with the
    // reservation CASes of alloc (sets.ts), which refuse a word with the bit on the default path.
    for (;;) {
      const w = Atomics.load(i32, word);
      if ((w & SET_DEAD) !== 0 || ((w & SET_HOOKED) !== 0) === on) break;
      if (Atomics.compareExchange(i32, word, w, w ^ SET_HOOKED) === w) break;
    }
  }
  Atomics.store(i32, SPACE_MIRROR_WORD, want);
}
