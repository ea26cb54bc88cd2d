/**
 * A spin lock on one word of the hardware buffer, holding its owner's tag so that the lock of
 * a thread that died can be broken (`lockBreak`). The model's critical sections (a PASID-table
 * write, one IOMMU translation or invalidation, one device step) are a few dozen
 * instructions and never wait inside, so the lock spins, then sleeps 1 ms at a time in
 * `Atomics.wait` on the word's current value (the unlock notifies).
 *
 * Kill safety: taking the lock is one CAS that writes the tag, so a thread terminated
 * anywhere either does not hold it or holds it under its tag.
 *
 * @internal
 */

import { hwErrors } from './hw-errors.js';

type I32 = Int32Array<SharedArrayBuffer>;

const SPINS = 100;

/**
 * How a recoverer waits for a lock (`lockTakeBounded`): who counts as dead, and how long a
 * live holder is waited for.
 */
export interface LockWait {
  /** True when the thread tagged `holder` is dead (it will never give the lock back). */
  dead(holder: number): boolean;
  /** Sleeps of up to 1 ms each (Atomics.wait) on a live holder before giving up. */
  waits: number;
  /** Called after the lock was taken over from dead `holder` (a debug print, a test's count). */
  tookOver?(word: number, holder: number): void;
}

/**
 * Take the lock at `word` for `tag` (> 0) if it is free.
 *
 * Context: any thread; never blocks.
 * @returns true when taken
 */
export function lockTry(i32: I32, word: number, tag: number): boolean {
  return Atomics.compareExchange(i32, word, 0, tag) === 0;
}

/**
 * Take the lock at `word` for `tag`, waiting as long as it takes.
 *
 * Context: may spin and block in Atomics.wait; the holder never waits inside, so the wait is
 * short unless the holder is descheduled. Not re-entrant.
 */
export function lockTake(i32: I32, word: number, tag: number): void {
  for (let i = 0; ; i++) {
    const v = Atomics.load(i32, word);
    if (v === 0 && Atomics.compareExchange(i32, word, 0, tag) === 0) return;
    if (i >= SPINS && v !== 0) Atomics.wait(i32, word, v, 1);
  }
}

/**
 * Take the lock at `word` for `tag`, as a recoverer must: a holder that `wait.dead` says is
 * dead is replaced by `tag` in one CAS (takeover: what it held is the caller's to resolve, as
 * after `lockBreak`); a live one is waited for, `wait.waits` sleeps at most.
 *
 * Why a bound: the main thread's kill recovery used `lockTake`, which waits forever, so a
 * holder that died unreaped (a crashed worker) or never gives the lock back hung the whole
 * run. A typed error ends the run as an internal one instead (exit 3).
 *
 * Context: any thread; may spin and block in Atomics.wait (1 ms at a time). Not re-entrant.
 * @returns true when it was taken over from a dead holder, false when it was free
 * @throws HwModelError ERR_HW_LOCK_STALLED when a live holder kept it through every wait
 */
export function lockTakeBounded(i32: I32, word: number, tag: number, wait: LockWait): boolean {
  let slept = 0;
  for (let i = 0; ; i++) {
    const v = Atomics.load(i32, word);
    if (v === 0) {
      if (Atomics.compareExchange(i32, word, 0, tag) === 0) return false;
      continue;
    }
    // The CAS names the holder it replaces: a lock given back (or passed on) meanwhile is not
    // taken from its new holder.
    if (wait.dead(v) && Atomics.compareExchange(i32, word, v, tag) === v) {
      wait.tookOver?.(word, v);
      return true;
    }
    if (i < SPINS) continue;
    if (slept >= wait.waits) throw hwErrors.lockStalled(word, v, slept);
    slept++;
    Atomics.wait(i32, word, v, 1);
  }
}

/**
 * Release the lock at `word`.
 *
 * Context: the holder.
 */
export function lockGive(i32: I32, word: number): void {
  // Publishes every write of the critical section; pairs with the CAS in lockTry/lockTake.
  Atomics.store(i32, word, 0);
  Atomics.notify(i32, word, 1);
}

/**
 * Release the lock at `word` if `tag`, a thread that died, holds it.
 *
 * Context: recovery, after that thread stopped.
 * @returns true when it held the lock
 */
export function lockBreak(i32: I32, word: number, tag: number): boolean {
  if (Atomics.compareExchange(i32, word, tag, 0) !== tag) return false;
  Atomics.notify(i32, word);
  return true;
}
