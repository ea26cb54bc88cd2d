/**
 * The one place that knows every offset into an IOASID space's SharedArrayBuffer.
 *
 * The space's Rcu has its own buffer, laid out in `../rcu/rcu-layout.ts`. Conventions
 * (word indices, the access column, "immutable after publish") are those of that file.
 */

import { LINE_WORDS } from '../cache-line.js';

// =============================================================================================
// IOASID space buffer (`IoasidSpace.create`)
// =============================================================================================
//
// One Int32Array<SharedArrayBuffer> per space; the space's Rcu has its own buffer (`../rcu/rcu-layout.ts`).
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
// terminated worker stops only at calls and loop back-edges (see "Kill points" in space-core.ts).
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
//   ID            +2                                                              findBySpid [gen:12 | 0:3 | CUSTOM |
//                                                                                              set:16]; id
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
export const SPACE_LAYOUT_VERSION = 3;
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
/** REC_KEY bit 16: the id came from a custom allocator group (allocator-registry.ts); its
 * reclaim gives it back to the group. Set at publish, immutable like the rest of KEY. */
export const REC_KEY_CUSTOM = 1 << 16;
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
