/**
 * A space buffer's header: written once by `create`, checked word by word by `attach` against
 * the same limits, so that a buffer `create` did not make (a forged or mismatched handle) is
 * refused with a typed error before any shared word is read past the header or written.
 *
 * Developer notes: the checks cover every header word (space-layout.ts header rows): magic,
 * version, the four geometry parameters against SPACE_LIMITS, the policy, the retire batch
 * against the formula `create` uses, the fault code, a non-zero Rcu tag, and the total length
 * against the geometry. They do not cover the body: corruption of the body by a thread that
 * already holds the buffer is out of scope (issue 8).
 *
 * @internal
 */
import { WORD_BYTES } from '../cache-line.js';
import { ioasidErrors } from './ioasid-errors.js';
import {
  SPACE_FAULT_NONE,
  SPACE_FAULT_OWN_RING_EARLY,
  SPACE_FAULT_WORD,
  SPACE_HEADER_WORDS,
  SPACE_LAYOUT_VERSION,
  SPACE_LIMITS,
  SPACE_MAGIC,
  SPACE_MAGIC_WORD,
  SPACE_MAX_IOASIDS_WORD,
  SPACE_MAX_SETS_WORD,
  SPACE_MAX_THREADS_WORD,
  SPACE_PASID_BITS_WORD,
  SPACE_POLICY_CYCLIC,
  SPACE_POLICY_LOWEST,
  SPACE_POLICY_WORD,
  SPACE_RCU_TAG_WORD,
  SPACE_RETIRE_BATCH,
  SPACE_RETIRE_BATCH_WORD,
  SPACE_VERSION_WORD,
  type SpaceGeometry,
  spaceGeometry,
} from './space-layout.js';

type I32 = Int32Array<SharedArrayBuffer>;

/** The header of one space. */
export interface SpaceHeader {
  readonly pasidBits: number;
  readonly maxSets: number;
  readonly maxIoasids: number;
  readonly maxThreads: number;
  /** SPACE_POLICY_LOWEST or SPACE_POLICY_CYCLIC. */
  readonly policy: number;
  /** Records per retire batch: spaceRetireBatch(maxIoasids, maxThreads). */
  readonly retireBatch: number;
  /** SPACE_FAULT_* (SPACE_FAULT_NONE in every real system). */
  readonly fault: number;
  /** Non-zero; equal to the RCU_TAG of the space's Rcu. */
  readonly rcuTag: number;
}

/**
 * Records per retire batch for a pool of `maxIoasids` shared by `maxThreads` threads. Records
 * parked in per-thread batches are unusable until pushed: keep them a small share of the pool
 * (at most an eighth with every thread holding a nearly full batch).
 *
 * @param maxIoasids - the record-pool size
 * @param maxThreads - the thread slots
 *
 * Context: pure; create() writes it, attach() checks the header against it.
 * @returns 1 .. SPACE_RETIRE_BATCH
 */
export function spaceRetireBatch(maxIoasids: number, maxThreads: number): number {
  return Math.max(1, Math.min(SPACE_RETIRE_BATCH, Math.floor(maxIoasids / (8 * maxThreads))));
}

/**
 * Write header `h` into a new space buffer.
 *
 * @param i32 - the new buffer's view
 * @param h - the header (validated options)
 *
 * Context: `create()` only, before the buffer is shared; MAGIC is written last by the caller.
 */
export function spaceWriteHeader(i32: I32, h: SpaceHeader): void {
  Atomics.store(i32, SPACE_VERSION_WORD, SPACE_LAYOUT_VERSION);
  Atomics.store(i32, SPACE_PASID_BITS_WORD, h.pasidBits);
  Atomics.store(i32, SPACE_MAX_SETS_WORD, h.maxSets);
  Atomics.store(i32, SPACE_MAX_IOASIDS_WORD, h.maxIoasids);
  Atomics.store(i32, SPACE_POLICY_WORD, h.policy);
  Atomics.store(i32, SPACE_RETIRE_BATCH_WORD, h.retireBatch);
  Atomics.store(i32, SPACE_MAX_THREADS_WORD, h.maxThreads);
  Atomics.store(i32, SPACE_FAULT_WORD, h.fault);
  Atomics.store(i32, SPACE_RCU_TAG_WORD, h.rcuTag);
}

/**
 * Read and check the header of `buffer`, which claims to be a space buffer.
 *
 * Context: any thread; reads only the header words (immutable after create) and the length.
 * @returns the header and the geometry it implies (whose totalWords is the buffer's length)
 * @throws IoasidError ERR_IOASID_BAD_HANDLE naming the first word out of its range,
 * ERR_IOASID_LAYOUT_VERSION for another version's buffer
 */
export function spaceReadHeader(buffer: SharedArrayBuffer): {
  header: SpaceHeader;
  g: SpaceGeometry;
} {
  const bad = (why: string) => ioasidErrors.badHandle(`buffer ${why}`);
  if (buffer.byteLength % WORD_BYTES !== 0) throw bad('length is not a whole number of words');
  if (buffer.byteLength < SPACE_HEADER_WORDS * WORD_BYTES) throw bad('is shorter than a header');
  const i32 = new Int32Array(buffer);
  if (Atomics.load(i32, SPACE_MAGIC_WORD) !== SPACE_MAGIC)
    throw bad('does not start with the space magic word');
  const version = Atomics.load(i32, SPACE_VERSION_WORD);
  if (version !== SPACE_LAYOUT_VERSION)
    throw ioasidErrors.layoutVersion(version, SPACE_LAYOUT_VERSION);
  const word = (name: keyof typeof SPACE_LIMITS, index: number): number => {
    const v = Atomics.load(i32, index);
    const [lo, hi] = SPACE_LIMITS[name];
    if (v < lo || v > hi) throw bad(`header ${name} ${v} is outside [${lo}, ${hi}]`);
    return v;
  };
  const pasidBits = word('pasidBits', SPACE_PASID_BITS_WORD);
  const maxSets = word('maxSets', SPACE_MAX_SETS_WORD);
  const maxIoasids = word('maxIoasids', SPACE_MAX_IOASIDS_WORD);
  const maxThreads = word('maxThreads', SPACE_MAX_THREADS_WORD);
  const policy = Atomics.load(i32, SPACE_POLICY_WORD);
  if (policy !== SPACE_POLICY_LOWEST && policy !== SPACE_POLICY_CYCLIC)
    throw bad(`header policy ${policy} is not a policy`);
  const retireBatch = Atomics.load(i32, SPACE_RETIRE_BATCH_WORD);
  if (retireBatch !== spaceRetireBatch(maxIoasids, maxThreads))
    throw bad(`header retire batch ${retireBatch} is not the one create() derives`);
  const fault = Atomics.load(i32, SPACE_FAULT_WORD);
  if (fault < SPACE_FAULT_NONE || fault > SPACE_FAULT_OWN_RING_EARLY)
    throw bad(`header fault ${fault} is not a fault code`);
  const rcuTag = Atomics.load(i32, SPACE_RCU_TAG_WORD);
  if (rcuTag === 0) throw bad('header names no Rcu');
  const g = spaceGeometry(pasidBits, maxSets, maxIoasids, maxThreads);
  if (g.totalWords !== i32.length) throw bad('length does not match its header');
  return {
    header: { pasidBits, maxSets, maxIoasids, maxThreads, policy, retireBatch, fault, rcuTag },
    g,
  };
}
