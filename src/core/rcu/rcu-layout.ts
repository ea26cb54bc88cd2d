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
 *   FAULT_MODE    4                         0 none, 1 skip-gp, 2 skip-nth, 3 ignore-reader, 4 lose-snapshot,
 *                                           5 early-qs (qsbr only), 6 short-wait (torture and model
 *                                           tests only)
 *   FAULT_ARG     5                         N for skip-nth, slot index for ignore-reader
 *   FLAVOR        6                         0 marks (default), 1 mb (liburcu-mb: phase flips),
 *                                           2 qsbr (liburcu-qsbr: quiescent states)
 *   TAG           7                         the creator's tag (0 none): IoasidSpace.create stores the
 *                                           same random value in its space's header, so attach can
 *                                           tell that a space and an Rcu belong together
 * gp            16                 16     grace-period leader          pollers, wakers        own 64-byte line
 *   GP_SEQ        16..17 (i64 #8)           leader (holds GP_LOCK)       getState/pollState     see rcu-gp-seq.ts:
 *                                           value = completed * 4 + step; step 0 idle, 1 taking the  Int32 stores of its
 *                                           snapshot (qsbr: waiting), 2 waiting for the snapshotted  low half, a BigInt64
 *                                           sections to end                                          store when the high
 *                                                                                                    half changes; read
 *                                                                                                    hi, lo, hi (Int32)
 *   GP_CTR        18                        leader (mb, qsbr flavors)    mb: readLock (outermost); L/S
 *                                                                        qsbr: quiescentState,
 *                                                                        threadOnline
 *                                           mb: RCU_GP_COUNT | (RCU_PHASE if step == 1): what each step
 *                                           (re)writes first, so a resumed grace period can rewrite it;
 *                                           qsbr: rcuQsbrCtr(number of the grace period in flight or
 *                                           last completed): odd, 30 bits, stored once per grace period
 *   GP_LOCK       19                        synchronize/pollState        waiters, getState      CAS / exchange;
 *                                           0 free, else owner threadId + 1 (30 bits) | LOCK_WAITERS  wait/notify
 *                                           once a caller may sleep on it (the release notifies only then)
 *   GP_FUTEX      20                        leader -> -1 before it sleeps, wakers (CAS -1 -> 0),  L/S/CAS; wait/notify
 *                                           leader -> 0 when awake; wakers: releaseSlot, and leaving
 *                                           readers that saw WAIT (marks, qsbr) or loaded -1 here (mb)
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
 *                                           on leave; exchange 0 in
 *                                           unregisterThread); leader (CAS sets WAIT, marks
 *                                           and qsbr); releaseSlot (store 0)
 *                                           0 = outside any read-side section (qsbr: offline); else the
 *                                           section's MARK (odd, 30 bits, new at each outermost readLock)
 *                                           | WAIT;
 *                                           mb flavor: GP_CTR as loaded at the outermost readLock plus
 *                                           the nesting depth (low 16 bits), no WAIT;
 *                                           qsbr flavor: the GP_CTR value of the thread's last quiescent
 *                                           state (odd, so never 0 while online) | WAIT
 *   OWNER         +1                        registerThread (CAS 0->tid+1),  everyone            CAS / L/S
 *                                           unregisterThread (store 0), releaseSlot (CAS tid+1 ->
 *                                           -(tid+1), then CAS to 0: concurrent releasers act once,
 *                                           and a release cut short keeps the token to finish with)
 *   CLAIMS        +2                        registerThread               stats()                Atomics.add
 * snapshot      48 + 16 * maxThreads  maxThreads, rounded up to 16 (marks flavor only)
 *                                     leader (holds GP_LOCK)       leader, its resumer    plain (lock holder)
 *   SNAP[slot]                              the slot's CTR without WAIT as the step-1 scan saw it; the
 *                                           grace period waits while CTR still holds that mark; the
 *                                           leader zeroes an entry once its section is seen to end.
 *                                           0 everywhere while no grace period is in flight. Plain
 *                                           reads and writes: only GP_LOCK holders touch SNAP, and each
 *                                           holder's accesses happen-before the next holder's (its
 *                                           release of the lock, or its death and the recovery's CAS
 *                                           that freed the lock, precede the next CAS that takes it)
 * ```
 */

import { LINE_WORDS } from '../cache-line.js';

// ---------------------------------------------------------------------------------------------
// RCU buffer
// ---------------------------------------------------------------------------------------------

/**
 * Bumped whenever any RCU_* index or encoding below changes, or what a word's value means to
 * another thread; `Rcu.attach` refuses a mismatch. 7: every grace period, the idle fast path
 * included, stores its start (step 1) before its reader scan, and getState reads GP_SEQ alone
 * (rcu-grace-period.ts); a version-6 holder scanned with GP_SEQ still at step 0.
 */
export const RCU_LAYOUT_VERSION = 7;
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
export const RCU_FLAVOR_QSBR = 2;
export const RCU_TAG_WORD = 7;
/** Words of the header region (all immutable after create()). */
export const RCU_HEADER_WORDS = 16;

/** Word index of the 64-bit grace-period sequence (rcu-gp-seq.ts reads and writes it). */
export const RCU_GP_SEQ_WORD = 16;
/** Its BigInt64Array index: half the word index. */
export const RCU_GP_SEQ_I64 = RCU_GP_SEQ_WORD / 2;
/** Is this platform little-endian? The halves of GP_SEQ sit in platform byte order. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Word index of GP_SEQ's low 32 bits. */
export const RCU_GP_SEQ_LO_WORD = LITTLE_ENDIAN ? RCU_GP_SEQ_WORD : RCU_GP_SEQ_WORD + 1;
/** Word index of GP_SEQ's high 32 bits. */
export const RCU_GP_SEQ_HI_WORD = LITTLE_ENDIAN ? RCU_GP_SEQ_WORD + 1 : RCU_GP_SEQ_WORD;
export const RCU_GP_CTR_WORD = 18;
export const RCU_GP_LOCK_WORD = 19;
export const RCU_GP_FUTEX_WORD = 20;
export const RCU_SLOT_HWM_WORD = 21;
export const RCU_GP_BEAT_WORD = 22;
/**
 * GP_LOCK: the owner token (threadId + 1) in the low 30 bits, plus LOCK_WAITERS once a caller
 * that lost the race for the lock may sleep on it: the release notifies only then (a notify
 * costs about as much as a whole uncontended grace period).
 */
export const RCU_LOCK_WAITERS = 0x40000000;
export const RCU_LOCK_OWNER_MASK = RCU_LOCK_WAITERS - 1;
/** The owner token in a GP_LOCK value (0 when free). */
export function rcuLockOwner(lock: number): number {
  return lock & RCU_LOCK_OWNER_MASK;
}

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
export const RCU_SEQ_STEPS = 4;
export const RCU_STEP_IDLE = 0;
export const RCU_STEP_SNAPSHOT = 1;
export const RCU_STEP_WAIT = 2;

/**
 * The qsbr flavor's GP_CTR value while grace period number `gp` (1 = the first) is in flight
 * or is the last one completed: odd (an online reader's CTR is never 0), and 30 bits, so WAIT
 * stays free. It wraps after 2^29 grace periods, which is harmless: a grace period completes
 * only once every online reader announced its value, so no online reader is ever more than
 * one value behind (rcu-flavor-qsbr.ts).
 */
export function rcuQsbrCtr(gp: number): number {
  return ((gp % 0x20000000) * 2 + 1) & RCU_MARK_MASK;
}

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
