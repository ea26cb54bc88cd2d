/**
 * What test/hw_model_vm_reaper_breaks_a_dead_threads_platform_locks_first.test.ts and its
 * worker (vm-lock-holder.ts) share. Kept apart so the test can import it without running the
 * worker.
 *
 * The step word (an Int32Array on `sync`, every access an Atomics call) is the worker's
 * progress: it stores each step, then notifies.
 */
/** Word of `sync`: the worker's last step (below). */
export const SYNC_STEP = 0;
/** Word of `sync`: the worker's tag (its log row + 1), stored once it attached. */
export const SYNC_TAG = 1;
export const SYNC_WORDS = 2;

/** Claimed its log row (its tag is stored); it takes the VM lock next. */
export const STEP_ATTACHED = 1;
/** Holds the VM lock; it takes the platform lock next (and waits there while it is held). */
export const STEP_VM_LOCK_HELD = 2;
/** Holds both. */
export const STEP_BOTH_HELD = 3;
/** Gave both back (the platform lock first) and its log row. */
export const STEP_DONE = 4;

/** workerData of the VM lock holder. */
export interface VmLockHolderData {
  /** The platform's buffers (`handle.hw`, `handle.log`). */
  hw: SharedArrayBuffer;
  log: SharedArrayBuffer;
  /** Word of the hardware buffer: the VM lock it holds while it waits. */
  vmLock: number;
  /** Word of the platform lock it waits for. */
  platformLock: number;
  /** The platform lock is a word of the log buffer (the shim lock), not the hardware one. */
  platformLockInLog: boolean;
  sync: SharedArrayBuffer;
}
