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
 * - Reclaim (refs reaching 0) is the CAS of STATE to FREE; then, in order: unhash the SPID,
 *   clear the map word, release the bit (the number is reusable now, as with `xa_erase`),
 *   release the quota unit (which may destroy a PENDING set), put the record in this
 *   thread's retire batch. So at every instant: set count >= ids of the set that hold a bit
 *   >= mapped ids.
 * - Generations: a record's STATE, its KEY and the map word that publishes it carry the same
 *   12-bit generation, bumped at each publish. `find` loads the map word, then DATA and KEY:
 *   KEY's generation equal to the map word's proves the record was not recycled meanwhile,
 *   which under RCU is guaranteed; a mismatch means a broken grace period and is counted in
 *   `recycledUnderReader` (the rcutorture-style check). free/get/put, which hold no
 *   read-side section, compare generations and CAS STATE, which fails on a recycled record.
 * - Guessed CASes: this thread remembers the last COUNT word it saw for one set and the last
 *   value of one bitmap word, and CASes against them without loading first. A wrong guess
 *   only makes the CAS fail (it returns the real value, and the slow path takes over), so a
 *   guess is a hint, never trusted. With the published-map-word hint in `free`,
 *   single-threaded alloc+free needs 7 atomic operations (3 + 4).
 * - KEY and ID are read without Atomics: written while the record is private, before the
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
 * the atomic step (an id from Math.clz32, a quota) are computed before it. The intent phases:
 *
 * ```text
 * alloc     CAS COUNT -> OP=ALLOC|1, SET   CAS bit -> ID, OP=ALLOC|2   pop record -> REC, OP=ALLOC|3
 *           store map -> OP=NONE           (recovery: put REC back, release bit, release unit)
 * reclaim   CAS STATE->FREE -> OP=RECLAIM|0, AUX=map word, ID, SET   unhash, clear map (idempotent)
 *           and bit -> OP=RECLAIM|1        CAS COUNT -> OP=RECLAIM|2  link into batch -> OP=NONE
 * ```
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
} from './hooks-layout.js';
import { EV_BIND, EV_FREE, EV_UNBIND } from './notifier-queues.js';
import { bitmapClaim, bitmapTest } from './pasid-bitmap.js';
import { batchSeal, freeStackPop, limboPush, recordsDrain } from './records.js';
import { setReleaseUnit, setReserveUnit, setWord } from './sets.js';
import {
  MAP_IDX_MASK,
  REC_BATCH_COUNT,
  REC_DATA,
  REC_GEN_BITS,
  REC_GEN_SHIFT,
  REC_HAS_SPID,
  REC_ID,
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
  SET_COUNT_MASK,
  SET_DEAD,
  SET_PENDING,
  SET_QUOTA,
  SPACE_CYCLIC_NEXT_WORD,
  SPACE_FAULT_QUOTA_CHECK_THEN_ACT,
  SPACE_FAULT_RECLAIM_WITHOUT_GP,
  SPACE_REC_WORDS,
  SPACE_SET_WORDS,
  SPACE_SPID_LOCK_WORD,
  SPACE_STAT_EDQUOT_WORD,
  SPACE_STAT_ENOMEM_WORD,
  SPACE_STAT_ENOSPC_WORD,
  SPACE_STAT_RECYCLED_UNDER_READER_WORD,
  type SpaceGeometry,
  TS_AUX,
  TS_BATCH_COUNT,
  TS_BATCH_HEAD,
  TS_CACHE_COUNT,
  TS_CACHE_HEAD,
  TS_ID,
  TS_OP,
  TS_OP_ALLOC,
  TS_OP_NONE,
  TS_OP_RECLAIM,
  TS_PHASE_1,
  TS_PHASE_2,
  TS_REC,
  TS_SET,
  threadSlotWord,
} from './space-layout.js';
import { lockAcquire, lockRelease } from './space-lock.js';
import { spidInsertLocked, spidLookup, spidRemoveLocked, unhashSpid } from './spid.js';

type I32 = Int32Array<SharedArrayBuffer>;

/** pollState steps an alloc that found no free record takes per drain round. */
const ALLOC_DRIVE_STEPS = 8;
/** Drain-and-retry rounds an alloc makes when no record is free, before -ENOMEM. */
const ALLOC_DRAIN_ROUNDS = 64;
/** Largest reference count (REC_REFS_MASK). */
const MAX_REFS = REC_REFS_MASK;
/** One generation step in STATE/KEY/map words. */
const GEN_ONE = 1 << REC_GEN_SHIFT;
/** TS_OP of an alloc that also popped record TS_REC (phase 3). */
const TS_ALLOC_3 = TS_OP_ALLOC | (3 << 4);
/** Entries of the thread-local published-map-word hint (a power of two). */
const PUB_HINTS = 64;
/** How long a custom alloc waits for the reclaim that is giving its id back (rounds x ms). */
const CUSTOM_CLAIM_ROUNDS = 100;
const CUSTOM_CLAIM_NAP_MS = 0.1;
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
  /** Full batches between two grace periods this thread drives (see #batchFullSlow). */
  readonly #driveEvery: number;
  #flushedSinceDrive = 0;
  readonly #mapBase: number;
  readonly #recBase: number;
  readonly #bmBase: number;
  readonly #setsBase: number;
  // Thread-local guesses (hints validated by the CAS that uses them; see module notes).
  #cSet = -1;
  #cWord = 0;
  #cQuota = 0;
  #bmIdx = -1;
  #bmVal = 0;
  /** Map words this thread published, direct-mapped by id (a hint for `free`; see there). */
  readonly #pubId = new Int32Array(PUB_HINTS);
  readonly #pubMap = new Int32Array(PUB_HINTS);
  /** A private word to sleep on (Atomics.wait with a timeout; nobody notifies it). */
  readonly #nap = new Int32Array(new SharedArrayBuffer(4));

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
    this.#batchLimit = retireBatch;
    this.#driveEvery = Math.max(1, Math.floor(g.maxIoasids / (2 * g.maxThreads * retireBatch)));
    this.#mapBase = g.mapBase;
    this.#recBase = g.recordsBase;
    this.#bmBase = g.bitmapBase;
    this.#setsBase = g.setsBase;
  }

  // -------------------------------------------------------------------------------------------
  // alloc
  // -------------------------------------------------------------------------------------------

  /** Allocate an id of live `set` in [lo, hi] (1 <= lo <= hi <= idMax) with `data`. */
  alloc(set: number, lo: number, hi: number, data: number): number {
    // Zero cost while no subscriber and no custom allocator exist: one load (hooks.ts).
    if (Atomics.load(this.#hk, HOOKS_WORD) !== 0) return this.#allocHooked(set, lo, hi, data);
    const w = this.#cWord;
    if (
      set !== this.#cSet ||
      (w & (SET_DEAD | SET_PENDING)) !== 0 ||
      (w & SET_COUNT_MASK) >= this.#cQuota ||
      Atomics.compareExchange(this.i32, this.#setsBase + set * SPACE_SET_WORDS, w, w + 1) !== w
    ) {
      return this.#allocSlow(set, lo, hi, data);
    }
    // Took a quota unit (the guess was right). Kill point rule: record it before any call.
    this.#cWord = w + 1;
    this.i32[this.ts + TS_SET] = set;
    this.i32[this.ts + TS_OP] = TS_OP_ALLOC | TS_PHASE_1;
    return this.#allocWithUnit(set, lo, hi, data);
  }

  /** Reserve a unit with a load-CAS loop (or the injected check-then-act fault). */
  #allocSlow(set: number, lo: number, hi: number, data: number): number {
    const { i32, g } = this;
    if (this.fault === SPACE_FAULT_QUOTA_CHECK_THEN_ACT)
      return this.#allocCheckThenAct(set, lo, hi, data);
    const w = setReserveUnit(i32, g, set);
    if (w < 0) {
      if (w === -Errno.EDQUOT) Atomics.add(i32, SPACE_STAT_EDQUOT_WORD, 1);
      return w;
    }
    i32[this.ts + TS_SET] = set; // kill point rule: right after the CAS
    i32[this.ts + TS_OP] = TS_OP_ALLOC | TS_PHASE_1;
    this.#cSet = set;
    this.#cWord = w;
    this.#cQuota = Atomics.load(i32, setWord(g, set) + SET_QUOTA); // same generation as w
    return this.#allocWithUnit(set, lo, hi, data);
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
    if ((w & (SET_DEAD | SET_PENDING)) !== 0) return -Errno.EINVAL;
    if ((w & SET_COUNT_MASK) >= Atomics.load(i32, base + SET_QUOTA)) {
      Atomics.add(i32, SPACE_STAT_EDQUOT_WORD, 1);
      return -Errno.EDQUOT;
    }
    const id = this.#claimId(lo, hi); // the window in which another alloc passes the check
    if (id < 0) {
      Atomics.add(i32, SPACE_STAT_ENOSPC_WORD, 1);
      return -Errno.ENOSPC;
    }
    Atomics.add(i32, base + SET_COUNT, 1);
    i32[this.ts + TS_SET] = set;
    i32[this.ts + TS_ID] = id;
    i32[this.ts + TS_OP] = TS_OP_ALLOC | TS_PHASE_2;
    return this.#publish(set, id, data);
  }

  /** Holding a unit of `set`: claim an id, then publish a record. */
  #allocWithUnit(set: number, lo: number, hi: number, data: number): number {
    // A custom allocator may have been registered after our first look (allocator-registry.ts
    // "handshake"): look again now that we hold the unit.
    if (Atomics.load(this.#hk, HOOKS_WORD) !== 0) {
      this.#releaseUnit(set, TS_OP_NONE);
      return this.#allocHooked(set, lo, hi, data);
    }
    const id = this.#claimId(lo, hi);
    if (id < 0) return this.#allocUndo(set, -1, -Errno.ENOSPC);
    this.i32[this.ts + TS_ID] = id; // kill point rule: right after the CAS in #claimId
    this.i32[this.ts + TS_OP] = TS_OP_ALLOC | TS_PHASE_2;
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
      const w = setReserveUnit(i32, g, set);
      if (w < 0) {
        if (w === -Errno.EDQUOT) Atomics.add(i32, SPACE_STAT_EDQUOT_WORD, 1);
        return w;
      }
      i32[ts + TS_SET] = set; // kill point rule: right after the CAS
      i32[ts + TS_OP] = TS_OP_ALLOC | TS_PHASE_1;
      this.#cSet = -1; // the guessed COUNT word is stale now
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
      i32[ts + TS_OP] = TS_OP_ALLOC | TS_PHASE_2;
      // A member that called back into this space may have used the record ensured above.
      if (i32[ts + TS_CACHE_HEAD] === 0) return this.#allocHookedNoRecord(set, id, choice);
      const claimed = hooks.setHasSubscribers(set) && hooks.claimAlloc(id, set, data);
      // KEY's custom bit (the set argument goes into KEY only, given a record: ensured above).
      const v = this.#publish(choice.ops === undefined ? set : set | REC_KEY_CUSTOM, id, data);
      hooks.finishAlloc(claimed, v > 0);
      if (choice.ops !== undefined) hooks.allocators.allocDone(choice, v > 0);
      return v;
    }
  }

  /**
   * Ask this thread's member for an id and claim exactly that id's bit.
   * @returns the id; CUSTOM_RESTART; or a negative errno (CUSTOM_THREW included), holding
   * only the quota unit
   */
  #claimCustom(choice: AllocatorChoice, lo: number, hi: number): number {
    const { i32, ts } = this;
    const x = this.hooks.allocators.customAlloc(choice, lo, hi);
    if (x < 0) return x;
    const bit = 1 << (x & 31);
    for (let round = 0; ; round++) {
      // Claims the id the member handed out; pairs with the Atomics.and of a reclaim. A set
      // bit is left as it is (or sets nothing).
      const old = Atomics.or(i32, this.#bmBase + (x >>> 5), bit);
      if ((old & bit) === 0) {
        i32[ts + TS_ID] = x; // kill point rule: right after the claim
        i32[ts + TS_OP] = TS_OP_ALLOC | TS_PHASE_2;
        this.#hk[this.hooks.hts + HK_CU_OP] = CU_TRACKED;
        this.#bmIdx = -1;
        return x;
      }
      // Its bit is taken. Live (published, not reclaimed): refuse it, it is its owner's. Else
      // its previous owner's reclaim gave it back to the provider (which handed it to us) and
      // has not released the bit yet: wait for that, then give up on it (module notes).
      if (this.#idLive(x)) return this.hooks.allocators.refuseLive();
      if (round === CUSTOM_CLAIM_ROUNDS) return this.hooks.allocators.giveBack(choice);
      Atomics.wait(this.#nap, 0, 0, CUSTOM_CLAIM_NAP_MS);
    }
  }

  /** Is `id` published and not reclaimed (its record's STATE not FREE)? A snapshot. */
  #idLive(id: number): boolean {
    const m = Atomics.load(this.i32, this.#mapBase + id);
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

  /** Claim the lowest free id in [lo, hi] (policy lowest), or per the cyclic policy. */
  #claimId(lo: number, hi: number): number {
    if (this.cyclic) return this.#claimCyclic(lo, hi);
    const wi = lo >>> 5;
    if (wi === this.#bmIdx) {
      const v = this.#bmVal;
      let mask = -1 << (lo & 31);
      if (hi >>> 5 === wi) mask &= (0xffffffff >>> (31 - (hi & 31))) | 0;
      const free = ~v & mask;
      const bit = free & -free;
      const id = (wi << 5) + (31 - Math.clz32(bit)); // before the CAS: Math.clz32 is a call
      // Takes the id number if the guess is the word's value; pairs with the Atomics.and in
      // #reclaim. A wrong guess fails the CAS and falls back to the scan.
      if (free !== 0 && Atomics.compareExchange(this.i32, this.#bmBase + wi, v, v | bit) === v) {
        this.#bmVal = v | bit;
        return id;
      }
    }
    this.#bmIdx = -1;
    return bitmapClaim(this.i32, this.#bmBase, lo, hi);
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
    i32[this.ts + TS_OP] = TS_OP_ALLOC | TS_PHASE_2;
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
    let x = i32[ts + TS_CACHE_HEAD]!;
    if (x === 0) x = this.#refillSlow();
    if (x === 0) return this.#allocUndo(set, id, -Errno.ENOMEM);
    const r = this.#recBase + (x - 1) * SPACE_REC_WORDS;
    // Private record (module notes of records.ts): plain writes; published below.
    const gen = ((i32[r + REC_STATE]! + GEN_ONE) | 0) & REC_GEN_BITS; // wraps: no overflow deopt
    i32[r + REC_KEY] = gen | set;
    i32[r + REC_ID] = id;
    i32[r + REC_DATA] = data;
    i32[r + REC_STATE] = gen | REC_REF_ONE | REC_ST_LIVE;
    // Pop it from the cache, recording that we hold it (no call until the publish).
    i32[ts + TS_REC] = x;
    i32[ts + TS_CACHE_HEAD] = i32[r + REC_NEXT]!;
    i32[ts + TS_CACHE_COUNT]! -= 1;
    i32[ts + TS_OP] = TS_ALLOC_3;
    // Publishes the record: from here find/get/put/free see the id. Pairs with the map loads
    // in find, #lookup and the writers' loops.
    Atomics.store(i32, this.#mapBase + id, gen | x);
    i32[ts + TS_OP] = TS_OP_NONE;
    this.#pubId[id & (PUB_HINTS - 1)] = id;
    this.#pubMap[id & (PUB_HINTS - 1)] = gen | x;
    return id;
  }

  /**
   * The cache is empty: pop a batch off the free stack; if there is none, push our retire
   * batch and drain limbo (driving grace periods a few steps, never blocking), and retry.
   * @returns idx+1 of the new cache head, or 0 when no record could be had.
   */
  #refillSlow(): number {
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
        recordsDrain(i32, g, rcu, ALLOC_DRIVE_STEPS, ts);
      }
    }
    return 0;
  }

  /** Roll back what an alloc holds (id `id`'s bit if >= 0, and the unit), count `err`. */
  #allocUndo(set: number, id: number, err: number): number {
    const { i32, ts } = this;
    if (id >= 0) {
      const bit = 1 << (id & 31);
      const old = Atomics.and(i32, this.#bmBase + (id >>> 5), ~bit);
      i32[ts + TS_OP] = TS_OP_ALLOC | TS_PHASE_1; // kill point rule
      this.#bmIdx = id >>> 5;
      this.#bmVal = old & ~bit;
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
      (w & (SET_PENDING | SET_DEAD)) === 0 &&
      (w & SET_COUNT_MASK) !== 0 &&
      Atomics.compareExchange(this.i32, this.#setsBase + set * SPACE_SET_WORDS, w, w - 1) === w
    ) {
      this.i32[this.ts + TS_OP] = opAfter; // kill point rule
      this.#cWord = w - 1;
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
   * else mark it FREE_PENDING. Fast path: one guessed CAS for an idle id without SPID.
   *
   * When this thread published `id` recently, the map word it stored is a guess that saves
   * loading it: the CAS below succeeds only if STATE still holds that word's generation,
   * idle, which means that allocation is still live and so still what map[id] names (the map
   * changes only at publish and after a reclaim's CAS to FREE). A stale guess fails the KEY
   * check or the CAS and takes the slow path, which loads the map.
   */
  free(set: number, id: number): number {
    const { i32 } = this;
    // A custom id's KEY carries REC_KEY_CUSTOM, which fails the KEY check below: its reclaim
    // (which calls its allocator, or is refused) is the slow path's. No cost for default ids.
    const h = id & (PUB_HINTS - 1);
    const m = this.#pubId[h] === id ? this.#pubMap[h]! : Atomics.load(i32, this.#mapBase + id);
    if (m === 0) return -Errno.ENOENT;
    const r = this.#recBase + ((m & MAP_IDX_MASK) - 1) * SPACE_REC_WORDS;
    const gen = m & REC_GEN_BITS;
    const s = gen | REC_REF_ONE | REC_ST_LIVE;
    // KEY: same incarnation and same set (module notes); then the guessed CAS to FREE.
    if (
      (i32[r + REC_KEY]! ^ gen) !== set ||
      Atomics.compareExchange(i32, r + REC_STATE, s, gen) !== s
    ) {
      return this.#freeSlow(set, id);
    }
    // We own the reclaim. Kill point rule: record it before any call.
    const ts = this.ts;
    i32[ts + TS_AUX] = m;
    i32[ts + TS_ID] = id;
    i32[ts + TS_SET] = set;
    i32[ts + TS_OP] = TS_OP_RECLAIM;
    this.#reclaim(r, m, id, set, false, null);
    return 0;
  }

  /**
   * CAS loop on STATE: retries only when STATE or the map changed (a get/put/free by another
   * thread, or a reclaim and recycle, each progress). ABA: the generation (module notes).
   */
  #freeSlow(set: number, id: number): number {
    const { i32 } = this;
    for (;;) {
      const m = Atomics.load(i32, this.#mapBase + id);
      if (m === 0) return -Errno.ENOENT;
      const r = this.#recBase + ((m & MAP_IDX_MASK) - 1) * SPACE_REC_WORDS;
      const s = Atomics.load(i32, r + REC_STATE);
      if (((s ^ m) & REC_GEN_BITS) !== 0) continue; // recycled since the map load: look again
      if ((s & REC_ST_MASK) === REC_ST_FREE) return -Errno.ENOENT;
      const key = i32[r + REC_KEY]!;
      if (((key ^ m) & REC_GEN_BITS) !== 0) continue;
      if ((key & REC_KEY_SET_MASK) !== set) return -Errno.EACCES;
      if ((s & REC_ST_MASK) === REC_ST_PENDING) return -Errno.EBUSY;
      const last = refsOf(s) === 1;
      const hooked = Atomics.load(this.#hk, HOOKS_WORD) !== 0;
      const custom = last && (key & REC_KEY_CUSTOM) !== 0 ? this.#reclaimChoice() : null;
      if (custom === undefined) return -Errno.ENODEV;
      // Before the CAS: the event's payload and the set's generation while the id is surely
      // live (its unit keeps the set from dying, so the generation is the one at the CAS).
      const freeEv = !last && hooked && this.hooks.freeHasSubscribers(set);
      if (freeEv) this.#recordFree(r, id, set);
      if (custom !== null) this.hooks.allocators.prepareFree(custom);
      const ns = last ? s & REC_GEN_BITS : ((s - REC_REF_ONE) & ~REC_ST_MASK) | REC_ST_PENDING;
      if (Atomics.compareExchange(i32, r + REC_STATE, s, ns) === s) {
        const hts = this.hooks.hts; // kill point rule: what we owe, before any call
        if (freeEv) this.#hk[hts + HK_EV_KIND] = EVK_OWED;
        if (!last) {
          // Once per transition to free-pending (V4: FREE on the set and global chains).
          if (freeEv) this.#emitOwedSlow();
          return 0;
        }
        if (custom !== null) this.#hk[hts + HK_CU_ID] = id;
        if (custom !== null) this.#hk[hts + HK_CU_OP] = CU_IN_FREE;
        const ts = this.ts; // kill point rule, as in free
        i32[ts + TS_AUX] = m;
        i32[ts + TS_ID] = id;
        i32[ts + TS_SET] = set;
        i32[ts + TS_OP] = TS_OP_RECLAIM;
        this.#reclaim(r, m, id, set, (s & REC_HAS_SPID) !== 0, custom);
        if (custom !== null) this.hooks.allocators.rethrow();
        return 0;
      }
    }
  }

  /** Take a reference on `id` (`set` -1 = no ownership check). CAS loop as in #freeSlow. */
  get(set: number, id: number): number {
    const { i32 } = this;
    for (;;) {
      const m = Atomics.load(i32, this.#mapBase + id);
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
      const m = Atomics.load(i32, this.#mapBase + id);
      if (m === 0) return -Errno.ENOENT;
      const r = this.#recBase + ((m & MAP_IDX_MASK) - 1) * SPACE_REC_WORDS;
      const s = Atomics.load(i32, r + REC_STATE);
      if (((s ^ m) & REC_GEN_BITS) !== 0) continue;
      if ((s & REC_ST_MASK) === REC_ST_FREE) return -Errno.ENOENT;
      const key = i32[r + REC_KEY]!;
      if (((key ^ m) & REC_GEN_BITS) !== 0) continue;
      const owner = key & REC_KEY_SET_MASK;
      if (set >= 0 && owner !== set) return -Errno.EACCES;
      const last = refsOf(s) === 1;
      const custom = last && (key & REC_KEY_CUSTOM) !== 0 ? this.#reclaimChoice() : null;
      if (custom === undefined) return -Errno.ENODEV;
      if (custom !== null) this.hooks.allocators.prepareFree(custom);
      if (
        Atomics.compareExchange(
          i32,
          r + REC_STATE,
          s,
          last ? s & REC_GEN_BITS : s - REC_REF_ONE,
        ) === s
      ) {
        if (!last) return 0;
        // Kill point rule: the provider is owed this id's free from here.
        if (custom !== null) this.#hk[this.hooks.hts + HK_CU_ID] = id;
        if (custom !== null) this.#hk[this.hooks.hts + HK_CU_OP] = CU_IN_FREE;
        const ts = this.ts; // kill point rule, as in free
        i32[ts + TS_AUX] = m;
        i32[ts + TS_ID] = id;
        i32[ts + TS_SET] = owner;
        i32[ts + TS_OP] = TS_OP_RECLAIM;
        this.#reclaim(r, m, id, owner, (s & REC_HAS_SPID) !== 0, custom);
        if (custom !== null) this.hooks.allocators.rethrow();
        return 1;
      }
    }
  }

  /**
   * The member a reclaim must give a custom id (REC_KEY_CUSTOM) back to: this thread's member
   * of the active group (a custom id is the active group's: allocator-registry.ts), or
   * undefined when this thread has none (-ENODEV).
   */
  #reclaimChoice(): AllocatorChoice | undefined {
    const c = this.hooks.chooseAllocator();
    return c === null || c.ops === undefined ? undefined : c;
  }

  /**
   * The caller won the STATE CAS to FREE of record `r` (map word `m`) and recorded it; `custom`
   * is the member to give a custom id back to (null: default allocator).
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
    // flag before our CAS (we saw it and unhash under the lock) or it failed on FREE.
    if (hasSpid) this.#unhashSpidSlow(r, set);
    // Unpublish before releasing the number, so a new owner of `id` never meets this record.
    // Idempotent for releaseThread: the bit is still ours, so nobody else writes map[id].
    Atomics.store(i32, this.#mapBase + id, 0);
    const bit = 1 << (id & 31);
    const old = Atomics.and(i32, this.#bmBase + (id >>> 5), ~bit);
    i32[ts + TS_OP] = TS_OP_RECLAIM | TS_PHASE_1; // kill point rule
    if (this.#pubId[id & (PUB_HINTS - 1)] === id) this.#pubId[id & (PUB_HINTS - 1)] = 0;
    this.#bmIdx = id >>> 5;
    this.#bmVal = old & ~bit;
    this.#releaseUnit(set, TS_OP_RECLAIM | TS_PHASE_2);
    const x = m & MAP_IDX_MASK;
    if (this.fault === SPACE_FAULT_RECLAIM_WITHOUT_GP) {
      // Fault injection: recycle at once, no grace period (readers may still hold it).
      i32[r + REC_NEXT] = i32[ts + TS_CACHE_HEAD]!;
      i32[ts + TS_CACHE_HEAD] = x;
      i32[ts + TS_CACHE_COUNT]! += 1;
      i32[ts + TS_OP] = TS_OP_NONE;
      return;
    }
    // Into the retire batch: the record is unreachable for new readers, and NEXT is read by
    // nobody but this thread until the batch is pushed (kill point rule: no call until OP).
    i32[r + REC_NEXT] = i32[ts + TS_BATCH_HEAD]!;
    i32[ts + TS_BATCH_HEAD] = x;
    const n = i32[ts + TS_BATCH_COUNT]! + 1;
    i32[ts + TS_BATCH_COUNT] = n;
    i32[ts + TS_OP] = TS_OP_NONE;
    // A full batch goes to limbo. Limbo is drained, driving a grace period, every
    // #driveEvery full batches (#batchFullSlow) and whenever a refill finds the free stack
    // empty (#refillSlow).
    if (n >= this.#batchLimit) this.#batchFullSlow();
  }

  #batchFullSlow(): void {
    this.flushBatch();
    // Drive a grace period only every #driveEvery batches: a grace period costs about as much
    // as 64 alloc+free pairs, and this bounds what one thread leaves in limbo to about
    // maxIoasids / (2 * maxThreads) records. A refill that finds no free batch drives its own.
    if (++this.#flushedSinceDrive < this.#driveEvery || this.rcu.nesting !== 0) return;
    this.#flushedSinceDrive = 0;
    recordsDrain(this.i32, this.g, this.rcu, 1, this.ts);
  }

  #unhashSpidSlow(r: number, set: number): void {
    unhashSpid(this.i32, this.g, r, set, this.tag);
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
    const m = Atomics.load(i32, this.#mapBase + id);
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
      const m = Atomics.load(i32, this.#mapBase + id);
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
    const m = Atomics.load(i32, this.#mapBase + id);
    if (m === 0) return 0;
    const s = Atomics.load(i32, this.#rec(m) + REC_STATE);
    return (s & REC_ST_MASK) === REC_ST_FREE || ((s ^ m) & REC_GEN_BITS) !== 0 ? 0 : m;
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
   * Under the SPID lock: CAS HAS_SPID into STATE first (so a racing reclaim either fails our
   * CAS on FREE or sees the flag and unhashes under this lock after us), then drop an old
   * binding, store SPID, insert. Every kill point leaves "SPID != NONE implies HAS_SPID" and
   * no table entry without its SPID word, so a reclaim or a later attach cleans up.
   */
  attachSpid(id: number, spid: number): number {
    const { i32, g } = this;
    lockAcquire(i32, SPACE_SPID_LOCK_WORD, this.tag);
    this.rcu.readLock();
    let v = -Errno.ENOENT;
    const m = this.#lookup(id);
    if (m !== 0) {
      const r = this.#rec(m);
      const idx = (m & MAP_IDX_MASK) - 1;
      const set = Atomics.load(i32, r + REC_KEY) & REC_KEY_SET_MASK;
      // The set's generation now, while the record (flagged below) holds its unit.
      const setGen = this.#spidEventGen(set);
      if (spidLookup(i32, g, set, spid) >= 0) v = -Errno.EINVAL;
      else if (setStateFlag(i32, r, m, REC_HAS_SPID)) {
        const old = Atomics.load(i32, r + REC_SPID);
        if (old !== REC_SPID_NONE) spidRemoveLocked(i32, g, set, old, idx);
        if (setGen >= 0)
          this.hooks.record(EV_BIND, id, spid, set, setGen, Atomics.load(i32, r + REC_DATA));
        Atomics.store(i32, r + REC_SPID, spid);
        if (setGen >= 0) this.#hk[this.hooks.hts + HK_EV_KIND] = EVK_OWED; // kill point rule
        spidInsertLocked(i32, g, set, spid, idx);
        v = 0;
        // The seq is claimed under the SPID lock: BIND/UNBIND of one id are in lock order.
        if (setGen >= 0) this.hooks.postOwed();
      }
    }
    this.rcu.readUnlock();
    lockRelease(i32, SPACE_SPID_LOCK_WORD);
    if (v === 0 && Atomics.load(this.#hk, HOOKS_WORD) !== 0) this.hooks.flush();
    return v;
  }

  /**
   * Record the FREE event of record `r` before the CAS that would make it free-pending: its
   * payload while the id is surely live (its unit keeps the set from dying, so the generation
   * read now is the one at the CAS).
   */
  #recordFree(r: number, id: number, set: number): void {
    const { i32, hooks } = this;
    hooks.record(
      EV_FREE,
      id,
      Atomics.load(i32, r + REC_SPID),
      set,
      hooks.setGen(set),
      Atomics.load(i32, r + REC_DATA),
    );
  }

  /** Emit the event recorded and marked owed (HK_EV_KIND) after its operation took effect. */
  #emitOwedSlow(): void {
    this.hooks.postOwed();
    this.hooks.flush();
  }

  /** The set generation for a BIND/UNBIND event of `set`, or -1 when no one listens. */
  #spidEventGen(set: number): number {
    if (Atomics.load(this.#hk, HOOKS_WORD) === 0 || !this.hooks.setHasSubscribers(set)) return -1;
    return this.hooks.setGen(set);
  }

  /** Unbind `id`'s SPID: 0, or -ENOENT (unknown id or no SPID). */
  detachSpid(id: number): number {
    const { i32, g } = this;
    lockAcquire(i32, SPACE_SPID_LOCK_WORD, this.tag);
    this.rcu.readLock();
    let v = -Errno.ENOENT;
    const m = this.#lookup(id);
    if (m !== 0) {
      const r = this.#rec(m);
      const spid = Atomics.load(i32, r + REC_SPID);
      if (spid !== REC_SPID_NONE) {
        const set = Atomics.load(i32, r + REC_KEY) & REC_KEY_SET_MASK;
        // A record with a SPID cannot finish a reclaim while we hold the SPID lock (it must
        // unhash under it), so its unit, and the set's generation, are stable here.
        const setGen = this.#spidEventGen(set);
        // UNBIND carries the old SPID (V4); claimed under the lock, as BIND.
        if (setGen >= 0)
          this.hooks.record(EV_UNBIND, id, spid, set, setGen, Atomics.load(i32, r + REC_DATA));
        spidRemoveLocked(i32, g, set, spid, (m & MAP_IDX_MASK) - 1);
        Atomics.store(i32, r + REC_SPID, REC_SPID_NONE);
        if (setGen >= 0) this.#hk[this.hooks.hts + HK_EV_KIND] = EVK_OWED; // kill point rule
        clearStateFlag(i32, r, m, REC_HAS_SPID); // after SPID is NONE (see attachSpid)
        v = 0;
        if (setGen >= 0) this.hooks.postOwed();
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
    for (let id = 1; id <= this.idMax; id++) {
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
}

function refsOf(s: number): number {
  return (s >>> REC_REFS_SHIFT) & REC_REFS_MASK;
}

/**
 * Set `flag` in record `r`'s STATE while it is the live incarnation map word `m` names.
 * CAS loop: retries only when STATE changed (a get/put by another thread: progress).
 * @returns false when the record was reclaimed meanwhile (nothing changed)
 */
function setStateFlag(i32: I32, r: number, m: number, flag: number): boolean {
  for (;;) {
    const s = Atomics.load(i32, r + REC_STATE);
    if ((s & REC_ST_MASK) === REC_ST_FREE || ((s ^ m) & REC_GEN_BITS) !== 0) return false;
    if (Atomics.compareExchange(i32, r + REC_STATE, s, s | flag) === s) return true;
  }
}

/** Clear `flag` as setStateFlag sets it; a reclaimed record is left alone. */
function clearStateFlag(i32: I32, r: number, m: number, flag: number): void {
  for (;;) {
    const s = Atomics.load(i32, r + REC_STATE);
    if ((s & REC_ST_MASK) === REC_ST_FREE || ((s ^ m) & REC_GEN_BITS) !== 0) return;
    if (Atomics.compareExchange(i32, r + REC_STATE, s, s & ~flag) === s) return;
  }
}
