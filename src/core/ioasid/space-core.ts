/**
 * The IOASID engine: every operation of `IoasidSpace` on already-validated arguments.
 *
 * Methods return a result or a negative errno and never throw for runtime conditions. The
 * facade (`ioasid-space.ts`) validates argument types and ranges first, so nothing here writes
 * shared memory before the inputs are known to be well-formed.
 *
 * Developer notes.
 * - An id is allocated in three reservations, each rolled back on a later failure: a quota
 *   unit of the set (CAS on its COUNT, sets.ts), the id's bit (CAS, pasid-bitmap.ts), and a
 *   record from this thread's private cache (records.ts; no atomics: the cache is ours). The
 *   record is written while private, then published by storing [gen | idx+1] into the id
 *   map; that store is the linearisation point of `alloc`.
 * - Reclaim (refs reaching 0) is the CAS of STATE to FREE; then, in order: unhash the SPID
 *   (lock-free, spid.ts), clear the map word, release the bit (the number is reusable now, as with `xa_erase`),
 *   release the quota unit (which may destroy a PENDING set), put the record in this
 *   thread's retire batch. So at every instant: set count >= ids of the set that hold a bit
 *   >= mapped ids. With a magazine entry free the bit and the unit stay together in the
 *   entry instead (id-magazine.ts: a hit of the same set then reserves nothing), and the
 *   count is "charges": live ids plus ids parked with the set's unit, which setInfo, -EDQUOT,
 *   setFree and the registrations leave out or take back.
 * - Generations and incarnations: each publish bumps the record's 32-bit incarnation
 *   (REC_INC); its low 12 bits, the generation, are also in STATE, KEY and the map word that
 *   publishes it. `find` loads the map word, then DATA and KEY: KEY's generation equal to the
 *   map word's proves the record was not recycled meanwhile, which under RCU is guaranteed; a
 *   mismatch means a broken grace period and is counted in `recycledUnderReader` (the
 *   rcutorture-style check). free/get/put hold no read-side section: they compare
 *   generations and CAS STATE, which fails on a recycled record unless it was republished a
 *   multiple of 4096 times between their map load and their CAS (the bound, stated at
 *   #freeSlow). Nothing is kept across calls on a 12-bit generation: `free`'s hint is checked
 *   against the 32-bit incarnation (2^32 republishes between this thread's alloc and free).
 *   Rejected: a read-side section around free's CAS, which makes the within-call window
 *   exact: +9% on alloc+free, measured; 64-bit STATE words (BigInt64 atomics cost 1.6x).
 * - Guessed CASes: this thread remembers the last COUNT word it saw for one set and the last
 *   value of one bitmap word, and CASes against them without loading first. A wrong guess
 *   only makes the CAS fail (it returns the real value, and the slow path takes over), so a
 *   guess is a hint, never trusted, and exact at any age: the COUNT word alone decides a
 *   reservation (sets.ts), and a bitmap CAS compares the bits themselves. With the
 *   published-allocation hint in `free`, single-threaded alloc+free needs 7 atomic
 *   operations (3 + 4).
 * - KEY, ID and INC are read without Atomics: written while the record is private, before the
 *   publishing Atomics.store of the map word, and never written again until the record is
 *   recycled, which needs a grace period after it was unpublished. A reader that loaded the
 *   map word (Atomics, so it synchronizes with that store) inside its read-side section thus
 *   reads a word that cannot change under it; a writer outside a section compares the
 *   generation in the same word, so a recycled record's KEY is recognised (Int32 accesses
 *   never tear).
 * - `find` is the read side (a store and an exchange) plus two loads: the map word and DATA.
 *   DATA stays an Atomics.load because attachData/detachData change it in place. Rejected:
 *   making DATA immutable per incarnation by publishing a replacement record on each data
 *   change (the refcount in STATE would have to move to the new record atomically, which
 *   needs a MOVED state that get/put/free help complete: much machinery for one load);
 *   a seqlock-style find without a read-side section (the issue requires the getter to run
 *   inside one).
 *
 * ## Kill points (what `releaseThread` relies on)
 * A worker stopped by `worker.terminate()` stops where V8 checks for interrupts: at the entry
 * of a call (any call: a JS function, an `Atomics.*` builtin before its effect, even
 * `Math.clz32` in the interpreter and baseline tiers) and at loop back-edges; never between
 * an atomic operation's effect and the plain statement after it, and not at a return
 * (measured on Node 20: test/ioasid_kill_points_are_call_boundaries.test.ts).
 * So every atomic step that moves ownership (a quota unit, an id bit, a record, a batch,
 * capacity) is followed, with no call of any kind in between, by plain stores into this
 * thread's slot (space-layout.ts TS_*) that say what the thread now holds; `releaseThread` reads
 * them after the thread died and finishes or rolls back exactly that. Plain, not
 * Atomics.store: an Atomics.store is itself a call, hence a kill point. Values needed after
 * the atomic step (an id from Math.clz32, a quota) are computed before it. Every intent and
 * phase is declared, with what it holds and how recovery continues it, in the intent table of
 * space-layout.ts; recovery (thread-recovery.ts) follows the same rule for its own steps.
 * Parameter names: `set` a set id (-1 stands for null where null is allowed), `id` an id
 * number, `m` an id-map word, `r` a record's first word, `ts` a thread slot's first word.
 *
 * @internal
 */

import type { Rcu } from '../rcu/rcu.js';
import {
  type AllocatorChoice,
  CUSTOM_GAVE_BACK,
  CUSTOM_RESTART,
  CUSTOM_THREW,
} from './allocator-registry.js';
import {
  capacityAvailable,
  capacityCancelHeld,
  capacityInstallLocked,
  capacityReserveHeld,
  capacityTotal,
} from './capacity.js';
import { Errno } from './errno.js';
import type { SpaceHooks } from './hooks.js';
import {
  CU_IN_FREE,
  CU_TRACKED,
  EVK_OWED,
  HK_CU_ID,
  HK_CU_OP,
  HK_EV_KIND,
  HOOKS_WORD,
  HSTAT_ABANDONED_WORD,
  HSTAT_DEFERRED_FREES_WORD,
} from './hooks-layout.js';
import {
  magazineChargeInFlight,
  magazineCharges,
  magazineEmptyEntry,
  magazineParked,
  magazineReclaim,
  magazineReturn,
  magazineSteal,
  magazineTakeBack,
} from './id-magazine.js';
import { EV_BIND, EV_FREE, EV_UNBIND, notifierCounters } from './notifier-queues.js';
import {
  bitmapClaim,
  bitmapClaimGuess,
  bitmapRelease,
  bitmapTest,
  bitmapWordFull,
} from './pasid-bitmap.js';
import {
  batchSeal,
  cookieReady,
  driveCookie,
  freeStackPop,
  limboPush,
  ownRecycled,
  recordsCensus,
  recordsDrain,
  ringsSteal,
  setStateFlag,
} from './records.js';
import {
  SET_RESERVE_HOOKED,
  SET_TYPE_MM,
  type SetInfo,
  setAllocLocked,
  setFindMmLocked,
  setFreeLocked,
  setInfo,
  setReleaseGuess,
  setReleaseUnit,
  setReserveFailed,
  setReserveGuess,
  setReserveUnit,
  setWord,
} from './sets.js';
import {
  MAP_IDX_MASK,
  REC_BATCH_COUNT,
  REC_BATCH_NEXT,
  REC_COOKIE,
  REC_DATA,
  REC_GEN_BITS,
  REC_GEN_MASK,
  REC_GEN_SHIFT,
  REC_HAS_SPID,
  REC_ID,
  REC_INC,
  REC_KEY,
  REC_KEY_CUSTOM,
  REC_KEY_SET_MASK,
  REC_NEXT,
  REC_REF_ONE,
  REC_REFS_MASK,
  REC_REFS_SHIFT,
  REC_SPID,
  REC_SPID_NONE,
  REC_ST_FREE,
  REC_ST_LIVE,
  REC_ST_MASK,
  REC_ST_PENDING,
  REC_STATE,
  SET_COUNT,
  SET_DEAD,
  SET_FLAGS,
  SET_HOOKED,
  SET_PENDING,
  SET_UNIT,
  SPACE_CYCLIC_NEXT_WORD,
  SPACE_FAULT_MAGAZINE_NO_STEAL,
  SPACE_FAULT_NARROW_INCARNATION,
  SPACE_FAULT_OWN_RING_EARLY,
  SPACE_FAULT_QUOTA_CHECK_THEN_ACT,
  SPACE_FAULT_RECLAIM_WITHOUT_GP,
  SPACE_ID_HIGH_WORD,
  SPACE_LIMBO_HEAD_WORD,
  SPACE_REC_WORDS,
  SPACE_SET_LOCK_WORD,
  SPACE_SET_WORDS,
  SPACE_SPID_LOCK_WORD,
  SPACE_STAT_DRAINS_WORD,
  SPACE_STAT_EDQUOT_WORD,
  SPACE_STAT_ENOMEM_WORD,
  SPACE_STAT_ENOSPC_WORD,
  SPACE_STAT_RECYCLED_UNDER_READER_WORD,
  SPACE_STAT_RECYCLED_WORD,
  SPACE_STAT_SET_DESTROYED_WORD,
  SPACE_STAT_THREADS_RECOVERED_WORD,
  type SpaceGeometry,
  TS_ALLOC_BIT,
  TS_ALLOC_RECORD,
  TS_ALLOC_UNIT,
  TS_ALLOC_XUNIT,
  TS_AUX,
  TS_BATCH_COUNT,
  TS_BATCH_HEAD,
  TS_CACHE_COUNT,
  TS_CACHE_HEAD,
  TS_ID,
  TS_MAG,
  TS_MAG_SIZE,
  TS_OP,
  TS_OP_NONE,
  TS_OWN_BATCHES,
  TS_OWN_HEAD,
  TS_OWN_HELD,
  TS_OWN_RECYCLED,
  TS_OWN_TAIL,
  TS_REC,
  TS_RECLAIM_BIT_FREED,
  TS_RECLAIM_UNIT_FREED,
  TS_RECLAIM_WON,
  TS_RESERVED,
  TS_SET,
  TS_SET_FREEING,
  TS_SPID_ATTACH_FLAGGED,
  TS_SPID_DETACHING,
  TS_STATE,
  TS_UNUSED,
  threadSlotWord,
} from './space-layout.js';
import { lockAcquire, lockRelease } from './space-lock.js';
import { spidBindLocked, spidLookup, spidUnbindLocked, unhashSpid } from './spid.js';
import { claimThreadSlot, releaseDeadThread } from './thread-recovery.js';

type I32 = Int32Array<SharedArrayBuffer>;

/** pollState steps an alloc that found no free record takes per drain round. */
const ALLOC_DRIVE_STEPS = 8;
/** Drain-and-retry rounds an alloc makes when no record is free, before -ENOMEM. */
const ALLOC_DRAIN_ROUNDS = 64;
/** Largest reference count (REC_REFS_MASK). */
const MAX_REFS = REC_REFS_MASK;
/** Entries of the thread-local published-allocation hint (a power of two). */
const PUB_HINTS = 64;
/** Words per hint entry, and their offsets. */
const PUB_WORDS = 4;
const PUB_ID = 0;
const PUB_SET = 1;
const PUB_MAP = 2;
const PUB_INC = 3;
/** How long a custom alloc waits for the reclaim that is giving its id back (rounds x ms). */
const CUSTOM_CLAIM_ROUNDS = 100;
const CUSTOM_CLAIM_NAP_MS = 0.1;
/**
 * #quotaRefusalStands: rounds that wait for a charge release in flight in another thread,
 * spinning for the first CHARGE_SETTLE_SPINS, then napping CUSTOM_CLAIM_NAP_MS each. A live
 * thread's release is a few statements away; a dead thread's waits for `releaseThread`.
 */
const CHARGE_SETTLE_SPINS = 16;
const CHARGE_SETTLE_ROUNDS = 64;
/** Custom allocs that gave their id back (its reclaim stalled) before one returns -EAGAIN. */
const CUSTOM_GIVE_BACKS = 3;

/** `inspect` result. */
export interface IdState {
  /** 'idle' = allocated with one reference, 'active' = more than one, 'free-pending' = freed
   * while referenced. */
  state: 'free' | 'idle' | 'active' | 'free-pending';
  /** The owning set, or null when free. */
  set: number | null;
  /** References held (1 from alloc, plus one per `get`). */
  refs: number;
  /** INVALID_IOASID (0xFFFFFFFF) when no SPID is attached. */
  spid: number;
  /** The private value given to `alloc` or `attachData` (0 = none). */
  data: number;
}

/** Counters and record census, as returned by `IoasidSpace.stats()`. */
export interface IoasidStats {
  /** `alloc` calls that found no free id in their range (-ENOSPC). */
  enospc: number;
  /** `alloc` calls refused by their set's quota (-EDQUOT). */
  edquot: number;
  /** `alloc` calls that found no free record (-ENOMEM). */
  enomem: number;
  /** Records recycled after their grace period: moved from limbo back to the free stack, or
   * taken back by their thread from its own ring (records.ts "Own ring"). */
  recycled: number;
  /** Times a thread took the limbo list to recycle the records whose grace period ended. */
  drains: number;
  /** Sets destroyed, their quota given back to the space's capacity. */
  setsDestroyed: number;
  /**
   * Times a `find`/`findBySpid` saw its record recycled while it was inside its read-side
   * section (the rcutorture-style check). Always 0 unless grace periods or record recycling
   * are broken (fault injection).
   */
  recycledUnderReader: number;
  /** Dead threads whose share of the space `releaseThread` (or `attach`) recovered. */
  threadsRecovered: number;
  /** Notifier events distributed to their chains' subscribers. */
  notifierEvents: number;
  /** Events dropped for a subscriber (its queue or the log was full); each is reported to
   * its subscriber by an overflow entry. */
  notifierLost: number;
  /** Overflow entries returned by readNotifications. */
  notifierOverflows: number;
  /** Ids a dead thread owed a custom allocator, freed later by another member. */
  allocatorDeferredFrees: number;
  /** Ids a custom allocator may have handed to a thread that died inside its `alloc` (no one
   * can free them), or deferred frees that found no room. */
  allocatorAbandoned: number;
  /** Records free (free stack and thread caches) / waiting for a grace period (limbo, retire
   * batches, own rings) / holding an allocation. Exact only when quiet. */
  freeRecords: number;
  /** Records waiting for a grace period (limbo, retire batches, own rings). Exact only when
   * quiet. */
  limboRecords: number;
  /** Records holding an allocation. Exact only when quiet. */
  liveRecords: number;
}

/** @internal One thread's view of one space. */
export class SpaceCore {
  readonly i32: I32;
  readonly g: SpaceGeometry;
  readonly rcu: Rcu;
  readonly cyclic: boolean;
  /** Highest allocatable id: 2^pasidBits - 1. */
  readonly idMax: number;
  /** This thread's slot: its first word, and its lock-owner tag (slot + 1). */
  readonly ts: number;
  readonly tag: number;
  /** SPACE_FAULT_* of this space (0 in every real system). */
  readonly fault: number;
  /** Notifier chains and custom allocators (hooks.ts); their HOOKS word gates every use. */
  readonly hooks: SpaceHooks;
  readonly #hk: I32;
  readonly #batchLimit: number;
  /** Most batches in this thread's own ring (0: no ring). */
  readonly #ownCap: number;
  /** Own batches from which a refill drives a grace period for the oldest one. */
  readonly #ownDriveAt: number;
  /** Full batches between two grace periods this thread drives (see #batchFullSlow). */
  readonly #driveEvery: number;
  #flushedSinceDrive = 0;
  readonly #mapBase: number;
  readonly #mapLowMask: number;
  readonly #mapLowBits: number;
  readonly #mapShift: number;
  readonly #recBase: number;
  readonly #bmBase: number;
  readonly #setsBase: number;
  /** First word of this thread's id magazine (id-magazine.ts). */
  readonly #mag: number;
  /** Hints, never trusted: ids in our magazine (at least; thieves only lower it), and the
   * entry we put into or took from last. */
  #magCount = 0;
  #magHint: number;
  /** Do entries carry their set's quota charge (id-magazine.ts magazineCharges)? */
  readonly #charges: boolean;
  /** An entry's id bits, and the shift of its charge field (pasidBits). */
  readonly #idMask: number;
  readonly #chargeShift: number;
  // Thread-local guesses (compared by the CAS that uses them, never trusted; module notes).
  /** The set whose COUNT word this thread saw last, and that word. */
  #cSet = -1;
  #cWord = 0;
  #bmIdx = -1;
  #bmVal = 0;
  /**
   * Allocations this thread published, direct-mapped by id (a hint for `free`; see there):
   * entry `h` holds at PUB_* offsets from h * PUB_WORDS the id, its set, the map word and the
   * record's 32-bit incarnation, side by side (one cache line per entry: 2.5% off alloc+free
   * against four separate arrays).
   */
  readonly #pub = new Int32Array(PUB_HINTS * PUB_WORDS);
  /** REC_INC's mask: all 32 bits, or the generation's 12 (the narrow-incarnation fault). */
  readonly #incMask: number;
  /** A private word to sleep on (Atomics.wait with a timeout; nobody notifies it). */
  readonly #nap = new Int32Array(new SharedArrayBuffer(4));
  /** SPACE_ID_HIGH_WORD as this thread last saw it (it only grows): no atomic below it. */
  #idHighSeen = 0;

  constructor(
    i32: I32,
    g: SpaceGeometry,
    rcu: Rcu,
    cyclic: boolean,
    retireBatch: number,
    slot: number,
    fault: number,
    hooks: SpaceHooks,
  ) {
    this.i32 = i32;
    this.hooks = hooks;
    this.#hk = hooks.hk;
    this.g = g;
    this.rcu = rcu;
    this.cyclic = cyclic;
    this.idMax = g.idCount - 1;
    this.ts = threadSlotWord(g, slot);
    this.tag = slot + 1;
    this.fault = fault;
    this.#incMask = fault === SPACE_FAULT_NARROW_INCARNATION ? REC_GEN_MASK : -1;
    this.#batchLimit = retireBatch;
    this.#driveEvery = Math.max(1, Math.floor(g.maxIoasids / (2 * g.maxThreads * retireBatch)));
    // The own ring's budget (records.ts "Own ring"): at most maxIoasids / (4 * maxThreads)
    // records, as many as the cache and the retire batch hold together when retireBatch is
    // maxIoasids / (8 * maxThreads) (the usual case); a pool of fewer than
    // 4 * maxThreads * retireBatch records has no ring and keeps using limbo.
    this.#ownCap = Math.floor(g.maxIoasids / (4 * g.maxThreads * retireBatch));
    this.#ownDriveAt = Math.max(1, this.#ownCap >>> 1);
    this.#mapBase = g.mapBase;
    this.#mapLowMask = g.mapLowMask;
    this.#mapLowBits = g.mapLowBits;
    this.#mapShift = g.mapShift;
    this.#recBase = g.recordsBase;
    this.#bmBase = g.bitmapBase;
    this.#setsBase = g.setsBase;
    this.#mag = this.ts + TS_MAG;
    this.#magHint = this.#mag;
    // Two faults keep the magazine of before charges: check-then-act is the V4-era alloc,
    // every unit taken at alloc; no-steal needs ids cached without their quota, or the space
    // never fills over the whole range (quotas <= capacity <= ids, and a charged id holds one
    // unit), and its early -ENOSPC cannot happen for the stress check to catch.
    this.#charges =
      magazineCharges(g) &&
      !cyclic &&
      fault !== SPACE_FAULT_QUOTA_CHECK_THEN_ACT &&
      fault !== SPACE_FAULT_MAGAZINE_NO_STEAL;
    this.#idMask = g.idCount - 1;
    this.#chargeShift = g.pasidBits;
  }

  // -------------------------------------------------------------------------------------------
  // alloc
  // -------------------------------------------------------------------------------------------

  /** Allocate an id of live `set` in [lo, hi] (1 <= lo <= hi <= idMax) with `data`. */
  alloc(set: number, lo: number, hi: number, data: number): number {
    // A magazine hit on an entry charged to `set`: no COUNT write at all (id-magazine.ts).
    if (this.#magCount !== 0 && this.#charges) {
      const v = this.#allocHit(set, lo, hi, data);
      if (v !== 0) return v;
    }
    const w = this.#cWord;
    // The guessed reservation: exact for a guess of any age (sets.ts setReserveGuess). It also
    // proves that no subscriber or custom allocator existed as of the CAS (no SET_HOOKED:
    // hooks-mirror.ts), so this path loads nothing for them.
    if (set !== this.#cSet || !setReserveGuess(this.i32, this.#setsBase + set * SPACE_SET_WORDS, w))
      return this.#allocSlow(set, lo, hi, data);
    // Took a quota unit (the guess was right). Kill point rule: record it before any call.
    this.#cWord = w + SET_UNIT;
    this.i32[this.ts + TS_SET] = set;
    this.i32[this.ts + TS_OP] = TS_ALLOC_UNIT;
    return this.#allocWithUnit(set, lo, hi, data);
  }

  /**
   * The lowest cached id in [lo, hi] carries a unit of `set`, no bitmap id below it is free,
   * and `set`'s COUNT word is live, not PENDING and not HOOKED (a load: the guessed CAS that
   * proved this on the reservation path is what the hit saves): take the entry, which hands
   * over the id's bit and the unit, and publish.
   * @returns the id, or 0 when there is no such hit (nothing taken: the caller reserves)
   */
  #allocHit(set: number, lo: number, hi: number, data: number): number {
    const { i32, ts } = this;
    let at = this.#magHint;
    let e = i32[at]!;
    let id = e & this.#idMask;
    if (this.#magCount !== 1 || e === 0 || id < lo || id > hi) {
      at = this.#magScan(lo, hi);
      if (at < 0) return 0;
      e = i32[at]!;
      id = e & this.#idMask;
    }
    if (e >>> this.#chargeShift !== set + 1) return 0; // empty, or another set's charge
    // Pairs with setFree's PENDING CAS (then its reclaim) and the mirror's HOOKED CAS.
    const w = Atomics.load(i32, this.#setsBase + set * SPACE_SET_WORDS + SET_COUNT);
    if ((w & (SET_FLAGS | SET_HOOKED)) !== 0) return 0;
    if (id > lo && !bitmapWordFull(i32, this.#bmBase, lo, id - 1)) return 0; // `lowest`
    if (Atomics.compareExchange(i32, at, e, 0) !== e) return 0; // a thief took it
    i32[ts + TS_SET] = set; // kill point rule: right after the CAS
    i32[ts + TS_ID] = id;
    i32[ts + TS_OP] = TS_ALLOC_BIT;
    this.#magCount--;
    this.#magHint = at;
    return this.#publish(set, id, data);
  }

  /** Reserve a unit with a load-CAS loop (or the injected check-then-act fault). */
  #allocSlow(set: number, lo: number, hi: number, data: number): number {
    const { i32, g } = this;
    if (this.fault === SPACE_FAULT_QUOTA_CHECK_THEN_ACT && Atomics.load(this.#hk, HOOKS_WORD) === 0)
      return this.#allocCheckThenAct(set, lo, hi, data);
    for (;;) {
      // Records the unit in our slot itself (kill point rule; the check below is a call).
      const w = setReserveUnit(i32, g, set, false, this.ts);
      if (!setReserveFailed(w)) {
        this.#cSet = set;
        this.#cWord = w;
        return this.#allocWithUnit(set, lo, hi, data);
      }
      // -EDQUOT without hooks: again while the refusal may be stale (#quotaRefusalStands).
      if (w !== -Errno.EDQUOT || Atomics.load(this.#hk, HOOKS_WORD) !== 0)
        return this.#allocRefused(set, lo, hi, data, w);
      if (this.#quotaRefusalStands(set, true)) return this.#allocRefused(set, lo, hi, data, w);
    }
  }

  /**
   * alloc's reservation in `set` found COUNT at its quota (or setFree found the set with
   * charges after its sweep): is that the answer? Not while a charge of the set is on its way
   * back: parked in a magazine (taken back here, as before), or taken out of one and not yet
   * released by the thread that took it (magazineChargeInFlight: an owner's detach, a thief's
   * steal, a take-back of another reclaim, a dead thread's recovery), whose release a reclaim
   * cannot see. Then the refusal is stale once COUNT moves: try again. A release in flight is
   * waited for a bounded time (CHARGE_SETTLE_ROUNDS: spins, then naps) only: the thread may
   * have died between its take and its release, and then only `releaseThread` releases the
   * charge; until then the set refuses as if the id were live (the one window left, CHANGELOG).
   * Loads, the reclaim's take-backs and naps; holds nothing.
   * @param room - also try again when COUNT shows room (alloc; not setFree, whose PENDING set
   * may have room and live ids: only a change of COUNT, which then only falls, counts)
   * @returns true when the refusal stands (nothing taken back, COUNT as refused, no release
   * in flight, or the bound reached), false when the caller should try again
   */
  #quotaRefusalStands(set: number, room: boolean): boolean {
    const { i32 } = this;
    const word = this.#setsBase + set * SPACE_SET_WORDS + SET_COUNT;
    const seen = Atomics.load(i32, word);
    for (let round = 0; ; round++) {
      // Units parked in magazines are no ids a user sees: take them back, then try again.
      if (this.#reclaimParked(set) > 0) return false;
      const w = Atomics.load(i32, word);
      // Moved since the refusal (or room now, if a release came before `seen`): try again.
      if (w !== seen || (room && w < 0)) return false;
      if (!magazineChargeInFlight(i32, this.g, this.ts, set)) return true;
      if (round === CHARGE_SETTLE_ROUNDS) return true;
      if (round >= CHARGE_SETTLE_SPINS) Atomics.wait(this.#nap, 0, 0, CUSTOM_CLAIM_NAP_MS);
    }
  }

  /**
   * Fault injection (`quota-check-then-act`): the V4-era race, deliberately. Checks the count
   * with a plain load and increments it later without a reservation, so concurrent allocs
   * can take a set past its quota. Never used unless the space was created with the fault,
   * and not kill-safe (a kill between the claim and the increment leaks the id's bit).
   */
  #allocCheckThenAct(set: number, lo: number, hi: number, data: number): number {
    const { i32, g } = this;
    const base = setWord(g, set);
    const w = i32[base + SET_COUNT]!; // the plain load of the check-then-act
    if ((w & SET_FLAGS) !== 0) return -Errno.EINVAL;
    if (w >= 0) {
      Atomics.add(i32, SPACE_STAT_EDQUOT_WORD, 1);
      return -Errno.EDQUOT;
    }
    const id = this.#claimId(lo, hi); // the window in which another alloc passes the check
    if (id < 0) {
      Atomics.add(i32, SPACE_STAT_ENOSPC_WORD, 1);
      return -Errno.ENOSPC;
    }
    Atomics.add(i32, base + SET_COUNT, SET_UNIT); // may take COUNT's field past 0: over quota
    i32[this.ts + TS_SET] = set;
    i32[this.ts + TS_ID] = id;
    i32[this.ts + TS_OP] = TS_ALLOC_BIT;
    return this.#publish(set, id, data);
  }

  /**
   * The default path's reservation failed (`w`: an errno, or SET_RESERVE_HOOKED). With hooks
   * (the set's SET_HOOKED, or HOOKS for a set that refused, e.g. a dead one) the hooked path
   * decides again from the start, so that -ENODEV comes before any errno of the set, as it did
   * when alloc looked at HOOKS first; else count and return the errno. Nothing is held.
   */
  #allocRefused(set: number, lo: number, hi: number, data: number, w: number): number {
    const hooksOn = Atomics.load(this.#hk, HOOKS_WORD) !== 0;
    if (w === SET_RESERVE_HOOKED && !hooksOn) this.hooks.mirrorRepair(); // stale: hooks-mirror.ts
    if (w === SET_RESERVE_HOOKED || hooksOn) return this.#allocHooked(set, lo, hi, data);
    // -EDQUOT comes here only once #quotaRefusalStands said so (#allocSlow).
    if (w === -Errno.EDQUOT) Atomics.add(this.i32, SPACE_STAT_EDQUOT_WORD, 1);
    return w;
  }

  /** Holding a unit of `set`, reserved from a word without SET_HOOKED: claim an id, publish. */
  #allocWithUnit(set: number, lo: number, hi: number, data: number): number {
    const id = this.#claimId(lo, hi);
    if (id < 0) return this.#allocUndo(set, -1, -Errno.ENOSPC);
    this.i32[this.ts + TS_ID] = id; // kill point rule: right after the CAS in #claimId
    this.i32[this.ts + TS_OP] = TS_ALLOC_BIT;
    return this.#publish(set, id, data);
  }

  /**
   * alloc while HOOKS is non-zero: the allocator to use (default, or this thread's member of
   * the active custom group: -ENODEV with none, before any write), a quota unit, the id (the
   * bitmap, or the member's answer claimed as is), the ALLOC event's seq claimed before the
   * publish (so every later event of the id has a greater seq), the publish, the commit.
   * Starts over when the registry changed under it (each restart follows a registration).
   */
  #allocHooked(set: number, lo: number, hi: number, data: number): number {
    const { i32, g, ts, hooks } = this;
    for (let giveBacks = 0; ; ) {
      const choice = hooks.chooseAllocator();
      if (choice === null) return -Errno.ENODEV;
      const w = setReserveUnit(i32, g, set, true, ts); // records the unit (kill point rule)
      if (setReserveFailed(w)) {
        if (w === -Errno.EDQUOT && !this.#quotaRefusalStands(set, true)) continue; // as #allocSlow
        if (w === -Errno.EDQUOT) Atomics.add(i32, SPACE_STAT_EDQUOT_WORD, 1);
        return w;
      }
      this.#cSet = set;
      this.#cWord = w;
      if (!hooks.allocators.stillActive(choice)) {
        this.#releaseUnit(set, TS_OP_NONE);
        continue;
      }
      // A record first, so that nothing can fail between the member's answer (or the event's
      // claim) and the publish.
      if (i32[ts + TS_CACHE_HEAD] === 0 && this.#refillSlow() === 0)
        return this.#allocUndo(set, -1, -Errno.ENOMEM);
      let id = choice.ops === undefined ? this.#claimId(lo, hi) : this.#claimCustom(choice, lo, hi);
      if (id < 0 && choice.ops === undefined) id = -Errno.ENOSPC; // #claimId says -1
      if (id === CUSTOM_RESTART || id === CUSTOM_GAVE_BACK) {
        this.#releaseUnit(set, TS_OP_NONE);
        if (id === CUSTOM_GAVE_BACK && ++giveBacks === CUSTOM_GIVE_BACKS) return -Errno.EAGAIN;
        continue;
      }
      if (id < 0) return this.#allocHookedFail(set, id);
      i32[ts + TS_ID] = id; // (#claimCustom and #claimCyclic recorded it already)
      i32[ts + TS_OP] = TS_ALLOC_BIT;
      // A member that called back into this space may have used the record ensured above.
      if (i32[ts + TS_CACHE_HEAD] === 0) return this.#allocHookedNoRecord(set, id, choice);
      const claimed = hooks.setHasSubscribers(set) && hooks.claimAlloc(id, set, data);
      // KEY's custom bit (the set argument goes into KEY and the free hint only, given a
      // record: ensured above); the hint's flagged set sends free to its slow path.
      const v = this.#publish(choice.ops === undefined ? set : set | REC_KEY_CUSTOM, id, data);
      hooks.finishAlloc(claimed, v > 0);
      if (choice.ops !== undefined) hooks.allocators.allocDone(choice, v > 0);
      return v;
    }
  }

  /**
   * Ask this thread's member for an id and claim exactly that id's bit.
   * @returns the id; CUSTOM_RESTART or CUSTOM_GAVE_BACK; or a negative errno (CUSTOM_THREW
   * included), holding only the quota unit
   */
  #claimCustom(choice: AllocatorChoice, lo: number, hi: number): number {
    const { i32, ts } = this;
    const x = this.hooks.allocators.customAlloc(choice, lo, hi);
    if (x < 0) return x;
    const bit = 1 << (x & 31);
    for (let round = 0; ; round++) {
      // Claims the id the member handed out; pairs with the release of a reclaim. A set bit
      // is left as it is.
      const old = Atomics.or(i32, this.#bmBase + (x >>> 5), bit);
      if ((old & bit) === 0) {
        i32[ts + TS_ID] = x; // kill point rule: right after the claim
        i32[ts + TS_OP] = TS_ALLOC_BIT;
        this.#hk[this.hooks.hts + HK_CU_OP] = CU_TRACKED;
        this.#bmIdx = -1;
        return x;
      }
      // Its bit is taken. Live (published, not reclaimed): refuse it, it is its owner's. Else
      // its previous owner's reclaim gave it back to the provider (which handed it to us) and
      // has not released the bit yet: wait for that, then give up on it (allocator-registry.ts).
      if (this.#idLive(x)) return this.hooks.allocators.refuseLive();
      // Or it sits in a thread's magazine (a default id freed before the group came): take it.
      const e = magazineSteal(i32, this.g, -1, x, x);
      if (e >= 0) {
        const charge = (e >>> this.#chargeShift) - 1;
        i32[ts + TS_ID] = x; // kill point rule: right after the steal's CAS
        i32[ts + TS_AUX] = charge;
        i32[ts + TS_OP] = charge < 0 ? TS_ALLOC_BIT : TS_ALLOC_XUNIT;
        this.#hk[this.hooks.hts + HK_CU_OP] = CU_TRACKED;
        if (charge >= 0) this.#releaseUnit(charge, TS_ALLOC_BIT); // we hold our own unit
        return x;
      }
      if (round === CUSTOM_CLAIM_ROUNDS) return this.hooks.allocators.giveBack(choice);
      Atomics.wait(this.#nap, 0, 0, CUSTOM_CLAIM_NAP_MS);
    }
  }

  /** Is `id` published and not reclaimed (its record's STATE not FREE)? A snapshot. */
  #idLive(id: number): boolean {
    const m = Atomics.load(this.i32, this.#mapWord(id));
    if (m === 0) return false;
    const s = Atomics.load(this.i32, this.#rec(m) + REC_STATE);
    return (s & REC_ST_MASK) !== REC_ST_FREE && ((s ^ m) & REC_GEN_BITS) === 0;
  }

  /** The hooked alloc holds a unit and an id but no record: roll back, give the id back. */
  #allocHookedNoRecord(set: number, id: number, choice: AllocatorChoice): number {
    const v = this.#allocUndo(set, id, -Errno.ENOMEM);
    if (choice.ops !== undefined) this.hooks.allocators.allocDone(choice, false);
    return v;
  }

  /** The hooked alloc failed holding only its unit: roll it back, count, rethrow a member's. */
  #allocHookedFail(set: number, err: number): number {
    if (err === -Errno.ENOSPC) return this.#allocUndo(set, -1, err);
    this.#releaseUnit(set, TS_OP_NONE);
    if (err === CUSTOM_THREW) this.hooks.allocators.rethrow();
    return err;
  }

  /**
   * Claim the lowest free id in [lo, hi] (policy lowest), or per the cyclic policy. Lowest:
   * the lower of this thread's lowest cached id in range and the bitmap's lowest free id below
   * it (loads only unless the bitmap has one); with neither, the bitmap, then other threads'
   * magazines (id-magazine.ts). Exact for one thread: its cached ids are free ids to it.
   * Kill point rule: each path's last step is the CAS that takes the id, followed by returns
   * only; the caller records the id.
   */
  #claimId(lo: number, hi: number): number {
    if (this.cyclic) return this.#claimCyclic(lo, hi);
    const { i32, ts } = this;
    for (;;) {
      // One id cached, at the entry used last (alloc+free pairs): no scan.
      let at = this.#magHint;
      let e = i32[at]!;
      let c = e & this.#idMask;
      if (this.#magCount !== 1 || e === 0 || c < lo || c > hi) {
        at = this.#magScan(lo, hi);
        if (at < 0) return this.#claimBitmap(lo, hi);
        e = i32[at]!;
        c = e & this.#idMask;
        if (e === 0) continue; // a thief took it since the scan (only we turn a 0 into an id)
      }
      // A free bitmap id below c wins (`lowest`). Common case (lo and c - 1 in one word, all
      // taken): one load and a mask test here, no call into the general word loop.
      if (c > lo && !bitmapWordFull(i32, this.#bmBase, lo, c - 1)) {
        const id = bitmapClaim(i32, this.#bmBase, lo, c - 1);
        if (id >= 0) return id;
      }
      // Takes our cached id; fails only if a thief took it (then look again).
      if (Atomics.compareExchange(i32, at, e, 0) === e) {
        const charge = (e >>> this.#chargeShift) - 1;
        i32[ts + TS_ID] = c; // kill point rule: right after the CAS
        i32[ts + TS_AUX] = charge;
        i32[ts + TS_OP] = charge < 0 ? TS_ALLOC_BIT : TS_ALLOC_XUNIT;
        this.#magCount--;
        this.#magHint = at;
        // The caller holds a unit of its own set: the entry's is one too many.
        if (charge >= 0) this.#releaseUnit(charge, TS_ALLOC_BIT);
        return c;
      }
    }
  }

  /**
   * Scan this thread's magazine (plain reads: id-magazine.ts), recounting #magCount.
   * @returns the word of the entry holding the lowest cached id in [lo, hi], or -1
   */
  #magScan(lo: number, hi: number): number {
    const { i32 } = this;
    const mag = this.#mag;
    let at = -1;
    let low = hi + 1;
    let n = 0;
    for (let j = mag; j < mag + TS_MAG_SIZE; j++) {
      const e = i32[j]!;
      if (e === 0) continue;
      n++;
      const id = e & this.#idMask;
      if (id >= lo && id < low) {
        low = id;
        at = j;
      }
    }
    this.#magCount = n;
    return at;
  }

  /** No cached id in range: the bitmap (its guessed word first), then other magazines. */
  #claimBitmap(lo: number, hi: number): number {
    if (lo >>> 5 === this.#bmIdx) {
      const id = bitmapClaimGuess(this.i32, this.#bmBase, lo, hi, this.#bmVal);
      if (id >= 0) {
        this.#bmVal |= 1 << (id & 31);
        return id;
      }
    }
    this.#bmIdx = -1;
    const id = bitmapClaim(this.i32, this.#bmBase, lo, hi);
    if (id >= 0 || this.fault === SPACE_FAULT_MAGAZINE_NO_STEAL) return id;
    const { i32, ts } = this;
    const e = magazineSteal(i32, this.g, this.tag - 1, lo, hi);
    if (e < 0) return -1;
    const stolen = e & this.#idMask;
    const charge = (e >>> this.#chargeShift) - 1;
    i32[ts + TS_ID] = stolen; // kill point rule: right after the steal's CAS
    i32[ts + TS_AUX] = charge;
    i32[ts + TS_OP] = charge < 0 ? TS_ALLOC_BIT : TS_ALLOC_XUNIT;
    if (charge >= 0) this.#releaseUnit(charge, TS_ALLOC_BIT); // the caller holds its own
    return stolen;
  }

  #claimCyclic(lo: number, hi: number): number {
    const { i32 } = this;
    const next = Atomics.load(i32, SPACE_CYCLIC_NEXT_WORD);
    const from = next > lo && next <= hi ? next : lo;
    let id = bitmapClaim(i32, this.#bmBase, from, hi);
    if (id < 0 && from > lo) id = bitmapClaim(i32, this.#bmBase, lo, from - 1);
    if (id < 0) return id;
    // Kill point rule: the claim must be recorded before the hint store below (a call).
    i32[this.ts + TS_ID] = id;
    i32[this.ts + TS_OP] = TS_ALLOC_BIT;
    // A hint only: racing allocators may store out of order, which just moves the next search.
    Atomics.store(i32, SPACE_CYCLIC_NEXT_WORD, id + 1);
    return id;
  }

  /**
   * Holding a unit and id `id`: take the first record of this thread's cache, write it while
   * private, and publish it.
   */
  #publish(set: number, id: number, data: number): number {
    const { i32, ts } = this;
    if (id > this.#idHighSeen) this.#raiseIdHigh(id);
    let x = i32[ts + TS_CACHE_HEAD]!;
    if (x === 0) x = this.#refillSlow();
    if (x === 0) return this.#allocUndo(set, id, -Errno.ENOMEM);
    const r = this.#recBase + (x - 1) * SPACE_REC_WORDS;
    // Private record (module notes of records.ts): plain writes; published below. A new
    // incarnation: the 32-bit counter, and its low 12 bits as the generation (int32
    // arithmetic: it wraps without an overflow deopt).
    const inc = (i32[r + REC_INC]! + 1) & this.#incMask;
    const gen = inc << REC_GEN_SHIFT;
    i32[r + REC_INC] = inc;
    i32[r + REC_KEY] = gen | set;
    i32[r + REC_ID] = id;
    i32[r + REC_DATA] = data;
    i32[r + REC_STATE] = gen | REC_REF_ONE | REC_ST_LIVE;
    // Pop it from the cache, recording that we hold it (no call until the publish).
    i32[ts + TS_REC] = x;
    i32[ts + TS_CACHE_HEAD] = i32[r + REC_NEXT]!;
    i32[ts + TS_CACHE_COUNT]! -= 1;
    i32[ts + TS_OP] = TS_ALLOC_RECORD;
    // Publishes the record: from here find/get/put/free see the id. Pairs with the map loads
    // in find, #lookup and the writers' loops.
    Atomics.store(i32, this.#mapWord(id), gen | x);
    i32[ts + TS_OP] = TS_OP_NONE;
    const p = (id & (PUB_HINTS - 1)) * PUB_WORDS;
    this.#pub[p + PUB_ID] = id;
    this.#pub[p + PUB_SET] = set;
    this.#pub[p + PUB_MAP] = gen | x;
    this.#pub[p + PUB_INC] = inc;
    return id;
  }

  /**
   * Raise SPACE_ID_HIGH_WORD to at least `id`, before `id` is published (a kill before the
   * publish rolls the allocation back, so a raise without a publish only lengthens walks).
   */
  #raiseIdHigh(id: number): void {
    let high = Atomics.load(this.i32, SPACE_ID_HIGH_WORD);
    while (high < id) {
      const seen = Atomics.compareExchange(this.i32, SPACE_ID_HIGH_WORD, high, id);
      if (seen === high) high = id;
      else high = seen;
    }
    this.#idHighSeen = high;
  }

  /**
   * The cache is empty: pop a batch off the free stack; if there is none, push our retire
   * batch and drain limbo (driving grace periods a few steps, never blocking), and retry.
   * @returns idx+1 of the new cache head, or 0 when no record could be had.
   */
  #refillSlow(): number {
    const own = this.#takeOwnBatch();
    if (own !== 0) return own;
    const { i32, g, ts, rcu } = this;
    for (let round = 0; round < ALLOC_DRAIN_ROUNDS; round++) {
      rcu.readLock(); // freeStackPop's ABA defence; see records.ts
      const x = freeStackPop(i32, g);
      // Kill point rule: record the batch right after the CAS. The batch is ours now, so its
      // head's BATCH_COUNT (published by the pusher's CAS, which ours read) is read plainly.
      i32[ts + TS_CACHE_HEAD] = x;
      i32[ts + TS_CACHE_COUNT] =
        x === 0 ? 0 : i32[this.#recBase + (x - 1) * SPACE_REC_WORDS + REC_BATCH_COUNT]!;
      rcu.readUnlock();
      if (x !== 0) return x;
      if (rcu.nesting === 0) {
        this.flushBatch();
        this.flushOwnRing();
        ringsSteal(i32, g, ts); // idle threads' rings hold records no one else can use
        recordsDrain(i32, g, rcu, ALLOC_DRIVE_STEPS, ts);
      }
    }
    return 0;
  }

  /** Roll back what an alloc holds (id `id`'s bit if >= 0, and the unit), count `err`. */
  #allocUndo(set: number, id: number, err: number): number {
    const { i32, ts } = this;
    if (id >= 0) {
      const word = bitmapRelease(i32, this.#bmBase, id);
      i32[ts + TS_OP] = TS_ALLOC_UNIT; // kill point rule
      this.#bmIdx = id >>> 5;
      this.#bmVal = word;
    }
    this.#releaseUnit(set, TS_OP_NONE);
    if (err === -Errno.ENOSPC) Atomics.add(i32, SPACE_STAT_ENOSPC_WORD, 1);
    else Atomics.add(i32, SPACE_STAT_ENOMEM_WORD, 1);
    return err;
  }

  /** Give back a unit of `set`; TS_OP becomes `opAfter` right after the CAS. */
  #releaseUnit(set: number, opAfter: number): void {
    const w = this.#cWord;
    if (
      set === this.#cSet &&
      setReleaseGuess(this.i32, this.#setsBase + set * SPACE_SET_WORDS, w)
    ) {
      this.i32[this.ts + TS_OP] = opAfter; // kill point rule
      this.#cWord = w - SET_UNIT;
      return;
    }
    const nw = setReleaseUnit(this.i32, this.g, set, this.ts, opAfter);
    if (set === this.#cSet) this.#cWord = nw;
  }

  /** Push this thread's retire batch to limbo (detach, flushRecords, full batch). */
  flushBatch(): void {
    const { i32, g, ts } = this;
    const x = i32[ts + TS_BATCH_HEAD]!;
    if (x === 0) return;
    batchSeal(i32, g, x, i32[ts + TS_BATCH_COUNT]!, this.rcu);
    limboPush(i32, g, x, x);
    i32[ts + TS_BATCH_HEAD] = 0; // kill point rule: right after the push
    i32[ts + TS_BATCH_COUNT] = 0;
  }

  /**
   * The cache is empty: take the oldest batch of this thread's own ring as the new cache if
   * its grace period has passed (records.ts "Own ring"). A ring half full or more drives a
   * grace period towards it first (one costs about as much as one alloc+free pair when no
   * reader is inside a section: bench `synchronize`). The ring is taken out of TS_OWN_HEAD
   * (a thief may have emptied it) and put back without the batch taken.
   * @returns idx+1 of the new cache head, or 0 (the caller pops the free stack).
   */
  #takeOwnBatch(): number {
    const { i32, ts, rcu } = this;
    if (Atomics.load(i32, ts + TS_OWN_HEAD) === 0) return 0; // also stolen: see #holdOwnRing
    const x = this.#holdOwnRing();
    if (x === 0) return 0;
    const r = this.#recBase + (x - 1) * SPACE_REC_WORDS;
    // Held batch: its head's words were last written by this thread (batchSeal).
    const stored = i32[r + REC_COOKIE]!;
    const done = rcu.completedGracePeriods();
    if (!cookieReady(stored, done) && this.fault !== SPACE_FAULT_OWN_RING_EARLY) {
      if (i32[ts + TS_OWN_BATCHES]! >= this.#ownDriveAt && rcu.nesting === 0)
        driveCookie(rcu, stored, done, ALLOC_DRIVE_STEPS);
      if (!cookieReady(stored, rcu.completedGracePeriods())) {
        this.#putOwnRing(x);
        return 0;
      }
    }
    // Kill point rule: plain stores only from here to the put-back.
    const next = i32[r + REC_BATCH_NEXT]!;
    const count = i32[r + REC_BATCH_COUNT]!;
    i32[ts + TS_CACHE_HEAD] = x;
    i32[ts + TS_CACHE_COUNT] = count;
    i32[ts + TS_OWN_HELD] = next;
    if (next === 0) i32[ts + TS_OWN_TAIL] = 0;
    i32[ts + TS_OWN_BATCHES]! -= 1;
    i32[ts + TS_OWN_RECYCLED]! += count;
    if (next !== 0) this.#putOwnRing(next);
    return x;
  }

  /**
   * Take this thread's ring out of TS_OWN_HEAD into TS_OWN_HELD (kill point rule: the
   * exchange, then at once the record). 0 when it is empty, also when a thief took it: then
   * TAIL and BATCHES, which described the stolen chain, are reset.
   */
  #holdOwnRing(): number {
    const { i32, ts } = this;
    const h = Atomics.exchange(i32, ts + TS_OWN_HEAD, 0);
    i32[ts + TS_OWN_HELD] = h;
    if (h === 0) {
      i32[ts + TS_OWN_TAIL] = 0;
      i32[ts + TS_OWN_BATCHES] = 0;
    }
    return h;
  }

  /** Put the held ring `h` (non-zero) back where thieves can take it. */
  #putOwnRing(h: number): void {
    // Publishes the ring's links (written while held) to a thief's exchange.
    Atomics.store(this.i32, this.ts + TS_OWN_HEAD, h);
    this.i32[this.ts + TS_OWN_HELD] = 0; // kill point rule: right after the store
  }

  /** Seal the full retire batch and append it to this thread's own ring (#batchFullSlow). */
  #retireToOwnRing(): void {
    const { i32, g, ts } = this;
    const x = i32[ts + TS_BATCH_HEAD]!;
    // A call (kill point) while the batch is still only in TS_BATCH_HEAD.
    batchSeal(i32, g, x, i32[ts + TS_BATCH_COUNT]!, this.rcu);
    const h = this.#holdOwnRing();
    // Kill point rule: plain stores only from here to the put-back; the batch is private
    // throughout, and so is the held ring (no thief sees it while HEAD is 0).
    const base = this.#recBase;
    i32[base + (x - 1) * SPACE_REC_WORDS + REC_BATCH_NEXT] = 0;
    const tail = i32[ts + TS_OWN_TAIL]!;
    if (h !== 0) i32[base + (tail - 1) * SPACE_REC_WORDS + REC_BATCH_NEXT] = x;
    i32[ts + TS_OWN_HELD] = h === 0 ? x : h;
    i32[ts + TS_OWN_TAIL] = x;
    i32[ts + TS_OWN_BATCHES]! += 1;
    i32[ts + TS_BATCH_HEAD] = 0;
    i32[ts + TS_BATCH_COUNT] = 0;
    this.#putOwnRing(h === 0 ? x : h);
  }

  /** Push this thread's own ring to limbo (detach, flushRecords, a refill that found nothing). */
  flushOwnRing(): void {
    const { i32, g, ts } = this;
    if (Atomics.load(i32, ts + TS_OWN_HEAD) === 0) return;
    const h = this.#holdOwnRing();
    if (h === 0) return;
    limboPush(i32, g, h, i32[ts + TS_OWN_TAIL]!);
    i32[ts + TS_OWN_HELD] = 0; // kill point rule: right after the push
    i32[ts + TS_OWN_TAIL] = 0;
    i32[ts + TS_OWN_BATCHES] = 0;
  }

  /** Give this thread's cache back through limbo (detach). See records.ts for why limbo. */
  flushCache(): void {
    const { i32, g, ts } = this;
    const x = i32[ts + TS_CACHE_HEAD]!;
    if (x === 0) return;
    batchSeal(i32, g, x, i32[ts + TS_CACHE_COUNT]!, this.rcu);
    limboPush(i32, g, x, x);
    i32[ts + TS_CACHE_HEAD] = 0;
    i32[ts + TS_CACHE_COUNT] = 0;
  }

  // -------------------------------------------------------------------------------------------
  // free / get / put
  // -------------------------------------------------------------------------------------------

  /**
   * Initiate the free of `id` owned by `set`: reclaim now if this drops the last reference,
   * else mark it FREE_PENDING. Fast path: one CAS for an idle id without SPID that this thread
   * published, named by its hint (no load of the map word).
   *
   * The hint is trusted only after checking the full identity: the hint was taken for this
   * (set, id), and the record still carries the 32-bit incarnation this thread published. If
   * it does, the CAS below succeeds only while that allocation is still idle and live, hence
   * still what map[id] names (the map changes only at publish and after a reclaim's CAS to
   * FREE). Bounds, stated where they matter: across calls, a stale hint matches only after
   * 2^32 republishes of the record between this thread's alloc and its free; within this
   * call, the record must be reclaimed and republished 4096 times (STATE's 12-bit generation),
   * each after a full grace period, between the INC read and the CAS, which run no call in
   * between (only a preemption of this thread that long). A hint that fails takes the slow
   * path, which loads the map.
   */
  free(set: number, id: number): number {
    const p = (id & (PUB_HINTS - 1)) * PUB_WORDS;
    if (this.#pub[p + PUB_ID] !== id || this.#pub[p + PUB_SET] !== set)
      return this.#freeSlow(set, id);
    const m = this.#pub[p + PUB_MAP]!;
    const r = this.#recBase + ((m & MAP_IDX_MASK) - 1) * SPACE_REC_WORDS;
    const s = (m & REC_GEN_BITS) | REC_REF_ONE | REC_ST_LIVE;
    // INC is immutable while the incarnation is published; a plain read (module notes).
    // (A custom id's hint holds its set with REC_KEY_CUSTOM: it fails the set check above.)
    if (
      this.i32[r + REC_INC] !== this.#pub[p + PUB_INC] ||
      !this.#claimReclaim(r, s, m, id, set, null)
    )
      return this.#freeSlow(set, id);
    this.#reclaim(r, m, id, set, false, null);
    return 0;
  }

  /**
   * CAS loop on STATE: retries only when STATE or the map changed (a get/put/free by another
   * thread, or a reclaim and recycle, each progress).
   *
   * ABA bound of the CAS (here and in get and put, which share this prologue): STATE carries
   * the record's 12-bit generation, checked equal to the map word's, so the CAS can hit
   * another incarnation only if the record is reclaimed and republished 4096 times, each after
   * a full grace period, between the map load and the CAS, which run no call in between (only
   * a preemption of this thread that long). No map word is kept across calls here.
   *
   * The prologue (map word, STATE and KEY of one generation) is written out in each of the
   * three rather than shared: a helper returning STATE and KEY through fields cost get+put
   * 8% (the two builds measured side by side in one process, 201 alternating rounds).
   */
  #freeSlow(set: number, id: number): number {
    const { i32 } = this;
    for (;;) {
      const m = Atomics.load(i32, this.#mapWord(id));
      if (m === 0) return -Errno.ENOENT;
      const r = this.#recBase + ((m & MAP_IDX_MASK) - 1) * SPACE_REC_WORDS;
      const s = Atomics.load(i32, r + REC_STATE);
      if (((s ^ m) & REC_GEN_BITS) !== 0) continue; // recycled since the map load: look again
      if ((s & REC_ST_MASK) === REC_ST_FREE) return -Errno.ENOENT;
      const key = i32[r + REC_KEY]!; // immutable while published (module notes)
      if (((key ^ m) & REC_GEN_BITS) !== 0) continue;
      if ((key & REC_KEY_SET_MASK) !== set) return -Errno.EACCES;
      if ((s & REC_ST_MASK) === REC_ST_PENDING) return -Errno.EBUSY;
      if (refsOf(s) === 1) {
        const custom = this.#customReclaim(key);
        if (custom === undefined) return -Errno.ENODEV;
        if (!this.#claimReclaim(r, s, m, id, set, custom)) continue;
        this.#reclaim(r, m, id, set, (s & REC_HAS_SPID) !== 0, custom);
        if (custom !== null) this.hooks.allocators.rethrow();
        return 0;
      }
      // Free-pending: the FREE event (set and global chains), recorded before the CAS (its
      // payload while the id surely lives; its unit keeps the set, and its generation, alive).
      const freeEv = Atomics.load(this.#hk, HOOKS_WORD) !== 0 && this.hooks.freeHasSubscribers(set);
      if (freeEv) this.#recordFree(r, id, set);
      const pending = ((s - REC_REF_ONE) & ~REC_ST_MASK) | REC_ST_PENDING;
      if (Atomics.compareExchange(i32, r + REC_STATE, s, pending) === s) {
        if (freeEv) this.#hk[this.hooks.hts + HK_EV_KIND] = EVK_OWED; // kill point rule
        if (freeEv) this.#emitOwedSlow(); // once per transition (V4)
        return 0;
      }
    }
  }

  /** Take a reference on `id` (`set` -1 = no ownership check). CAS loop as in #freeSlow. */
  get(set: number, id: number): number {
    const { i32 } = this;
    for (;;) {
      const m = Atomics.load(i32, this.#mapWord(id));
      if (m === 0) return -Errno.EINVAL;
      const r = this.#recBase + ((m & MAP_IDX_MASK) - 1) * SPACE_REC_WORDS;
      const s = Atomics.load(i32, r + REC_STATE);
      if (((s ^ m) & REC_GEN_BITS) !== 0) continue;
      if ((s & REC_ST_MASK) === REC_ST_FREE) return -Errno.EINVAL;
      if ((s & REC_ST_MASK) === REC_ST_PENDING) return -Errno.EBUSY;
      const key = i32[r + REC_KEY]!;
      if (((key ^ m) & REC_GEN_BITS) !== 0) continue;
      if (set >= 0 && (key & REC_KEY_SET_MASK) !== set) return -Errno.EACCES;
      if (refsOf(s) === MAX_REFS) return -Errno.EAGAIN;
      if (Atomics.compareExchange(i32, r + REC_STATE, s, s + REC_REF_ONE) === s) return 0;
    }
  }

  /**
   * Drop a reference on `id` (`set` -1 = no ownership check); the last one reclaims it.
   * CAS loop as in #freeSlow.
   */
  put(set: number, id: number): number {
    const { i32 } = this;
    for (;;) {
      const m = Atomics.load(i32, this.#mapWord(id));
      if (m === 0) return -Errno.ENOENT;
      const r = this.#recBase + ((m & MAP_IDX_MASK) - 1) * SPACE_REC_WORDS;
      const s = Atomics.load(i32, r + REC_STATE);
      if (((s ^ m) & REC_GEN_BITS) !== 0) continue;
      if ((s & REC_ST_MASK) === REC_ST_FREE) return -Errno.ENOENT;
      const key = i32[r + REC_KEY]!;
      if (((key ^ m) & REC_GEN_BITS) !== 0) continue;
      const owner = key & REC_KEY_SET_MASK;
      if (set >= 0 && owner !== set) return -Errno.EACCES;
      if (refsOf(s) === 1) {
        const custom = this.#customReclaim(key);
        if (custom === undefined) return -Errno.ENODEV;
        if (!this.#claimReclaim(r, s, m, id, owner, custom)) continue;
        this.#reclaim(r, m, id, owner, (s & REC_HAS_SPID) !== 0, custom);
        if (custom !== null) this.hooks.allocators.rethrow();
        return 1;
      }
      if (Atomics.compareExchange(i32, r + REC_STATE, s, s - REC_REF_ONE) === s) return 0;
    }
  }

  /**
   * The member a reclaim of the id whose KEY is `key` must give it back to: null for a
   * default id; for a custom one (REC_KEY_CUSTOM), this thread's member of the active group
   * (a custom id is the active group's: allocator-registry.ts), its deferred frees run and its
   * group recorded first (prepareFree); undefined when this thread has none (-ENODEV).
   */
  #customReclaim(key: number): AllocatorChoice | null | undefined {
    if ((key & REC_KEY_CUSTOM) === 0) return null;
    const c = this.hooks.chooseAllocator();
    if (c === null || c.ops === undefined) return undefined;
    this.hooks.allocators.prepareFree(c);
    return c;
  }

  /**
   * CAS record `r`'s STATE from `s` to FREE (same generation): the reclaim of `id` (map word
   * `m`, set `set`). When it wins, the reclaim is recorded in this thread's slot with no call
   * in between (kill point rule), and the caller owns it: it must call #reclaim next. For a
   * custom id (`custom`), the free its member owes the provider is recorded too.
   */
  #claimReclaim(
    r: number,
    s: number,
    m: number,
    id: number,
    set: number,
    custom: AllocatorChoice | null,
  ): boolean {
    const { i32 } = this;
    if (Atomics.compareExchange(i32, r + REC_STATE, s, m & REC_GEN_BITS) !== s) return false;
    const ts = this.ts;
    i32[ts + TS_AUX] = m;
    i32[ts + TS_ID] = id;
    i32[ts + TS_SET] = set;
    i32[ts + TS_OP] = TS_RECLAIM_WON;
    if (custom !== null) this.#hk[this.hooks.hts + HK_CU_ID] = id;
    if (custom !== null) this.#hk[this.hooks.hts + HK_CU_OP] = CU_IN_FREE;
    return true;
  }

  /**
   * The caller won the STATE CAS to FREE of record `r` (map word `m`) and recorded it; `custom`
   * is the member to give a custom id back to (null: the default allocator).
   */
  #reclaim(
    r: number,
    m: number,
    id: number,
    set: number,
    hasSpid: boolean,
    custom: AllocatorChoice | null,
  ): void {
    const { i32, ts } = this;
    // While the id is still findable (the map word is still set), as the kernel's reclaim.
    if (custom !== null) this.hooks.allocators.customFree(custom, id);
    // Pairs with attachSpid's CAS that sets HAS_SPID: both CAS STATE, so either it set the
    // flag before our CAS (we saw it and unhash, lock-free; spid.ts) or it failed on FREE.
    if (hasSpid) unhashSpid(i32, this.g, r, set);
    // Unpublish before releasing the number, so a new owner of `id` never meets this record.
    // Idempotent for releaseThread: the bit is still ours, so nobody else writes map[id].
    Atomics.store(i32, this.#mapWord(id), 0);
    // The number goes into this thread's magazine (id-magazine.ts), or, with none free (or
    // for a cyclic space or a custom id), back to the bitmap.
    let at = -1;
    if (custom === null && !this.cyclic) {
      at = this.#magHint;
      if (i32[at] !== 0) at = magazineEmptyEntry(i32, this.#mag);
    }
    let parked = 0; // the entry, when it keeps the unit
    if (at >= 0) parked = this.#cacheId(id, set, at);
    else {
      const word = bitmapRelease(i32, this.#bmBase, id);
      i32[ts + TS_OP] = TS_RECLAIM_BIT_FREED; // kill point rule
      this.#bmIdx = id >>> 5;
      this.#bmVal = word;
    }
    const p = (id & (PUB_HINTS - 1)) * PUB_WORDS;
    if (this.#pub[p + PUB_ID] === id) this.#pub[p + PUB_ID] = 0; // our hint is stale now
    if (parked === 0) this.#releaseUnit(set, TS_RECLAIM_UNIT_FREED);
    const x = m & MAP_IDX_MASK;
    if (this.fault === SPACE_FAULT_RECLAIM_WITHOUT_GP) {
      // Fault injection: recycle at once, no grace period (readers may still hold it).
      i32[r + REC_NEXT] = i32[ts + TS_CACHE_HEAD]!;
      i32[ts + TS_CACHE_HEAD] = x;
      i32[ts + TS_CACHE_COUNT]! += 1;
      i32[ts + TS_OP] = TS_OP_NONE;
      if (parked !== 0) this.#unparkIfPending(set, at, parked);
      return;
    }
    // Into the retire batch: the record is unreachable for new readers, and NEXT is read by
    // nobody but this thread until the batch is pushed (kill point rule: no call until OP).
    i32[r + REC_NEXT] = i32[ts + TS_BATCH_HEAD]!;
    i32[ts + TS_BATCH_HEAD] = x;
    const n = i32[ts + TS_BATCH_COUNT]! + 1;
    i32[ts + TS_BATCH_COUNT] = n;
    i32[ts + TS_OP] = TS_OP_NONE;
    if (parked !== 0) this.#unparkIfPending(set, at, parked);
    // A full batch goes to limbo. Limbo is drained, driving a grace period, every
    // #driveEvery full batches (#batchFullSlow) and whenever a refill finds the free stack
    // empty (#refillSlow).
    if (n >= this.#batchLimit) this.#batchFullSlow();
  }

  /**
   * In a reclaim that cleared `id`'s map word: store `id` into empty magazine entry `at` (its
   * word), with the reclaim's unit of `set` when entries carry charges. Until the store the
   * reclaim's intent (TS_RECLAIM_WON) holds the bit and the unit, and recovery releases them;
   * the store is followed by its record with no call between (kill point rule).
   * @returns the entry stored when it keeps the unit, else 0 (the caller releases the unit)
   */
  #cacheId(id: number, set: number, at: number): number {
    const { i32, ts } = this;
    const e = this.#charges ? id | ((set + 1) << this.#chargeShift) : id;
    // Publishes the cached id to thieves, after the map word's clearing (id-magazine.ts).
    Atomics.store(i32, at, e);
    // Kill point rule: with the charge the entry holds the unit too (reclaim phase 2).
    i32[ts + TS_OP] = e !== id ? TS_RECLAIM_UNIT_FREED : TS_RECLAIM_BIT_FREED;
    this.#magCount++;
    this.#magHint = at;
    return e !== id ? e : 0;
  }

  /**
   * After parking entry `e` (charged to `set`) at word `at` and finishing the reclaim: if the
   * set is PENDING now, take the entry back, so that the set's last charge is released and it
   * dies. The load follows the put: with setFree's PENDING CAS followed by its reclaim of the
   * magazines, one of the two sees the other (id-magazine.ts).
   */
  #unparkIfPending(set: number, at: number, e: number): void {
    const { i32 } = this;
    if ((Atomics.load(i32, this.#setsBase + set * SPACE_SET_WORDS + SET_COUNT) & SET_PENDING) === 0)
      return;
    magazineTakeBack(i32, this.g, this.ts, at, e);
    this.#cSet = -1; // our COUNT guess is stale
  }

  /**
   * Take every id parked with a charge of `set` (-1: of any set) back out of every magazine,
   * releasing the charges (id-magazine.ts magazineReclaim), before an answer that counts them:
   * -EDQUOT, setFree, a notifier or allocator registration that needs no units held.
   * @returns how many were taken back
   */
  #reclaimParked(set: number): number {
    if (!this.#charges) return 0;
    const n = magazineReclaim(this.i32, this.g, this.ts, set);
    if (n > 0) this.#cSet = -1;
    return n;
  }

  /** reclaimParked for the facade (registerAllocator, before the hooks count units). */
  reclaimParked(set: number): number {
    return this.#reclaimParked(set);
  }

  #batchFullSlow(): void {
    if (this.i32[this.ts + TS_OWN_BATCHES]! < this.#ownCap) this.#retireToOwnRing();
    else this.flushBatch();
    // Drive limbo's grace period only every #driveEvery batches (batches reach limbo here only
    // once the own ring is full, or in a pool too small for a ring): this bounds what one
    // thread leaves in limbo to about maxIoasids / (2 * maxThreads) records. A refill that
    // finds no free batch drives its own.
    if (++this.#flushedSinceDrive < this.#driveEvery || this.rcu.nesting !== 0) return;
    this.#flushedSinceDrive = 0;
    recordsDrain(this.i32, this.g, this.rcu, 1, this.ts);
  }

  // -------------------------------------------------------------------------------------------
  // find
  // -------------------------------------------------------------------------------------------

  /**
   * Look `id` up (`set` -1 = no ownership check) and return its data. Atomics: the read side
   * (2), the map word and DATA; KEY is immutable after publish (module notes).
   */
  find(set: number, id: number): number {
    const { i32, rcu } = this;
    rcu.readLock();
    const m = Atomics.load(i32, this.#mapWord(id));
    let v = -Errno.ENOENT;
    if (m !== 0) {
      const r = this.#recBase + ((m & MAP_IDX_MASK) - 1) * SPACE_REC_WORDS;
      v = Atomics.load(i32, r + REC_DATA);
      // Read after DATA, so it is also the rcutorture-style check: under RCU the generation
      // cannot have moved since the map load; if it did, a grace period was broken.
      const key = i32[r + REC_KEY]!;
      if (((key ^ m) & REC_GEN_BITS) !== 0) this.#recycledUnderReader();
      else if (set >= 0 && (key & REC_KEY_SET_MASK) !== set) v = -Errno.EACCES;
    }
    rcu.readUnlock();
    return v;
  }

  /** `find` with a getter, run inside the read-side section. */
  findWithGetter(set: number, id: number, getter: (data: number) => boolean): number {
    const { i32, rcu } = this;
    rcu.readLock();
    try {
      const m = Atomics.load(i32, this.#mapWord(id));
      if (m === 0) return -Errno.ENOENT;
      const r = this.#recBase + ((m & MAP_IDX_MASK) - 1) * SPACE_REC_WORDS;
      const d = Atomics.load(i32, r + REC_DATA);
      const key = Atomics.load(i32, r + REC_KEY);
      if (set >= 0 && (key & REC_KEY_SET_MASK) !== set) return -Errno.EACCES;
      const ok = getter(d);
      // rcutorture-style check: after the getter ran, the record must still be the incarnation
      // the map word named. It can only have moved if a grace period ended while we were
      // inside this read-side section, i.e. if RCU (or record recycling) is broken.
      if (((Atomics.load(i32, r + REC_KEY) ^ m) & REC_GEN_BITS) !== 0) this.#recycledUnderReader();
      return ok ? d : -Errno.EAGAIN;
    } finally {
      rcu.readUnlock();
    }
  }

  #recycledUnderReader(): void {
    Atomics.add(this.i32, SPACE_STAT_RECYCLED_UNDER_READER_WORD, 1);
  }

  /**
   * Inside a read-side section: the map word of live `id`, or 0. The record it names stays
   * this allocation's until the section ends (recycled only after a grace period).
   */
  #lookup(id: number): number {
    const { i32 } = this;
    // Pairs with the publishing store in #publish and the clearing store in #reclaim.
    const m = Atomics.load(i32, this.#mapWord(id));
    if (m === 0) return 0;
    const s = Atomics.load(i32, this.#rec(m) + REC_STATE);
    return (s & REC_ST_MASK) === REC_ST_FREE || ((s ^ m) & REC_GEN_BITS) !== 0 ? 0 : m;
  }

  /** Word of `id` in the id map (space-layout.ts mapSlot, inlined: fields of this object). */
  #mapWord(id: number): number {
    return (
      this.#mapBase + (((id & this.#mapLowMask) << this.#mapShift) | (id >>> this.#mapLowBits))
    );
  }

  /** First word of the record map word `m` names. */
  #rec(m: number): number {
    return this.#recBase + ((m & MAP_IDX_MASK) - 1) * SPACE_REC_WORDS;
  }

  // -------------------------------------------------------------------------------------------
  // data
  // -------------------------------------------------------------------------------------------

  /** Attach `data` (> 0) to `id`: 0, -ENOENT, -EBUSY when data is already attached. */
  attachData(id: number, data: number): number {
    this.rcu.readLock();
    const m = this.#lookup(id);
    let v = -Errno.ENOENT;
    if (m !== 0) {
      const cur = Atomics.compareExchange(this.i32, this.#rec(m) + REC_DATA, 0, data);
      v = cur === 0 ? 0 : -Errno.EBUSY;
    }
    this.rcu.readUnlock();
    return v;
  }

  /** Clear `id`'s data, then wait a grace period: 0 or -ENOENT (no wait then). */
  detachData(id: number): number {
    this.rcu.readLock();
    const m = this.#lookup(id);
    if (m !== 0) Atomics.store(this.i32, this.#rec(m) + REC_DATA, 0);
    this.rcu.readUnlock();
    if (m === 0) return -Errno.ENOENT;
    // After this no reader still holds the old data: the caller may free what it named.
    this.rcu.synchronize();
    return 0;
  }

  // -------------------------------------------------------------------------------------------
  // SPIDs
  // -------------------------------------------------------------------------------------------

  /**
   * Bind `spid` (Int32 form, not -1) to `id`: 0, -ENOENT, -EINVAL (spid used in the set).
   *
   * Under the SPID lock, inside a read-side section: CAS HAS_SPID into STATE first (so a
   * racing reclaim either fails its CAS to FREE on our change, or wins before and we fail on
   * FREE, or wins after and unhashes what it finds), then spid.ts spidBindLocked drops an old
   * binding, stores SPID, inserts, and undoes the binding if a reclaim won meanwhile. The
   * intent (TS_SPID_ATTACH_FLAGGED) is recorded right after the flag CAS, so the recovery of a
   * thread killed after it finishes the binding under that thread's lock.
   */
  attachSpid(id: number, spid: number): number {
    const { i32, g, ts } = this;
    lockAcquire(i32, SPACE_SPID_LOCK_WORD, this.tag);
    this.rcu.readLock();
    let v = -Errno.ENOENT;
    const m = this.#lookup(id);
    if (m !== 0) {
      const r = this.#rec(m);
      const set = Atomics.load(i32, r + REC_KEY) & REC_KEY_SET_MASK;
      // BIND's payload, recorded ahead (the record, which holds a unit, keeps the set alive).
      const bind = this.#recordSpidEvent(EV_BIND, r, id, spid, set);
      if (spidLookup(i32, g, set, spid) >= 0) v = -Errno.EINVAL;
      else {
        i32[ts + TS_AUX] = m; // the intent's operands, before the step it records
        i32[ts + TS_ID] = spid;
        i32[ts + TS_SET] = set;
        if (setStateFlag(i32, r, m, REC_HAS_SPID)) {
          i32[ts + TS_OP] = TS_SPID_ATTACH_FLAGGED; // kill point rule: right after the CAS
          // From here the binding completes (recovery finishes it): the event is owed.
          if (bind) this.#hk[this.hooks.hts + HK_EV_KIND] = EVK_OWED;
          spidBindLocked(i32, g, r, m, set, spid);
          i32[ts + TS_OP] = TS_OP_NONE;
          v = 0;
          // The seq is claimed under the SPID lock: BIND/UNBIND of one id are in lock order.
          if (bind) this.hooks.postOwed();
        }
      }
    }
    this.rcu.readUnlock();
    lockRelease(i32, SPACE_SPID_LOCK_WORD);
    if (v === 0 && Atomics.load(this.#hk, HOOKS_WORD) !== 0) this.hooks.flush();
    return v;
  }

  /**
   * If `set`'s chain has subscribers, record a BIND/UNBIND of record `r` ahead of its step
   * (hooks.ts record) and say so. Under the SPID lock with a live record, which holds a unit
   * of the set, so the set's generation read here is the one at the step.
   */
  #recordSpidEvent(event: number, r: number, id: number, spid: number, set: number): boolean {
    const { hooks } = this;
    if (Atomics.load(this.#hk, HOOKS_WORD) === 0 || !hooks.setHasSubscribers(set)) return false;
    hooks.record(event, id, spid, set, hooks.setGen(set), Atomics.load(this.i32, r + REC_DATA));
    return true;
  }

  /** Record the FREE event of record `r` (before the CAS that makes it free-pending). */
  #recordFree(r: number, id: number, set: number): void {
    const { i32, hooks } = this;
    const spid = Atomics.load(i32, r + REC_SPID);
    hooks.record(EV_FREE, id, spid, set, hooks.setGen(set), Atomics.load(i32, r + REC_DATA));
  }

  /** Emit the event recorded and marked owed (HK_EV_KIND) after its operation took effect. */
  #emitOwedSlow(): void {
    this.hooks.postOwed();
    this.hooks.flush();
  }

  /**
   * Unbind `id`'s SPID: 0, or -ENOENT (unknown id or no SPID). Under the SPID lock, inside a
   * read-side section; the intent (TS_SPID_DETACHING, recorded before the first step) lets
   * the recovery of a thread killed midway finish the unbinding (spid.ts spidUnbindLocked).
   */
  detachSpid(id: number): number {
    const { i32, g, ts } = this;
    lockAcquire(i32, SPACE_SPID_LOCK_WORD, this.tag);
    this.rcu.readLock();
    let v = -Errno.ENOENT;
    const m = this.#lookup(id);
    if (m !== 0) {
      const r = this.#rec(m);
      const spid = Atomics.load(i32, r + REC_SPID);
      if (spid !== REC_SPID_NONE) {
        const set = Atomics.load(i32, r + REC_KEY) & REC_KEY_SET_MASK;
        // UNBIND carries the old SPID (V4); recorded ahead, owed once the intent is recorded
        // (recovery finishes the unbinding from there).
        const unbind = this.#recordSpidEvent(EV_UNBIND, r, id, spid, set);
        i32[ts + TS_AUX] = m;
        i32[ts + TS_ID] = spid;
        i32[ts + TS_SET] = set;
        i32[ts + TS_OP] = TS_SPID_DETACHING;
        if (unbind) this.#hk[this.hooks.hts + HK_EV_KIND] = EVK_OWED;
        spidUnbindLocked(i32, g, r, m, set, spid);
        i32[ts + TS_OP] = TS_OP_NONE;
        v = 0;
        if (unbind) this.hooks.postOwed(); // claimed under the lock, as BIND
      }
    }
    this.rcu.readUnlock();
    lockRelease(i32, SPACE_SPID_LOCK_WORD);
    if (v === 0 && Atomics.load(this.#hk, HOOKS_WORD) !== 0) this.hooks.flush();
    return v;
  }

  /** Id bound to (set, spid), taking a reference when `get`: id, -ENOENT, -EBUSY. */
  findBySpid(set: number, spid: number, get: boolean): number {
    this.rcu.readLock();
    const idx = spidLookup(this.i32, this.g, set, spid);
    const v = idx < 0 ? -Errno.ENOENT : this.#spidHit(this.#recBase + idx * SPACE_REC_WORDS, get);
    this.rcu.readUnlock();
    return v;
  }

  /**
   * Inside a read-side section: the id of record `r`, with a reference if `get`. CAS loop on
   * STATE as in `get`; the record cannot be recycled (we are a reader), which the final
   * rcutorture-style check verifies.
   */
  #spidHit(r: number, get: boolean): number {
    const { i32 } = this;
    let s = 0;
    let v = 0;
    for (;;) {
      s = Atomics.load(i32, r + REC_STATE);
      if ((s & REC_ST_MASK) === REC_ST_FREE) return -Errno.ENOENT;
      if (!get) break;
      if ((s & REC_ST_MASK) === REC_ST_PENDING) return -Errno.EBUSY;
      if (refsOf(s) === MAX_REFS) return -Errno.EAGAIN;
      if (Atomics.compareExchange(i32, r + REC_STATE, s, s + REC_REF_ONE) === s) break;
    }
    v = i32[r + REC_ID]!; // immutable after publish (module notes)
    if (((Atomics.load(i32, r + REC_KEY) ^ s) & REC_GEN_BITS) !== 0) this.#recycledUnderReader();
    return v;
  }

  // -------------------------------------------------------------------------------------------
  // per-set iteration and inspection
  // -------------------------------------------------------------------------------------------

  /**
   * Ids of `set` that were live when their bitmap word was scanned, ascending. Lock-free and
   * stale: ids allocated or reclaimed during the walk may or may not appear. Each check runs
   * in its own short read-side section; `fn` runs outside any section.
   */
  forEachInSet(set: number, fn: (id: number) => void): number {
    const { i32, g } = this;
    let n = 0;
    // Ids above ID_HIGH were never published: a walk is as long as the ids ever in use, not
    // the id space (an id published during the walk may or may not be visited, as before).
    const top = Math.min(this.idMax, Atomics.load(i32, SPACE_ID_HIGH_WORD));
    for (let id = 1; id <= top; id++) {
      if ((id & 31) === 0 && Atomics.load(i32, g.bitmapBase + (id >>> 5)) === 0) {
        id += 31;
        continue;
      }
      if (!bitmapTest(i32, g.bitmapBase, id)) continue;
      this.rcu.readLock();
      const m = this.#lookup(id);
      const mine =
        m !== 0 && (Atomics.load(i32, this.#rec(m) + REC_KEY) & REC_KEY_SET_MASK) === set;
      this.rcu.readUnlock();
      if (mine) {
        n++;
        fn(id);
      }
    }
    return n;
  }

  /** freeAllInSet: `free(set, id)` for every id of `set` (ids found first, then freed). */
  freeAllInSet(set: number): number {
    const ids: number[] = [];
    this.forEachInSet(set, (id) => ids.push(id));
    let n = 0;
    for (const id of ids) if (this.free(set, id) === 0) n++;
    return n;
  }

  /** Is `set` live (not DEAD)? */
  setLive(set: number): boolean {
    return (Atomics.load(this.i32, setWord(this.g, set) + SET_COUNT) & SET_DEAD) === 0;
  }

  /** A snapshot of `id`'s record (stale on return). */
  inspect(id: number): IdState {
    const { i32 } = this;
    this.rcu.readLock();
    const m = this.#lookup(id);
    let out: IdState;
    if (m === 0) out = { state: 'free', set: null, refs: 0, spid: 0xffffffff, data: 0 };
    else {
      const r = this.#rec(m);
      const s = Atomics.load(i32, r + REC_STATE);
      const refs = refsOf(s);
      const pending = (s & REC_ST_MASK) === REC_ST_PENDING;
      out = {
        state: pending ? 'free-pending' : refs > 1 ? 'active' : 'idle',
        set: Atomics.load(i32, r + REC_KEY) & REC_KEY_SET_MASK,
        refs,
        spid: Atomics.load(i32, r + REC_SPID) >>> 0,
        data: Atomics.load(i32, r + REC_DATA),
      };
    }
    this.rcu.readUnlock();
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // sets and capacity (sets.ts, capacity.ts; the set lock where they need it)
  // -------------------------------------------------------------------------------------------

  /** setAlloc under the set lock (sets.ts setAllocLocked). */
  setAlloc(token: number, quota: number, type: number): number {
    const { i32, hooks } = this;
    lockAcquire(i32, SPACE_SET_LOCK_WORD, this.tag);
    // Pending MM subscribers of the token attach; stale ones of the slot's last life detach.
    const owed = hooks.setCreating(type === SET_TYPE_MM ? token : -1);
    const v = setAllocLocked(i32, this.g, token, quota, type, this.ts, this.tag);
    if (owed) hooks.setCreatedLocked(v);
    lockRelease(i32, SPACE_SET_LOCK_WORD);
    return v;
  }

  /** setFree under the set lock (sets.ts setFreeLocked). */
  setFree(set: number): number {
    const { i32 } = this;
    lockAcquire(i32, SPACE_SET_LOCK_WORD, this.tag);
    let v = setFreeLocked(i32, this.g, set, this.ts);
    // PENDING now: the ids parked with its charges are no ids of it; their release destroys
    // it when no live id is left (free-pending ids and their frees: #unparkIfPending). The
    // sweep is owed from the CAS on (TS_SET_FREEING): if this thread dies before it is done,
    // its recovery sweeps (thread-recovery.ts), or a set with only parked charges would stay
    // PENDING, its quota lost, until every thread holding one of them detached.
    if (v === -Errno.EBUSY && this.#reclaimParked(set) > 0 && !this.setLive(set)) v = 0;
    // A charge taken out of a magazine and not released yet is no live id either: its release
    // destroys the set; wait for it (bounded) as -EDQUOT does, sweeping again meanwhile.
    while (v === -Errno.EBUSY && this.setLive(set) && !this.#quotaRefusalStands(set, false));
    if (v === -Errno.EBUSY && !this.setLive(set)) v = 0;
    i32[this.ts + TS_SET_FREEING] = 0;
    lockRelease(i32, SPACE_SET_LOCK_WORD);
    return v;
  }

  /** registerNotifierMm: the MM set of `token` found under the set lock (hooks.ts). */
  registerNotifierMm(token: number, prio: number, owner: number): number {
    const { i32 } = this;
    lockAcquire(i32, SPACE_SET_LOCK_WORD, this.tag);
    const mm = setFindMmLocked(i32, this.g, token);
    // The registration counts the set's units: parked ones are no ids (id-magazine.ts).
    if (mm >= 0) this.#reclaimParked(mm);
    const v = this.hooks.registerMmLocked(token, prio, mm < 0 ? -1 : mm, owner);
    lockRelease(i32, SPACE_SET_LOCK_WORD);
    return v;
  }

  /** findMmSet under the set lock (sets.ts setFindMmLocked). */
  findMmSet(token: number): number {
    const { i32 } = this;
    lockAcquire(i32, SPACE_SET_LOCK_WORD, this.tag);
    const v = setFindMmLocked(i32, this.g, token);
    lockRelease(i32, SPACE_SET_LOCK_WORD);
    return v;
  }

  /**
   * A lock-free snapshot of `set` (sets.ts setInfo), whose count is of the ids a user sees:
   * COUNT's charges less those parked in magazines (id-magazine.ts). Approximate while allocs
   * and frees of the set run: the scan of the magazines is no snapshot (an entry taken or put
   * during it, which moves no COUNT word, is counted or missed), a charge taken out of a
   * magazine and not yet released counts as an id, and after 8 rounds of a moving COUNT the
   * last pair is taken as it is. Exact in a quiet space. COUNT is read again after the scan,
   * and the pair is kept once COUNT did not move across it.
   */
  setInfo(set: number): SetInfo | undefined {
    let info = setInfo(this.i32, this.g, set);
    if (!this.#charges) return info;
    for (let round = 0; info !== undefined; round++) {
      const parked = magazineParked(this.i32, this.g, set);
      const again = setInfo(this.i32, this.g, set);
      if (again === undefined || round === 8 || again.count === info.count) {
        if (again !== undefined) again.count = Math.max(0, again.count - parked);
        return again;
      }
      info = again;
    }
    return info;
  }

  capacity(): number {
    return capacityTotal(this.i32);
  }

  available(): number {
    return capacityAvailable(this.i32);
  }

  /** installCapacity under the set lock (capacity.ts capacityInstallLocked). */
  installCapacity(total: number): number {
    const { i32 } = this;
    lockAcquire(i32, SPACE_SET_LOCK_WORD, this.tag);
    const v = capacityInstallLocked(i32, total, this.ts);
    lockRelease(i32, SPACE_SET_LOCK_WORD);
    return v;
  }

  /** reserveCapacity: units held by this thread (capacity.ts capacityReserveHeld). */
  reserveCapacity(n: number): number {
    return capacityReserveHeld(this.i32, this.ts, n);
  }

  /** cancelCapacity: only units this thread holds (capacity.ts capacityCancelHeld). */
  cancelCapacity(n: number): number {
    return capacityCancelHeld(this.i32, this.ts, n);
  }

  // -------------------------------------------------------------------------------------------
  // this thread's attachment
  // -------------------------------------------------------------------------------------------

  /**
   * attach(): claim this thread's slot (that of its Rcu slot), recovering first what a thread
   * that died in it without `releaseThread` left (thread-recovery.ts claimThreadSlot).
   */
  attach(): number {
    return claimThreadSlot(this.i32, this.g, this.rcu, this.rcu.slot, this.hooks);
  }

  /** releaseThread(slot) for a dead thread (thread-recovery.ts releaseDeadThread). */
  releaseThread(slot: number): number {
    return releaseDeadThread(this.i32, this.g, this.rcu, this.rcu.slot, slot, this.hooks);
  }

  /** Give back what this thread holds privately, free its thread slot, unregister it. */
  detach(): void {
    this.hooks.allocators.leaveAll();
    this.flushBatch();
    this.flushOwnRing();
    this.flushCache();
    magazineReturn(this.i32, this.g, this.ts);
    const held = this.i32[this.ts + TS_RESERVED]!;
    if (held > 0) this.cancelCapacity(held); // reservations end with the attachment
    // Publishes the slot's release; pairs with the CAS in attach's claim (thread-recovery.ts).
    Atomics.store(this.i32, this.ts + TS_STATE, TS_UNUSED);
    this.rcu.unregisterThread();
  }

  // -------------------------------------------------------------------------------------------
  // records and statistics
  // -------------------------------------------------------------------------------------------

  /**
   * Push this thread's batch, then wait until every batch sealed before this call is due and
   * drain limbo: records recycled. Cookies never decrease (RCU layout 7: getState reads
   * GP_SEQ alone), so the synchronize after our seal meets every batch sealed before. Up to
   * layout 6 it did not always: a cookie taken while a GP_LOCK holder sat at idle asked for
   * completed + 2, and a holder that died there left GP_SEQ idle, where one synchronize
   * completes one more. The second round, when the first drain left limbo non-empty, until
   * `completed + 2` as read now (each synchronize completes at least one), stays as a bound:
   * at most two grace periods, one in the common case.
   */
  flushRecords(): number {
    const { i32, g, rcu, ts } = this;
    this.flushBatch();
    this.flushOwnRing();
    // Other threads' rings too: an idle thread's ring would hold its records for good.
    // A ring its owner holds at this moment (inside an alloc or free) is not taken.
    ringsSteal(i32, g, ts);
    // Read after our own seal: no cookie sealed before this line exceeds it (cookieOf).
    const due = rcu.completedGracePeriods() + 2;
    let moved = 0;
    for (;;) {
      rcu.synchronize();
      // Read before the drain, which reads the count again (never less).
      const allDue = rcu.completedGracePeriods() >= due;
      moved += recordsDrain(i32, g, rcu, 0, ts);
      if (allDue || Atomics.load(i32, SPACE_LIMBO_HEAD_WORD) === 0) return moved;
    }
  }

  /** Counters and a record census (records.ts recordsCensus). */
  stats(): IoasidStats {
    const { i32 } = this;
    const hk = this.#hk;
    const c = recordsCensus(i32, this.g);
    const nc = notifierCounters(hk);
    return {
      enospc: Atomics.load(i32, SPACE_STAT_ENOSPC_WORD),
      edquot: Atomics.load(i32, SPACE_STAT_EDQUOT_WORD),
      enomem: Atomics.load(i32, SPACE_STAT_ENOMEM_WORD),
      recycled: Atomics.load(i32, SPACE_STAT_RECYCLED_WORD) + ownRecycled(i32, this.g),
      drains: Atomics.load(i32, SPACE_STAT_DRAINS_WORD),
      setsDestroyed: Atomics.load(i32, SPACE_STAT_SET_DESTROYED_WORD),
      recycledUnderReader: Atomics.load(i32, SPACE_STAT_RECYCLED_UNDER_READER_WORD),
      threadsRecovered: Atomics.load(i32, SPACE_STAT_THREADS_RECOVERED_WORD),
      notifierEvents: nc.events,
      notifierLost: nc.lost,
      notifierOverflows: nc.overflows,
      allocatorDeferredFrees: Atomics.load(hk, HSTAT_DEFERRED_FREES_WORD),
      allocatorAbandoned: Atomics.load(hk, HSTAT_ABANDONED_WORD),
      freeRecords: c.free,
      limboRecords: c.limbo,
      liveRecords: c.live,
    };
  }
}

function refsOf(s: number): number {
  return (s >>> REC_REFS_SHIFT) & REC_REFS_MASK;
}
