/**
 * Layout of a CPU run's SharedArrayBuffer: the steering words every CPU watches and one
 * padded slot of statistics per CPU (status, counters per operation and errno, sampled
 * latency histograms, a throughput timeline and an operation log). What the CPUs run is not
 * known here: the number of operations is part of the geometry, and the operations and
 * whatever oracle checks them (the stress harness's is in stress/check/check-layout.ts) live
 * with their user. (The IOASID space and its RCU have their own buffers, laid out in
 * src/core/ioasid/space-layout.ts and src/core/rcu/rcu-layout.ts.) Every word is touched
 * with Atomics.
 *
 * ```text
 * region       word index                    words                 writer(s)   reader(s)        access
 * control      0                             32                    main        CPUs             L/S, wait/notify
 *   STATE        0                                                 0 init, 1 run, 2 pause (stutter), 3 stop
 *   EPOCH        1                                                 main: current timeline bucket
 * cpu c        32 + cpuLayout(n).words * c   cpuLayout(n).words    CPU c       main, checker    add / store
 *   header       +0 (16)                                           STATUS, RCU_SLOT, TASKS (runs started),
 *                                                                  LOG_HEAD (entries written, mod 2^32),
 *                                                                  PARKED (1 while parked in a stutter),
 *                                                                  THREAD (threadId), PHASE (CPU_PHASES);
 *                                                                  main resets STATUS and PARKED of a killed CPU
 *   ops          +16 (n)                                           operations done, per op
 *   errnos       after ops (n * ERRNO_SLOTS)                       errno returns per op and code (ERRNO_CODES)
 *   hist         after errnos (n * HIST_BUCKETS)                   sampled latency histogram per op (log-linear)
 *   timeline     after hist (TIMELINE_SLOTS)                       operations per epoch
 *   log          after timeline (LOG_ENTRIES * 4)                  ring: op | (cpu << 8), set, id, result
 *   guard        after log, line-rounded (GUARD_WORDS)             nobody: see "Why the guard" at cpuLayout
 * ```
 * `n` is the number of operations in the CPUs' op table (CpuGeometry.nOps).
 *
 * Kills: the harness terminates CPUs at any point, so every word a CPU writes is meaningful
 * whichever of its stores was the last: STATUS, RCU_SLOT and THREAD are published before the
 * CPU runs any operation (STATUS last: RUNNING means the other two are this task's); PARKED is
 * one store each way (a per-CPU flag, not a shared counter a dead CPU could leave raised); a
 * log entry is published by its LOG_HEAD store, after its four words.
 */
import { GUARD_WORDS, LINE_WORDS } from '../core/cache-line.js';
import { Errno } from '../core/ioasid/errno.js';

/** How many CPUs a run has and how many operations their op table holds. */
export interface CpuGeometry {
  cpus: number;
  nOps: number;
}

export const RUN_STATE = 0;
export const RUN_EPOCH = 1;
const CONTROL_WORDS = 2 * LINE_WORDS;

export const STATE_INIT = 0;
export const STATE_RUN = 1;
export const STATE_PAUSE = 2;
export const STATE_STOP = 3;

export const CPU_STATUS = 0;
export const CPU_RCU_SLOT = 1;
export const CPU_TASKS = 2;
export const CPU_LOG_HEAD = 3;
/**
 * 1 while the CPU is parked in a stutter: the checker's exact capacity check waits until every
 * running CPU has it. One store each way, so a CPU killed anywhere leaves it 0 or 1, and the
 * harness clears it for a dead CPU (a shared counter would stay raised by a CPU killed between
 * its wake-up and its decrement).
 */
export const CPU_PARKED = 4;
/** threadId of the worker running this CPU (published before STATUS_RUNNING). */
export const CPU_THREAD = 5;
/** What the CPU is doing (CPU_PHASES), so a CPU that never stops can be named precisely. */
export const CPU_PHASE = 6;
const CPU_HEADER_WORDS = LINE_WORDS;
export const CPU_PHASES = [
  'idle',
  'running',
  'releasing what it holds',
  'flushing records',
  'done',
] as const;
export const PHASE_RUNNING = 1;
export const PHASE_RELEASING = 2;
export const PHASE_FLUSHING = 3;
export const PHASE_DONE = 4;

export const STATUS_IDLE = 0;
/** Set by the CPU's task once RCU_SLOT and THREAD are its own: from then on it may be killed. */
export const STATUS_RUNNING = 1;
export const STATUS_DONE = 2;
export const STATUS_DEAD = 3;

/** Log-linear latency buckets: 4 per octave from 2^4 ns; bucket 0 is below 16 ns. */
export const HIST_SUB = 4;
export const HIST_MIN_LOG2 = 4;
export const HIST_BUCKETS = 96;
export const TIMELINE_SLOTS = 600;
/** Per-CPU log ring entries: a power of two; ~30 ms of one CPU's operations at full speed. */
export const LOG_ENTRIES = 8192;
export const LOG_ENTRY_WORDS = 4;

/**
 * The errno codes counted one by one, in slot order; slot 0 counts any other negative result.
 * Results are kernel errnos negated (src/core/ioasid/errno.ts).
 */
export const ERRNO_CODES: readonly number[] = [0, ...Object.values(Errno)];
export const ERRNO_SLOTS = ERRNO_CODES.length;
const ERRNO_SLOT_OF: Int8Array = (() => {
  const t = new Int8Array(256);
  ERRNO_CODES.forEach((code, slot) => {
    if (code > 0) t[code] = slot;
  });
  return t;
})();

/**
 * The errno slot counting result `r` (< 0).
 *
 * @param r - a negative result
 *
 * Context: pure.
 * @returns an index into ERRNO_CODES (0 for a code not listed there)
 */
export function errnoSlot(r: number): number {
  const code = -r;
  return code < ERRNO_SLOT_OF.length ? ERRNO_SLOT_OF[code]! : 0;
}

/** Word offsets inside one CPU's slot, for an op table of `nOps` operations. */
export interface CpuSlotLayout {
  ops: number;
  errnos: number;
  hist: number;
  timeline: number;
  log: number;
  /** The slot's size: whole 64-byte lines, the last of them a guard line nothing writes. */
  words: number;
}

/**
 * The layout of one CPU's slot.
 *
 * @param nOps - operations in the CPUs' op table
 *
 * Context: pure.
 * @returns the offsets of each region inside the slot
 */
export function cpuLayout(nOps: number): CpuSlotLayout {
  const ops = CPU_HEADER_WORDS;
  const errnos = ops + nOps;
  const hist = errnos + nOps * ERRNO_SLOTS;
  const timeline = hist + nOps * HIST_BUCKETS;
  const log = timeline + TIMELINE_SLOTS;
  // Why the guard: per operation a CPU stores a log entry and LOG_HEAD (+3). The ring ends its
  // slot, and a SharedArrayBuffer may start 16, 32 or 48 bytes past a real line
  // (src/core/cache-line.ts GUARD_WORDS), so the ring's last entries shared a real line with
  // the next CPU's LOG_HEAD; the guard line keeps them apart.
  const used = Math.ceil((log + LOG_ENTRIES * LOG_ENTRY_WORDS) / LINE_WORDS) * LINE_WORDS;
  const words = used + GUARD_WORDS;
  return { ops, errnos, hist, timeline, log, words };
}

/**
 * First word of CPU `cpu`'s slot.
 *
 * @param g - the run's geometry
 * @param cpu - a CPU index in [0, g.cpus]; g.cpus gives the end of the last slot
 *
 * Context: pure.
 * @returns a word index into the run buffer
 */
export function cpuBase(g: CpuGeometry, cpu: number): number {
  return CONTROL_WORDS + cpu * cpuLayout(g.nOps).words;
}

/**
 * Size of a run buffer.
 *
 * @param g - the run's geometry
 *
 * Context: pure.
 * @returns its length in 32-bit words
 */
export function runWords(g: CpuGeometry): number {
  return cpuBase(g, g.cpus);
}

/**
 * Histogram bucket of a latency.
 *
 * @param ns - a latency in nanoseconds
 *
 * Context: pure.
 * @returns the bucket index in [0, HIST_BUCKETS)
 */
export function histBucket(ns: number): number {
  if (ns < 2 ** HIST_MIN_LOG2) return 0;
  const log2 = Math.floor(Math.log2(ns));
  const sub = Math.floor((ns / 2 ** log2 - 1) * HIST_SUB);
  return Math.min(HIST_BUCKETS - 1, 1 + (log2 - HIST_MIN_LOG2) * HIST_SUB + sub);
}

/**
 * Lower bound of a histogram bucket.
 *
 * @param b - a bucket index
 *
 * Context: pure.
 * @returns the smallest latency, in ns, counted in bucket `b`
 */
export function histBucketFloor(b: number): number {
  if (b === 0) return 0;
  const octave = Math.floor((b - 1) / HIST_SUB) + HIST_MIN_LOG2;
  return 2 ** octave * (1 + ((b - 1) % HIST_SUB) / HIST_SUB);
}
