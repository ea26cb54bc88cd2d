/**
 * Layout of a stress run's SharedArrayBuffer: the steering words, the per-CPU stats slots and
 * logs, and the checker's shadow state. (The IOASID space and its RCU have their own buffers,
 * laid out in src/core/ioasid/space-layout.ts.) Every word is touched with Atomics.
 *
 * ```text
 * region         word index                   words            writer(s)          reader(s)   access
 * control        0                            32               main               CPUs        L/S, wait/notify
 *   STATE          0                                           0 init, 1 run, 2 pause (stutter), 3 stop
 *   EPOCH          1                                           main: current timeline bucket
 *   VIOLATIONS     2                                           any CPU / checker (Atomics.add)
 *   FIRST          3                                           CAS 0 -> 1 by the first reporter; then
 *   FIRST_KIND..   4..10                                       kind, op, cpu, id, set, epoch, detail (stores
 *                                                              before FIRST_READY's store publishes them)
 *   FIRST_READY    11                                          1 once FIRST_* are written
 *   KIND_COUNTS    16..23                                      violations per kind (Atomics.add)
 * cpu c          32 + CPU_WORDS * c           CPU_WORDS        CPU c              main, checker   add / store
 *   header         +0 (16)                                     STATUS, RCU_SLOT, HELD (ids held), TASKS (runs
 *                                                              started), LOG_HEAD (entries written, mod 2^32),
 *                                                              PARKED (1 while parked in a stutter), THREAD
 *                                                              (threadId), PHASE (index into CPU_PHASES),
 *                                                              SCRATCH (scratch set + 1, -1 creating one);
 *                                                              main resets STATUS, HELD, PARKED and SCRATCH
 *                                                              of a killed CPU
 *   ops            +16 (16)                                    operations done, per op
 *   errs           +32 (16)                                    operations that returned an errno, per op
 *   hist           +48 (N_OPS * HIST_BUCKETS)                  sampled latency histogram per op (log-linear)
 *   timeline       after hist (TIMELINE_SLOTS)                 operations per epoch
 *   log            after timeline (LOG_ENTRIES * 4)            ring: op | (cpu << 8), set, id, result
 * shadow owner   after CPUs, one word per id  2^pasidBits      CPUs (CAS)         checker     CAS / load
 *                                                              0 free, else cpu + 1: who holds the id
 * shadow sets    after that, 2 words per set  2 * maxSets      CPUs               checker     add / load
 *                                                              live ids the CPUs hold in the set, quota
 * ```
 * The shadow state is the harness's own oracle, kept outside the allocator: a CPU claims the
 * shadow word after `alloc` returns an id and releases it before calling `free`, so a CAS that
 * finds the word taken proves two live allocations of one id. Shadow live counts are a lower
 * bound of the set's real count (incremented after alloc, decremented before free), so one
 * above the quota proves the quota was exceeded.
 *
 * Kills: the harness terminates CPUs at any point, so every word a CPU writes is meaningful
 * whichever of its stores was the last: STATUS, RCU_SLOT and THREAD are published before the
 * CPU runs any operation (STATUS last: RUNNING means the other two are this task's); PARKED is
 * one store each way (a per-CPU flag, not a shared counter a dead CPU could leave raised);
 * SCRATCH says CREATING before setAlloc is called and the set only after it returned;
 * a shadow claim or release cut between its two words leaves the set's count one off the
 * claims, either way still a lower bound of the real count (cpu-loop.ts "Kill safety").
 */
import { LINE_WORDS } from '../core/cache-line.js';

export const OPS = [
  'alloc',
  'free',
  'get',
  'put',
  'find',
  'findBySpid',
  'attachSpid',
  'detachSpid',
  'attachData',
  'detachData',
  'setAlloc',
  'setFree',
  'freeAllInSet',
] as const;
export type OpName = (typeof OPS)[number];
export const N_OPS = OPS.length;

export const RUN_STATE = 0;
export const RUN_EPOCH = 1;
export const RUN_VIOLATIONS = 2;
export const RUN_FIRST = 3;
export const RUN_FIRST_KIND = 4;
export const RUN_FIRST_OP = 5;
export const RUN_FIRST_CPU = 6;
export const RUN_FIRST_ID = 7;
export const RUN_FIRST_SET = 8;
export const RUN_FIRST_EPOCH = 9;
export const RUN_FIRST_DETAIL = 10;
export const RUN_FIRST_READY = 11;
export const RUN_KIND_COUNTS = 16;
const CONTROL_WORDS = 2 * LINE_WORDS;

export const STATE_INIT = 0;
export const STATE_RUN = 1;
export const STATE_PAUSE = 2;
export const STATE_STOP = 3;

export const CPU_STATUS = 0;
export const CPU_RCU_SLOT = 1;
export const CPU_HELD = 2;
export const CPU_TASKS = 3;
export const CPU_LOG_HEAD = 4;
/**
 * 1 while the CPU is parked in a stutter: the checker's exact capacity check waits until every
 * running CPU has it. One store each way, so a CPU killed anywhere leaves it 0 or 1, and the
 * harness clears it for a dead CPU (a shared counter would stay raised by a CPU killed between
 * its wake-up and its decrement).
 */
export const CPU_PARKED = 5;
/** threadId of the worker running this CPU (published before STATUS_RUNNING). */
export const CPU_THREAD = 6;
/** What the CPU is doing (CPU_PHASES), so a CPU that never stops can be named precisely. */
export const CPU_PHASE = 7;
/**
 * The CPU's scratch set + 1 (0 none, SCRATCH_CREATING while its setAlloc runs), so that the
 * harness knows which set a killed CPU may have left behind (verifyAtEnd).
 */
export const CPU_SCRATCH = 8;
export const SCRATCH_CREATING = -1;
export const CPU_PHASES = [
  'idle',
  'running',
  'releasing its ids',
  'flushing records',
  'done',
] as const;
export const CPU_OPS = 16;
export const CPU_ERRS = 32;
export const CPU_HIST = 48;

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

export const CPU_TIMELINE = CPU_HIST + N_OPS * HIST_BUCKETS;
export const CPU_LOG = CPU_TIMELINE + TIMELINE_SLOTS;
/** Per-CPU slot, rounded up to whole 64-byte lines so no two CPUs share one. */
export const CPU_WORDS =
  Math.ceil((CPU_LOG + LOG_ENTRIES * LOG_ENTRY_WORDS) / LINE_WORDS) * LINE_WORDS;

/** Violation kinds, in RUN_FIRST_KIND. */
export const VIOLATIONS = [
  'none',
  'id-live-twice',
  'quota-exceeded',
  'capacity-accounting',
  'record-recycled-under-reader',
  'wrong-data',
  'leak',
  'bad-result',
] as const;
export type ViolationKind = (typeof VIOLATIONS)[number];

export interface RunGeometry {
  cpus: number;
  pasidBits: number;
  maxSets: number;
}

export function cpuBase(cpu: number): number {
  return CONTROL_WORDS + cpu * CPU_WORDS;
}

export function shadowOwnerBase(g: RunGeometry): number {
  return cpuBase(g.cpus);
}

export function shadowSetBase(g: RunGeometry, set: number): number {
  return shadowOwnerBase(g) + 2 ** g.pasidBits + 2 * set;
}

export function runWords(g: RunGeometry): number {
  return shadowSetBase(g, g.maxSets);
}

/** Histogram bucket of a latency in ns. */
export function histBucket(ns: number): number {
  if (ns < 2 ** HIST_MIN_LOG2) return 0;
  const log2 = Math.floor(Math.log2(ns));
  const sub = Math.floor((ns / 2 ** log2 - 1) * HIST_SUB);
  return Math.min(HIST_BUCKETS - 1, 1 + (log2 - HIST_MIN_LOG2) * HIST_SUB + sub);
}

/** Lower bound, in ns, of histogram bucket `b`. */
export function histBucketFloor(b: number): number {
  if (b === 0) return 0;
  const octave = Math.floor((b - 1) / HIST_SUB) + HIST_MIN_LOG2;
  return 2 ** octave * (1 + ((b - 1) % HIST_SUB) / HIST_SUB);
}
