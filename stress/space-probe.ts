/**
 * Read-only probes of the words of a space that a killed thread can leave behind: the owners
 * of the set lock and the SPID lock, the holder of the RCU grace-period lock, a reader slot's
 * mark, a thread slot's intent, the SPID table, and the count of records recycled under a
 * reader; of its hooks buffer, a subscriber's read position and pending losses and the
 * custom allocators' deferred frees. The stress harness uses them to aim a kill at a CPU inside a critical section, to
 * record where each killed CPU really died, to check at the end of a run that nothing a dead
 * CPU held survived its recovery, and (in each CPU) to see a recycling during its own lookup.
 *
 * ## Developer notes
 * The words are read directly, by the named indices of src/core/ioasid/space-layout.ts, because the space
 * has no accessor for its lock owners, intents or SPID table, and `rcu.stats()` allocates an
 * array per call while the aiming loop polls every few hundred nanoseconds. Nothing here
 * writes either buffer.
 *
 * Staleness: while the thread runs, `holds` is a hint (the CPU may leave the section before
 * the kill lands). `holds` and `deathSite` are exact when called after the thread's 'exit'
 * event and before `releaseThread`: a lock owner tag changes only by its owner's release or a
 * forced release (`releaseThread`), waiters only add CONTENDED, which the owner mask drops;
 * GP_LOCK is freed only by its holder or `releaseSlot`; a reader mark and a thread slot's
 * intent only by their owner or the recovery.
 */
import {
  GLOBAL_LOST_WORD,
  type HooksGeometry,
  HSTAT_DEFERRED_FREES_WORD,
  hooksHeaderGeometry,
  LOG_HEAD_WORD,
  S_LOST,
  S_READ_SEQ,
  SUB_SLOT_MASK,
  subWord,
} from '../src/core/ioasid/hooks-layout.js';
import type { IoasidSpace } from '../src/core/ioasid/ioasid-space.js';
import {
  SPACE_LOCK_OWNER_MASK,
  SPACE_SET_LOCK_WORD,
  SPACE_SPID_LOCK_WORD,
  SPACE_STAT_RECYCLED_UNDER_READER_WORD,
  SPID_EMPTY,
  SPID_TOMBSTONE,
  type SpaceGeometry,
  spaceHeaderGeometry,
  TS_OP,
  TS_OP_MASK,
  TS_OP_NONE,
  threadSlotWord,
} from '../src/core/ioasid/space-layout.js';
import {
  RCU_GP_LOCK_WORD,
  RCU_SLOT_CTR,
  rcuLockOwner,
  rcuSlotBase,
} from '../src/core/rcu/rcu-layout.js';

/** What an aimed kill waits for its CPU to hold (see `holds`). */
export const CRITICAL_SECTIONS = ['setLock', 'spidLock', 'gracePeriod'] as const;
export type CriticalSection = (typeof CRITICAL_SECTIONS)[number];

/** Where a killed thread was when it died. */
export interface DeathSite {
  /** It held the set lock (setAlloc). */
  setLock: boolean;
  /** It held the SPID lock (attachSpid, detachSpid, reclaim of an id with a SPID). */
  spidLock: boolean;
  /** It held GP_LOCK: leading a grace period (synchronize) or driving one (pollState). */
  gracePeriod: boolean;
  /** Inside an RCU read-side section. */
  readSection: boolean;
  /** Between the steps of an alloc, reclaim or setAlloc (its thread slot records an intent). */
  halfDone: boolean;
}

/** What is still held once every thread is recovered or idle (all zero in a correct run). */
export interface Leftovers {
  /** Owner tag (thread slot + 1) of the set lock, or 0 when free. */
  setLockOwner: number;
  spidLockOwner: number;
  /** threadId + 1 of the GP_LOCK holder, or 0 when free. */
  gpLockOwner: number;
  /** SPID table buckets that still bind a record. */
  spidEntries: number;
}

export class SpaceProbe {
  readonly #space: Int32Array<SharedArrayBuffer>;
  readonly #rcu: Int32Array<SharedArrayBuffer>;
  readonly #hk: Int32Array<SharedArrayBuffer>;
  readonly #g: SpaceGeometry;
  readonly #hg: HooksGeometry;

  constructor(space: IoasidSpace) {
    const i32 = new Int32Array(space.handle.buffer);
    this.#space = i32;
    this.#rcu = new Int32Array(space.rcu.handle.buffer);
    this.#hk = new Int32Array(space.handle.hooks);
    this.#g = spaceHeaderGeometry(i32);
    this.#hg = hooksHeaderGeometry(this.#hk);
  }

  /**
   * Events the space dropped for subscriber `sub` since its last read (its next read starts
   * with an overflow entry for them).
   *
   * Context: any thread; one load, stale on return.
   * @returns the count
   */
  subscriberLost(sub: number): number {
    return Atomics.load(this.#hk, subWord(this.#hg, sub & SUB_SLOT_MASK) + S_LOST);
  }

  /**
   * Events of `set`'s chain (null: the global chain) that found the event log full, not yet
   * charged to the chain's subscribers (their next reads will report them).
   *
   * Context: any thread; one load, stale on return.
   * @returns the count
   */
  chainLost(set: number | null): number {
    return Atomics.load(this.#hk, set === null ? GLOBAL_LOST_WORD : this.#hg.lostBase + set);
  }

  /**
   * The next seq an event will claim: every event raised so far has a lower one.
   *
   * Context: any thread; one load, stale on return.
   * @returns the seq (unsigned)
   */
  logHead(): number {
    return Atomics.load(this.#hk, LOG_HEAD_WORD) >>> 0;
  }

  /**
   * The seq of the last event subscriber `sub` read, as the space keeps it (its gate).
   *
   * Context: any thread; exact once every reader of `sub` is idle or dead.
   * @returns the seq (unsigned)
   */
  subscriberReadSeq(sub: number): number {
    return Atomics.load(this.#hk, subWord(this.#hg, sub & SUB_SLOT_MASK) + S_READ_SEQ) >>> 0;
  }

  /**
   * Frees a dead thread owed a custom allocator, done since by another member
   * (`stats().allocatorDeferredFrees`, without the census of `stats()`).
   *
   * Context: any thread; one load.
   * @returns the count
   */
  deferredFrees(): number {
    return Atomics.load(this.#hk, HSTAT_DEFERRED_FREES_WORD);
  }

  /**
   * Does the thread with Rcu slot `slot` and `threadId` hold `what` right now? A hint while
   * that thread runs (stale on return); exact after it exited (module notes).
   */
  holds(what: CriticalSection, slot: number, threadId: number): boolean {
    switch (what) {
      case 'setLock':
        return this.#lockOwner(SPACE_SET_LOCK_WORD) === slot + 1;
      case 'spidLock':
        return this.#lockOwner(SPACE_SPID_LOCK_WORD) === slot + 1;
      case 'gracePeriod':
        return rcuLockOwner(Atomics.load(this.#rcu, RCU_GP_LOCK_WORD)) === threadId + 1;
    }
  }

  /**
   * Where the thread with Rcu slot `slot` and `threadId` died.
   *
   * Context: after that thread's 'exit' event and before `releaseThread(slot)`: exact then
   * (module notes); at any other time a stale hint.
   */
  deathSite(slot: number, threadId: number): DeathSite {
    const op = Atomics.load(this.#space, threadSlotWord(this.#g, slot) + TS_OP);
    return {
      setLock: this.holds('setLock', slot, threadId),
      spidLock: this.holds('spidLock', slot, threadId),
      gracePeriod: this.holds('gracePeriod', slot, threadId),
      readSection: Atomics.load(this.#rcu, rcuSlotBase(slot) + RCU_SLOT_CTR) !== 0,
      halfDone: (op & TS_OP_MASK) !== TS_OP_NONE,
    };
  }

  /**
   * Locks and SPID bindings still held.
   *
   * Context: only when no thread uses the space (every CPU idle, dead ones recovered) and,
   * for `spidEntries` to be 0, every id freed; the scan costs one load per bucket.
   */
  leftovers(): Leftovers {
    let spidEntries = 0;
    for (let b = 0; b < this.#g.spidBuckets; b++) {
      const e = Atomics.load(this.#space, this.#g.spidBase + b);
      if (e !== SPID_EMPTY && e !== SPID_TOMBSTONE) spidEntries++;
    }
    return {
      setLockOwner: this.#lockOwner(SPACE_SET_LOCK_WORD),
      spidLockOwner: this.#lockOwner(SPACE_SPID_LOCK_WORD),
      gpLockOwner: rcuLockOwner(Atomics.load(this.#rcu, RCU_GP_LOCK_WORD)),
      spidEntries,
    };
  }

  /**
   * The space's count of records a find or findBySpid saw recycled under its read-side
   * section (`stats().recycledUnderReader`, without the allocation of `stats()`).
   *
   * Context: any thread; one load, stale on return.
   * @returns the count
   */
  recycledUnderReader(): number {
    return Atomics.load(this.#space, SPACE_STAT_RECYCLED_UNDER_READER_WORD);
  }

  #lockOwner(word: number): number {
    return Atomics.load(this.#space, word) & SPACE_LOCK_OWNER_MASK;
  }
}
