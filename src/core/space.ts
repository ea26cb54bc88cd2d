/**
 * The IOASID engine: every operation of `IoasidSpace` on already-validated arguments.
 *
 * Methods return a result or a negative errno and never throw for runtime conditions. The
 * facade (`ioasid.ts`) validates argument types and ranges first, so nothing here writes
 * shared memory before the inputs are known to be well-formed.
 *
 * Developer notes.
 * - An id is allocated in three reservations, each by CAS and each rolled back on a later
 *   failure: a quota unit of the set (sets.ts), the id's bit (pasid-bitmap.ts), a record
 *   (records.ts). The record is written while private, then published by storing its
 *   index + 1 into the id map; that store is the linearisation point of `alloc`.
 * - Reclaim (refs reaching 0) is the CAS of STATE to FREE; then, in order: unhash the SPID,
 *   clear the map word, release the bit (the number is reusable now, as with `xa_erase`),
 *   release the quota unit (which may destroy a PENDING set), retire the record to limbo.
 *   So at every instant: set count >= ids of the set that hold a bit >= mapped ids.
 * - `find`, `findBySpid`, `attachData`, `attachSpid`, `inspect` run inside read-side
 *   sections, so a record they reached through the map stays the same allocation's record
 *   until they leave. free/get/put do not: they CAS against the STATE word they validated,
 *   whose generation changes if the record was recycled meanwhile.
 * - Model choices (issue 3 / spec appendix): ACTIVE = refs > 1 (derived, never stored);
 *   `free` is strict about the set (null is refused); `find` still finds a FREE_PENDING id;
 *   `findBySpid(get)` refuses FREE_PENDING; reclaim removes the SPID binding.
 * Parameter names: `set` a set id (-1 stands for null where null is allowed), `id` an id
 * number, `idx` a record index.
 *
 * @internal
 */

import { Errno } from './errno.js';
import {
  REC_DATA,
  REC_GEN_SHIFT,
  REC_ID,
  REC_REF_ONE,
  REC_REFS_MASK,
  REC_REFS_SHIFT,
  REC_SET,
  REC_SPID,
  REC_SPID_NONE,
  REC_ST_FREE,
  REC_ST_LIVE,
  REC_ST_MASK,
  REC_ST_PENDING,
  REC_STATE,
  SET_COUNT,
  SET_DEAD,
  SPACE_CYCLIC_NEXT_WORD,
  SPACE_SPID_LOCK_WORD,
  SPACE_STAT_EDQUOT_WORD,
  SPACE_STAT_ENOMEM_WORD,
  SPACE_STAT_ENOSPC_WORD,
  type SpaceGeometry,
} from './layout.js';
import { bitmapClaim, bitmapRelease, bitmapTest } from './pasid-bitmap.js';
import type { Rcu } from './rcu.js';
import {
  batchPush,
  nextGenState,
  RetireBatch,
  recordPop,
  recordRetire,
  recordsDrain,
  recWord,
} from './records.js';
import { setReleaseUnit, setReserveUnit, setWord } from './sets.js';
import { lockAcquire, lockRelease } from './space-lock.js';
import { spidInsertLocked, spidLookup, spidRemoveLocked } from './spid.js';

type I32 = Int32Array<SharedArrayBuffer>;

/** pollState steps an alloc that found no free record takes per drain round. */
const ALLOC_DRIVE_STEPS = 8;
/** Drain-and-retry rounds an alloc makes when no record is free, before -ENOMEM. */
const ALLOC_DRAIN_ROUNDS = 32;
/** Largest reference count (REC_REFS_MASK). */
const MAX_REFS = REC_REFS_MASK;

/** `inspect` result. */
export interface IdState {
  state: 'free' | 'idle' | 'active' | 'free-pending';
  set: number | null;
  refs: number;
  /** INVALID_IOASID (0xFFFFFFFF) when no SPID is attached. */
  spid: number;
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
  /** This thread's retired records not yet in limbo. */
  readonly #batch: RetireBatch;

  constructor(i32: I32, g: SpaceGeometry, rcu: Rcu, cyclic: boolean, retireBatch: number) {
    this.#batch = new RetireBatch(retireBatch);
    this.i32 = i32;
    this.g = g;
    this.rcu = rcu;
    this.cyclic = cyclic;
    this.idMax = g.idCount - 1;
  }

  // -------------------------------------------------------------------------------------------
  // alloc
  // -------------------------------------------------------------------------------------------

  /** Allocate an id of live `set` in [lo, hi] (1 <= lo <= hi <= idMax) with `data`. */
  alloc(set: number, lo: number, hi: number, data: number): number {
    const { i32, g } = this;
    const q = setReserveUnit(i32, g, set);
    if (q < 0) return this.#allocFailed(set, -1, q);
    const id = this.cyclic ? this.#claimCyclic(lo, hi) : bitmapClaim(i32, g.bitmapBase, lo, hi);
    if (id < 0) return this.#allocFailed(set, -1, -Errno.ENOSPC);
    this.rcu.readLock(); // recordPop's ABA defence; see records.ts
    const idx = recordPop(i32, g);
    this.rcu.readUnlock();
    if (idx < 0) return this.#allocNoRecordSlow(set, id, data);
    this.#publish(idx, id, set, data);
    return id;
  }

  /** Write record `idx` for a new allocation while it is private, then publish it. */
  #publish(idx: number, id: number, set: number, data: number): void {
    const { i32, g } = this;
    const r = recWord(g, idx);
    // The record came off the free stack after a grace period: no reader can reach it, and a
    // stale writer that loads it sees these words before the new STATE (SC order), then fails
    // its REC_ID check or its STATE CAS.
    Atomics.store(i32, r + REC_ID, id);
    Atomics.store(i32, r + REC_SET, set);
    Atomics.store(i32, r + REC_DATA, data);
    Atomics.store(i32, r + REC_SPID, REC_SPID_NONE);
    Atomics.store(i32, r + REC_STATE, nextGenState(Atomics.load(i32, r + REC_STATE), REC_ST_LIVE));
    // Publishes the record: from here find/get/put/free see the id. Pairs with the map loads
    // in #lookup and the writers' loops.
    Atomics.store(i32, g.mapBase + id, idx + 1);
  }

  #claimCyclic(lo: number, hi: number): number {
    const { i32, g } = this;
    const next = Atomics.load(i32, SPACE_CYCLIC_NEXT_WORD);
    const from = next > lo && next <= hi ? next : lo;
    let id = bitmapClaim(i32, g.bitmapBase, from, hi);
    if (id < 0 && from > lo) id = bitmapClaim(i32, g.bitmapBase, lo, from - 1);
    // A hint only: racing allocators may store out of order, which just moves the next search.
    if (id >= 0) Atomics.store(i32, SPACE_CYCLIC_NEXT_WORD, id + 1);
    return id;
  }

  /** Push this thread's partial retire batch to limbo (detach, flushRecords). */
  flushBatch(): void {
    batchPush(this.i32, this.g, this.#batch, this.rcu);
  }

  /** No free record: drain limbo (driving grace periods), retry, else roll back. */
  #allocNoRecordSlow(set: number, id: number, data: number): number {
    const { i32, g } = this;
    for (let round = 0; round < ALLOC_DRAIN_ROUNDS; round++) {
      if (this.rcu.nesting === 0) {
        batchPush(i32, g, this.#batch, this.rcu);
        recordsDrain(i32, g, this.rcu, ALLOC_DRIVE_STEPS);
      }
      this.rcu.readLock();
      const idx = recordPop(i32, g);
      this.rcu.readUnlock();
      if (idx >= 0) {
        this.#publish(idx, id, set, data);
        return id;
      }
    }
    return this.#allocFailed(set, id, -Errno.ENOMEM);
  }

  /** Roll back what an alloc reserved (the bit of `id` if >= 0, the quota unit unless the
   * reservation itself failed) and count the failure. */
  #allocFailed(set: number, id: number, err: number): number {
    const { i32, g } = this;
    if (id >= 0) bitmapRelease(i32, g.bitmapBase, id);
    if (err === -Errno.ENOSPC || err === -Errno.ENOMEM) setReleaseUnit(i32, g, set);
    if (err === -Errno.ENOSPC) Atomics.add(i32, SPACE_STAT_ENOSPC_WORD, 1);
    else if (err === -Errno.ENOMEM) Atomics.add(i32, SPACE_STAT_ENOMEM_WORD, 1);
    else if (err === -Errno.EDQUOT) Atomics.add(i32, SPACE_STAT_EDQUOT_WORD, 1);
    return err;
  }

  // -------------------------------------------------------------------------------------------
  // free / get / put
  // -------------------------------------------------------------------------------------------

  /**
   * Initiate the free of `id` owned by `set`: reclaim now if this drops the last reference,
   * else mark it FREE_PENDING.
   *
   * CAS loop on STATE: retries only when STATE changed (a get/put/free by another thread, or
   * a reclaim and recycle, each progress). ABA: STATE's generation (module notes).
   */
  free(set: number, id: number): number {
    const { i32, g } = this;
    for (;;) {
      const idx = Atomics.load(i32, g.mapBase + id) - 1;
      if (idx < 0) return -Errno.ENOENT;
      const r = recWord(g, idx);
      const s = Atomics.load(i32, r + REC_STATE);
      if ((s & REC_ST_MASK) === REC_ST_FREE || Atomics.load(i32, r + REC_ID) !== id)
        return -Errno.ENOENT;
      if (Atomics.load(i32, r + REC_SET) !== set) return -Errno.EACCES;
      if ((s & REC_ST_MASK) === REC_ST_PENDING) return -Errno.EBUSY;
      const last = refsOf(s) === 1;
      const ns = last ? freedState(s) : ((s - REC_REF_ONE) & ~REC_ST_MASK) | REC_ST_PENDING;
      if (Atomics.compareExchange(i32, r + REC_STATE, s, ns) === s) {
        if (last) this.#reclaim(idx, id, set);
        return 0;
      }
    }
  }

  /**
   * Take a reference on `id` (`set` -1 = no ownership check). CAS loop as in `free`.
   */
  get(set: number, id: number): number {
    const { i32, g } = this;
    for (;;) {
      const idx = Atomics.load(i32, g.mapBase + id) - 1;
      if (idx < 0) return -Errno.EINVAL;
      const r = recWord(g, idx);
      const s = Atomics.load(i32, r + REC_STATE);
      if ((s & REC_ST_MASK) === REC_ST_FREE || Atomics.load(i32, r + REC_ID) !== id)
        return -Errno.EINVAL;
      if ((s & REC_ST_MASK) === REC_ST_PENDING) return -Errno.EBUSY;
      if (set >= 0 && Atomics.load(i32, r + REC_SET) !== set) return -Errno.EACCES;
      if (refsOf(s) === MAX_REFS) return -Errno.EAGAIN;
      if (Atomics.compareExchange(i32, r + REC_STATE, s, s + REC_REF_ONE) === s) return 0;
    }
  }

  /**
   * Drop a reference on `id` (`set` -1 = no ownership check); the last one reclaims it.
   * CAS loop as in `free`.
   */
  put(set: number, id: number): number {
    const { i32, g } = this;
    for (;;) {
      const idx = Atomics.load(i32, g.mapBase + id) - 1;
      if (idx < 0) return -Errno.ENOENT;
      const r = recWord(g, idx);
      const s = Atomics.load(i32, r + REC_STATE);
      if ((s & REC_ST_MASK) === REC_ST_FREE || Atomics.load(i32, r + REC_ID) !== id)
        return -Errno.ENOENT;
      const owner = Atomics.load(i32, r + REC_SET);
      if (set >= 0 && owner !== set) return -Errno.EACCES;
      const last = refsOf(s) === 1;
      if (
        Atomics.compareExchange(i32, r + REC_STATE, s, last ? freedState(s) : s - REC_REF_ONE) === s
      ) {
        if (!last) return 0;
        this.#reclaim(idx, id, owner);
        return 1;
      }
    }
  }

  /** The caller won the STATE CAS to FREE for record `idx` of `id` in `set`. */
  #reclaim(idx: number, id: number, set: number): void {
    const { i32, g } = this;
    const r = recWord(g, idx);
    // Pairs with attachSpid's "store SPID, then re-check STATE" (Dekker): either we see its
    // SPID here and unhash under the lock, or it sees our FREE and undoes its insert.
    if (Atomics.load(i32, r + REC_SPID) !== REC_SPID_NONE) this.#unhashSpidSlow(idx);
    // Unpublish before releasing the number, so a new owner of `id` never meets this record.
    Atomics.store(i32, g.mapBase + id, 0);
    bitmapRelease(i32, g.bitmapBase, id);
    setReleaseUnit(i32, g, set);
    if (recordRetire(i32, g, this.#batch, idx, this.rcu) && this.rcu.nesting === 0) {
      recordsDrain(i32, g, this.rcu, 1);
    }
  }

  #unhashSpidSlow(idx: number): void {
    const { i32, g } = this;
    const r = recWord(g, idx);
    lockAcquire(i32, SPACE_SPID_LOCK_WORD);
    const spid = Atomics.load(i32, r + REC_SPID);
    if (spid !== REC_SPID_NONE) {
      spidRemoveLocked(i32, g, Atomics.load(i32, r + REC_SET), spid, idx);
      Atomics.store(i32, r + REC_SPID, REC_SPID_NONE);
    }
    lockRelease(i32, SPACE_SPID_LOCK_WORD);
  }

  // -------------------------------------------------------------------------------------------
  // find
  // -------------------------------------------------------------------------------------------

  /** Look `id` up (`set` -1 = no ownership check) and return its data. */
  find(set: number, id: number): number {
    this.rcu.readLock();
    const v = this.#lookupData(set, id);
    this.rcu.readUnlock();
    return v;
  }

  /** `find` with a getter, run inside the read-side section. */
  findWithGetter(set: number, id: number, getter: (data: number) => boolean): number {
    this.rcu.readLock();
    try {
      const v = this.#lookupData(set, id);
      return v >= 0 && !getter(v) ? -Errno.EAGAIN : v;
    } finally {
      this.rcu.readUnlock();
    }
  }

  /** Caller is inside a read-side section. Data of `id`, -ENOENT or -EACCES. */
  #lookupData(set: number, id: number): number {
    const { i32, g } = this;
    const idx = this.#lookup(id);
    if (idx < 0) return -Errno.ENOENT;
    const r = recWord(g, idx);
    if (set >= 0 && Atomics.load(i32, r + REC_SET) !== set) return -Errno.EACCES;
    return Atomics.load(i32, r + REC_DATA);
  }

  /**
   * Record of live `id`, or -1. Inside a read-side section the record stays this
   * allocation's until the section ends (its memory is recycled only after a grace period).
   */
  #lookup(id: number): number {
    const { i32, g } = this;
    // Pairs with the publishing store in #publish and the clearing store in #reclaim.
    const idx = Atomics.load(i32, g.mapBase + id) - 1;
    if (idx < 0) return -1;
    const r = recWord(g, idx);
    if ((Atomics.load(i32, r + REC_STATE) & REC_ST_MASK) === REC_ST_FREE) return -1;
    return Atomics.load(i32, r + REC_ID) === id ? idx : -1;
  }

  // -------------------------------------------------------------------------------------------
  // data
  // -------------------------------------------------------------------------------------------

  /** Attach `data` (> 0) to `id`: 0, -ENOENT, -EBUSY when data is already attached. */
  attachData(id: number, data: number): number {
    const { i32, g } = this;
    this.rcu.readLock();
    const idx = this.#lookup(id);
    let v = -Errno.ENOENT;
    if (idx >= 0) {
      const cur = Atomics.compareExchange(i32, recWord(g, idx) + REC_DATA, 0, data);
      v = cur === 0 ? 0 : -Errno.EBUSY;
    }
    this.rcu.readUnlock();
    return v;
  }

  /** Clear `id`'s data, then wait a grace period: 0 or -ENOENT (no wait then). */
  detachData(id: number): number {
    const { i32, g } = this;
    this.rcu.readLock();
    const idx = this.#lookup(id);
    if (idx >= 0) Atomics.store(i32, recWord(g, idx) + REC_DATA, 0);
    this.rcu.readUnlock();
    if (idx < 0) return -Errno.ENOENT;
    // After this no reader still holds the old data: the caller may free what it named.
    this.rcu.synchronize();
    return 0;
  }

  // -------------------------------------------------------------------------------------------
  // SPIDs
  // -------------------------------------------------------------------------------------------

  /** Bind `spid` (Int32 form, not -1) to `id`: 0, -ENOENT, -EINVAL (spid used in the set). */
  attachSpid(id: number, spid: number): number {
    const { i32, g } = this;
    lockAcquire(i32, SPACE_SPID_LOCK_WORD);
    this.rcu.readLock();
    let v = 0;
    const idx = this.#lookup(id);
    if (idx < 0) v = -Errno.ENOENT;
    else {
      const r = recWord(g, idx);
      const set = Atomics.load(i32, r + REC_SET);
      const gen = Atomics.load(i32, r + REC_STATE) >>> REC_GEN_SHIFT;
      if (spidLookup(i32, g, set, spid) >= 0) v = -Errno.EINVAL;
      else {
        const old = Atomics.load(i32, r + REC_SPID);
        if (old !== REC_SPID_NONE) spidRemoveLocked(i32, g, set, old, idx);
        spidInsertLocked(i32, g, set, spid, idx);
        Atomics.store(i32, r + REC_SPID, spid);
        // Dekker with #reclaim: re-check STATE after storing SPID (see there).
        const s = Atomics.load(i32, r + REC_STATE);
        if ((s & REC_ST_MASK) === REC_ST_FREE || s >>> REC_GEN_SHIFT !== gen) {
          spidRemoveLocked(i32, g, set, spid, idx);
          Atomics.store(i32, r + REC_SPID, REC_SPID_NONE);
          v = -Errno.ENOENT;
        }
      }
    }
    this.rcu.readUnlock();
    lockRelease(i32, SPACE_SPID_LOCK_WORD);
    return v;
  }

  /** Unbind `id`'s SPID: 0, or -ENOENT (unknown id or no SPID). */
  detachSpid(id: number): number {
    const { i32, g } = this;
    lockAcquire(i32, SPACE_SPID_LOCK_WORD);
    this.rcu.readLock();
    let v = -Errno.ENOENT;
    const idx = this.#lookup(id);
    if (idx >= 0) {
      const r = recWord(g, idx);
      const spid = Atomics.load(i32, r + REC_SPID);
      if (spid !== REC_SPID_NONE) {
        spidRemoveLocked(i32, g, Atomics.load(i32, r + REC_SET), spid, idx);
        Atomics.store(i32, r + REC_SPID, REC_SPID_NONE);
        v = 0;
      }
    }
    this.rcu.readUnlock();
    lockRelease(i32, SPACE_SPID_LOCK_WORD);
    return v;
  }

  /** Id bound to (set, spid), taking a reference when `get`: id, -ENOENT, -EBUSY. */
  findBySpid(set: number, spid: number, get: boolean): number {
    this.rcu.readLock();
    const idx = spidLookup(this.i32, this.g, set, spid);
    const v = idx < 0 ? -Errno.ENOENT : this.#spidHit(idx, get);
    this.rcu.readUnlock();
    return v;
  }

  /** Inside a read-side section: the id of record `idx`, with a reference if `get`.
   * CAS loop on STATE as in `get`; the record cannot be recycled (we are a reader). */
  #spidHit(idx: number, get: boolean): number {
    const { i32, g } = this;
    const r = recWord(g, idx);
    for (;;) {
      const s = Atomics.load(i32, r + REC_STATE);
      if ((s & REC_ST_MASK) === REC_ST_FREE) return -Errno.ENOENT;
      if (!get) return Atomics.load(i32, r + REC_ID);
      if ((s & REC_ST_MASK) === REC_ST_PENDING) return -Errno.EBUSY;
      if (refsOf(s) === MAX_REFS) return -Errno.EAGAIN;
      if (Atomics.compareExchange(i32, r + REC_STATE, s, s + REC_REF_ONE) === s) {
        return Atomics.load(i32, r + REC_ID);
      }
    }
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
      const idx = this.#lookup(id);
      const mine = idx >= 0 && Atomics.load(i32, recWord(g, idx) + REC_SET) === set;
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
    const { i32, g } = this;
    this.rcu.readLock();
    const idx = this.#lookup(id);
    let out: IdState;
    if (idx < 0) out = { state: 'free', set: null, refs: 0, spid: 0xffffffff, data: 0 };
    else {
      const r = recWord(g, idx);
      const s = Atomics.load(i32, r + REC_STATE);
      const refs = refsOf(s);
      const pending = (s & REC_ST_MASK) === REC_ST_PENDING;
      out = {
        state: pending ? 'free-pending' : refs > 1 ? 'active' : 'idle',
        set: Atomics.load(i32, r + REC_SET),
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

/** STATE after reclaim: same generation, no references, FREE. */
function freedState(s: number): number {
  return s & ~((REC_REFS_MASK << REC_REFS_SHIFT) | REC_ST_MASK);
}
