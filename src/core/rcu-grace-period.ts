/**
 * Grace-period machinery: the two-phase flip, the reader scan, the adaptive wait, sharing of
 * grace periods between concurrent callers, and stall reports.
 *
 * ## Developer notes
 * **State lives in shared memory, so anyone can resume it.** One 64-bit word, GP_SEQ, holds
 * `completed * 4 + step`. Step 0 is idle; step 1 waits for readers that entered with phase 0;
 * step 2 waits for readers that entered with phase 1. GP_CTR's phase bit is a pure function of
 * the step (1 during step 1, else 0), so whoever holds GP_LOCK can redo the current step from
 * the top: re-store GP_CTR, rescan. That is what lets `pollState` advance a grace period one
 * non-blocking step at a time, and lets another thread finish a grace period whose leader was
 * terminated (after `releaseSlot` frees GP_LOCK).
 *
 * **Why two steps are enough** (the parity argument of liburcu's urcu.c, on SC atomics): let T
 * be the store that moves GP_SEQ into step 1. A reader whose slot store precedes the step-1
 * scan of its slot holds phase 0 or 1. Phase 0: step 1 (which waits for "active and phase !=
 * 1") waits for it. Phase 1: its phase was loaded during an earlier step 1 and it is still
 * inside; step 2 waits for "active and phase != 0" and so for it. A reader whose slot store
 * follows that scan entered after T, so it cannot hold a pointer removed before T. Hence every
 * reader that could hold such a pointer is waited for, and each grace period ends with GP_CTR
 * back at phase 0, so no counter ever wraps: the phase is one bit and the nesting count is
 * bounded.
 *
 * **Why the cookie is right.** `getState()` reads GP_SEQ = c*4+s and asks for c+1 completions
 * when idle, c+2 when a grace period is in flight (that one may have begun before the call).
 * The grace period that completes number c+1 (idle) starts after the read, so after every
 * update the caller made before calling. GP_SEQ is 64-bit: 2^61 grace periods before a wrap.
 *
 * **Sharing.** Callers do not queue: they compare completions with their cookie, and the one
 * that wins GP_LOCK runs whole grace periods until its own cookie is met. Everyone else sleeps
 * on GP_LOCK's value and rechecks when the leader releases it; since a cookie only needs
 * grace periods that start after it was taken, N concurrent callers cost about two grace
 * periods, not N.
 *
 * **Waiting for readers** copies liburcu's adaptive wait: scan, spin for a bounded time
 * (about 30 µs: a futex wake-up costs about 22 µs on these VMs), then store GP_FUTEX = -1,
 * rescan, and `Atomics.wait` on it with a 10 ms safety timeout. The outermost `readUnlock`
 * that sees -1 wakes us.
 *
 * Rejected: a free-running 32-bit grace-period counter in reader slots (wraps within minutes
 * at millions of grace periods per second; perfbook's toy-RCU overflow scenario); a queue of
 * waiters as in liburcu (threads cannot share wait-queue nodes; counters suffice).
 */
import {
  RCU_GP_COUNT,
  RCU_GP_CTR_WORD,
  RCU_GP_FUTEX_WORD,
  RCU_GP_LOCK_WORD,
  RCU_GP_SEQ_I64,
  RCU_NEST_MASK,
  RCU_PHASE,
  RCU_SEQ_SHIFT,
  RCU_SEQ_STEP_MASK,
  RCU_SLOT_CTR,
  RCU_SLOT_HWM_WORD,
  RCU_SLOT_OWNER,
  RCU_STAT_SKIPPED_WORD,
  RCU_STAT_SLEEPS_WORD,
  RCU_STAT_STALLS_WORD,
  rcuSlotBase,
} from './layout.js';

/** Fault-injection modes (torture testing only; 0 in every real system). */
export const FaultMode = {
  none: 0,
  /** Every grace period returns without waiting for readers. */
  skipGp: 1,
  /** Every Nth grace period (FAULT_ARG) returns without waiting for readers. */
  skipNth: 2,
  /** Reader slot FAULT_ARG is never waited for. */
  ignoreReader: 3,
} as const;

/** Called once per stall period per slot that holds a grace period up. */
export type StallReporter = (slot: number, ownerThreadId: number, waitedMs: number) => void;

/** @internal Everything the machinery needs; built once per attached Rcu. */
export interface GracePeriodContext {
  readonly words: Int32Array<SharedArrayBuffer>;
  readonly seq: BigInt64Array<SharedArrayBuffer>;
  readonly maxThreads: number;
  readonly stallMs: number;
  readonly faultMode: number;
  readonly faultArg: number;
  readonly onStall: StallReporter;
}

/** Bounded spin before sleeping, in ms (performance.now() units). */
const SPIN_MS = 0.03;
/** Safety-net timeout of every Atomics.wait here: a lost wake-up costs at most this. */
const WAIT_TIMEOUT_MS = 10;

/** Completed grace periods so far. Lock-free; stale as soon as it returns. */
export function completedGracePeriods(seq: BigInt64Array<SharedArrayBuffer>): number {
  return Number(Atomics.load(seq, RCU_GP_SEQ_I64) >> RCU_SEQ_SHIFT);
}

/** The completion count at which a full grace period will have passed since this call. */
export function snapshotCookie(seq: BigInt64Array<SharedArrayBuffer>): number {
  const s = Atomics.load(seq, RCU_GP_SEQ_I64);
  const completed = Number(s >> RCU_SEQ_SHIFT);
  return (s & RCU_SEQ_STEP_MASK) === 0n ? completed + 1 : completed + 2;
}

/**
 * Block until `cookie` grace periods have completed, leading them if nobody else is.
 *
 * Context: blocks (spins ~30 µs, then Atomics.wait); the caller must be outside any read-side
 * section of this Rcu (checked by the facade). `lockToken` identifies the caller's thread.
 */
export function waitForCookie(ctx: GracePeriodContext, cookie: number, lockToken: number): void {
  const { words, seq } = ctx;
  while (completedGracePeriods(seq) < cookie) {
    const holder = Atomics.compareExchange(words, RCU_GP_LOCK_WORD, 0, lockToken);
    if (holder === 0) {
      try {
        while (completedGracePeriods(seq) < cookie) advanceGracePeriod(ctx, true);
      } finally {
        releaseGracePeriodLock(words);
      }
      return;
    }
    waitForLockChange(ctx, holder, cookie);
  }
}

/**
 * True once `cookie` grace periods have completed; if not, and nobody holds GP_LOCK, push the
 * current grace period forward by one non-blocking scan per step.
 *
 * Context: never blocks; legal inside a read-side section (a step that waits for the caller
 * itself just stays pending).
 */
export function pollCookie(ctx: GracePeriodContext, cookie: number, lockToken: number): boolean {
  const { words, seq } = ctx;
  if (completedGracePeriods(seq) >= cookie) return true;
  if (Atomics.compareExchange(words, RCU_GP_LOCK_WORD, 0, lockToken) === 0) {
    try {
      while (completedGracePeriods(seq) < cookie && advanceGracePeriod(ctx, false));
    } finally {
      releaseGracePeriodLock(words);
    }
  }
  return completedGracePeriods(seq) >= cookie;
}

/** Release GP_LOCK and wake every caller sleeping on it (they recheck their cookies). */
export function releaseGracePeriodLock(words: Int32Array<SharedArrayBuffer>): void {
  Atomics.store(words, RCU_GP_LOCK_WORD, 0);
  Atomics.notify(words, RCU_GP_LOCK_WORD);
}

/**
 * Run the grace period in GP_SEQ from its current step. Caller holds GP_LOCK.
 * With `blocking`, returns true once it completed; without, returns false as soon as one scan
 * finds a reader still pending (the state stays in GP_SEQ for the next caller).
 */
function advanceGracePeriod(ctx: GracePeriodContext, blocking: boolean): boolean {
  const { words, seq } = ctx;
  const s = Atomics.load(seq, RCU_GP_SEQ_I64);
  const base = s & ~RCU_SEQ_STEP_MASK;
  let step = s & RCU_SEQ_STEP_MASK;
  const skip = faultSkipsThisGracePeriod(ctx, Number(s >> RCU_SEQ_SHIFT));
  if (step === 0n) {
    // Start: from this store on, a getState() asks for one more completion (see header).
    Atomics.store(seq, RCU_GP_SEQ_I64, base | 1n);
    step = 1n;
  }
  if (step === 1n) {
    // Flip to phase 1; readers entering from now on record phase 1.
    Atomics.store(words, RCU_GP_CTR_WORD, RCU_GP_COUNT | RCU_PHASE);
    if (!skip && !waitForReaders(ctx, RCU_PHASE, blocking)) return false;
    Atomics.store(seq, RCU_GP_SEQ_I64, base | 2n);
  }
  // Step 2: flip back to phase 0 and wait for phase-1 readers.
  Atomics.store(words, RCU_GP_CTR_WORD, RCU_GP_COUNT);
  if (!skip && !waitForReaders(ctx, 0, blocking)) return false;
  if (skip) Atomics.add(words, RCU_STAT_SKIPPED_WORD, 1);
  // Complete: publishes "every reader that could hold a pointer removed before the start has
  // left"; pairs with the loads in completedGracePeriods()/pollState().
  Atomics.store(seq, RCU_GP_SEQ_I64, base + (1n << RCU_SEQ_SHIFT));
  return true;
}

/** Deliberately broken modes for the torture harness's self-test. */
function faultSkipsThisGracePeriod(ctx: GracePeriodContext, gpNumber: number): boolean {
  if (ctx.faultMode === FaultMode.skipGp) return true;
  if (ctx.faultMode === FaultMode.skipNth) return gpNumber % ctx.faultArg === ctx.faultArg - 1;
  return false;
}

/**
 * Number of reader slots still inside a section entered with a phase other than `phase`.
 * Lock-free snapshot: a slot may change right after it is read, which is harmless because a
 * reader entering now records the current phase and is not waited for.
 */
function pendingReaders(ctx: GracePeriodContext, phase: number): number {
  const { words } = ctx;
  const ignored = ctx.faultMode === FaultMode.ignoreReader ? ctx.faultArg : -1;
  const hwm = Atomics.load(words, RCU_SLOT_HWM_WORD);
  let pending = 0;
  for (let slot = 0; slot < hwm; slot++) {
    const ctr = Atomics.load(words, rcuSlotBase(slot) + RCU_SLOT_CTR);
    if ((ctr & RCU_NEST_MASK) !== 0 && (ctr & RCU_PHASE) !== phase && slot !== ignored) pending++;
  }
  return pending;
}

/**
 * Wait until no reader is pending for `phase`. Non-blocking mode scans once.
 * Blocking mode spins ~30 µs, then sleeps on GP_FUTEX, reporting a stall per pending slot
 * every `stallMs` and waiting on regardless: a stalled reader delays, never breaks, RCU.
 */
function waitForReaders(ctx: GracePeriodContext, phase: number, blocking: boolean): boolean {
  if (pendingReaders(ctx, phase) === 0) return true;
  if (!blocking) return false;
  const { words } = ctx;
  const start = performance.now();
  let nextStall = start + ctx.stallMs;
  for (let pass = 1; ; pass++) {
    if (pendingReaders(ctx, phase) === 0) {
      // Defensive: a timed-out sleep can leave -1 behind, which would make every later
      // outermost readUnlock pay for a CAS until someone clears it.
      if (Atomics.load(words, RCU_GP_FUTEX_WORD) !== 0) Atomics.store(words, RCU_GP_FUTEX_WORD, 0);
      return true;
    }
    if ((pass & 7) !== 0) continue;
    const now = performance.now();
    if (now - start < SPIN_MS) continue;
    if (now >= nextStall) {
      reportStalls(ctx, phase, now - start);
      nextStall = now + ctx.stallMs;
    }
    // Announce that we are about to sleep, then rescan: a reader that left before this store
    // is seen by the rescan, one that leaves after it sees -1 and wakes us.
    Atomics.store(words, RCU_GP_FUTEX_WORD, -1);
    if (pendingReaders(ctx, phase) === 0) {
      Atomics.store(words, RCU_GP_FUTEX_WORD, 0);
      return true;
    }
    Atomics.add(words, RCU_STAT_SLEEPS_WORD, 1);
    Atomics.wait(words, RCU_GP_FUTEX_WORD, -1, Math.min(WAIT_TIMEOUT_MS, ctx.stallMs));
  }
}

function reportStalls(ctx: GracePeriodContext, phase: number, waitedMs: number): void {
  const { words } = ctx;
  const hwm = Atomics.load(words, RCU_SLOT_HWM_WORD);
  for (let slot = 0; slot < hwm; slot++) {
    const base = rcuSlotBase(slot);
    const ctr = Atomics.load(words, base + RCU_SLOT_CTR);
    if ((ctr & RCU_NEST_MASK) === 0 || (ctr & RCU_PHASE) === phase) continue;
    Atomics.add(words, RCU_STAT_STALLS_WORD, 1);
    ctx.onStall(slot, Atomics.load(words, base + RCU_SLOT_OWNER) - 1, waitedMs);
  }
}

/**
 * Caller lost the race for GP_LOCK to `holder`: spin briefly, then sleep until the lock word
 * changes (the leader's release notifies), and let the caller's loop recheck its cookie.
 */
function waitForLockChange(ctx: GracePeriodContext, holder: number, cookie: number): void {
  const { words, seq } = ctx;
  const start = performance.now();
  for (let pass = 1; ; pass++) {
    if (Atomics.load(words, RCU_GP_LOCK_WORD) !== holder) return;
    if (completedGracePeriods(seq) >= cookie) return;
    if ((pass & 7) === 0 && performance.now() - start >= SPIN_MS) break;
  }
  // "not-equal" if the leader released meanwhile: its notify then cannot be lost.
  Atomics.wait(words, RCU_GP_LOCK_WORD, holder, WAIT_TIMEOUT_MS);
}
