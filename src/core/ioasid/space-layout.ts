/**
 * The one place that knows every offset into an IOASID space's SharedArrayBuffer.
 *
 * The space's Rcu has its own buffer, laid out in `../rcu/rcu-layout.ts`. Conventions
 * (word indices, the access column, "immutable after publish") are those of that file.
 */

import { GUARD_WORDS, LINE_WORDS } from '../cache-line.js';

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
//   FAULT         8                                      0 none, 1 reclaim-without-gp, 2 quota-check-then-act,
//                                                        3 narrow-incarnation, 4 magazine-no-steal
//   RCU_TAG       9                                      random, non-zero; equal to the RCU_TAG of the space's Rcu
//                                                        (attach refuses a space paired with another Rcu)
// capacity      16                    16 (one line)
//   CAPACITY      16                                     installCapacity (set lock)  all      L/S
//   AVAILABLE     17                                     reserve/cancel, setAlloc,   all      CAS loop / Atomics.add
//                                                        set destruction
//   INSTALLED     18                                     installCapacity (set lock)  same     L/S; 0/1
//   MIRROR_LOCK   19                                     HOOKS mirror sweeps, set    waiters  futex mutex (leaf lock);
//                                                        creation (hooks-mirror.ts)           rare: registrations only
//   MIRROR        20                                     mirror-lock holder          same     L/S; MIRROR_OFF/ON/DIRTY
// set lock      32                    16 (one line)    setAlloc/findMmSet/install waiters    futex mutex: 0 free, else
//                                                                                              owner slot + 1, | bit 30
//                                                                                              when waiters may sleep
// spid lock     48                    16 (one line)    attach/detachSpid          waiters    futex mutex, as above
// free stack    64                    16 (one line)    cache refill (pop),        refill     CAS; [tag:12 | idx+1:20] of the
//                                                      drain (push)                          top batch's head record
// limbo stack   80                    16 (one line)    batch push, drain          drain      CAS push / exchange-all;
//                                                                                              idx+1 of the newest batch's
//                                                                                              head, 0 = empty
// cyclic next   96                    16 (one line)    alloc (policy cyclic)      alloc      L/S; a hint only
//   ID_HIGH       97                                   alloc, before its publish, set walks  CAS-max loop / load;
//                                                      only when the id is above             highest id ever published:
//                                                      what the thread saw last              walks stop there
// stats         112                   16 (one line)    failing paths, drain,      stats()    Atomics.add / load
//                                                      find, releaseThread
//   ENOSPC 112, EDQUOT 113, ENOMEM 114, RECYCLED 115, DRAINS 116, SET_DESTROYED 117,
//   RECYCLED_UNDER_READER 118, THREADS_RECOVERED 119
//   SPID_TOMBSTONES 120                                reclaim (lock-free unhash) attachSpid Atomics.add / load,
//                                                                                 (SPID lock) store 0 after a sweep
// thread slots  128                   64 * maxThreads  see TS_* below; slot k belongs to the thread whose Rcu reader
//                                                      slot is k; three 64-byte lines of words and a guard
//                                                      line (cache-line.ts: a buffer starts 16 bytes past a line)
//   STATE         +0                                   attach, detach,            all        CAS / L/S: [recoverer:13 <<
//                                                      releaseThread                         8 | state:2]
//   OP            +1                                   owner; its recoverer       recoverer  plain; intent and phase
//                                                                                              (TS_OP_*, table below)
//   SET, ID, REC  +2, +3, +4                           owner; its recoverer       recoverer  plain; operands
//   AUX           +5                                   owner; its recoverer       recoverer  plain; e.g. units, map word
//   CACHE_HEAD    +6                                   owner; its recoverer       recoverer, plain; idx+1 of the
//   CACHE_COUNT   +7                                                              stats()    first free record it owns
//   BATCH_HEAD    +8                                   owner; its recoverer       same       plain; idx+1 of the
//   BATCH_COUNT   +9                                                                         newest retired record
//   DRAIN_REST    +10                                  owner, during a drain;     recoverer  plain; limbo batches a
//   DRAIN_READY   +11, READY_TAIL +12                  its recoverer                         drain holds
//   DRAIN_KEEP    +13, KEEP_TAIL +14
//   CAP           +15                                  owner; its recoverer       recoverer  plain; capacity units
//                                                                                              taken from a destroyed
//                                                                                              set, not yet back in
//                                                                                              AVAILABLE
//   RESERVED      +16                                  owner (reserve/cancel      recoverer  plain; capacity the thread
//                                                      Capacity); its recoverer              holds outside any set
//   RECOVERING    +17                                  the thread, while it runs  recoverer  plain; slot + 1 of the slot
//                                                      releaseThread                         it is recovering, 0 none
//   RECOVERED     +18                                  the slot's recoverer       attach     plain / load; 1 once the
//                                                                                              recovery is complete and
//                                                                                              the Rcu slot released
//   SET_FREEING   +19                                  setFree (right after its   recoverer  plain; set + 1 of a set
//                                                      PENDING CAS); its                     marked PENDING whose
//                                                      recoverer                             parked charges are still
//                                                                                              to be swept, 0 none
//   OWN_HEAD      +20                                  owner (exchange/store);    thieves    exchange / store: idx+1 of the
//                                                      thieves and recoverer                 oldest batch of the own ring
//                                                      (exchange to 0)                       (records.ts "Own ring"), 0 none
//   OWN_TAIL, OWN_BATCHES +21, +22                     owner; its recoverer       recoverer  plain; newest batch, batch count
//   OWN_RECYCLED  +23                                  owner                      stats()    plain; records taken from the ring
//   OWN_HELD      +32                                  owner; its recoverer       recoverer  plain; the ring while the owner
//                                                                                              has it out of OWN_HEAD
//   MAG           +24..+31                             owner (take: CAS id -> 0;  owner:     id magazine (id-magazine.ts):
//                                                      put: store 0 -> id),       plain      0 empty, id > 0 cached (its bit
//                                                      thieves, recoverer         hint;      set, its map word 0)
//                                                      (CAS id -> 0)              others L
//   (guard)       +48..+63                             nobody                                cache-line.ts GUARD_WORDS
// id bitmap     threadsBase + 64*T    2^bits / 32      alloc (CAS set), reclaim   alloc      CAS loop / Atomics.and;
//                                     (at least 1)     (Atomics.and clear)                     bit 0 of word 0 (id 0)
//                                                                                              is set at create()
// id map        bitmapBase + bW       2^bits           alloc (publish store),     find, get, L/S; 0 = no record, else
//                                                      reclaim (store 0)          put, free  [gen:12 | idx+1:20]: the
//                                                                                              record and its generation.
//                                                                                              Id `id`'s word is at
//                                                                                              mapSlot(g, id): consecutive
//                                                                                              ids on different lines
// set table     mapBase + 2^bits      16 * maxSets     see SET_* below; each slot padded to 64 bytes
//   COUNT         +0                                   alloc/reclaim/setFree      all        CAS loop;
//                                                      (set lock)/setAlloc                   [count - quota:29 (signed) |
//                                                      (set + mirror lock),                  HOOKED | DEAD | PENDING];
//                                                      mirror sweeps                         < 0 = room
//   TYPE          +1                                   setAlloc (set lock),       setInfo,   L/S; valid for the COUNT
//   TOKEN         +2                                   before COUNT is published  findMmSet, published after them (SEQ)
//   QUOTA         +3                                                              release
//   SEQ           +4                                   setAlloc (set lock)        setInfo    L/S; seqlock of TYPE/TOKEN/
//                                                                                              QUOTA: odd while rewritten
// records       setsBase + 16*sets    10 * maxIoasids  see REC_* below (not padded: records are not per-CPU)
//   STATE         +0                                   publish (plain, private),  all        CAS loop after publish;
//                                                      get/put/free, SPID ops                [gen:12 | refs:17 | SPID | st:2]
//   INC           +1                                   publish (plain, private)   free (its  immutable after publish;
//                                                                                 hint)      the 32-bit incarnation,
//                                                                                              +1 per publish; gen = its
//                                                                                              low 12 bits
//   KEY           +2                                   publish (plain, private)   find, free immutable after publish:
//   ID            +3                                                              findBySpid [gen:12 | 0:3 | CUSTOM |
//                                                                                              set:16]; id
//   DATA          +4                                   publish (plain, private),  find       L/S/CAS after publish
//                                                      attach/detachData
//   SPID          +5                                   attach/detachSpid (spid    findBySpid L/S/CAS; -1 = none (also
//                                                      lock), reclaim (CAS)                  on every free record)
//   NEXT          +6                                   owner of the record        owner      plain (owner); idx+1 of the
//                                                                                              next record of its batch
//   COOKIE        +7                                   batch push (batch head)    drain      L/S; RCU cookie mod 2^31
//   BATCH_NEXT    +8                                   stack push (batch head)    pop, drain L/S; idx+1 of the next
//                                                                                              batch's head
//   BATCH_COUNT   +9                                   batch push (batch head)    refill     L/S; records in the batch
// spid table    recordsBase + 10*maxI spidBuckets      attach/detachSpid (spid   findBySpid L/S under spid lock;
//                                     (pow2 >= 2*maxI) lock); reclaim (CAS entry            CAS entry -> tombstone
//                                                      -> tombstone, no lock)                (reclaim); 0 empty,
//                                                                                              -1 tombstone, else
//                                                                                              record idx + 1
// ```
//
// Who writes a thread slot's words: its owner thread, with plain stores, right after the atomic
// step each records (kill point rule); once the owner is dead, exactly one recoverer at a time
// (the one named in STATE), also with plain stores, which continue the dead thread's intents in
// the dead thread's own words (thread-recovery.ts). "Plain" is safe because no two threads
// write the words at once and a reader after a death learns of it through the death (the
// worker's exit), as for any word the dead thread left.
//
// Intents (TS_OP = op | phase << 4): what an operation in flight holds after each atomic step.
// Every phase is recorded with no call between it and the step it names, so "phase p" means
// "steps 1..p done, p + 1.. not done"; recovery continues from there, step by step, each
// followed by its phase like the operation itself.
//
// ```text
// intent          phase  recorded right after                   holds                         recovery continues with
// alloc           1      CAS COUNT (a quota unit)               unit of SET                   release the unit
//                 2      CAS bit (ID)                           + id ID's bit                 release the bit, -> 1
//                 3      pop of record REC from the cache       + record REC (not published)  REC back to the cache, -> 2
//                 none   store of the map word (the publish)
// reclaim         0      CAS STATE -> FREE of record AUX        map word AUX of id ID, set    unhash its SPID, clear the
//                                                               SET, the bit, the unit        map word, release the bit
//                 1      Atomics.and of the bit, or the         the unit, the record          release the unit
//                        Atomics.store of ID into an empty
//                        entry without a charge
//                 2      CAS COUNT (unit released), or the      the record                    link it into the batch
//                        Atomics.store of ID into an empty
//                        entry charged to SET (the entry
//                        keeps the bit and the unit)
//                 none   link into the retire batch
// setAlloc        1      CAS AVAILABLE (AUX units)              AUX units, not a set yet      return them
//                 none   store of COUNT (the publish)
// install         1      CAS AVAILABLE -> AUX                   CAPACITY/INSTALLED unwritten  write them
// attachSpid      1      CAS STATE (HAS_SPID) of record AUX     SPID lock; binding of ID in   finish the binding (under
//                                                               set SET half written          the dead thread's lock)
// detachSpid      1      (recorded before its first step)       SPID lock; binding of ID in   finish the unbinding (same)
//                                                               set SET half removed
//                 4      CAS of a magazine entry charged to    + a unit of set AUX           release that unit, -> 2
//                        set AUX (the id's bit comes with it)
// magazine        1      CAS of a magazine entry ID -> 0        id ID's bit (not published),  release the bit, -> 2
//   return               (detach, recovery of a dead slot,      the entry's unit of SET       (or none if SET is -1)
//                        reclaim before -EDQUOT, set free)
//                 2      Atomics.and of the bit                 the unit of SET               release the unit
// setFree sweep   (its own word SET_FREEING = set + 1, kept across the take-backs it makes, each
//                 its own magazine-return intent above): recorded right after the CAS that marks
//                 the set PENDING; owes the take-back of the set's parked charges from every
//                 magazine; recovery, after the intent: sweep again (magazineReclaim), clear it
// ```
// ---------------------------------------------------------------------------------------------

/** Bumped whenever any SPACE_* index or encoding changes; `IoasidSpace.attach` refuses a mismatch. */
export const SPACE_LAYOUT_VERSION = 10;
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
export const SPACE_RCU_TAG_WORD = 9;
/** Words of the header region (all immutable after create()). */
export const SPACE_HEADER_WORDS = 16;
/** Values of SPACE_POLICY_WORD. */
export const SPACE_POLICY_LOWEST = 0;
export const SPACE_POLICY_CYCLIC = 1;
/** Values of SPACE_FAULT_WORD (fault injection for the stress harness's self-tests). */
export const SPACE_FAULT_NONE = 0;
export const SPACE_FAULT_RECLAIM_WITHOUT_GP = 1;
export const SPACE_FAULT_QUOTA_CHECK_THEN_ACT = 2;
/** REC_INC wraps at 2^12, with the generation: the hint check of `free` as weak as before issue 8. */
export const SPACE_FAULT_NARROW_INCARNATION = 3;
/** An alloc that finds no free id in the bitmap returns -ENOSPC without stealing from other
 * threads' magazines: their cached ids are lost to everyone else. */
export const SPACE_FAULT_MAGAZINE_NO_STEAL = 4;
/** A magazine entry taken back (detach, a dead thread's recovery, a reclaim before -EDQUOT, a
 * set's free) releases its id's bit but forgets the quota charge it carried: the set's quota
 * shrinks for good. */
export const SPACE_FAULT_MAGAZINE_FORGET_CHARGE = 5;
/** A refill takes its own ring's oldest batch without waiting for its grace period
 * (records.ts "Own ring"): records come back to a reader that may still hold them. */
export const SPACE_FAULT_OWN_RING_EARLY = 6;

export const SPACE_CAPACITY_WORD = 16;
export const SPACE_AVAILABLE_WORD = 17;
export const SPACE_INSTALLED_WORD = 18;
/**
 * The HOOKS mirror (hooks-mirror.ts): a lock (encoded as the set lock) that serializes the
 * sweeps copying "the hooks buffer's HOOKS word is non-zero" into SET_HOOKED of every live
 * set, and the state the sweeps left (MIRROR_*), written only under that lock. A leaf lock:
 * its holder takes no other lock and waits for nothing.
 */
export const SPACE_MIRROR_LOCK_WORD = 19;
export const SPACE_MIRROR_WORD = 20;
/** Values of SPACE_MIRROR_WORD: every live set's SET_HOOKED clear / set / unknown (a sweep
 * in progress, or killed midway). */
export const MIRROR_OFF = 0;
export const MIRROR_ON = 1;
export const MIRROR_DIRTY = 2;
export const SPACE_SET_LOCK_WORD = 32;
export const SPACE_SPID_LOCK_WORD = 48;
export const SPACE_FREE_HEAD_WORD = 64;
export const SPACE_LIMBO_HEAD_WORD = 80;
export const SPACE_CYCLIC_NEXT_WORD = 96;
/**
 * The highest id ever published (monotone; 0 until the first). Raised before the publish, so
 * every id live when a walk loads it is at or below it: setForEachIoasid and freeAllInSet
 * scan [1, ID_HIGH] instead of the whole id space.
 */
export const SPACE_ID_HIGH_WORD = 97;

export const SPACE_STAT_ENOSPC_WORD = 112;
export const SPACE_STAT_EDQUOT_WORD = 113;
export const SPACE_STAT_ENOMEM_WORD = 114;
export const SPACE_STAT_RECYCLED_WORD = 115;
export const SPACE_STAT_DRAINS_WORD = 116;
export const SPACE_STAT_SET_DESTROYED_WORD = 117;
export const SPACE_STAT_RECYCLED_UNDER_READER_WORD = 118;
export const SPACE_STAT_THREADS_RECOVERED_WORD = 119;
/** Tombstones left by lock-free SPID unhashes since the last sweep (spid.ts). */
export const SPACE_SPID_TOMBSTONES_WORD = 120;

/** First word of the thread-slot region; everything before it is fixed-size. */
export const SPACE_THREADS_WORD = 128;

/** Largest supported pasidBits (PCIe PASIDs are 20 bits; the id map holds 20-bit indices). */
export const SPACE_MAX_PASID_BITS = 20;
/** Largest supported maxSets: a record's KEY holds the set in 16 bits. */
export const SPACE_MAX_SETS = 65536;
/** Largest supported maxIoasids: map words and stack heads hold idx + 1 in 20 bits. */
export const SPACE_MAX_IOASIDS = 2 ** 20 - 2;
/** Largest supported maxThreads: the Rcu's limit (and a recoverer tag fits in STATE). */
export const SPACE_MAX_THREADS = 4096;
/**
 * The inclusive range of each geometry parameter: what `IoasidSpace.create` accepts and what
 * `attach` checks a header against (space-header.ts).
 */
export const SPACE_LIMITS = Object.freeze({
  pasidBits: [1, SPACE_MAX_PASID_BITS],
  maxSets: [1, SPACE_MAX_SETS],
  maxIoasids: [1, SPACE_MAX_IOASIDS],
  maxThreads: [1, SPACE_MAX_THREADS],
} as const);

/** SPACE_SET_LOCK_WORD / SPACE_SPID_LOCK_WORD: 0 free, else owner tag (slot + 1) | CONTENDED. */
export const SPACE_LOCK_FREE = 0;
export const SPACE_LOCK_CONTENDED = 1 << 30;
export const SPACE_LOCK_OWNER_MASK = SPACE_LOCK_CONTENDED - 1;

/** Free-stack head encoding: low 20 bits batch-head index + 1, high 12 bits an ABA tag. */
export const SPACE_STACK_IDX_MASK = 0xfffff;
export const SPACE_STACK_TAG_SHIFT = 20;
export const SPACE_STACK_TAG_MASK = 0xfff;

/**
 * Thread slot (one per Rcu reader slot): words 0..31 are written by their owner on every
 * operation, 32..47 once per batch (TS_OWN_HELD), 48..63 are a guard line that nobody touches, so that no real cache line holds
 * words of two slots however the buffer sits (cache-line.ts GUARD_WORDS). Without it, slot k's
 * magazine entries 4..7 shared a line with slot k+1's TS_OP..: alloc+free on 2 CPUs cost about
 * twice the CPU per op in the runs where a worker's id sat in those entries (bench/FINDINGS.md).
 */
export const SPACE_TS_WORDS = 3 * LINE_WORDS + GUARD_WORDS;
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
/** Capacity units this thread holds through reserveCapacity (given back by detach/recovery). */
export const TS_RESERVED = 16;
/** Slot + 1 of the slot this thread is recovering (releaseThread), 0 when none. */
export const TS_RECOVERING_SLOT = 17;
/**
 * In a slot being recovered: non-zero once all of it, its Rcu slot release included, is done;
 * TS_RECOVERED_THREAD if the slot had a thread (the recovery counts in THREADS_RECOVERED, by
 * whoever leaves RECOVERING: the recoverer or an attach that finished it), else
 * TS_RECOVERED_RCU_ONLY (its thread died in attach before claiming the slot). Which of the
 * two is known before this word is stored: TS_RECOVERING_HELD in STATE, set by the claim.
 */
export const TS_RECOVERED = 18;
export const TS_RECOVERED_THREAD = 1;
export const TS_RECOVERED_RCU_ONLY = 2;
/**
 * Set + 1 of a set this thread's setFree marked PENDING and whose parked charges
 * (id-magazine.ts) it has not swept from every magazine yet; 0 none. Recorded right after the
 * PENDING CAS (kill point rule), cleared after the sweep; a recovery redoes the sweep
 * (thread-recovery.ts), which destroys the set if its last charge was parked. Its own word,
 * not TS_OP: each take-back of the sweep records its own intent in TS_OP/TS_SET/TS_ID.
 */
export const TS_SET_FREEING = 19;
/**
 * TS_OWN_*: this thread's own ring of sealed retire batches (records.ts "Own ring"). HEAD
 * (idx+1 of the oldest batch) is the one word of the ring other threads write: a thief takes
 * the whole ring with one exchange to 0 (flushRecords, a refill that found no record, a
 * recovery); the owner takes and puts it back with exchange/store, and only the owner stores
 * a non-zero HEAD. HELD is the chain the owner has taken out of HEAD and not yet put back
 * (kill point rule). TAIL and BATCHES are the owner's, right only while HEAD or HELD holds
 * the ring; RECYCLED counts records this thread took back from its ring (stats().recycled
 * sums every slot's; it stays with the slot across owners, nothing folds it).
 */
export const TS_OWN_HEAD = 20;
export const TS_OWN_TAIL = 21;
export const TS_OWN_BATCHES = 22;
export const TS_OWN_RECYCLED = 23;
export const TS_OWN_HELD = 32;
/** First word of the id magazine: TS_MAG_SIZE entries (id-magazine.ts), in the slot's second line. */
export const TS_MAG = 24;
/** Ids one thread's magazine holds at most; a free beyond them goes to the bitmap. */
export const TS_MAG_SIZE = 8;
/** TS_STATE: the state (low 2 bits) ... */
export const TS_STATE_MASK = 3;
export const TS_UNUSED = 0;
export const TS_ATTACHED = 1;
export const TS_RECOVERING = 2;
/**
 * ... while RECOVERING, whether the slot had a thread (it was ATTACHED when first claimed; not
 * when its thread died in attach before claiming it): set by the claim's CAS itself, so the
 * successor of a recoverer that died before storing TS_RECOVERED still knows whether the
 * recovery counts in THREADS_RECOVERED ...
 */
export const TS_RECOVERING_HELD = 4;
/** ... and, while RECOVERING, the recoverer's tag (its slot + 1) from this bit up. */
export const TS_RECOVERER_SHIFT = 8;
/** TS_OP: the operation in flight (low 4 bits) and how far it got (phase << 4). */
export const TS_OP_NONE = 0;
export const TS_OP_ALLOC = 1;
export const TS_OP_RECLAIM = 2;
export const TS_OP_SET_ALLOC = 3;
export const TS_OP_INSTALL = 4;
export const TS_OP_SPID_ATTACH = 5;
export const TS_OP_SPID_DETACH = 6;
export const TS_OP_MAG = 7;
export const TS_OP_MASK = 15;
export const TS_PHASE_SHIFT = 4;
export const TS_PHASE_1 = 1 << TS_PHASE_SHIFT;
export const TS_PHASE_2 = 2 << TS_PHASE_SHIFT;
export const TS_PHASE_3 = 3 << TS_PHASE_SHIFT;
// The phases of the intent table above, by name.
/** alloc holds a quota unit of TS_SET. */
export const TS_ALLOC_UNIT = TS_OP_ALLOC | TS_PHASE_1;
/** alloc also holds id TS_ID's bit. */
export const TS_ALLOC_BIT = TS_OP_ALLOC | TS_PHASE_2;
/** alloc also holds record TS_REC, popped from the cache and not published. */
export const TS_ALLOC_RECORD = TS_OP_ALLOC | TS_PHASE_3;
/** reclaim won the CAS to FREE of the record of map word TS_AUX (id TS_ID, set TS_SET). */
export const TS_RECLAIM_WON = TS_OP_RECLAIM;
/** reclaim released the id's bit to the bitmap, or cached the id in this thread's magazine
 * (its SPID unhashed and its map word cleared before). */
export const TS_RECLAIM_BIT_FREED = TS_OP_RECLAIM | TS_PHASE_1;
/** reclaim released the quota unit too; the record is still to be linked into the batch. */
export const TS_RECLAIM_UNIT_FREED = TS_OP_RECLAIM | TS_PHASE_2;
/** setAlloc reserved TS_AUX units of capacity for a set not yet published. */
export const TS_SET_ALLOC_RESERVED = TS_OP_SET_ALLOC | TS_PHASE_1;
/** installCapacity swung AVAILABLE to TS_AUX; CAPACITY and INSTALLED not written yet. */
export const TS_INSTALL_SWUNG = TS_OP_INSTALL | TS_PHASE_1;
/** attachSpid set HAS_SPID in the record of map word TS_AUX; binding TS_ID in set TS_SET to
 * finish, under the SPID lock it holds. */
export const TS_SPID_ATTACH_FLAGGED = TS_OP_SPID_ATTACH | TS_PHASE_1;
/** detachSpid is removing binding TS_ID (set TS_SET) of the record of map word TS_AUX, under
 * the SPID lock it holds: every step of it can be done again. */
export const TS_SPID_DETACHING = TS_OP_SPID_DETACH | TS_PHASE_1;
/** alloc also holds a quota unit of set TS_AUX: the charge of the magazine entry its id came
 * from (released next, back to phase 2). */
export const TS_ALLOC_XUNIT = TS_OP_ALLOC | (4 << TS_PHASE_SHIFT);
/** A magazine return (detach, a dead slot's recovery, a reclaim before -EDQUOT, a set's free)
 * took id TS_ID out of an entry: it holds the id's bit, to be released to the bitmap, and the
 * entry's charge, a unit of set TS_SET (-1: the entry carried none). */
export const TS_MAG_RETURNING = TS_OP_MAG | TS_PHASE_1;
/** The magazine return released the bit; it holds the unit of set TS_SET. */
export const TS_MAG_RETURN_UNIT = TS_OP_MAG | TS_PHASE_2;

// Set slot.
export const SPACE_SET_WORDS = LINE_WORDS;
export const SET_COUNT = 0;
export const SET_TYPE = 1;
export const SET_TOKEN = 2;
export const SET_QUOTA = 3;
/** SET_TOKEN value for the NULL token. */
export const SET_TOKEN_NULL = -1;
/** Seqlock word of TYPE/TOKEN/QUOTA: odd while setAlloc rewrites them (sets.ts setInfo). */
export const SET_SEQ = 4;
/**
 * SET_COUNT encoding: `(count - quota) << SET_UNIT_SHIFT | HOOKED | DEAD | PENDING`, a
 * signed field in the high 29 bits. The word is negative exactly when the set has room
 * (count < quota), so "live, not pending and below quota" is a property of the word alone: a
 * CAS that succeeds on it needs nothing read elsewhere (sets.ts). A DEAD slot holds exactly
 * SET_DEAD. HOOKED mirrors "HOOKS is non-zero" (hooks-mirror.ts): alloc's default path
 * reserves only from a word without it, so it learns of subscribers and custom allocators
 * from the CAS it makes anyway.
 */
export const SET_PENDING = 1;
export const SET_DEAD = 2;
/** The flags that refuse a reservation (the set is dying or dead). */
export const SET_FLAGS = SET_PENDING | SET_DEAD;
export const SET_HOOKED = 4;
export const SET_UNIT_SHIFT = 3;
/** One id of a set, in COUNT's field: a reservation adds it, a release subtracts it. */
export const SET_UNIT = 1 << SET_UNIT_SHIFT;

// Record.
export const SPACE_REC_WORDS = 10;
export const REC_STATE = 0;
/**
 * The record's incarnation: a 32-bit counter bumped at each publish, whose low 12 bits are
 * the generation in STATE, KEY and the id-map word. It is what a thread's hint of a record it
 * published is checked against (space-core.ts `free`): the 12-bit generation alone repeats
 * after 4096 republishes, the incarnation after 2^32.
 */
export const REC_INC = 1;
export const REC_KEY = 2;
export const REC_ID = 3;
export const REC_DATA = 4;
export const REC_SPID = 5;
export const REC_NEXT = 6;
/** On a limbo batch's head record: its RCU cookie modulo 2^31 (compared by serial arithmetic). */
export const REC_COOKIE = 7;
/** On a batch's head record: idx+1 of the next batch's head on the same stack. */
export const REC_BATCH_NEXT = 8;
/** On a batch's head record: how many records the batch holds. */
export const REC_BATCH_COUNT = 9;
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
  /** mapSlot's permutation: (id & mapLowMask) << mapShift | id >>> mapLowBits (see there). */
  readonly mapLowMask: number;
  readonly mapLowBits: number;
  readonly mapShift: number;
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
    // 16 ids (one line of map words) per low-bits group; identity below 2^8 ids (the map
    // fits in a few lines anyway).
    mapLowMask: pasidBits >= 8 ? MAP_LINE_IDS - 1 : 0,
    mapLowBits: pasidBits >= 8 ? MAP_LINE_LOG2 : 0,
    mapShift: pasidBits >= 8 ? pasidBits - MAP_LINE_LOG2 : 0,
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

/** Ids whose map words share one 64-byte line without the permutation, and its log2. */
const MAP_LINE_LOG2 = 4;
const MAP_LINE_IDS = 1 << MAP_LINE_LOG2;

/**
 * Index of id `id`'s word in the id map: a permutation of [0, 2^pasidBits) that puts ids
 * differing only in their low 4 bits (consecutive ids) on different 64-byte lines, and 16 ids
 * sharing their low 4 bits on one line. Why: with `lowest`, each CPU's ids are small
 * consecutive numbers; without it ids 0-15 share one line, which every CPU's publish and
 * unpublish store wrote (bench/FINDINGS.md). The identity below 2^8 ids.
 */
export function mapSlot(g: SpaceGeometry, id: number): number {
  return ((id & g.mapLowMask) << g.mapShift) | (id >>> g.mapLowBits);
}

/** First word of thread slot `slot`. */
export function threadSlotWord(g: SpaceGeometry, slot: number): number {
  return g.threadsBase + slot * SPACE_TS_WORDS;
}
