/**
 * A small futex-style mutex on one word of the space buffer (the set lock and the SPID lock),
 * tagged with its owner so that the lock of a terminated thread can be taken back.
 *
 * Developer notes: Drepper's three-state mutex ("Futexes are tricky", mutex #2) with the
 * owner folded in: 0 free; `tag` held; `tag | CONTENDED` held with possible sleepers. `tag`
 * is the owner's thread slot + 1 (its Rcu reader slot), which is what `releaseThread(slot)`
 * is given. Acquire spins a bounded number of times, then sets CONTENDED and sleeps in
 * `Atomics.wait` on the exact word value; release wakes one sleeper only when CONTENDED was
 * set. The critical sections are short and never block, so the spin usually wins.
 * A waiter that finds the lock free after sleeping takes it as `tag | CONTENDED` (it cannot
 * know whether others still sleep), which only costs a spurious notify at release.
 * Kill safety: the acquiring CAS is the last step of `lockAcquire`, so a thread terminated
 * anywhere leaves the word either not owned by it or owned by its tag, which
 * `lockForceRelease` clears. Data under the lock must be consistent at every kill point of
 * the critical section (each user documents why).
 * Rejected: a ticket lock (fairness is not needed; sleeping needs a futex word anyway).
 *
 * @internal
 */
import { SPACE_LOCK_CONTENDED, SPACE_LOCK_FREE, SPACE_LOCK_OWNER_MASK } from './space-layout.js';

type I32 = Int32Array<SharedArrayBuffer>;

const SPINS = 200;
/** Finite sleep so that a lost wake-up (there should be none) costs at most this long. */
const WAIT_MS = 50;

/**
 * Take the mutex at `word` for owner `tag` (thread slot + 1, 1..2^30 - 1).
 *
 * Context: may spin, then block in `Atomics.wait`; must not be called inside an RCU
 * read-side section (a holder might be waiting for a grace period) nor while holding the
 * same lock. Lock order: set lock before SPID lock (no code takes both today).
 */
export function lockAcquire(i32: I32, word: number, tag: number): void {
  // Fast path: free -> tag acquires; pairs with the exchange in lockRelease.
  if (Atomics.compareExchange(i32, word, SPACE_LOCK_FREE, tag) === SPACE_LOCK_FREE) return;
  lockAcquireSlow(i32, word, tag);
}

/**
 * CAS loop: retries only when the word changed (a release, another waiter marking it
 * contended, or a forced release), each progress of some thread. No ABA hazard: the value is
 * an owner tag, and re-reading it after any change is always correct.
 */
function lockAcquireSlow(i32: I32, word: number, tag: number): void {
  for (let i = 0; i < SPINS; i++) {
    if (
      Atomics.load(i32, word) === SPACE_LOCK_FREE &&
      Atomics.compareExchange(i32, word, SPACE_LOCK_FREE, tag) === SPACE_LOCK_FREE
    ) {
      return;
    }
  }
  for (;;) {
    const v = Atomics.load(i32, word);
    if (v === SPACE_LOCK_FREE) {
      if (Atomics.compareExchange(i32, word, v, tag | SPACE_LOCK_CONTENDED) === v) return;
      continue;
    }
    const c = v | SPACE_LOCK_CONTENDED;
    // Announce a sleeper before sleeping; if the word moved meanwhile, look again.
    if (v !== c && Atomics.compareExchange(i32, word, v, c) !== v) continue;
    Atomics.wait(i32, word, c, WAIT_MS);
  }
}

/**
 * Release the mutex at `word`, waking one sleeper if any may exist.
 *
 * Context: only the holder calls it; never blocks.
 */
export function lockRelease(i32: I32, word: number): void {
  // Publishes every write of the critical section; pairs with the CASes in lockAcquire.
  if ((Atomics.exchange(i32, word, SPACE_LOCK_FREE) & SPACE_LOCK_CONTENDED) !== 0) {
    Atomics.notify(i32, word, 1);
  }
}

/**
 * Release the mutex at `word` if (and only if) owner `tag` holds it: the owner is dead.
 *
 * CAS loop: retries only while `tag` still owns the word and a waiter is setting CONTENDED.
 *
 * Context: any thread, for a thread known to be dead; never blocks.
 * @returns true if the lock was held by `tag` and is now free
 */
export function lockForceRelease(i32: I32, word: number, tag: number): boolean {
  for (;;) {
    const v = Atomics.load(i32, word);
    if ((v & SPACE_LOCK_OWNER_MASK) !== tag) return false;
    if (Atomics.compareExchange(i32, word, v, SPACE_LOCK_FREE) === v) {
      // Wake every sleeper: we do not know how many there are, and each rechecks.
      Atomics.notify(i32, word);
      return true;
    }
  }
}

/** Debug assertion for `*Locked` helpers: the lock word is held by someone. */
export function assertLocked(i32: I32, word: number): void {
  if (Atomics.load(i32, word) === SPACE_LOCK_FREE) {
    throw new Error(`internal: lock at word ${word} is not held`);
  }
}

/**
 * Take the mutex at `word` over from owner `deadTag` (a dead thread), keeping its CONTENDED
 * bit, so that the new owner finishes what the dead one left under the lock before anyone else
 * sees it.
 *
 * CAS loop: retries only while `deadTag` still owns the word and a waiter is setting CONTENDED.
 *
 * Context: any thread, for a thread known to be dead; never blocks. The caller releases it
 * with lockRelease.
 * @returns true if `deadTag` held the lock and the caller now does
 */
export function lockTakeOver(i32: I32, word: number, deadTag: number, tag: number): boolean {
  for (;;) {
    const v = Atomics.load(i32, word);
    if ((v & SPACE_LOCK_OWNER_MASK) !== deadTag) return false;
    if (Atomics.compareExchange(i32, word, v, tag | (v & SPACE_LOCK_CONTENDED)) === v) return true;
  }
}
