/**
 * The one place that knows every offset into the RCU's SharedArrayBuffer.
 *
 * Every shared structure is an `Int32Array<SharedArrayBuffer>` indexed in 32-bit words
 * (a few 64-bit sequence words are read through a `BigInt64Array` view of the same buffer
 * at word index / 2). No `Atomics` call site anywhere else in the code base uses a literal
 * index: it names one of the constants below. A word's "access" column says how it is
 * touched: CAS = `Atomics.compareExchange` loop, L/S = `Atomics.load`/`Atomics.store`,
 * "immutable" = written once by `create()` before the buffer is handed to any other thread
 * (the handle crosses threads by `postMessage`, which happens-after the writes) and never
 * written again, so any read of it is race-free.
 *
 * ## RCU buffer (`Rcu.create`)
 *
 * ```text
 * region        word index         words  writer(s)                    reader(s)              access
 * header        0                  16     create() only                attach(), everyone     immutable after publish
 *   MAGIC         0                         'RCU1'
 *   VERSION       1                         RCU_LAYOUT_VERSION
 *   MAX_THREADS   2                         number of reader slots
 *   STALL_MS      3                         grace-period stall warning threshold, ms
 *   FAULT_MODE    4                         0 none, 1 skip-gp, 2 skip-nth, 3 ignore-reader, 4 lose-snapshot (torture only)
 *   FAULT_ARG     5                         N for skip-nth, slot index for ignore-reader
 *   FLAVOR        6                         0 marks (default), 1 mb (liburcu-mb: phase flips)
 *   TAG           7                         the creator's tag (0 none): IoasidSpace.create stores the
 *                                           same random value in its space's header, so attach can
 *                                           tell that a space and an Rcu belong together
 * gp            16                 16     grace-period leader          pollers, wakers        own 64-byte line
 *   GP_SEQ        16..17 (i64 #8)           leader (holds GP_LOCK)       getState/pollState     L/S (BigInt64)
 *                                           value = completed * 4 + step; step 0 idle, 1 taking the
 *                                           snapshot, 2 waiting for the snapshotted sections to end
 *   GP_CTR        18                        leader (mb flavor only)      readLock (outermost,   L/S
 *                                                                        mb flavor only)
 *                                           RCU_GP_COUNT | (RCU_PHASE if step == 1): what each step
 *                                           (re)writes first, so a resumed grace period can rewrite it
 *   GP_LOCK       19                        synchronize/pollState        waiters                CAS; 0 free,
 *                                           else owner threadId + 1; waiters Atomics.wait on it
 *   GP_FUTEX      20                        leader -> -1 before it sleeps, wakers (CAS -1 -> 0),  L/S/CAS; wait/notify
 *                                           leader -> 0 when awake; wakers: releaseSlot, and leaving
 *                                           readers that saw WAIT (marks) or loaded -1 here (mb)
 *   SLOT_HWM      21                        registerThread (CAS max)     leader's scans         CAS / load
 *                                           one past the highest slot ever claimed: scans stop there
 *   GP_BEAT       22                        leader, after every sleep    callers waiting for    Atomics.add / load
 *                                                                        GP_LOCK (leader watch)
 * stats         32                 16     grace-period leader          stats()                Atomics.add / load
 *   STALLS        32                        stall warnings issued
 *   SLEEPS        33                        times the leader slept in Atomics.wait on GP_FUTEX
 *   SKIPPED       34                        grace periods whose wait was skipped by fault injection
 *   RELEASED      35                        slots freed by releaseSlot()
 *   WAKEUPS       36                        notifies of GP_FUTEX by leaving readers and releaseSlot
 * reader slot   48 + 16 * slot     16     see below; padded to 64 bytes so slots never share a line
 *   CTR           +0                        owning thread (store on enter, leader's scans          S / exchange
 *                                           exchange on leave, mb: store (load)                 leader: CAS
 *                                           on leave; store 0 in
 *                                           unregisterThread); leader (CAS sets WAIT, marks
 *                                           only); releaseSlot (store 0)
 *                                           0 = outside any read-side section; else the section's MARK
 *                                           (odd, 30 bits, new at each outermost readLock) | WAIT;
 *                                           mb flavor: GP_CTR as loaded at the outermost readLock plus
 *                                           the nesting depth (low 16 bits), no WAIT
 *   OWNER         +1                        registerThread (CAS 0->tid+1),  everyone            CAS / L/S
 *                                           unregisterThread (store 0), releaseSlot (CAS tid+1 ->
 *                                           -(tid+1), then CAS to 0: concurrent releasers act once,
 *                                           and a release cut short keeps the token to finish with)
 *   CLAIMS        +2                        registerThread               stats()                Atomics.add
 * snapshot      48 + 16 * maxThreads  maxThreads, rounded up to 16 (marks flavor only)
 *                                     leader (holds GP_LOCK)       leader, its resumer    L/S
 *   SNAP[slot]                              the slot's CTR without WAIT as the step-1 scan saw it; the
 *                                           grace period waits while CTR still holds that mark; the
 *                                           leader zeroes an entry once its section is seen to end
 * ```
 */

import { LINE_WORDS } from '../cache-line.js';

// ---------------------------------------------------------------------------------------------
// RCU buffer
// ---------------------------------------------------------------------------------------------

/** Bumped whenever any RCU_* index or encoding below changes; `Rcu.attach` refuses a mismatch. */
export const RCU_LAYOUT_VERSION = 4;
/** 'RCU1' in ASCII: the first word of every RCU buffer. */
export const RCU_MAGIC = 0x52435531;

export const RCU_MAGIC_WORD = 0;
export const RCU_VERSION_WORD = 1;
export const RCU_MAX_THREADS_WORD = 2;
export const RCU_STALL_MS_WORD = 3;
export const RCU_FAULT_MODE_WORD = 4;
export const RCU_FAULT_ARG_WORD = 5;
export const RCU_FLAVOR_WORD = 6;
export const RCU_FLAVOR_MARKS = 0;
export const RCU_FLAVOR_MB = 1;
export const RCU_TAG_WORD = 7;
/** Words of the header region (all immutable after create()). */
export const RCU_HEADER_WORDS = 16;

/** Word index of the 64-bit grace-period sequence; its BigInt64Array index is half of it. */
export const RCU_GP_SEQ_WORD = 16;
export const RCU_GP_SEQ_I64 = RCU_GP_SEQ_WORD / 2;
export const RCU_GP_CTR_WORD = 18;
export const RCU_GP_LOCK_WORD = 19;
export const RCU_GP_FUTEX_WORD = 20;
export const RCU_SLOT_HWM_WORD = 21;
export const RCU_GP_BEAT_WORD = 22;

export const RCU_STAT_STALLS_WORD = 32;
export const RCU_STAT_SLEEPS_WORD = 33;
export const RCU_STAT_SKIPPED_WORD = 34;
export const RCU_STAT_RELEASED_WORD = 35;
export const RCU_STAT_WAKEUPS_WORD = 36;

export const RCU_SLOTS_WORD = 48;
export const RCU_SLOT_WORDS = LINE_WORDS;
export const RCU_SLOT_CTR = 0;
export const RCU_SLOT_OWNER = 1;
export const RCU_SLOT_CLAIMS = 2;
/**
 * OWNER while a `releaseSlot` is freeing the slot: the negated owner token, so that a release
 * cut short by the releaser's death can be finished by whoever recovers that releaser
 * (`Rcu.resumeRelease`): the token is what frees a GP_LOCK the released thread held.
 */
export function rcuOwnerReleasing(owner: number): number {
  return -owner;
}

/**
 * Reader CTR encoding. A section's mark is odd, so never 0 ("outside"); the owner advances it
 * by 2 at each outermost readLock, modulo 2^30. WAIT is set only by the leader, only on a CTR
 * that holds a mark, and cleared by the reader's leaving exchange.
 */
export const RCU_MARK_MASK = 0x3fffffff;
export const RCU_WAIT = 0x40000000;

/** mb flavor's reader counter (liburcu urcu-common.h, on 32-bit words): nesting, phase. */
export const RCU_NEST_MASK = 0xffff;
export const RCU_PHASE = 0x10000;
/** GP_CTR always holds a nesting count of one, so one store both enters and records the phase. */
export const RCU_GP_COUNT = 1;

/** GP_SEQ encoding: completed grace periods times four, plus the step in progress. */
export const RCU_SEQ_STEP_MASK = 3n;
export const RCU_SEQ_SHIFT = 2n;
export const RCU_STEP_SNAPSHOT = 1n;
export const RCU_STEP_WAIT = 2n;

/** Word index of slot `slot`'s first word. */
export function rcuSlotBase(slot: number): number {
  return RCU_SLOTS_WORD + slot * RCU_SLOT_WORDS;
}

/** Word index of slot `slot`'s snapshot entry (leader-owned; not in the reader's line). */
export function rcuSnapWord(maxThreads: number, slot: number): number {
  return RCU_SLOTS_WORD + maxThreads * RCU_SLOT_WORDS + slot;
}

/** Total words of an RCU buffer with `maxThreads` reader slots. */
export function rcuBufferWords(maxThreads: number): number {
  const snapWords = Math.ceil(maxThreads / LINE_WORDS) * LINE_WORDS;
  return RCU_SLOTS_WORD + maxThreads * RCU_SLOT_WORDS + snapWords;
}
