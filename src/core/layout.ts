/**
 * The one place that knows every offset into this project's SharedArrayBuffers.
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
 *                                           unregisterThread (store 0), releaseSlot (CAS tid+1 -> -1,
 *                                           then store 0: concurrent releasers act once)
 *   CLAIMS        +2                        registerThread               stats()                Atomics.add
 * snapshot      48 + 16 * maxThreads  maxThreads, rounded up to 16 (marks flavor only)
 *                                     leader (holds GP_LOCK)       leader, its resumer    L/S
 *   SNAP[slot]                              the slot's CTR without WAIT as the step-1 scan saw it; the
 *                                           grace period waits while CTR still holds that mark; the
 *                                           leader zeroes an entry once its section is seen to end
 * ```
 */

/** Word size, in bytes, of every shared Int32 view. */
export const WORD_BYTES = 4;
/** One cache line in 32-bit words: per-thread slots are padded to this. */
export const LINE_WORDS = 16;

// ---------------------------------------------------------------------------------------------
// RCU buffer
// ---------------------------------------------------------------------------------------------

/** Bumped whenever any RCU_* index or encoding below changes; `Rcu.attach` refuses a mismatch. */
export const RCU_LAYOUT_VERSION = 3;
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
/** OWNER while a `releaseSlot` is freeing the slot. */
export const RCU_OWNER_RELEASING = -1;

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

// =============================================================================================
// IOASID space buffer (`IoasidSpace.create`)
// =============================================================================================
//
// One Int32Array<SharedArrayBuffer> per space; the space's Rcu has its own buffer (above).
// Word indices of the variable regions depend on four parameters stored in the header
// (pasidBits, maxSets, maxIoasids, maxThreads); `spaceGeometry()` computes them, identically
// in `create()` and `attach()`, and `attach()` checks MAGIC, VERSION and the total length.
//
// Access column, in addition to the RCU table's: "plain (owner)" = ordinary typed-array
// reads/writes by the one thread that owns the word at that moment (a thread's own slot
// region, a record that is private because it is in that thread's cache or retire batch, or
// not yet published); other threads read such words only after the owner is dead
// (`releaseThread`, with Atomics) or racily for statistics. Why plain: each such store must
// directly follow the atomic operation it records, with no call in between, because a
// terminated worker stops only at calls and loop back-edges (see "Kill points" in space.ts).
//
// ```text
// region        word index            words            writer(s)              reader(s)          access
// header        0                     16               create() only          attach(), all      immutable after publish
//   MAGIC         0                                      'IOAS'
//   VERSION       1                                      SPACE_LAYOUT_VERSION
//   PASID_BITS    2                                      ids live in [1, 2^PASID_BITS - 1]
//   MAX_SETS      3                                      set-table slots
//   MAX_IOASIDS   4                                      record-pool size
//   POLICY        5                                      0 lowest, 1 cyclic
//   RETIRE_BATCH  6                                      records per batch (1..SPACE_RETIRE_BATCH)
//   MAX_THREADS   7                                      thread slots (= the Rcu's reader slots)
//   FAULT         8                                      0 none, 1 reclaim-without-gp, 2 quota-check-then-act
// capacity      16                    16 (one line)
//   CAPACITY      16                                     installCapacity (set lock)  all      L/S
//   AVAILABLE     17                                     reserve/cancel, setAlloc,   all      CAS loop / Atomics.add
//                                                        set destruction
//   INSTALLED     18                                     installCapacity (set lock)  same     L/S; 0/1
// set lock      32                    16 (one line)    setAlloc/findMmSet/install waiters    futex mutex: 0 free, else
//                                                                                              owner slot + 1, | bit 30
//                                                                                              when waiters may sleep
// spid lock     48                    16 (one line)    attach/detachSpid, reclaim waiters    futex mutex, as above
// free stack    64                    16 (one line)    cache refill (pop),        refill     CAS; [tag:12 | idx+1:20] of the
//                                                      drain (push)                          top batch's head record
// limbo stack   80                    16 (one line)    batch push, drain          drain      CAS push / exchange-all;
//                                                                                              idx+1 of the newest batch's
//                                                                                              head, 0 = empty
// cyclic next   96                    16 (one line)    alloc (policy cyclic)      alloc      L/S; a hint only
// stats         112                   16 (one line)    failing paths, drain,      stats()    Atomics.add / load
//                                                      find, releaseThread
//   ENOSPC 112, EDQUOT 113, ENOMEM 114, RECYCLED 115, DRAINS 116, SET_DESTROYED 117,
//   RECYCLED_UNDER_READER 118, THREADS_RECOVERED 119
// thread slots  128                   16 * maxThreads  see TS_* below; slot k belongs to the thread whose Rcu reader
//                                                      slot is k; padded to 64 bytes
//   STATE         +0                                   attach (1), detach (0),    all        CAS / L/S: 0 unused,
//                                                      releaseThread (2, then 0)             1 attached, 2 recovering
//   OP            +1                                   owner                      releaseThread plain (owner); intent:
//                                                                                              op | phase << 4 (TS_OP_*)
//   SET, ID, REC  +2, +3, +4                           owner                      releaseThread plain (owner); operands
//   AUX           +5                                   owner                      releaseThread plain (owner); e.g. units
//   CACHE_HEAD    +6                                   owner                      releaseThread, plain (owner); idx+1 of the
//   CACHE_COUNT   +7                                                              stats()    first free record it owns
//   BATCH_HEAD    +8                                   owner                      same       plain (owner); idx+1 of the
//   BATCH_COUNT   +9                                                                         newest retired record
//   DRAIN_REST    +10                                  owner, during a drain      releaseThread plain (owner); limbo
//   DRAIN_READY   +11, READY_TAIL +12                                                        batches a drain holds
//   DRAIN_KEEP    +13, KEEP_TAIL +14
//   CAP           +15                                  owner                      releaseThread plain (owner); capacity
//                                                                                              units taken from a destroyed
//                                                                                              set, not yet back in AVAILABLE
// id bitmap     threadsBase + 16*T    2^bits / 32      alloc (CAS set), reclaim   alloc      CAS loop / Atomics.and;
//                                     (at least 1)     (Atomics.and clear)                     bit 0 of word 0 (id 0)
//                                                                                              is set at create()
// id map        bitmapBase + bW       2^bits           alloc (publish store),     find, get, L/S; 0 = no record, else
//                                                      reclaim (store 0)          put, free  [gen:12 | idx+1:20]: the
//                                                                                              record and its generation
// set table     mapBase + 2^bits      16 * maxSets     see SET_* below; each slot padded to 64 bytes
//   COUNT         +0                                   alloc/reclaim/setFree/     all        CAS loop;
//                                                      setAlloc                              [gen:8 | DEAD | PENDING | count:21]
//   TYPE          +1                                   setAlloc (set lock),       all        L/S, valid while COUNT's
//   TOKEN         +2                                   before COUNT is published             gen is unchanged
//   QUOTA         +3
// records       setsBase + 16*sets    9 * maxIoasids   see REC_* below (not padded: records are not per-CPU)
//   STATE         +0                                   publish (plain, private),  all        CAS loop after publish;
//                                                      get/put/free, SPID ops                [gen:12 | refs:17 | SPID | st:2]
//   KEY           +1                                   publish (plain, private)   find, free immutable after publish:
//   ID            +2                                                              findBySpid [gen:12 | 0:4 | set:16]; id
//   DATA          +3                                   publish (plain, private),  find       L/S/CAS after publish
//                                                      attach/detachData
//   SPID          +4                                   SPID ops (spid lock)       findBySpid L/S; -1 = none (also
//                                                                                              on every free record)
//   NEXT          +5                                   owner of the record        owner      plain (owner); idx+1 of the
//                                                                                              next record of its batch
//   COOKIE        +6                                   batch push (batch head)    drain      L/S; RCU cookie mod 2^31
//   BATCH_NEXT    +7                                   stack push (batch head)    pop, drain L/S; idx+1 of the next
//                                                                                              batch's head
//   BATCH_COUNT   +8                                   batch push (batch head)    refill     L/S; records in the batch
// spid table    recordsBase + 9*maxI  spidBuckets      attach/detachSpid, reclaim findBySpid L/S under spid lock
//                                     (pow2 >= 2*maxI)  (all under spid lock)                  (readers lock-free);
//                                                                                              0 empty, -1 tombstone,
//                                                                                              else record idx + 1
// ```
// ---------------------------------------------------------------------------------------------

/** Bumped whenever any SPACE_* index or encoding changes; `IoasidSpace.attach` refuses a mismatch. */
export const SPACE_LAYOUT_VERSION = 2;
/** 'IOAS' in ASCII: the first word of every space buffer. */
export const SPACE_MAGIC = 0x494f4153;

export const SPACE_MAGIC_WORD = 0;
export const SPACE_VERSION_WORD = 1;
export const SPACE_PASID_BITS_WORD = 2;
export const SPACE_MAX_SETS_WORD = 3;
export const SPACE_MAX_IOASIDS_WORD = 4;
export const SPACE_POLICY_WORD = 5;
export const SPACE_RETIRE_BATCH_WORD = 6;
export const SPACE_MAX_THREADS_WORD = 7;
export const SPACE_FAULT_WORD = 8;
/** Values of SPACE_POLICY_WORD. */
export const SPACE_POLICY_LOWEST = 0;
export const SPACE_POLICY_CYCLIC = 1;
/** Values of SPACE_FAULT_WORD (fault injection for the stress harness's self-tests). */
export const SPACE_FAULT_NONE = 0;
export const SPACE_FAULT_RECLAIM_WITHOUT_GP = 1;
export const SPACE_FAULT_QUOTA_CHECK_THEN_ACT = 2;

export const SPACE_CAPACITY_WORD = 16;
export const SPACE_AVAILABLE_WORD = 17;
export const SPACE_INSTALLED_WORD = 18;
export const SPACE_SET_LOCK_WORD = 32;
export const SPACE_SPID_LOCK_WORD = 48;
export const SPACE_FREE_HEAD_WORD = 64;
export const SPACE_LIMBO_HEAD_WORD = 80;
export const SPACE_CYCLIC_NEXT_WORD = 96;

export const SPACE_STAT_ENOSPC_WORD = 112;
export const SPACE_STAT_EDQUOT_WORD = 113;
export const SPACE_STAT_ENOMEM_WORD = 114;
export const SPACE_STAT_RECYCLED_WORD = 115;
export const SPACE_STAT_DRAINS_WORD = 116;
export const SPACE_STAT_SET_DESTROYED_WORD = 117;
export const SPACE_STAT_RECYCLED_UNDER_READER_WORD = 118;
export const SPACE_STAT_THREADS_RECOVERED_WORD = 119;

/** First word of the thread-slot region; everything before it is fixed-size. */
export const SPACE_THREADS_WORD = 128;

/** Largest supported pasidBits (PCIe PASIDs are 20 bits; set counts are 21-bit fields). */
export const SPACE_MAX_PASID_BITS = 20;
/** Largest supported maxSets: a record's KEY holds the set in 16 bits. */
export const SPACE_MAX_SETS = 65536;

/** SPACE_SET_LOCK_WORD / SPACE_SPID_LOCK_WORD: 0 free, else owner tag (slot + 1) | CONTENDED. */
export const SPACE_LOCK_FREE = 0;
export const SPACE_LOCK_CONTENDED = 1 << 30;
export const SPACE_LOCK_OWNER_MASK = SPACE_LOCK_CONTENDED - 1;

/** Free-stack head encoding: low 20 bits batch-head index + 1, high 12 bits an ABA tag. */
export const SPACE_STACK_IDX_MASK = 0xfffff;
export const SPACE_STACK_TAG_SHIFT = 20;
export const SPACE_STACK_TAG_MASK = 0xfff;

// Thread slot (one per Rcu reader slot).
export const SPACE_TS_WORDS = LINE_WORDS;
export const TS_STATE = 0;
export const TS_OP = 1;
export const TS_SET = 2;
export const TS_ID = 3;
export const TS_REC = 4;
export const TS_AUX = 5;
export const TS_CACHE_HEAD = 6;
export const TS_CACHE_COUNT = 7;
export const TS_BATCH_HEAD = 8;
export const TS_BATCH_COUNT = 9;
export const TS_DRAIN_REST = 10;
export const TS_DRAIN_READY = 11;
export const TS_DRAIN_READY_TAIL = 12;
export const TS_DRAIN_KEEP = 13;
export const TS_DRAIN_KEEP_TAIL = 14;
export const TS_CAP = 15;
/** TS_STATE values. */
export const TS_UNUSED = 0;
export const TS_ATTACHED = 1;
export const TS_RECOVERING = 2;
/** TS_OP: the operation in flight (low 4 bits) and how far it got (phase << 4). */
export const TS_OP_NONE = 0;
/** alloc: phase 1 holds a quota unit of SET; phase 2 also holds id ID's bit. */
export const TS_OP_ALLOC = 1;
/** reclaim of record REC (id ID, set SET, map word AUX) after winning the STATE CAS to FREE:
 * phase 0 owns it all; phase 1 released the bit; phase 2 also released the quota unit. */
export const TS_OP_RECLAIM = 2;
/** setAlloc: phase 1 holds AUX units of capacity not yet published as a set. */
export const TS_OP_SET_ALLOC = 3;
/** installCapacity: phase 1 swung AVAILABLE to AUX; CAPACITY/INSTALLED not yet written. */
export const TS_OP_INSTALL = 4;
export const TS_OP_MASK = 15;
export const TS_PHASE_SHIFT = 4;
export const TS_PHASE_1 = 1 << TS_PHASE_SHIFT;
export const TS_PHASE_2 = 2 << TS_PHASE_SHIFT;

// Set slot.
export const SPACE_SET_WORDS = LINE_WORDS;
export const SET_COUNT = 0;
export const SET_TYPE = 1;
export const SET_TOKEN = 2;
export const SET_QUOTA = 3;
/** SET_TOKEN value for the NULL token. */
export const SET_TOKEN_NULL = -1;
/** SET_COUNT encoding: live-id count, two flags and a generation bumped at each creation. */
export const SET_COUNT_MASK = 0x1fffff;
export const SET_PENDING = 1 << 21;
export const SET_DEAD = 1 << 22;
export const SET_GEN_SHIFT = 23;
export const SET_GEN_MASK = 0xff;

// Record.
export const SPACE_REC_WORDS = 9;
export const REC_STATE = 0;
export const REC_KEY = 1;
export const REC_ID = 2;
export const REC_DATA = 3;
export const REC_SPID = 4;
export const REC_NEXT = 5;
/** On a limbo batch's head record: its RCU cookie modulo 2^31 (compared by serial arithmetic). */
export const REC_COOKIE = 6;
/** On a batch's head record: idx+1 of the next batch's head on the same stack. */
export const REC_BATCH_NEXT = 7;
/** On a batch's head record: how many records the batch holds. */
export const REC_BATCH_COUNT = 8;
/** Most records per batch (see RETIRE_BATCH). */
export const SPACE_RETIRE_BATCH = 64;
/** REC_SPID value for "no SPID" (INVALID_IOASID as an Int32). */
export const REC_SPID_NONE = -1;
/** REC_STATE encoding. The generation occupies the same high 12 bits in STATE, KEY and the
 * id-map word, so "same incarnation" is `((a ^ b) & REC_GEN_BITS) === 0`. */
export const REC_ST_MASK = 3;
export const REC_ST_FREE = 0;
export const REC_ST_LIVE = 1;
export const REC_ST_PENDING = 2;
/** REC_STATE: a SPID is (or may be) hashed for this record; the reclaimer must unhash it. */
export const REC_HAS_SPID = 4;
export const REC_REFS_SHIFT = 3;
export const REC_REFS_MASK = 0x1ffff;
export const REC_REF_ONE = 1 << REC_REFS_SHIFT;
export const REC_GEN_SHIFT = 20;
export const REC_GEN_MASK = 0xfff;
/** The generation bits of STATE, KEY and an id-map word (as an Int32). */
export const REC_GEN_BITS = ~0xfffff;
/** REC_KEY: the owning set. */
export const REC_KEY_SET_MASK = 0xffff;
/** Id-map word: record index + 1. */
export const MAP_IDX_MASK = 0xfffff;

/** SPID table entries. */
export const SPID_EMPTY = 0;
export const SPID_TOMBSTONE = -1;

/** Word indices of the variable-size regions of one space buffer. */
export interface SpaceGeometry {
  readonly pasidBits: number;
  /** 2^pasidBits: the number of id-map words (ids 0 .. idCount - 1; id 0 is reserved). */
  readonly idCount: number;
  readonly maxSets: number;
  readonly maxIoasids: number;
  readonly maxThreads: number;
  readonly threadsBase: number;
  readonly bitmapBase: number;
  readonly bitmapWords: number;
  readonly mapBase: number;
  readonly setsBase: number;
  readonly recordsBase: number;
  readonly spidBase: number;
  /** A power of two, at least 2 * maxIoasids. */
  readonly spidBuckets: number;
  readonly totalWords: number;
}

/** Compute the region offsets of a space buffer; pure, identical in create() and attach(). */
export function spaceGeometry(
  pasidBits: number,
  maxSets: number,
  maxIoasids: number,
  maxThreads: number,
): SpaceGeometry {
  // Integer arithmetic only (shifts, `| 0`): V8 keeps these as small integers, so index
  // arithmetic on the hot paths stays int32 (`2 ** n` would be a double, and every index
  // derived from it would be computed in floating point).
  const idCount = (1 << pasidBits) | 0;
  const bitmapWords = Math.max(1, idCount >>> 5) | 0;
  const threadsBase = SPACE_THREADS_WORD;
  const bitmapBase = (threadsBase + maxThreads * SPACE_TS_WORDS) | 0;
  const mapBase = (bitmapBase + bitmapWords) | 0;
  const setsBase = (mapBase + idCount) | 0;
  const recordsBase = (setsBase + maxSets * SPACE_SET_WORDS) | 0;
  const spidBase = (recordsBase + maxIoasids * SPACE_REC_WORDS) | 0;
  let spidBuckets = 2;
  while (spidBuckets < 2 * maxIoasids) spidBuckets <<= 1;
  return {
    pasidBits,
    idCount,
    maxSets,
    maxIoasids,
    maxThreads,
    threadsBase,
    bitmapBase,
    bitmapWords,
    mapBase,
    setsBase,
    recordsBase,
    spidBase,
    spidBuckets,
    totalWords: spidBase + spidBuckets,
  };
}

/**
 * The geometry recorded in a space buffer's header: what `attach()` and every white-box
 * reader (thread recovery, the stress harness's probe, tests) compute offsets from. Header
 * words are immutable after create().
 */
export function spaceHeaderGeometry(i32: Int32Array<SharedArrayBuffer>): SpaceGeometry {
  return spaceGeometry(
    Atomics.load(i32, SPACE_PASID_BITS_WORD),
    Atomics.load(i32, SPACE_MAX_SETS_WORD),
    Atomics.load(i32, SPACE_MAX_IOASIDS_WORD),
    Atomics.load(i32, SPACE_MAX_THREADS_WORD),
  );
}

/** First word of thread slot `slot`. */
export function threadSlotWord(g: SpaceGeometry, slot: number): number {
  return g.threadsBase + slot * SPACE_TS_WORDS;
}
