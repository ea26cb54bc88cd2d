/**
 * GP_SEQ, the 64-bit grace-period sequence (`completed * 4 + step`), read and written with
 * Int32 atomics on the paths every grace period and every cookie take.
 *
 * ## Developer notes
 * Only the GP_LOCK holder writes GP_SEQ. A write that leaves the high half unchanged (all but
 * one in 2^30 grace periods) is one `Atomics.store` of the low half; a write that changes the
 * high half is one `Atomics.store` of the whole 64-bit word through a BigInt64Array, so both
 * halves change in one single-copy-atomic store. A reader loads hi, lo, hi (Int32). The high
 * half never decreases, so when both hi loads agree, every write between them left it as it
 * was, the write the lo load saw included: (hi, lo) is exactly the value after that write.
 * That holds however long the reader is preempted between its loads; it retries only when
 * the high half changed in between (a write made progress). A leader that dies between two
 * writes leaves the value of its last write: there is no torn state to repair.
 *
 * Mixed sizes: Int32 and BigInt64 atomics touch the same bytes. ECMAScript's memory model does
 * not promise tear-freedom between atomics of different sizes; the platforms Node runs on do
 * (aligned 4- and 8-byte accesses are single-copy atomic, and V8 compiles both sizes to the
 * native instructions). Which Int32 word holds the low half follows the platform's byte order
 * (rcu-layout.ts RCU_GP_SEQ_LO_WORD).
 *
 * Rejected: BigInt64 loads (each allocates a BigInt, about 30 ns, and synchronize read GP_SEQ
 * five times: half its cost); a 32-bit sequence compared by serial arithmetic (cookies are
 * public numbers a caller may keep for any time, and a wrapped comparison could call a grace
 * period done early).
 *
 * @internal
 */
import {
  RCU_GP_SEQ_HI_WORD,
  RCU_GP_SEQ_I64,
  RCU_GP_SEQ_LO_WORD,
  RCU_SEQ_STEPS,
} from './rcu-layout.js';

type I32 = Int32Array<SharedArrayBuffer>;
type I64 = BigInt64Array<SharedArrayBuffer>;

const TWO_32 = 2 ** 32;

/**
 * The current GP_SEQ value (below 2^53).
 *
 * Context: any thread; lock-free (retries only while the high half changes); stale on return.
 * @returns completed * 4 + step
 */
export function gpSeqLoad(words: I32): number {
  for (;;) {
    const hi = Atomics.load(words, RCU_GP_SEQ_HI_WORD);
    const lo = Atomics.load(words, RCU_GP_SEQ_LO_WORD);
    if (Atomics.load(words, RCU_GP_SEQ_HI_WORD) === hi) return hi * TWO_32 + (lo >>> 0);
  }
}

/**
 * GP_SEQ's value as its writer sees it: two plain reads. Plain is exact here: only GP_LOCK
 * holders write GP_SEQ, and every write by an earlier holder happens-before this read (its
 * release of the lock, or its death and the CAS of the recovery that freed the lock,
 * precedes our CAS that took it); other threads only read it.
 *
 * Context: the GP_LOCK holder only.
 * @returns completed * 4 + step
 */
export function gpSeqLoadLocked(words: I32): number {
  return words[RCU_GP_SEQ_HI_WORD]! * TWO_32 + (words[RCU_GP_SEQ_LO_WORD]! >>> 0);
}

/**
 * Replace GP_SEQ's value `from` (what the caller last loaded or stored) with `to`.
 *
 * Context: the GP_LOCK holder only, which alone writes GP_SEQ (so `from` is current).
 * @returns nothing
 */
export function gpSeqStore(words: I32, seq: I64, from: number, to: number): void {
  // ToInt32 (`| 0`) keeps the low 32 bits exactly for integers below 2^53.
  if (Math.floor(from / TWO_32) === Math.floor(to / TWO_32))
    Atomics.store(words, RCU_GP_SEQ_LO_WORD, to | 0);
  else Atomics.store(seq, RCU_GP_SEQ_I64, BigInt(to));
}

// Values past 2^31 are doubles: `%` on a double is a library call (fmod) in V8, dividing by a
// power of two and Math.floor are single instructions, and exact below 2^53.

/** The completed grace periods of GP_SEQ value `s`. */
export function seqCompleted(s: number): number {
  return Math.floor(s / RCU_SEQ_STEPS);
}

/** The step (0 idle) of GP_SEQ value `s`. */
export function seqStep(s: number): number {
  return s - Math.floor(s / RCU_SEQ_STEPS) * RCU_SEQ_STEPS;
}

/** Completed grace periods so far. Lock-free; stale as soon as it returns. */
export function completedGracePeriods(words: I32): number {
  return seqCompleted(gpSeqLoad(words));
}

/**
 * The completion count at which a full grace period will have passed since GP_SEQ held `s`:
 * the next one when idle, the one after the grace period in flight otherwise (that one may
 * have begun before the caller's updates).
 */
export function cookieOf(s: number): number {
  return seqCompleted(s) + (seqStep(s) === 0 ? 1 : 2);
}
