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

type I32 = Int32Array<SharedArrayBuffer>;

const SPINS = 100;

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
