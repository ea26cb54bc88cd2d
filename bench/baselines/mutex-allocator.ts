/**
 * Baseline 2: the sequential allocator (./seq-allocator.ts) in a SharedArrayBuffer behind one
 * Atomics mutex, called directly by every worker.
 *
 * This is the next thing a JS developer writes once postMessage is too slow: the same
 * bitmap + quota code, and a futex mutex around every call. It is fair to the baseline:
 * - identical semantics (lowest free id in range, per-set quota, same errnos; the agreement
 *   test checks them against `IoasidSpace`);
 * - a good mutex, not a naive one: Drepper's three-state futex mutex ("Futexes Are Tricky",
 *   mutex3) with a bounded spin before sleeping, because a futex wake-up costs about 22 us
 *   on these VMs (spec B1.3) while the critical section is well under 1 us;
 * - no RCU, refcounts or records: it does strictly less work per call than the project.
 * Its one handicap is the project rule that every shared word goes through `Atomics`, even
 * inside the critical section (a few ns per word).
 *
 * ## Developer notes
 * Mutex word (`SEQ_MUTEX_WORD`, its own 64-byte line): 0 unlocked, 1 locked, 2 locked and
 * maybe waiters. Lock: CAS 0 -> 1; else spin up to SPIN loads retrying the CAS; else
 * exchange to 2 and `Atomics.wait` while the exchange returns non-zero. Unlock: exchange to
 * 0, and notify one waiter if the old value was 2. Progress: the holder never waits inside;
 * a sleeper is woken by every unlock that saw 2. Rejected: a spin-only lock (burns the
 * holder's CPU when 4 workers share 2 cores); a sleep-only lock (every contended call pays a
 * 22 us wake-up).
 */
import {
  SEQ_MUTEX_WORD,
  SeqAllocator,
  type SeqAllocatorOptions,
  seqAllocatorBytes,
} from './seq-allocator.js';

const UNLOCKED = 0;
const LOCKED = 1;
const CONTENDED = 2;
/** Loads spent spinning before sleeping: about 1-2 us here, a few critical sections. */
const SPIN = 200;

/** Take the mutex at `words[i]`. Blocks (Atomics.wait) after a bounded spin. */
export function mutexLock(words: Int32Array, i: number): void {
  if (Atomics.compareExchange(words, i, UNLOCKED, LOCKED) === UNLOCKED) return;
  for (let s = 0; s < SPIN; s++) {
    if (
      Atomics.load(words, i) === UNLOCKED &&
      Atomics.compareExchange(words, i, UNLOCKED, LOCKED) === UNLOCKED
    )
      return;
  }
  // Announce a sleeper; whoever holds the lock will see 2 and notify on unlock.
  while (Atomics.exchange(words, i, CONTENDED) !== UNLOCKED) Atomics.wait(words, i, CONTENDED);
}

/** Release the mutex at `words[i]`; wakes one sleeper if any announced itself. */
export function mutexUnlock(words: Int32Array, i: number): void {
  // The exchange publishes every store of the critical section to the next locker's CAS.
  if (Atomics.exchange(words, i, UNLOCKED) === CONTENDED) Atomics.notify(words, i, 1);
}

/** The sequential allocator behind one mutex; any number of threads may attach. */
export class MutexAllocator {
  readonly #seq: SeqAllocator;
  readonly #words: Int32Array;

  /** Create one in a new SharedArrayBuffer. */
  static create(o: SeqAllocatorOptions): MutexAllocator {
    const buffer = new SharedArrayBuffer(seqAllocatorBytes(o));
    SeqAllocator.format(buffer, o);
    return new MutexAllocator(buffer);
  }

  /** Attach to `buffer` (from `create(...).buffer`) in this thread. */
  constructor(buffer: SharedArrayBuffer) {
    this.#seq = new SeqAllocator(buffer);
    this.#words = this.#seq.words;
  }

  get buffer(): SharedArrayBuffer {
    return this.#words.buffer as SharedArrayBuffer;
  }

  get idMax(): number {
    return this.#seq.idMax;
  }

  setAlloc(quota: number): number {
    mutexLock(this.#words, SEQ_MUTEX_WORD);
    const r = this.#seq.setAlloc(quota);
    mutexUnlock(this.#words, SEQ_MUTEX_WORD);
    return r;
  }

  alloc(set: number, min: number, max: number, data = 0): number {
    mutexLock(this.#words, SEQ_MUTEX_WORD);
    const r = this.#seq.alloc(set, min, max, data);
    mutexUnlock(this.#words, SEQ_MUTEX_WORD);
    return r;
  }

  free(set: number | null, id: number): number {
    mutexLock(this.#words, SEQ_MUTEX_WORD);
    const r = this.#seq.free(set, id);
    mutexUnlock(this.#words, SEQ_MUTEX_WORD);
    return r;
  }

  find(set: number | null, id: number): number {
    mutexLock(this.#words, SEQ_MUTEX_WORD);
    const r = this.#seq.find(set, id);
    mutexUnlock(this.#words, SEQ_MUTEX_WORD);
    return r;
  }
}
