/**
 * `IoasidSpace`: one system's PASID space in shared memory, usable from every worker thread.
 *
 * ```ts
 * const space = IoasidSpace.create({ pasidBits: 20 });
 * const set = space.setAlloc(null, 1024, SetType.NULL);     // set id, or -errno
 * const id = space.alloc(set, 1, 1000, 42);                  // id, or -errno
 * space.find(set, id);                                       // 42
 * new Worker(url, { workerData: space.handle });
 * // in the worker:
 * const s = IoasidSpace.attach(workerData); s.get(null, id); s.put(null, id); s.detach();
 * ```
 *
 * Every method may run in every attached thread at the same time. alloc, free, get, put,
 * find and findBySpid are lock-free; setAlloc, findMmSet, installCapacity take a short set
 * lock and attachSpid/detachSpid (and the reclaim of an id with a SPID) a short SPID lock.
 * Runtime failures return a negative `Errno` and change nothing; misuse of the API (a
 * non-integer argument, a detached space) throws `IoasidError`.
 *
 * ## Developer notes
 * This is the thin validating facade: it checks argument types (throwing) and ranges
 * (returning an errno), then delegates to `SpaceCore` (space-core.ts) and the one-job modules
 * (capacity, sets, pasid-bitmap, records, spid). Every offset is in space-layout.ts. Arguments are
 * validated before the first shared write. `null` for a set is passed down as -1 ("no
 * ownership check"); a negative integer set is passed as NO_SET, which matches no record.
 * Rejected: returning `INVALID_IOASID` for every failure as V4 does (one sentinel for every
 * failure; callers could not tell quota from exhaustion).
 */

import { WORD_BYTES } from '../cache-line.js';
import { Rcu, type RcuHandle } from '../rcu/rcu.js';
import type { AllocatorOps } from './allocator-registry.js';
import { ALLOCATOR_NAME_MAX } from './allocator-registry.js';
import {
  capacityAvailable,
  capacityCancel,
  capacityInstallLocked,
  capacityReserve,
  capacityTotal,
} from './capacity.js';
import { Errno } from './errno.js';
import { SpaceHooks } from './hooks.js';
import {
  hooksBufferCheck,
  hooksBufferCreate,
  NOTIFY_QUEUE_DEPTH_MAX,
  type Notification,
} from './hooks-api.js';
import {
  HOOKS_FAULT_NO_GATING,
  HOOKS_FAULT_NONE,
  HOOKS_MAX_SUBS,
  HSTAT_ABANDONED_WORD,
  HSTAT_DEFERRED_FREES_WORD,
} from './hooks-layout.js';
import { ioasidErrors } from './ioasid-errors.js';
import { notifierCounters } from './notifier-queues.js';
import { recordsCensus, recordsDrain, recordsInit } from './records.js';
import {
  type SetInfo,
  setAllocLocked,
  setFindMmLocked,
  setFree,
  setInfo,
  setWord,
} from './sets.js';
import { type IdState, SpaceCore } from './space-core.js';
import {
  SET_COUNT,
  SET_DEAD,
  SET_TOKEN_NULL,
  SPACE_AVAILABLE_WORD,
  SPACE_CAPACITY_WORD,
  SPACE_FAULT_NONE,
  SPACE_FAULT_QUOTA_CHECK_THEN_ACT,
  SPACE_FAULT_RECLAIM_WITHOUT_GP,
  SPACE_FAULT_WORD,
  SPACE_LAYOUT_VERSION,
  SPACE_MAGIC,
  SPACE_MAGIC_WORD,
  SPACE_MAX_IOASIDS_WORD,
  SPACE_MAX_PASID_BITS,
  SPACE_MAX_SETS,
  SPACE_MAX_SETS_WORD,
  SPACE_MAX_THREADS_WORD,
  SPACE_PASID_BITS_WORD,
  SPACE_POLICY_CYCLIC,
  SPACE_POLICY_LOWEST,
  SPACE_POLICY_WORD,
  SPACE_RETIRE_BATCH,
  SPACE_RETIRE_BATCH_WORD,
  SPACE_SET_LOCK_WORD,
  SPACE_STAT_DRAINS_WORD,
  SPACE_STAT_EDQUOT_WORD,
  SPACE_STAT_ENOMEM_WORD,
  SPACE_STAT_ENOSPC_WORD,
  SPACE_STAT_RECYCLED_UNDER_READER_WORD,
  SPACE_STAT_RECYCLED_WORD,
  SPACE_STAT_SET_DESTROYED_WORD,
  SPACE_STAT_THREADS_RECOVERED_WORD,
  SPACE_VERSION_WORD,
  type SpaceGeometry,
  spaceGeometry,
  spaceHeaderGeometry,
  TS_ATTACHED,
  TS_OP,
  TS_OP_ALLOC,
  TS_OP_MASK,
  TS_RECOVERING,
  TS_STATE,
  TS_UNUSED,
  threadSlotWord,
} from './space-layout.js';
import { lockAcquire, lockRelease } from './space-lock.js';
import { recoverThreadSlot } from './thread-recovery.js';

export { Errno, type ErrnoValue, errnoName } from './errno.js';
export {
  type AllocatorOps,
  type Notification,
  NotifierPriority,
  NotifyEvent,
  type NotifyRecord,
  type OverflowRecord,
} from './hooks-api.js';
export { IoasidError, type IoasidErrorCode } from './ioasid-errors.js';
export type { SetInfo } from './sets.js';
export type { IdState } from './space-core.js';

/** `(ioasid_t)-1`: never handed out as an id; as a SPID it means "none". */
export const INVALID_IOASID = 0xffffffff;

/** Set types, with the kernel's numbering. */
export const SetType = Object.freeze({
  /** A set with no token (`setAlloc(null, ...)`). */
  NULL: 1,
  /** A set bound to an address-space token: one live MM set per token. */
  MM: 2,
} as const);
/** One of the values of {@link SetType}. */
export type SetType = (typeof SetType)[keyof typeof SetType];

/** Id allocation policy: `lowest` = `xa_alloc`, `cyclic` = `xa_alloc_cyclic`. */
export type AllocPolicy = 'lowest' | 'cyclic';

/** Options of `IoasidSpace.create`. */
export interface IoasidOptions {
  /** Ids live in [1, 2^pasidBits - 1]. 1..20. */
  pasidBits: number;
  /** Set-table slots (set ids are 0 .. maxSets - 1). 1..65536. */
  maxSets: number;
  /** Record-pool size: ids that can be live at once (records of reclaimed ids wait one grace
   * period before reuse). 1..2^20 - 2. */
  maxIoasids: number;
  /** Threads that may attach at once (RCU reader slots). 1..4096. */
  maxThreads: number;
  /** How `alloc` picks an id in its range. */
  policy: AllocPolicy;
  /** RCU stall warning threshold, ms. */
  stallMs: number;
  /** Notifier subscribers that may be registered at once (all chains). 0..4096. */
  maxSubscribers: number;
  /** Events each subscriber's queue holds before it overflows. A power of two, 1..65536. */
  notifyQueueDepth: number;
  /**
   * @internal Fault injection, for the stress harness's tests that prove its checks can fail
   * (never set it otherwise): `reclaim-without-gp` recycles a reclaimed record at once, with
   * no grace period; `quota-check-then-act` checks a set's count against its quota with a
   * plain load and increments it afterwards, so concurrent allocs can pass the quota;
   * `notify-no-gating` lets a subscriber read an event before the subscribers ahead of it on
   * its chain. Stored in the buffers' headers, so every attached thread runs the same fault.
   */
  fault?: IoasidFault | undefined;
}

/** @internal Values of {@link IoasidOptions.fault}. */
export type IoasidFault = 'reclaim-without-gp' | 'quota-check-then-act' | 'notify-no-gating';

/** Each fault's code in the space header (the notifier's is in the hooks header). */
const FAULT_CODES: Readonly<Record<IoasidFault, number>> = Object.freeze({
  'reclaim-without-gp': SPACE_FAULT_RECLAIM_WITHOUT_GP,
  'quota-check-then-act': SPACE_FAULT_QUOTA_CHECK_THEN_ACT,
  'notify-no-gating': SPACE_FAULT_NONE,
});

/** Defaults of {@link IoasidOptions}: byteLength about 7 MiB. */
export const IOASID_DEFAULTS: Readonly<IoasidOptions> = Object.freeze({
  pasidBits: 20,
  maxSets: 1024,
  maxIoasids: 65536,
  maxThreads: 64,
  policy: 'lowest',
  stallMs: 10_000,
  maxSubscribers: 32,
  notifyQueueDepth: 256,
  fault: undefined,
});

/**
 * Fill in defaults and validate options.
 *
 * @param options - any subset of {@link IoasidOptions}
 *
 * Context: pure; any thread.
 * @returns the complete options
 * @throws IoasidError ERR_IOASID_BAD_OPTION naming the option and its rule
 */
export function resolveIoasidOptions(options: Partial<IoasidOptions> = {}): IoasidOptions {
  const o = { ...IOASID_DEFAULTS, ...options };
  checkOption('pasidBits', o.pasidBits, 1, SPACE_MAX_PASID_BITS);
  checkOption('maxSets', o.maxSets, 1, SPACE_MAX_SETS);
  checkOption('maxIoasids', o.maxIoasids, 1, 2 ** 20 - 2);
  checkOption('maxThreads', o.maxThreads, 1, 4096);
  checkOption('stallMs', o.stallMs, 1, 2 ** 31 - 1);
  checkOption('maxSubscribers', o.maxSubscribers, 0, HOOKS_MAX_SUBS);
  checkOption('notifyQueueDepth', o.notifyQueueDepth, 1, NOTIFY_QUEUE_DEPTH_MAX);
  if ((o.notifyQueueDepth & (o.notifyQueueDepth - 1)) !== 0)
    throw ioasidErrors.badOption('notifyQueueDepth', 'a power of two', o.notifyQueueDepth);
  if (o.policy !== 'lowest' && o.policy !== 'cyclic')
    throw ioasidErrors.badOption('policy', "'lowest' or 'cyclic'", o.policy);
  if (o.fault !== undefined && !Object.hasOwn(FAULT_CODES, o.fault))
    throw ioasidErrors.badOption(
      'fault',
      `undefined or one of ${Object.keys(FAULT_CODES)}`,
      o.fault,
    );
  return o;
}

function checkOption(name: string, v: unknown, lo: number, hi: number): void {
  if (!Number.isInteger(v) || (v as number) < lo || (v as number) > hi)
    throw ioasidErrors.badOption(name, `an integer in [${lo}, ${hi}]`, v);
}

const HANDLE_KIND = 'ioasid/space';

/** A structured-cloneable reference to a space: send it to workers. */
export interface IoasidHandle {
  /** Always `'ioasid/space'`: `IoasidSpace.attach` refuses anything else. */
  readonly kind: typeof HANDLE_KIND;
  /** The buffer's layout version; `IoasidSpace.attach` refuses another. */
  readonly version: number;
  /** The space's shared memory: header, sets, id bitmap, records and thread slots. */
  readonly buffer: SharedArrayBuffer;
  /** The handle of the space's own RCU instance, which guards record reuse. */
  readonly rcu: RcuHandle;
  /** Notifier chains and the allocator registry (hooks-layout.ts). */
  readonly hooks: SharedArrayBuffer;
}

/** Counters and record census, as returned by `stats()`. */
export interface IoasidStats {
  /** `alloc` calls that found no free id in their range (-ENOSPC). */
  enospc: number;
  /** `alloc` calls refused by their set's quota (-EDQUOT). */
  edquot: number;
  /** `alloc` calls that found no free record (-ENOMEM). */
  enomem: number;
  /** Records moved from limbo back to the free stack. */
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
   * batches) / holding an allocation. Exact only when quiet. */
  freeRecords: number;
  /** Records waiting for a grace period (limbo, retire batches). Exact only when quiet. */
  limboRecords: number;
  /** Records holding an allocation. Exact only when quiet. */
  liveRecords: number;
}

const DATA_MAX = 0x7fffffff;
const TOKEN_MAX = 0x7fffffff;
/** Set argument that matches no record (a negative integer set id). */
const NO_SET = 0x7fffffff;

/**
 * One thread's attachment to a PASID space. Create with `IoasidSpace.create`, attach in other
 * threads with `IoasidSpace.attach(space.handle)`.
 */
export class IoasidSpace {
  readonly #core: SpaceCore;
  readonly #handle: IoasidHandle;
  readonly #g: SpaceGeometry;
  #detached = false;

  private constructor(handle: IoasidHandle, rcu: Rcu) {
    const i32 = new Int32Array(handle.buffer);
    const g = spaceHeaderGeometry(i32);
    this.#g = g;
    this.#handle = handle;
    const { hk, hg } = hooksBufferCheck(handle.hooks, g.maxThreads, g.maxSets);
    // Header words are immutable after create() (space-layout.ts).
    this.#core = new SpaceCore(
      i32,
      g,
      rcu,
      Atomics.load(i32, SPACE_POLICY_WORD) === SPACE_POLICY_CYCLIC,
      Atomics.load(i32, SPACE_RETIRE_BATCH_WORD),
      rcu.slot,
      Atomics.load(i32, SPACE_FAULT_WORD),
      new SpaceHooks(hk, hg, i32, g, rcu.slot),
    );
    this.#claimThreadSlot();
  }

  /**
   * Mark this thread's slot attached. A slot still ATTACHED was left by a thread that died
   * and whose Rcu slot was released without `releaseThread` (we hold that Rcu slot now, so
   * its owner is gone): recover it first. A slot being RECOVERING by another thread's
   * `releaseThread` is waited for (a few microseconds).
   */
  #claimThreadSlot(): void {
    const core = this.#core;
    const i32 = core.i32;
    const word = core.ts + TS_STATE;
    for (;;) {
      const st = Atomics.load(i32, word);
      if (st === TS_UNUSED && Atomics.compareExchange(i32, word, st, TS_ATTACHED) === st) return;
      if (st === TS_ATTACHED && Atomics.compareExchange(i32, word, st, TS_RECOVERING) === st) {
        recoverHooks(core, core.rcu.slot);
        recoverThreadSlot(i32, this.#g, core.rcu, core, core.rcu.slot);
        recoverHooksAfter(core, core.rcu.slot);
        Atomics.add(i32, SPACE_STAT_THREADS_RECOVERED_WORD, 1);
        Atomics.store(i32, word, TS_ATTACHED);
        return;
      }
      if (st === TS_RECOVERING) Atomics.wait(i32, word, st, 1);
    }
  }

  /**
   * Create a space (its SharedArrayBuffer and its Rcu) and attach it in this thread, which
   * is registered as an RCU reader.
   *
   * @param options - see {@link IoasidOptions}; defaults in {@link IOASID_DEFAULTS}
   *
   * Context: any thread; never blocks.
   * @returns the attached space; capacity() = available() = 2^pasidBits - 1
   * @throws IoasidError ERR_IOASID_BAD_OPTION; RcuError if the Rcu cannot be created
   */
  static create(options: Partial<IoasidOptions> = {}): IoasidSpace {
    const o = resolveIoasidOptions(options);
    const g = spaceGeometry(o.pasidBits, o.maxSets, o.maxIoasids, o.maxThreads);
    const buffer = new SharedArrayBuffer(g.totalWords * WORD_BYTES);
    const i32 = new Int32Array(buffer);
    // Everything below is written before the handle exists, i.e. before any other thread
    // can reach the buffer (the handle crosses threads by postMessage, which happens-after).
    Atomics.store(i32, SPACE_VERSION_WORD, SPACE_LAYOUT_VERSION);
    Atomics.store(i32, SPACE_PASID_BITS_WORD, o.pasidBits);
    Atomics.store(i32, SPACE_MAX_SETS_WORD, o.maxSets);
    Atomics.store(i32, SPACE_MAX_IOASIDS_WORD, o.maxIoasids);
    Atomics.store(
      i32,
      SPACE_POLICY_WORD,
      o.policy === 'cyclic' ? SPACE_POLICY_CYCLIC : SPACE_POLICY_LOWEST,
    );
    // Records parked in per-thread batches are unusable until pushed: keep them a small share
    // of the pool (at most an eighth with every thread holding a nearly full batch).
    const batch = Math.max(
      1,
      Math.min(SPACE_RETIRE_BATCH, Math.floor(o.maxIoasids / (8 * o.maxThreads))),
    );
    Atomics.store(i32, SPACE_RETIRE_BATCH_WORD, batch);
    Atomics.store(i32, SPACE_MAX_THREADS_WORD, o.maxThreads);
    Atomics.store(i32, SPACE_FAULT_WORD, o.fault ? FAULT_CODES[o.fault] : SPACE_FAULT_NONE);
    Atomics.store(i32, SPACE_CAPACITY_WORD, g.idCount - 1);
    Atomics.store(i32, SPACE_AVAILABLE_WORD, g.idCount - 1);
    Atomics.store(i32, g.bitmapBase, 1); // id 0 is reserved forever
    for (let set = 0; set < o.maxSets; set++)
      Atomics.store(i32, setWord(g, set) + SET_COUNT, SET_DEAD);
    recordsInit(i32, g, batch);
    Atomics.store(i32, SPACE_MAGIC_WORD, SPACE_MAGIC);
    const hooks = hooksBufferCreate(
      o.maxSubscribers,
      o.notifyQueueDepth,
      o.maxThreads,
      o.maxSets,
      o.fault === 'notify-no-gating' ? HOOKS_FAULT_NO_GATING : HOOKS_FAULT_NONE,
    );
    const rcu = Rcu.create({ maxThreads: o.maxThreads, stallMs: o.stallMs });
    rcu.registerThread();
    return new IoasidSpace(
      { kind: HANDLE_KIND, version: SPACE_LAYOUT_VERSION, buffer, rcu: rcu.handle, hooks },
      rcu,
    );
  }

  /**
   * Attach an existing space in this thread and register the thread as an RCU reader.
   *
   * @param handle - `space.handle` from another thread (structured-cloned)
   *
   * If the thread slot it gets was left by a thread that died and whose Rcu slot was freed
   * without `releaseThread`, that thread's share is recovered first (as `releaseThread`
   * would).
   *
   * Context: any thread, once per thread and space (detach before attaching again); does not
   * block, except to wait out a `releaseThread` still recovering the same slot (microseconds).
   * @returns the attached space
   * @throws IoasidError ERR_IOASID_BAD_HANDLE, ERR_IOASID_LAYOUT_VERSION; RcuError
   * ERR_RCU_NO_SLOT when maxThreads threads are attached
   */
  static attach(handle: IoasidHandle): IoasidSpace {
    if (typeof handle !== 'object' || handle === null || handle.kind !== HANDLE_KIND)
      throw ioasidErrors.badHandle(`kind is not '${HANDLE_KIND}'`);
    if (!(handle.buffer instanceof SharedArrayBuffer))
      throw ioasidErrors.badHandle('buffer is not a SharedArrayBuffer');
    if (handle.version !== SPACE_LAYOUT_VERSION)
      throw ioasidErrors.layoutVersion(handle.version, SPACE_LAYOUT_VERSION);
    const i32 = new Int32Array(handle.buffer);
    if (i32.length <= SPACE_MAGIC_WORD || Atomics.load(i32, SPACE_MAGIC_WORD) !== SPACE_MAGIC)
      throw ioasidErrors.badHandle('buffer does not start with the space magic word');
    const version = Atomics.load(i32, SPACE_VERSION_WORD);
    if (version !== SPACE_LAYOUT_VERSION)
      throw ioasidErrors.layoutVersion(version, SPACE_LAYOUT_VERSION);
    const g = spaceHeaderGeometry(i32);
    if (g.totalWords !== i32.length)
      throw ioasidErrors.badHandle('buffer length does not match its header');
    const rcu = Rcu.attach(handle.rcu);
    rcu.registerThread();
    return new IoasidSpace(handle, rcu);
  }

  /** The structured-cloneable handle to send to other threads. */
  get handle(): IoasidHandle {
    return this.#handle;
  }

  /** The space's Rcu, attached and registered in this thread. */
  get rcu(): Rcu {
    return this.#core.rcu;
  }

  /** Total shared bytes: the space buffer, its Rcu buffer and its hooks buffer. */
  get byteLength(): number {
    const h = this.#handle;
    return h.buffer.byteLength + h.rcu.buffer.byteLength + h.hooks.byteLength;
  }

  /** Highest allocatable id, 2^pasidBits - 1. */
  get maxId(): number {
    return this.#core.idMax;
  }

  /** Set-table size (set ids are 0 .. maxSets - 1). */
  get maxSets(): number {
    return this.#g.maxSets;
  }

  /**
   * Hand this thread's retired and cached records to limbo and unregister it from the space's
   * Rcu; every later call on this object throws.
   *
   * Context: outside any read-side section; never blocks.
   * @throws IoasidError ERR_IOASID_DETACHED if already detached, ERR_IOASID_IN_READ_SECTION
   */
  detach(): void {
    this.#attached('detach()');
    if (this.#core.rcu.nesting > 0) throw ioasidErrors.inReadSection('detach()');
    const core = this.#core;
    core.hooks.allocators.leaveAll();
    core.flushBatch();
    core.flushCache();
    Atomics.store(core.i32, core.ts + TS_STATE, TS_UNUSED);
    core.rcu.unregisterThread();
    this.#detached = true;
  }

  // -------------------------------------------------------------------------------------------
  // capacity
  // -------------------------------------------------------------------------------------------

  /**
   * System capacity: how many ids all sets together may reserve.
   *
   * Context: any attached thread; lock-free; stale on return.
   * @returns the capacity (2^pasidBits - 1 unless installCapacity changed it)
   */
  capacity(): number {
    this.#attached('capacity()');
    return capacityTotal(this.#core.i32);
  }

  /**
   * Capacity no set or reservation holds.
   *
   * Context: any attached thread; lock-free; stale on return.
   * @returns the unreserved capacity
   */
  available(): number {
    this.#attached('available()');
    return capacityAvailable(this.#core.i32);
  }

  /**
   * Replace the capacity (VT-d installs the hardware PASID count at boot).
   *
   * @param total - new capacity, 0 .. 2^pasidBits - 1
   *
   * Context: any attached thread; takes the set lock briefly (may block); not inside a
   * read-side section.
   * @returns 0; -EINVAL total out of range; -EBUSY already installed once, or some capacity
   * is reserved. On error nothing changes.
   */
  installCapacity(total: number): number {
    this.#attached('installCapacity()');
    checkInt('total', total);
    if (total < 0 || total > this.#core.idMax) return -Errno.EINVAL;
    const i32 = this.#core.i32;
    lockAcquire(i32, SPACE_SET_LOCK_WORD, this.#core.tag);
    const v = capacityInstallLocked(i32, total, this.#core.ts);
    lockRelease(i32, SPACE_SET_LOCK_WORD);
    return v;
  }

  /**
   * Reserve capacity outside any set (for a cgroup-like owner).
   *
   * @param n - units to reserve; 0 = everything available
   *
   * Context: any attached thread; lock-free; never blocks.
   * @returns units reserved (> 0); -EINVAL n < 0; -ENOSPC n > available (or nothing
   * available for n = 0). On error nothing changes.
   */
  reserveCapacity(n: number): number {
    this.#attached('reserveCapacity()');
    checkInt('n', n);
    if (n < 0) return -Errno.EINVAL;
    return capacityReserve(this.#core.i32, n);
  }

  /**
   * Give back capacity taken by reserveCapacity (trusted, as in the kernel).
   *
   * @param n - units to give back
   *
   * Context: any attached thread; lock-free; never blocks.
   * @returns the new available(); -EINVAL n < 0 or n + available > capacity. On error
   * nothing changes.
   */
  cancelCapacity(n: number): number {
    this.#attached('cancelCapacity()');
    checkInt('n', n);
    if (n < 0) return -Errno.EINVAL;
    return capacityCancel(this.#core.i32, n);
  }

  // -------------------------------------------------------------------------------------------
  // sets
  // -------------------------------------------------------------------------------------------

  /**
   * Create a set in the lowest free slot, reserving `quota` units of capacity.
   *
   * @param token - MM sets: a non-null integer token (0 .. 2^31 - 1) unique among live MM
   *   sets; NULL sets: null
   * @param quota - ids the set may hold at once; 0 = all remaining capacity
   * @param type - `SetType.NULL` or `SetType.MM`
   *
   * Context: any attached thread; takes the set lock briefly (may block); not inside a
   * read-side section.
   * @returns the set id (>= 0); -EINVAL bad type, token for the type, or negative quota;
   * -EEXIST an MM set with this token is live; -ENOSPC quota > available (or nothing
   * available for quota 0) or no free set slot. On error nothing changes.
   */
  setAlloc(token: number | null, quota: number, type: SetType): number {
    this.#attached('setAlloc()');
    if (token !== null) checkInt('token', token);
    checkInt('quota', quota);
    checkInt('type', type);
    if (quota < 0 || (token !== null && (token < 0 || token > TOKEN_MAX))) return -Errno.EINVAL;
    const i32 = this.#core.i32;
    const hooks = this.#core.hooks;
    lockAcquire(i32, SPACE_SET_LOCK_WORD, this.#core.tag);
    // Pending MM subscribers of the token attach; stale ones of the slot's last life detach.
    const owed = hooks.setCreating(type === SetType.MM && token !== null ? token : -1);
    const v = setAllocLocked(i32, this.#g, token ?? SET_TOKEN_NULL, quota, type, this.#core.ts);
    if (owed) hooks.setCreatedLocked(v);
    lockRelease(i32, SPACE_SET_LOCK_WORD);
    return v;
  }

  /**
   * Free a set. With ids left it is marked free-pending, refuses new allocations, and is
   * destroyed when its last id is reclaimed. Destruction returns its quota to available().
   *
   * @param set - set id
   *
   * Context: any attached thread; lock-free; never blocks.
   * @returns 0 destroyed; -EBUSY ids remain (the set is now marked); -EINVAL not a live set
   * (nothing changes).
   */
  setFree(set: number): number {
    this.#attached('setFree()');
    checkInt('set', set);
    if (!this.#setInRange(set)) return -Errno.EINVAL;
    return setFree(this.#core.i32, this.#g, set, this.#core.ts);
  }

  /**
   * Find the live MM set whose token is `token`.
   *
   * @param token - an MM token
   *
   * Context: any attached thread; takes the set lock briefly (may block); not inside a
   * read-side section. No reference is taken: the set may be freed right after.
   * @returns the set id, or -ENOENT.
   */
  findMmSet(token: number): number {
    this.#attached('findMmSet()');
    checkInt('token', token);
    if (token < 0 || token > TOKEN_MAX) return -Errno.ENOENT;
    const i32 = this.#core.i32;
    lockAcquire(i32, SPACE_SET_LOCK_WORD, this.#core.tag);
    const v = setFindMmLocked(i32, this.#g, token);
    lockRelease(i32, SPACE_SET_LOCK_WORD);
    return v;
  }

  /**
   * A snapshot of a set.
   *
   * @param set - set id
   *
   * Context: any attached thread; lock-free; the snapshot is consistent but stale on return.
   * @returns `{ type, token, quota, count, freePending }`, or undefined if not a live set.
   */
  setInfo(set: number): SetInfo | undefined {
    this.#attached('setInfo()');
    checkInt('set', set);
    if (!this.#setInRange(set)) return undefined;
    return setInfo(this.#core.i32, this.#g, set);
  }

  /**
   * Call `fn(id)` for each id of `set` (free-pending ones included), in ascending order.
   *
   * @param set - set id
   * @param fn - called outside any read-side section; it may call any method
   *
   * Context: any attached thread; lock-free and stale: ids allocated or reclaimed during the
   * walk may or may not be visited. Cost: a scan of the whole id bitmap.
   * @returns the number of calls; -EINVAL not a live set.
   */
  setForEachIoasid(set: number, fn: (id: number) => void): number {
    this.#attached('setForEachIoasid()');
    checkInt('set', set);
    if (typeof fn !== 'function') throw ioasidErrors.badArgument('fn', 'a function', fn);
    if (!this.#setInRange(set) || !this.#core.setLive(set)) return -Errno.EINVAL;
    return this.#core.forEachInSet(set, fn);
  }

  /**
   * `free(set, id)` for every id of `set` (recovers the ids of a dead worker).
   *
   * @param set - set id
   *
   * Context: any attached thread; as `setForEachIoasid` plus `free` per id.
   * @returns how many frees succeeded (free-pending ids are not counted); -EINVAL not a live set.
   */
  freeAllInSet(set: number): number {
    this.#attached('freeAllInSet()');
    checkInt('set', set);
    if (!this.#setInRange(set) || !this.#core.setLive(set)) return -Errno.EINVAL;
    const ids: number[] = [];
    this.#core.forEachInSet(set, (id) => ids.push(id));
    let n = 0;
    for (const id of ids) if (this.#core.free(set, id) === 0) n++;
    return n;
  }

  // -------------------------------------------------------------------------------------------
  // ids
  // -------------------------------------------------------------------------------------------

  /**
   * Allocate an id in `set` within [min, max] (max clamped to 2^pasidBits - 1; id 0 is never
   * handed out), with refs = 1 (idle).
   *
   * @param set - id of the live set that will own the new id
   * @param min - lowest acceptable id (inclusive)
   * @param max - highest acceptable id (inclusive)
   * @param data - 31-bit private value (0 = none)
   *
   * Lock-free: reserves a quota unit by CAS, then an id bit by CAS, then a record, and rolls
   * back on failure. Policy `lowest` gives the lowest free id in range (single-threaded). With
   * a custom allocator group active (`registerAllocator`), the id is this thread's member's
   * answer to `alloc(min, max)` instead, claimed as is. With subscribers on the set's chain, an
   * ALLOC event is queued for them (`registerNotifier`).
   *
   * Context: any attached thread; with the default allocator never blocks (no Atomics.wait)
   * and is legal inside a read-side section (records then cannot be recycled, so -ENOMEM comes
   * sooner); with a custom group it calls the member (which may block) and must not be called
   * from a read-side section.
   * @returns the id (> 0); -EINVAL bad set (not live, free-pending), min < 0, max < min, a
   * range with no allocatable id (min > 2^pasidBits - 1 or max < 1), or data out of range;
   * -EDQUOT set quota reached; -ENOSPC no free id in [min, max]; -ENOMEM no record could be
   * recycled without waiting. With a custom group: -ENODEV this thread has no member of it;
   * the member's negative errno, passed through; -EINVAL the member answered 0, a non-integer
   * or an id out of [min, max] (given back with its `free`); -EEXIST it answered an id that is
   * live; -EAGAIN it answered, three times, an id whose previous reclaim has not finished. On
   * error nothing changes.
   * @throws what the member's `alloc` throws (after rolling back)
   */
  alloc(set: number, min: number, max: number, data = 0): number {
    // One guard for the common case (all int32); #checkAlloc throws for misuse.
    if (
      this.#detached ||
      (set | 0) !== set ||
      (min | 0) !== min ||
      (max | 0) !== max ||
      (data | 0) !== data
    )
      this.#checkAlloc(set, min, max, data);
    const core = this.#core;
    const hi = core.idMax;
    if (set < 0 || set >= this.#g.maxSets || min < 0 || max < min || min > hi || max < 1) {
      return -Errno.EINVAL;
    }
    if (data < 0 || data > DATA_MAX) return -Errno.EINVAL;
    return core.alloc(set, Math.max(min, 1), Math.min(max, hi), data);
  }

  /**
   * Start freeing `id`: with one reference it is reclaimed at once; with more it becomes
   * free-pending (`get` then fails) and the last `put` reclaims it.
   *
   * @param set - the owning set (must match exactly; null is refused as in V4)
   * @param id - the id
   *
   * Becoming free-pending queues a FREE event for the subscribers of the set's chain and of
   * the global chain; an id reclaimed at once raises none. Reclaiming an id a custom allocator
   * handed out calls this thread's member's `free(id)` first (the id is still findable then).
   *
   * Context: any attached thread; lock-free (the reclaim of an id with a SPID takes the SPID
   * lock briefly); never blocks otherwise, except in a member's `free`.
   * @returns 0; -ENOENT unknown id; -EACCES other set or null; -EBUSY already free-pending;
   * -ENODEV it would reclaim a custom id and this thread has no member of the active group.
   * On error nothing changes.
   * @throws what the member's `free` throws (after the reclaim is complete)
   */
  free(set: number | null, id: number): number {
    if (this.#detached || (id | 0) !== id || (set !== null && (set | 0) !== set))
      this.#checkIdOp('free()', set, id);
    if (id < 1 || id > this.#core.idMax) return -Errno.ENOENT;
    return this.#core.free(set === null || set < 0 || set > NO_SET ? NO_SET : set, id);
  }

  /**
   * Take a reference on `id`.
   *
   * @param set - the owning set, or null to skip the ownership check
   * @param id - the id
   *
   * Context: any attached thread; lock-free; never blocks.
   * @returns 0; -EINVAL unknown id; -EBUSY free-pending (checked before ownership); -EACCES
   * other set; -EAGAIN the count would pass 2^17 - 1. On error nothing changes.
   */
  get(set: number | null, id: number): number {
    if (this.#detached || (id | 0) !== id || (set !== null && (set | 0) !== set))
      this.#checkIdOp('get()', set, id);
    if (id < 1 || id > this.#core.idMax) return -Errno.EINVAL;
    return this.#core.get(ownerArg(set), id);
  }

  /**
   * Drop a reference on `id`; dropping the last one reclaims it (whatever its state).
   *
   * @param set - the owning set, or null to skip the ownership check
   * @param id - the id
   *
   * Context: any attached thread; lock-free (see `free` about SPIDs and custom ids); never
   * blocks otherwise.
   * @returns 1 reclaimed now; 0 references remain; -ENOENT unknown id; -EACCES other set;
   * -ENODEV it would reclaim a custom id and this thread has no member of the active group.
   * On error nothing changes.
   * @throws what a custom allocator member's `free` throws (after the reclaim is complete)
   */
  put(set: number | null, id: number): number {
    if (this.#detached || (id | 0) !== id || (set !== null && (set | 0) !== set))
      this.#checkIdOp('put()', set, id);
    if (id < 1 || id > this.#core.idMax) return -Errno.ENOENT;
    return this.#core.put(ownerArg(set), id);
  }

  /**
   * Look up `id`'s data under an RCU read-side section. Free-pending ids are still found.
   *
   * @param set - the owning set, or null to skip the ownership check
   * @param id - the id
   * @param getter - optional; runs inside the read-side section with the data and may refuse
   *   it (e.g. when the object it names is dying); must not block
   *
   * Context: any attached thread; lock-free; never blocks. The data may be detached or the id
   * freed right after it returns, and an id whose free has begun but not yet returned may
   * still be found (as with the kernel's `xa_load` under RCU): take a reference (getter or
   * `get`) to rely on it. Cost: two atomic loads, plus the read side's store and exchange.
   * @returns data (>= 0); -ENOENT unknown id; -EACCES other set; -EAGAIN the getter refused.
   */
  find(set: number | null, id: number, getter?: (data: number) => boolean): number {
    if (this.#detached || (id | 0) !== id || (set !== null && (set | 0) !== set))
      this.#checkIdOp('find()', set, id);
    if (id < 1 || id > this.#core.idMax) return -Errno.ENOENT;
    if (getter === undefined) return this.#core.find(ownerArg(set), id);
    if (typeof getter !== 'function')
      throw ioasidErrors.badArgument('getter', 'a function', getter);
    return this.#core.findWithGetter(ownerArg(set), id, getter);
  }

  /**
   * Attach private data to `id`.
   *
   * @param id - the id
   * @param data - 1 .. 2^31 - 1
   *
   * Context: any attached thread; lock-free; never blocks.
   * @returns 0; -ENOENT unknown id; -EBUSY data already attached; -EINVAL data out of range.
   * On error nothing changes.
   */
  attachData(id: number, data: number): number {
    this.#attached('attachData()');
    checkInt('id', id);
    checkInt('data', data);
    if (data < 1 || data > DATA_MAX) return -Errno.EINVAL;
    if (id < 1 || id > this.#core.idMax) return -Errno.ENOENT;
    return this.#core.attachData(id, data);
  }

  /**
   * Clear `id`'s data, then wait for a grace period: on return no reader still uses it.
   *
   * @param id - the id
   *
   * Context: blocks (RCU synchronize); any attached thread, not inside a read-side section.
   * @returns 0; -ENOENT unknown id (nothing changes, no wait).
   * @throws IoasidError ERR_IOASID_IN_READ_SECTION inside a read-side section
   */
  detachData(id: number): number {
    this.#attached('detachData()');
    checkInt('id', id);
    if (this.#core.rcu.nesting > 0) throw ioasidErrors.inReadSection('detachData()');
    if (id < 1 || id > this.#core.idMax) return -Errno.ENOENT;
    return this.#core.detachData(id);
  }

  /**
   * Bind a set-private id (SPID) to `id`; an existing SPID of `id` is replaced. Queues a BIND
   * event (with the new SPID) for the subscribers of the set's chain.
   *
   * @param id - the id
   * @param spid - 0 .. 0xFFFFFFFE, unique among the ids of `id`'s set
   *
   * Context: any attached thread; takes the SPID lock briefly (may block); not inside a
   * read-side section.
   * @returns 0; -EINVAL INVALID_IOASID or out-of-range spid, or spid already used in the set;
   * -ENOENT unknown id. On error nothing changes.
   */
  attachSpid(id: number, spid: number): number {
    this.#attached('attachSpid()');
    checkInt('id', id);
    checkInt('spid', spid);
    if (spid < 0 || spid >= INVALID_IOASID) return -Errno.EINVAL;
    if (id < 1 || id > this.#core.idMax) return -Errno.ENOENT;
    return this.#core.attachSpid(id, spid | 0);
  }

  /**
   * Unbind `id`'s SPID. Queues an UNBIND event (with the old SPID) for the subscribers of the
   * set's chain.
   *
   * @param id - the id
   *
   * Context: as attachSpid.
   * @returns 0; -ENOENT unknown id or no SPID attached. On error nothing changes.
   */
  detachSpid(id: number): number {
    this.#attached('detachSpid()');
    checkInt('id', id);
    if (id < 1 || id > this.#core.idMax) return -Errno.ENOENT;
    return this.#core.detachSpid(id);
  }

  /**
   * The id bound to `spid` in `set`, optionally taking a reference.
   *
   * @param set - set id
   * @param spid - the SPID
   * @param get - take a reference (refused for free-pending ids)
   *
   * Context: any attached thread; lock-free (a hash probe inside a read-side section); never
   * blocks.
   * @returns the id; -ENOENT no such binding; -EBUSY (get) free-pending; -EAGAIN (get)
   * reference count full. On error nothing changes.
   */
  findBySpid(set: number, spid: number, get: boolean): number {
    if (this.#detached || !isInt(set) || !isInt(spid) || typeof get !== 'boolean')
      this.#badSpidOp(set, spid, get);
    if (set < 0 || set >= this.#g.maxSets || spid < 0 || spid >= INVALID_IOASID)
      return -Errno.ENOENT;
    return this.#core.findBySpid(set, spid | 0, get);
  }

  /**
   * A snapshot of `id`: state ('active' = refs > 1), set, refs, spid, data.
   *
   * @param id - the id
   *
   * Context: any attached thread; lock-free; stale on return.
   * @returns the snapshot (state 'free' for an id that is not allocated or out of range)
   */
  inspect(id: number): IdState {
    this.#attached('inspect()');
    checkInt('id', id);
    if (id < 1 || id > this.#core.idMax)
      return { state: 'free', set: null, refs: 0, spid: INVALID_IOASID, data: 0 };
    return this.#core.inspect(id);
  }

  /**
   * Push this thread's retired records to limbo, wait for a grace period, then move every
   * limbo record whose grace period has passed back to the free pool.
   *
   * Context: blocks (RCU synchronize); not inside a read-side section.
   * @returns how many records were recycled
   * @throws IoasidError ERR_IOASID_IN_READ_SECTION
   */
  flushRecords(): number {
    this.#attached('flushRecords()');
    if (this.#core.rcu.nesting > 0) throw ioasidErrors.inReadSection('flushRecords()');
    this.#core.flushBatch();
    this.#core.rcu.synchronize();
    return recordsDrain(this.#core.i32, this.#g, this.#core.rcu, 0, this.#core.ts);
  }

  /**
   * Recover the share of this space held by a thread that died (a terminated worker), then
   * free its Rcu reader slot (`rcu.releaseSlot`). Releases a set or SPID lock it held,
   * finishes a reclaim it was in the middle of, rolls back an alloc or setAlloc it had not
   * published (quota unit, id bit, record, capacity), and gives the records of its cache,
   * retire batch and any drain in progress back through limbo. Ids it had allocated stay
   * allocated to their sets: `freeAllInSet` frees them. References it took (get,
   * findBySpid with get) are not recovered.
   *
   * @param slot - the dead thread's Rcu reader slot (`space.rcu.slot` in that thread)
   *
   * Exact because every atomic step that changes what a thread holds is recorded in its
   * thread slot with no call in between, and a terminated worker stops only at calls and loop
   * back-edges (space-core.ts "Kill points").
   *
   * Context: any attached thread other than the dead one, outside a read-side section, after
   * the dead thread has stopped (its worker's 'exit' event); may take the SPID lock briefly;
   * never waits for a grace period. Calling it for a live thread breaks that thread and the
   * space. Concurrent calls for the same slot recover it once.
   * @returns how many things were recovered (locks, unfinished operations, owed capacity,
   * records), 0 when the thread held nothing (its Rcu slot is released all the same);
   * -EINVAL slot out of range or the caller's own slot (nothing changes)
   * @throws IoasidError ERR_IOASID_BAD_ARGUMENT (non-integer slot), ERR_IOASID_DETACHED,
   * ERR_IOASID_IN_READ_SECTION
   */
  releaseThread(slot: number): number {
    this.#attached('releaseThread()');
    checkInt('slot', slot);
    const core = this.#core;
    if (core.rcu.nesting > 0) throw ioasidErrors.inReadSection('releaseThread()');
    if (slot < 0 || slot >= this.#g.maxThreads || slot === core.rcu.slot) return -Errno.EINVAL;
    const i32 = core.i32;
    const word = threadSlotWord(this.#g, slot) + TS_STATE;
    let n = 0;
    // Exclusive claim: a second caller (or an attach() inheriting the slot) sees RECOVERING.
    if (Atomics.compareExchange(i32, word, TS_ATTACHED, TS_RECOVERING) === TS_ATTACHED) {
      n = recoverHooks(core, slot);
      n += recoverThreadSlot(i32, this.#g, core.rcu, core, slot);
      n += recoverHooksAfter(core, slot);
      Atomics.add(i32, SPACE_STAT_THREADS_RECOVERED_WORD, 1);
      Atomics.store(i32, word, TS_UNUSED);
      Atomics.notify(i32, word);
    }
    core.rcu.releaseSlot(slot);
    return n;
  }

  /**
   * Error counters and a record census.
   *
   * Context: any attached thread; lock-free; counters are stale, the census exact only while
   * no other thread allocates or frees.
   * @returns the statistics
   */
  stats(): IoasidStats {
    this.#attached('stats()');
    const i32 = this.#core.i32;
    const hk = this.#core.hooks.hk;
    const c = recordsCensus(i32, this.#g);
    const nc = notifierCounters(hk);
    return {
      enospc: Atomics.load(i32, SPACE_STAT_ENOSPC_WORD),
      edquot: Atomics.load(i32, SPACE_STAT_EDQUOT_WORD),
      enomem: Atomics.load(i32, SPACE_STAT_ENOMEM_WORD),
      recycled: Atomics.load(i32, SPACE_STAT_RECYCLED_WORD),
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

  // -------------------------------------------------------------------------------------------
  // notifier chains
  // -------------------------------------------------------------------------------------------

  /**
   * Subscribe to a notifier chain: set `set`'s (ALLOC, FREE, BIND, UNBIND of its ids) or, with
   * null, the global chain (FREE of every id). Events are queued for the subscriber in shared
   * memory and read with `readNotifications`/`waitNotifications` from any thread; a
   * subscriber reads an event only after every subscriber ahead of it on the chain (higher
   * priority, or equal priority registered earlier) that received it has read it. It
   * receives the events emitted after it registered. Subscribers belong to no thread.
   *
   * @param set - a live set id, or null for the global chain
   * @param priority - a {@link NotifierPriority} (0..3)
   *
   * Context: any attached thread; takes the distribution lock briefly (may block); not inside
   * a read-side section.
   * @returns the subscriber id (>= 0; a number, to send to other threads); -EINVAL not a live
   * set or a bad priority; -ENOSPC every subscriber slot (maxSubscribers) is taken. On error
   * nothing changes.
   */
  registerNotifier(set: number | null, priority: number): number {
    this.#attached('registerNotifier()');
    if (set !== null) checkInt('set', set);
    checkInt('priority', priority);
    if (priority < 0 || priority > 3) return -Errno.EINVAL;
    if (set !== null && !this.#setInRange(set)) return -Errno.EINVAL;
    return this.#core.hooks.register(set ?? -1, priority);
  }

  /**
   * Subscribe to the chain of the MM set whose token is `token`. If there is no such set yet,
   * the subscriber waits (pending) and is attached when `setAlloc(token, _, SetType.MM)`
   * creates it; when that set is destroyed it goes back to pending for the token.
   *
   * @param token - an MM token (0 .. 2^31 - 1)
   * @param priority - a {@link NotifierPriority} (0..3)
   *
   * Context: any attached thread; takes the set lock and the distribution lock briefly (may
   * block); not inside a read-side section.
   * @returns the subscriber id (>= 0); -EINVAL bad token or priority; -EBUSY the MM set
   * exists and already has ids (events are not replayed); -ENOSPC no subscriber slot. On
   * error nothing changes.
   */
  registerNotifierMm(token: number, priority: number): number {
    this.#attached('registerNotifierMm()');
    checkInt('token', token);
    checkInt('priority', priority);
    if (priority < 0 || priority > 3 || token < 0 || token > TOKEN_MAX) return -Errno.EINVAL;
    const i32 = this.#core.i32;
    lockAcquire(i32, SPACE_SET_LOCK_WORD, this.#core.tag);
    const mm = setFindMmLocked(i32, this.#g, token);
    const v = this.#core.hooks.registerMmLocked(token, priority, mm < 0 ? -1 : mm);
    lockRelease(i32, SPACE_SET_LOCK_WORD);
    return v;
  }

  /**
   * Unregister a subscriber, from any thread: its queued events are dropped, and the
   * subscribers gated behind it on its chain are released.
   *
   * @param sub - a subscriber id
   *
   * Context: any attached thread; takes the distribution lock briefly (may block); not inside
   * a read-side section.
   * @returns 0; -ENOENT not a registered subscriber (nothing changes)
   */
  unregisterNotifier(sub: number): number {
    this.#attached('unregisterNotifier()');
    checkInt('sub', sub);
    return this.#core.hooks.unregister(sub);
  }

  /**
   * Take the events subscriber `sub` may read now, oldest first: an overflow entry
   * `{ event: 'overflow', lost }` first when events were dropped for it (its queue of
   * notifyQueueDepth entries was full), then `{ event, id, spid, set, data, seq }` records
   * in seq order, stopping at the first one a subscriber ahead of it has not read yet.
   *
   * @param sub - a registered subscriber id
   * @param max - at most this many entries (default: all readable)
   *
   * Context: any attached thread (usually the subscriber's own); never blocks; legal inside a
   * read-side section. Several threads may read one subscriber; each entry goes to one.
   * @returns the entries (possibly none)
   * @throws IoasidError ERR_IOASID_BAD_ARGUMENT for a non-integer sub or a max that is not a
   * non-negative integer (or Infinity); ERR_IOASID_NOT_SUBSCRIBED when `sub` is not registered
   * (never was, or was unregistered)
   */
  readNotifications(sub: number, max = Number.POSITIVE_INFINITY): Notification[] {
    this.#attached('readNotifications()');
    checkInt('sub', sub);
    if (max !== Number.POSITIVE_INFINITY && (!Number.isInteger(max) || max < 0))
      throw ioasidErrors.badArgument('max', 'a non-negative integer or Infinity', max);
    const out = this.#core.hooks.read(sub, max);
    if (out === undefined) throw ioasidErrors.notSubscribed(sub);
    return out;
  }

  /**
   * Block until subscriber `sub` has at least one readable entry (an event it is no longer
   * gated from, or an overflow entry), or until `timeoutMs` passes.
   *
   * @param sub - a registered subscriber id
   * @param timeoutMs - how long to wait at most, ms (>= 0; Infinity allowed)
   *
   * Context: blocks (Atomics.wait); any attached thread, not inside a read-side section.
   * @returns how many entries `readNotifications` would return now (> 0); 0 on timeout;
   * -ENOENT `sub` is not registered, or was unregistered while waiting
   * @throws IoasidError ERR_IOASID_IN_READ_SECTION inside a read-side section;
   * ERR_IOASID_BAD_ARGUMENT for a non-integer sub or a negative or NaN timeout
   */
  waitNotifications(sub: number, timeoutMs: number): number {
    this.#attached('waitNotifications()');
    checkInt('sub', sub);
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0))
      throw ioasidErrors.badArgument('timeoutMs', 'a number >= 0', timeoutMs);
    if (this.#core.rcu.nesting > 0) throw ioasidErrors.inReadSection('waitNotifications()');
    return this.#core.hooks.wait(sub, timeoutMs);
  }

  // -------------------------------------------------------------------------------------------
  // pluggable allocators
  // -------------------------------------------------------------------------------------------

  /**
   * Register this thread's member of the custom allocator group `ops.name`. The name is the
   * group: every thread registers its own ops object under it, and all share the group's ids.
   * The first group becomes active at once (custom allocators take precedence); a group
   * registered while another exists stands by. With a group active, `alloc` takes the quota
   * unit, then calls this thread's member's `alloc(min, max)` (a negative return is passed
   * through; a value out of [min, max] or 0 is given back with `free` and refused with
   * -EINVAL; one already live is refused with -EEXIST), and a reclaim calls `free(id)` while
   * the id is still findable. Members must not call back into this space.
   *
   * @param ops - `{ name, alloc(min, max), free(id) }`; name: 1..32 UTF-16 units, not 'default'
   *
   * Context: any attached thread; takes the registry lock briefly (may block); not inside a
   * read-side section.
   * @returns 0; -EEXIST this ops object is already registered; -EAGAIN it would be the first
   * group while the default allocator has live ids; -ENOSPC 8 groups exist. On error nothing
   * changes.
   * @throws IoasidError ERR_IOASID_BAD_ARGUMENT when ops is not such an object
   */
  registerAllocator(ops: AllocatorOps): number {
    this.#attached('registerAllocator()');
    checkAllocatorOps(ops);
    return this.#core.hooks.registerAllocator(ops);
  }

  /**
   * Unregister this thread's member `ops`. When it is the last member of its group the group
   * goes, which needs its ids to be freed first; removing the active group activates the
   * first remaining group (in registration order), or the default allocator.
   *
   * @param ops - an ops object this thread registered
   *
   * Context: any attached thread; takes the registry lock briefly (may block); may call
   * `ops.free` for ids that dead threads owed the group; not inside a read-side section.
   * @returns 0; -ENOENT not registered by this thread; -EBUSY last member of a group whose
   * ids are live (the kernel only warns and orphans them; nothing changes)
   * @throws IoasidError ERR_IOASID_BAD_ARGUMENT when ops is not an object
   */
  unregisterAllocator(ops: AllocatorOps): number {
    this.#attached('unregisterAllocator()');
    if (typeof ops !== 'object' || ops === null)
      throw ioasidErrors.badArgument('ops', 'an allocator ops object', ops);
    return this.#core.hooks.unregisterAllocator(ops);
  }

  /**
   * The allocator `alloc` uses now.
   *
   * Context: any attached thread; lock-free; stale on return.
   * @returns 'default', or the active group's name
   */
  activeAllocator(): string {
    this.#attached('activeAllocator()');
    return this.#core.hooks.allocators.activeName();
  }

  // -------------------------------------------------------------------------------------------
  // validation helpers (cold)
  // -------------------------------------------------------------------------------------------

  #attached(what: string): void {
    if (this.#detached) throw ioasidErrors.detached(what);
  }

  #setInRange(set: number): boolean {
    return set >= 0 && set < this.#g.maxSets;
  }

  /** Cold: throws for a detached space or a non-integer; returns for other integers. */
  #checkAlloc(set: unknown, min: unknown, max: unknown, data: unknown): void {
    this.#attached('alloc()');
    checkInt('set', set);
    checkInt('min', min);
    checkInt('max', max);
    checkInt('data', data);
  }

  /** Cold: throws for a detached space or a non-integer; returns for other integers. */
  #checkIdOp(what: string, set: unknown, id: unknown): void {
    this.#attached(what);
    if (set !== null) checkInt('set', set);
    checkInt('id', id);
  }

  #badSpidOp(set: unknown, spid: unknown, get: unknown): never {
    this.#attached('findBySpid()');
    checkInt('set', set);
    checkInt('spid', spid);
    throw ioasidErrors.badArgument('get', 'a boolean', get);
  }
}

/**
 * The hooks part of a dead thread's recovery (hooks.ts), before the engine's: it needs the
 * engine's intent word to know whether a half-done alloc published.
 */
function recoverHooks(core: SpaceCore, slot: number): number {
  const op = Atomics.load(core.i32, threadSlotWord(core.g, slot) + TS_OP) & TS_OP_MASK;
  return core.hooks.recoverSlot(slot, op !== TS_OP_ALLOC);
}

/** The hooks part of a dead thread's recovery that needs the engine's done first. */
function recoverHooksAfter(core: SpaceCore, slot: number): number {
  const findMm = (token: number) => setFindMmLocked(core.i32, core.g, token);
  return core.hooks.recoverSlotAfter(slot, findMm, SPACE_SET_LOCK_WORD);
}

/** Throws unless `ops` is `{ name, alloc, free }` with a usable name. */
function checkAllocatorOps(ops: unknown): asserts ops is AllocatorOps {
  const rule = `an object { name: 1..${ALLOCATOR_NAME_MAX} characters, not 'default'; alloc(min, max); free(id) }`;
  if (typeof ops !== 'object' || ops === null) throw ioasidErrors.badArgument('ops', rule, ops);
  const o = ops as Partial<AllocatorOps>;
  if (
    typeof o.name !== 'string' ||
    o.name.length === 0 ||
    o.name.length > ALLOCATOR_NAME_MAX ||
    o.name === 'default' ||
    typeof o.alloc !== 'function' ||
    typeof o.free !== 'function'
  )
    throw ioasidErrors.badArgument('ops', rule, o.name);
}

function isInt(v: unknown): v is number {
  return Number.isInteger(v);
}

function checkInt(name: string, v: unknown): asserts v is number {
  if (!Number.isInteger(v)) throw ioasidErrors.badArgument(name, 'an integer', v);
}

/** null -> -1 (no ownership check); a negative integer -> NO_SET (matches nothing). */
function ownerArg(set: number | null): number {
  return set === null ? -1 : set < 0 ? NO_SET : set;
}
