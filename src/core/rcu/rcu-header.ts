/**
 * An RCU buffer's header: written once by `Rcu.create`, checked word by word by `Rcu.attach`
 * against the same limits, so that a buffer `create` did not make is refused with a typed
 * error before any word past the header is read.
 *
 * Developer notes: every header word (rcu-layout.ts header rows) is checked, plus the reader
 * high-water mark, which a grace period uses as its scan bound: a forged one past the slots
 * would make scans read other regions. Corruption of the body by a thread that already holds
 * the buffer is out of scope.
 *
 * @internal
 */
import { WORD_BYTES } from '../cache-line.js';
import { rcuErrors } from './rcu-errors.js';
import { FaultMode } from './rcu-grace-period.js';
import {
  RCU_FAULT_ARG_WORD,
  RCU_FAULT_MODE_WORD,
  RCU_FLAVOR_MARKS,
  RCU_FLAVOR_QSBR,
  RCU_FLAVOR_WORD,
  RCU_HEADER_WORDS,
  RCU_LAYOUT_VERSION,
  RCU_MAGIC,
  RCU_MAGIC_WORD,
  RCU_MAX_THREADS_WORD,
  RCU_SLOT_HWM_WORD,
  RCU_STALL_MS_WORD,
  RCU_TAG_WORD,
  RCU_VERSION_WORD,
  rcuBufferWords,
} from './rcu-layout.js';

/** Most reader slots an instance may have. */
export const RCU_MAX_THREADS = 4096;
/** Largest stall threshold, ms (an Int32 word). */
export const RCU_MAX_STALL_MS = 2 ** 31 - 1;

/** The header of one RCU buffer. */
export interface RcuHeader {
  readonly maxThreads: number;
  readonly stallMs: number;
  /** FaultMode.* (none in every real system). */
  readonly faultMode: number;
  readonly faultArg: number;
  readonly flavor: number;
  /** The creator's tag, 0 for none. */
  readonly tag: number;
}

/**
 * The inclusive range of FAULT_ARG for a fault mode.
 *
 * @param faultMode - a FaultMode value
 * @param maxThreads - the instance's reader slots
 *
 * Context: pure; create() validates options and attach() checks headers with it.
 * @returns [lo, hi]: N >= 2 for skip-nth, a slot for ignore-reader, 0 otherwise
 */
export function rcuFaultArgRange(faultMode: number, maxThreads: number): [number, number] {
  if (faultMode === FaultMode.skipNth) return [2, 2 ** 31 - 1];
  if (faultMode === FaultMode.ignoreReader) return [0, maxThreads - 1];
  return [0, 0];
}

/**
 * Read and check the header of `buffer`, which claims to be an RCU buffer.
 *
 * Context: any thread; reads only the header words, the high-water mark and the length.
 * @returns the header
 * @throws RcuError ERR_RCU_BAD_HANDLE naming the first word out of its range,
 * ERR_RCU_LAYOUT_VERSION for another version's buffer
 */
export function rcuReadHeader(buffer: SharedArrayBuffer): RcuHeader {
  const bad = (why: string) => rcuErrors.badHandle(`buffer ${why}`);
  // 8: the 64-bit grace-period sequence is written through a BigInt64Array view of the buffer.
  if (buffer.byteLength % 8 !== 0) throw bad('length is not a whole number of 64-bit words');
  if (buffer.byteLength < RCU_HEADER_WORDS * WORD_BYTES) throw bad('is shorter than a header');
  const words = new Int32Array(buffer);
  if (Atomics.load(words, RCU_MAGIC_WORD) !== RCU_MAGIC)
    throw bad('does not start with the RCU magic word');
  const version = Atomics.load(words, RCU_VERSION_WORD);
  if (version !== RCU_LAYOUT_VERSION) throw rcuErrors.layoutVersion(version, RCU_LAYOUT_VERSION);
  const inRange = (name: string, v: number, lo: number, hi: number): number => {
    if (v < lo || v > hi) throw bad(`header ${name} ${v} is outside [${lo}, ${hi}]`);
    return v;
  };
  const maxThreads = inRange(
    'maxThreads',
    Atomics.load(words, RCU_MAX_THREADS_WORD),
    1,
    RCU_MAX_THREADS,
  );
  if (words.length !== rcuBufferWords(maxThreads)) throw bad('length does not match its header');
  const stallMs = inRange('stallMs', Atomics.load(words, RCU_STALL_MS_WORD), 1, RCU_MAX_STALL_MS);
  const faultMode = inRange(
    'fault mode',
    Atomics.load(words, RCU_FAULT_MODE_WORD),
    FaultMode.none,
    FaultMode.shortWait,
  );
  const [argLo, argHi] = rcuFaultArgRange(faultMode, maxThreads);
  const faultArg = inRange('fault argument', Atomics.load(words, RCU_FAULT_ARG_WORD), argLo, argHi);
  const flavor = inRange(
    'flavor',
    Atomics.load(words, RCU_FLAVOR_WORD),
    RCU_FLAVOR_MARKS,
    RCU_FLAVOR_QSBR,
  );
  if (faultMode === FaultMode.earlyQs && flavor !== RCU_FLAVOR_QSBR)
    throw bad(`header fault mode ${faultMode} (early-qs) needs the qsbr flavor`);
  // Not a header word (registerThread raises it), but the bound of every grace period's scan.
  inRange('reader high-water mark', Atomics.load(words, RCU_SLOT_HWM_WORD), 0, maxThreads);
  return {
    maxThreads,
    stallMs,
    faultMode,
    faultArg,
    flavor,
    tag: Atomics.load(words, RCU_TAG_WORD),
  };
}
