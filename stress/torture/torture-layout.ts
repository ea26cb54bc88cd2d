/**
 * Layout of the torture harness's own SharedArrayBuffer (the RCU under test has its own,
 * described in src/core/rcu/rcu-layout.ts). Every word is touched with Atomics.
 *
 * ```text
 * region          word index                 words  writer(s)             reader(s)        access
 * control         0                          16     main                  all workers      L/S, wait/notify
 *   STOP            0                               main: 1 = wind down
 *   PAUSE           1                               main: 1 = stutter     workers wait on it
 *   SLEEP           2                               nobody (always 0)     Atomics.wait target for sleeps
 * writer w        16 + 48*w                  48     writer w              main             L/S / add
 *   CURRENT         +0                              published record index (-1 none): the RCU-protected pointer
 *   VERSION         +1                              records published so far
 *   TFLE            +2                              free list empty events
 *   COOKIE_ERR      +3                              cookie check 1 failed (satisfied inside the writer's section)
 *   METHOD_*        +4..+7                          grace periods waited by synchronize / poll / callRcu / barrier
 *   COOKIE_WAIT_ERR +8                              cookie check 2 failed (not satisfied after a wait)
 *   CIRC            +16..+26                        records that reached each pipe stage
 *   (guard)         +32..+47                        nobody: see "Why the guard" at WRITER_WORDS
 * reader r        after writers, 48*r        48     reader r (its current worker)  main    add / store
 *   PIPE            +0..+10                         Reader Pipe histogram (age seen)
 *   MBERR           +11                             read a poisoned (invalid) record
 *   GENERR          +12                             record's generation or payload changed under the reader
 *   COOKIE_ERR      +13                             cookie check 3: a grace period ended inside the section
 *   READS           +14
 *   SLOT            +15                             the RCU slot of the reader's current worker (-1 none)
 *   BATCH           +16..+26                        Reader Batch histogram (grace periods seen end)
 *   NESTED          +27                             nested sections
 *   SLEEPS          +28                             sleeps inside a section
 * fake writer f   after readers, 16*f        16     fake writer f         main             add / L/S
 *   OPS             +0
 *   SLOT            +15                             the RCU slot of the fake writer's current worker
 * record i        after fake writers, 4*i    4      its writer            readers          L/S
 *   R_PIPE +0, R_VALID +1 (0 = poisoned), R_GEN +2, R_CHECK +3 (payload derived from gen)
 * ```
 *
 * Hot words (per section, per publish, per grace period) and whether two owners' written words
 * can share a real 64-byte line when the buffer starts at any multiple of 16 bytes past one
 * (src/core/cache-line.ts GUARD_WORDS): writers write +0..+8 and +16..+26 (a guard line
 * follows); readers +0..+28 of 48 (the last 16 untouched: no guard needed); fake writers +0
 * per operation and +15 once per worker (only +0 is hot: it is in the slot's first 16 bytes).
 */
import { GUARD_WORDS } from '../../src/core/cache-line.js';

export const PIPE_LEN = 10;
export const HIST = PIPE_LEN + 1;
/** Records per writer: a record comes back only after PIPE_LEN grace periods, so 10x that. */
export const RECORDS_PER_WRITER = 10 * PIPE_LEN;

export const CTRL_STOP = 0;
export const CTRL_PAUSE = 1;
export const CTRL_SLEEP = 2;
const CTRL_WORDS = 16;

/**
 * Why the guard: a writer's CIRC counters (+16..+26, one add per record retired) sat 6 words
 * before the next writer's CURRENT and VERSION (+0, +1, stored at every publish), and the last
 * writer's before reader 0's PIPE histogram (one add per section): one real line for some
 * base offsets. 32 words used, then a guard line nothing writes.
 */
export const WRITER_WORDS = 32 + GUARD_WORDS;
export const W_CURRENT = 0;
export const W_VERSION = 1;
export const W_TFLE = 2;
/** Cookie check 1 failed: a cookie taken inside the writer's own section was satisfied there. */
export const W_COOKIE_ERR = 3;
export const W_METHOD = 4;
/** Cookie check 2 failed: a cookie from before a completed wait was not satisfied after it. */
export const W_COOKIE_WAIT_ERR = 8;
export const W_CIRC = 16;

export const READER_WORDS = 48;
export const R_PIPE = 0;
export const R_MBERR = 11;
export const R_GENERR = 12;
export const R_COOKIE_ERR = 13;
export const R_READS = 14;
export const R_SLOT = 15;
export const R_BATCH = 16;
export const R_NESTED = 27;
export const R_SLEEPS = 28;

export const FAKE_WORDS = 16;
export const F_OPS = 0;
export const F_SLOT = 15;

export const RECORD_WORDS = 4;
export const REC_PIPE = 0;
export const REC_VALID = 1;
export const REC_GEN = 2;
export const REC_CHECK = 3;

/** Grace-period wait methods, in W_METHOD order. */
export const WAIT_METHODS = ['synchronize', 'poll', 'callRcu', 'barrier'] as const;

export interface TortureGeometry {
  writers: number;
  readers: number;
  fakeWriters: number;
}

export function writerBase(w: number): number {
  return CTRL_WORDS + w * WRITER_WORDS;
}

export function readerBase(g: TortureGeometry, r: number): number {
  return CTRL_WORDS + g.writers * WRITER_WORDS + r * READER_WORDS;
}

export function fakeBase(g: TortureGeometry, f: number): number {
  return readerBase(g, g.readers) + f * FAKE_WORDS;
}

export function recordBase(g: TortureGeometry, rec: number): number {
  return fakeBase(g, g.fakeWriters) + rec * RECORD_WORDS;
}

export function tortureWords(g: TortureGeometry): number {
  return recordBase(g, g.writers * RECORDS_PER_WRITER);
}

/** The payload a record of generation `gen` must carry; a mismatch means torn or recycled. */
export function recordCheck(rec: number, gen: number): number {
  return Math.imul(rec ^ gen, 0x9e3779b1) | 0;
}
