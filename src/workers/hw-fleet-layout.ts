/**
 * Layout of a threaded model run's control buffer (the hardware model has its own buffers,
 * laid out in src/hw-model/hw-layout.ts): the steering words the main thread writes and one
 * padded slot per worker. Every word is touched with Atomics.
 *
 * ```text
 * region         word index        words       writer(s)            reader(s)          access
 * control        0                 16          main                 workers, checker   L/S, wait/notify
 *   STATE          0                           0 run, 1 pause, 2 finish (wind down), 3 stop
 *   CHECK_REQ      1                           main: quiescent checks asked for (count)
 *   CHECK_DONE     2                           checker: quiescent checks done
 *   END_REQ        3                           main: 1 = drain the log, run the end checks, report
 *   VIOLATIONS     4                           checker: violations found so far
 *   CHECKER_READY  5                           checker: 1 once it consumes the log
 *   VMS_IDLE       6                           checker: VMs without a submission this boot
 * worker w       16 + 32 * w       32          worker w             main               L/S
 *   STATUS +0 (0 starting, 1 running, 2 done), PARKED +1 (1 while parked in a pause), STEPS +2
 *   (progress steps, flushed every 256 iterations), ROW +3 and RCU_SLOT +4 (published before
 *   STATUS = running: what recovery needs after a kill), THREAD +5, STUTTER +6 (ms to sleep,
 *   written by main, taken by exchange), QUIET +7 (1 when its actors have nothing in flight),
 *   GUEST_RCU_SLOT +8 (a guest's thread: its Rcu slot in the VM's guest kernel space, -1 none;
 *   published with ROW), ITERS +9 (loop iterations, flushed with STEPS: a worker that iterates
 *   without progress is idle, one that does not iterate has not been running); +16..+31 a
 *   guard line nothing writes
 * ```
 */
import { GUARD_WORDS, LINE_WORDS } from '../core/cache-line.js';

export const F_STATE = 0;
export const F_CHECK_REQ = 1;
export const F_CHECK_DONE = 2;
export const F_END_REQ = 3;
export const F_VIOLATIONS = 4;
export const F_CHECKER_READY = 5;
export const F_VMS_IDLE = 6;
export const FLEET_HEADER_WORDS = LINE_WORDS;

export const FS_RUN = 0;
export const FS_PAUSE = 1;
export const FS_FINISH = 2;
export const FS_STOP = 3;

export const W_STATUS = 0;
export const W_PARKED = 1;
export const W_STEPS = 2;
export const W_ROW = 3;
export const W_RCU_SLOT = 4;
export const W_THREAD = 5;
export const W_STUTTER = 6;
export const W_QUIET = 7;
export const W_GUEST_RCU_SLOT = 8;
export const W_ITERS = 9;
export const WS_STARTING = 0;
export const WS_RUNNING = 1;
export const WS_DONE = 2;
/**
 * Why the guard: every 256 loop iterations a worker stores STEPS, ITERS and QUIET (+2, +9, +7)
 * and takes STUTTER (+6) by exchange; with 16-word slots and a buffer that starts 16, 32 or
 * 48 bytes past a real line (src/core/cache-line.ts GUARD_WORDS), worker w's +4..+9 shared a
 * real line with worker w+1's +0..+3. One line of words, then a guard line.
 */
export const WORKER_WORDS = LINE_WORDS + GUARD_WORDS;

/** Word index of worker `w`'s slot. */
export function workerSlot(w: number): number {
  return FLEET_HEADER_WORDS + WORKER_WORDS * w;
}

/** Words of a control buffer for `workers` workers. */
export function fleetWords(workers: number): number {
  return workerSlot(workers);
}
