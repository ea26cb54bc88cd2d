/**
 * A small futex-style mutex on one word of the space buffer (the set lock and the SPID lock).
 *
 * Developer notes: Drepper's three-state mutex ("Futexes are tricky", mutex #2): 0 free,
 * 1 held, 2 held with possible waiters. Acquire spins a bounded number of times, then
 * marks the word contended and sleeps in `Atomics.wait`; release wakes one waiter only when
 * the word was contended. The critical sections it protects are short and never block, so
 * the spin usually wins. A thread killed while holding the lock leaves it held: the owner of
 * the space must not `terminate()` a worker inside setAlloc/setFree/attachSpid/detachSpid.
 * Rejected: a ticket lock (fairness is not needed; sleeping needs a futex word anyway).
 *
 * @internal
 */
import { SPACE_LOCK_CONTENDED, SPACE_LOCK_FREE, SPACE_LOCK_HELD } from './layout.js';

const SPINS = 200;
/** Finite sleep so that a lost wake-up (there should be none) costs at most this long. */
const WAIT_MS = 50;

/**
 * Take the mutex at `word`.
 *
 * Context: may spin, then block in `Atomics.wait`; must not be called inside an RCU
 * read-side section (a holder might be waiting for a grace period) nor while holding the
 * same lock. Lock order: set lock before SPID lock (no code takes both today).
 */
export function lockAcquire(i32: Int32Array<SharedArrayBuffer>, word: number): void {
  // Fast path: 0 -> 1 acquires; pairs with the store/exchange in lockRelease.
  if (Atomics.compareExchange(i32, word, SPACE_LOCK_FREE, SPACE_LOCK_HELD) === SPACE_LOCK_FREE) {
    return;
  }
  lockAcquireSlow(i32, word);
}

function lockAcquireSlow(i32: Int32Array<SharedArrayBuffer>, word: number): void {
  for (let i = 0; i < SPINS; i++) {
    if (
      Atomics.load(i32, word) === SPACE_LOCK_FREE &&
      Atomics.compareExchange(i32, word, SPACE_LOCK_FREE, SPACE_LOCK_HELD) === SPACE_LOCK_FREE
    ) {
      return;
    }
  }
  // Mark contended; if it was free we now hold it (in the contended state, which only
  // costs a spurious notify at release).
  while (Atomics.exchange(i32, word, SPACE_LOCK_CONTENDED) !== SPACE_LOCK_FREE) {
    Atomics.wait(i32, word, SPACE_LOCK_CONTENDED, WAIT_MS);
  }
}

/**
 * Release the mutex at `word`, waking one sleeper if any may exist.
 *
 * Context: only the holder calls it; never blocks.
 */
export function lockRelease(i32: Int32Array<SharedArrayBuffer>, word: number): void {
  // Publishes every write of the critical section; pairs with the CAS/exchange in lockAcquire.
  if (Atomics.exchange(i32, word, SPACE_LOCK_FREE) === SPACE_LOCK_CONTENDED) {
    Atomics.notify(i32, word, 1);
  }
}

/** Debug assertion for `*Locked` helpers: the lock word is held by someone. */
export function assertLocked(i32: Int32Array<SharedArrayBuffer>, word: number): void {
  if (Atomics.load(i32, word) === SPACE_LOCK_FREE) {
    throw new Error(`internal: lock at word ${word} is not held`);
  }
}
