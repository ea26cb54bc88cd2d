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
 * find and findBySpid are lock-free (the reclaim of an id with a SPID included);
 * setAlloc, setFree, findMmSet and installCapacity take a short set lock, attachSpid and
 * detachSpid a short SPID lock. Runtime failures return a negative `Errno`; misuse of the API
 * (a non-integer argument, a forged handle, a detached space) throws `IoasidError` and
 * changes no shared word.
 *
 * ## What a failure changes
 * A runtime failure leaves every id, set, reference, SPID, data word and capacity unit as it
 * was, with these exceptions, each by design:
 * - `setFree` returning -EBUSY has marked the set free-pending (it refuses allocations from
 *   now on and is destroyed when its last id is reclaimed), as in the kernel's DCP model;
 * - statistics count failures: -EDQUOT, -ENOSPC and -ENOMEM from `alloc` add one to
 *   `stats().edquot`, `enospc`, `enomem`;
 * - an `alloc` that fails with -ENOMEM first pushed this thread's retired records to limbo and
 *   drained limbo, driving grace periods a few steps (records recycled, `stats().drains` and
 *   `recycled` grown): the work a retry would need anyway;
 * - a failing `alloc` holds a quota unit, and for -ENOMEM an id bit, for a moment before it
 *   gives them back: a concurrent `alloc` may see the set full (-EDQUOT) or skip that id
 *   during that moment. A set never exceeds its quota, not even for an instant.
 * Per-thread guesses (the last COUNT word and bitmap word seen) change too; they are hints,
 * not state. Everywhere else in this file, "on error nothing changes" means exactly this.
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

import { randomInt } from 'node:crypto';
import { WORD_BYTES } from '../cache-line.js';
import { Rcu, type RcuFlavor, type RcuHandle } from '../rcu/rcu.js';
import { ALLOCATOR_NAME_MAX, type AllocatorOps } from './allocator-registry.js';
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
  hooksHeaderGeometry,
} from './hooks-layout.js';
import { ioasidErrors } from './ioasid-errors.js';
import { recordsInit } from './records.js';
import { type SetInfo, setWord } from './sets.js';
import { type IdState, type IoasidStats, SpaceCore } from './space-core.js';
import {
  type SpaceHeader,
  spaceReadHeader,
  spaceRetireBatch,
  spaceWriteHeader,
} from './space-header.js';
import {
  SET_COUNT,
  SET_DEAD,
  SET_TOKEN_NULL,
  SPACE_AVAILABLE_WORD,
  SPACE_CAPACITY_WORD,
  SPACE_FAULT_MAGAZINE_FORGET_CHARGE,
  SPACE_FAULT_MAGAZINE_NO_STEAL,
  SPACE_FAULT_NARROW_INCARNATION,
  SPACE_FAULT_NONE,
  SPACE_FAULT_OWN_RING_EARLY,
  SPACE_FAULT_QUOTA_CHECK_THEN_ACT,
  SPACE_FAULT_RECLAIM_WITHOUT_GP,
  SPACE_LAYOUT_VERSION,
  SPACE_LIMITS,
  SPACE_MAGIC,
  SPACE_MAGIC_WORD,
  SPACE_POLICY_CYCLIC,
  SPACE_POLICY_LOWEST,
  type SpaceGeometry,
  spaceGeometry,
} from './space-layout.js';

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
export type { IdState, IoasidStats } from './space-core.js';

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
   * The flavor of the space's Rcu (`RcuOptions.flavor`). With 'qsbr', `find` and the other
   * lookups cost no read-side atomics, and every attached thread is online: it must call
   * `space.rcu.quiescentState()` between operations and `space.rcu.threadOffline()` before
   * it blocks or idles (the creating thread included), or grace periods wait for it and
   * records of freed ids stay in limbo (alloc may return -ENOMEM).
   */
  rcuFlavor: RcuFlavor;
  /**
   * @internal Fault injection, for the stress harness's tests that prove its checks can fail
   * (never set it otherwise): `reclaim-without-gp` recycles a reclaimed record at once, with
   * no grace period; `quota-check-then-act` checks a set's count against its quota with a
   * plain load and increments it afterwards, so concurrent allocs can pass the quota;
   * `narrow-incarnation` wraps a record's incarnation with its 12-bit generation, so a stale
   * hint in `free` matches again after 4096 republishes; `magazine-no-steal` never takes ids
   * from other threads' magazines, so ids they cached are lost to an alloc that needs them
   * (-ENOSPC too early). With this fault cached ids keep no quota charge, as before issue
   * 13's charge-keeping magazines: with charges the whole range never fills (quotas <=
   * capacity), so the early -ENOSPC could not happen. `magazine-forget-charge` forgets the
   * quota charge a cached id carries when the id is taken back out of a magazine (detach,
   * releaseThread, the reclaim before -EDQUOT, setFree), so the set's quota shrinks for good;
   * `own-ring-early` lets a thread take its own retired records back (records.ts "Own ring")
   * before their grace period has passed, so a reader may see its record reused (a pool too
   * small for a ring runs as without the fault);
   * `notify-no-gating` lets a subscriber
   * read an event before the subscribers ahead of it on its chain. Stored in the buffers'
   * headers, so every attached thread runs the same fault.
   */
  fault?: IoasidFault | undefined;
}

/** @internal Values of {@link IoasidOptions.fault}. */
export type IoasidFault =
  | 'reclaim-without-gp'
  | 'quota-check-then-act'
  | 'narrow-incarnation'
  | 'magazine-no-steal'
  | 'magazine-forget-charge'
  | 'own-ring-early'
  | 'notify-no-gating';

const FAULT_CODES: Readonly<Record<IoasidFault, number>> = Object.freeze({
  'reclaim-without-gp': SPACE_FAULT_RECLAIM_WITHOUT_GP,
  'quota-check-then-act': SPACE_FAULT_QUOTA_CHECK_THEN_ACT,
  'narrow-incarnation': SPACE_FAULT_NARROW_INCARNATION,
  'magazine-no-steal': SPACE_FAULT_MAGAZINE_NO_STEAL,
  'magazine-forget-charge': SPACE_FAULT_MAGAZINE_FORGET_CHARGE,
  'own-ring-early': SPACE_FAULT_OWN_RING_EARLY,
  'notify-no-gating': SPACE_FAULT_NONE, // the hooks header's (HOOKS_FAULT_NO_GATING)
});

/** Defaults of {@link IoasidOptions}: byteLength about 7.6 MiB. */
export const IOASID_DEFAULTS: Readonly<IoasidOptions> = Object.freeze({
  pasidBits: 20,
  maxSets: 1024,
  maxIoasids: 65536,
  maxThreads: 64,
  policy: 'lowest',
  stallMs: 10_000,
  maxSubscribers: 32,
  notifyQueueDepth: 256,
  rcuFlavor: 'marks',
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
  if (typeof options !== 'object' || options === null)
    throw ioasidErrors.badOption('options', 'an object', options);
  const o = { ...IOASID_DEFAULTS, ...options };
  for (const name of ['pasidBits', 'maxSets', 'maxIoasids', 'maxThreads'] as const) {
    const [lo, hi] = SPACE_LIMITS[name]; // the limits attach() checks a header against
    checkOption(name, o[name], lo, hi);
  }
  checkOption('stallMs', o.stallMs, 1, 2 ** 31 - 1);
  checkOption('maxSubscribers', o.maxSubscribers, 0, HOOKS_MAX_SUBS);
  checkOption('notifyQueueDepth', o.notifyQueueDepth, 1, NOTIFY_QUEUE_DEPTH_MAX);
  if ((o.notifyQueueDepth & (o.notifyQueueDepth - 1)) !== 0)
    throw ioasidErrors.badOption('notifyQueueDepth', 'a power of two', o.notifyQueueDepth);
  if (o.policy !== 'lowest' && o.policy !== 'cyclic')
    throw ioasidErrors.badOption('policy', "'lowest' or 'cyclic'", o.policy);
  if (o.rcuFlavor !== 'marks' && o.rcuFlavor !== 'mb' && o.rcuFlavor !== 'qsbr')
    throw ioasidErrors.badOption('rcuFlavor', "'marks', 'mb' or 'qsbr'", o.rcuFlavor);
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
  /** Notifier chains and the custom allocator registry (hooks-layout.ts). */
  readonly hooks: SharedArrayBuffer;
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

  /** `buffer`, `hooks` and `rcu` are checked (or new) and belong together; `rcu` is
   * registered. */
  private constructor(
    buffer: SharedArrayBuffer,
    hooks: SharedArrayBuffer,
    rcu: Rcu,
    header: SpaceHeader,
    g: SpaceGeometry,
  ) {
    this.#g = g;
    // A fresh, frozen handle: never the caller's object, whose getters could change.
    this.#handle = Object.freeze({
      kind: HANDLE_KIND,
      version: SPACE_LAYOUT_VERSION,
      buffer,
      rcu: rcu.handle,
      hooks,
    });
    const i32 = new Int32Array(buffer);
    const hk = new Int32Array(hooks);
    this.#core = new SpaceCore(
      i32,
      g,
      rcu,
      header.policy === SPACE_POLICY_CYCLIC,
      header.retireBatch,
      rcu.slot,
      header.fault,
      new SpaceHooks(hk, hooksHeaderGeometry(hk), i32, g, rcu.slot),
    );
    // Claims this thread's slot, recovering what a dead predecessor left in it.
    this.#core.attach();
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
    const header: SpaceHeader = {
      pasidBits: o.pasidBits,
      maxSets: o.maxSets,
      maxIoasids: o.maxIoasids,
      maxThreads: o.maxThreads,
      policy: o.policy === 'cyclic' ? SPACE_POLICY_CYCLIC : SPACE_POLICY_LOWEST,
      retireBatch: spaceRetireBatch(o.maxIoasids, o.maxThreads),
      fault: o.fault ? FAULT_CODES[o.fault] : SPACE_FAULT_NONE,
      // Ties this buffer to its Rcu: attach() refuses a handle pairing it with another one.
      rcuTag: randomInt(1, 2 ** 31 - 1),
    };
    const buffer = new SharedArrayBuffer(g.totalWords * WORD_BYTES);
    const i32 = new Int32Array(buffer);
    // Everything below is written before the handle exists, i.e. before any other thread
    // can reach the buffer (the handle crosses threads by postMessage, which happens-after).
    spaceWriteHeader(i32, header);
    Atomics.store(i32, SPACE_CAPACITY_WORD, g.idCount - 1);
    Atomics.store(i32, SPACE_AVAILABLE_WORD, g.idCount - 1);
    Atomics.store(i32, g.bitmapBase, 1); // id 0 is reserved forever
    for (let set = 0; set < o.maxSets; set++)
      Atomics.store(i32, setWord(g, set) + SET_COUNT, SET_DEAD);
    recordsInit(i32, g, header.retireBatch);
    Atomics.store(i32, SPACE_MAGIC_WORD, SPACE_MAGIC);
    const hooks = hooksBufferCreate(
      o.maxSubscribers,
      o.notifyQueueDepth,
      o.maxThreads,
      o.maxSets,
      o.fault === 'notify-no-gating' ? HOOKS_FAULT_NO_GATING : HOOKS_FAULT_NONE,
      header.rcuTag,
    );
    const rcu = Rcu.create({
      maxThreads: o.maxThreads,
      stallMs: o.stallMs,
      flavor: o.rcuFlavor,
      tag: header.rcuTag,
    });
    rcu.registerThread();
    return new IoasidSpace(buffer, hooks, rcu, header, g);
  }

  /**
   * Attach an existing space in this thread and register the thread as an RCU reader.
   *
   * @param handle - `space.handle` from another thread (structured-cloned)
   *
   * If the thread slot it gets was left by a thread that died and whose Rcu slot was freed
   * without `releaseThread` (also one that died inside `attach()` recovering it), that thread's
   * share is recovered first, as `releaseThread` would. A thread killed inside `attach()`:
   * find its Rcu slot by its threadId in `rcu.stats().slots` and `releaseThread` it.
   *
   * Context: any thread, once per thread and space (detach before attaching again); does not
   * block, except if its Rcu slot was released with `rcu.releaseSlot` while a `releaseThread`
   * of the same slot was running: then it waits for that call (1 ms at a time).
   * The handle's fields are read once each; every header word of the space buffer is checked
   * against the limits `create` applies (space-header.ts), the Rcu's likewise (rcu-header.ts),
   * and the Rcu must be the one the space was created with (same tag and slot count, no
   * fault mode); all of it before any shared word is written or a reader slot claimed.
   *
   * @returns the attached space, whose `handle` is a fresh frozen copy of the one given
   * @throws IoasidError ERR_IOASID_BAD_HANDLE (not a handle, a header `create` would not have
   * written, or a space paired with another Rcu), ERR_IOASID_LAYOUT_VERSION; RcuError
   * ERR_RCU_BAD_HANDLE, ERR_RCU_LAYOUT_VERSION for its Rcu part, ERR_RCU_NO_SLOT when
   * maxThreads threads are attached
   */
  static attach(handle: IoasidHandle): IoasidSpace {
    const { buffer, rcu: rcuHandle, hooks } = snapshotHandle(handle);
    const { header, g } = spaceReadHeader(buffer);
    // The hooks buffer must be this space's own (same tag and geometry), checked before any
    // shared word is written.
    const hooksBuffer = hooksBufferCheck(hooks, g.maxThreads, g.maxSets, header.rcuTag);
    const rcu = Rcu.attach(rcuHandle);
    // The Rcu must be this space's own: the same tag, as many reader slots as thread slots
    // (a larger Rcu would give a thread a slot past the thread-slot region), and no fault.
    if (rcu.tag !== header.rcuTag || rcu.maxThreads !== header.maxThreads || rcu.faulty)
      throw ioasidErrors.badHandle('its Rcu is not the one this space was created with');
    rcu.registerThread();
    return new IoasidSpace(buffer, hooksBuffer, rcu, header, g);
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
    this.#core.detach();
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
    return this.#core.capacity();
  }

  /**
   * Capacity no set or reservation holds.
   *
   * Context: any attached thread; lock-free; stale on return.
   * @returns the unreserved capacity
   */
  available(): number {
    this.#attached('available()');
    return this.#core.available();
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
    return this.#core.installCapacity(total);
  }

  /**
   * Reserve capacity outside any set (for a cgroup-like owner). The units belong to the
   * calling thread's attachment: only this thread can cancel them, and they go back to
   * available() when it detaches, or through `releaseThread` if it dies.
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
    return this.#core.reserveCapacity(n);
  }

  /**
   * Give back capacity this thread took with reserveCapacity. Unlike the kernel, which
   * trusts its caller, units a set holds or another thread reserved are refused: returned
   * here and again by their owner, they would raise available() above capacity().
   *
   * @param n - units to give back
   *
   * Context: any attached thread; lock-free; never blocks.
   * @returns the new available(); -EINVAL n < 0 or n more than this thread holds. On error
   * nothing changes.
   */
  cancelCapacity(n: number): number {
    this.#attached('cancelCapacity()');
    checkInt('n', n);
    if (n < 0) return -Errno.EINVAL;
    return this.#core.cancelCapacity(n);
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
    return this.#core.setAlloc(token ?? SET_TOKEN_NULL, quota, type);
  }

  /**
   * Free a set. With ids left it is marked free-pending, refuses new allocations, and is
   * destroyed when its last id is reclaimed. Destruction returns its quota to available().
   *
   * @param set - set id
   *
   * Context: any attached thread; takes the set lock briefly (may block: a set is re-created
   * only under it, which keeps the quota this decision reads stable); not inside a read-side
   * section.
   * @returns 0 destroyed; -EBUSY ids remain: the set is now marked free-pending (the one
   * failure that changes state, by design: it refuses allocations and is destroyed with its
   * last id); -EINVAL not a live set (nothing changes).
   */
  setFree(set: number): number {
    this.#attached('setFree()');
    checkInt('set', set);
    if (!this.#setInRange(set)) return -Errno.EINVAL;
    return this.#core.setFree(set);
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
    return this.#core.findMmSet(token);
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
    return this.#core.setInfo(set);
  }

  /**
   * Call `fn(id)` for each id of `set` (free-pending ones included), in ascending order.
   *
   * @param set - set id
   * @param fn - called outside any read-side section; it may call any method
   *
   * Context: any attached thread; lock-free and stale: ids allocated or reclaimed during the
   * walk may or may not be visited. Cost: a scan of the id bitmap up to the highest id
   * ever allocated in the space (not the whole id space).
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
    return this.#core.freeAllInSet(set);
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
   * back on failure. Policy `lowest` gives the lowest free id in range (single-threaded).
   *
   * Context: any attached thread; legal inside a read-side section (records then cannot be
   * recycled, so -ENOMEM comes sooner). Blocks only on the way to -EDQUOT, briefly: while
   * another thread shows a charge of the set in flight (below) it spins, then naps
   * (Atomics.wait, at most 48 naps of 0.1 ms), then answers.
   * @returns the id (> 0); -EINVAL bad set (not live, free-pending), min < 0, max < min, a
   * range with no allocatable id (min > 2^pasidBits - 1 or max < 1), or data out of range;
   * -EDQUOT set quota reached: its live ids, plus the charges of ids other threads are
   * allocating or freeing at that moment, fill the quota. Ids cached with the set's charge
   * are taken back from every thread's magazine first, and a charge another thread took out
   * of a magazine and has not released yet is waited for, bounded. Two windows remain in
   * which a concurrent alloc gets -EDQUOT with fewer live ids than the quota: (a) the taker
   * dies, or stalls past the bound, between its entry CAS and its release: a dead taker
   * holds the charge until `releaseThread` releases it; (b) the in-flight check loads the
   * intent the taker records with plain stores right after its CAS, so between that CAS and
   * that record an alloc running at the same instant sees neither the parked entry nor a
   * charge in flight, and answers at once. Both close when the taker's release lands;
   * nothing is lost. -ENOSPC no free id in [min, max]; -ENOMEM no record could be
   * recycled without waiting. On error no id, set or capacity changes; -EDQUOT, -ENOSPC and
   * -ENOMEM are counted in stats(), and -ENOMEM first recycled what it could (module notes,
   * "What a failure changes").
   */
  alloc(set: number, min: number, max: number, data = 0): number {
    // One guard for the common case (all int32); #checkAlloc throws for misuse. typeof
    // first: `x | 0` would convert an object (user code) and throw for a BigInt or Symbol.
    if (this.#detached || !isI32(set) || !isI32(min) || !isI32(max) || !isI32(data))
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
   * Context: any attached thread; lock-free, the reclaim of an id with a SPID included (it
   * unhashes the SPID with CASes); never blocks.
   * @returns 0; -ENOENT unknown id; -EACCES other set or null; -EBUSY already free-pending.
   * On error nothing changes.
   */
  free(set: number | null, id: number): number {
    if (this.#detached || !isI32(id) || (set !== null && !isI32(set)))
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
    if (this.#detached || !isI32(id) || (set !== null && !isI32(set)))
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
   * Context: any attached thread; lock-free (as `free`); never blocks.
   * @returns 1 reclaimed now; 0 references remain; -ENOENT unknown id; -EACCES other set.
   * On error nothing changes.
   */
  put(set: number | null, id: number): number {
    if (this.#detached || !isI32(id) || (set !== null && !isI32(set)))
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
    if (this.#detached || !isI32(id) || (set !== null && !isI32(set)))
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
   * Bind a set-private id (SPID) to `id`; an existing SPID of `id` is replaced.
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
   * Unbind `id`'s SPID.
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
   * Push this thread's retired records to limbo, wait until every record retired before
   * this call is past its grace period (one grace period, or two when a grace-period leader
   * died before its grace period started: space-core.ts), then move every limbo record whose
   * grace period has passed back to the free pool. Other threads' own rings of retired
   * records (records.ts "Own ring") are pushed to limbo first, all but one its owner holds at
   * that moment (inside an alloc or free). On a quiet space, limbo is empty after it.
   *
   * Context: blocks (RCU synchronize); not inside a read-side section.
   * @returns how many records were recycled
   * @throws IoasidError ERR_IOASID_IN_READ_SECTION
   */
  flushRecords(): number {
    this.#attached('flushRecords()');
    if (this.#core.rcu.nesting > 0) throw ioasidErrors.inReadSection('flushRecords()');
    return this.#core.flushRecords();
  }

  /**
   * Recover the share of this space held by a thread that died (a terminated worker), then
   * free its Rcu reader slot. Finishes or rolls back the operation it was in the middle of
   * (an alloc, a reclaim, a setAlloc, an installCapacity, an attachSpid), returns capacity it
   * held (owed by a set it destroyed, or reserved with reserveCapacity), releases a set or
   * SPID lock it held, gives the records of its cache, retire batch and any drain in progress
   * back through limbo, and finishes a `releaseThread` the dead thread was itself running, or
   * the recovery of its own slot it was doing inside `attach()`. Ids it had allocated stay
   * allocated to their sets: `freeAllInSet` frees them. References it took (get, findBySpid
   * with get) are not recovered.
   *
   * @param slot - the dead thread's Rcu reader slot (`space.rcu.slot` in that thread)
   *
   * Exact because every atomic step that changes what a thread holds is recorded in its
   * thread slot with no call in between, and a terminated worker stops only at calls and loop
   * back-edges (space-core.ts "Kill points"); the recovery records its own steps the same way,
   * so a thread killed inside `releaseThread` is recovered in turn by `releaseThread` of its
   * slot, and the slot it was recovering with it.
   *
   * Order-free: with several dead threads, call it once per dead thread, in any order. It
   * never waits (no lock, no grace period): when another thread, alive or dead, owns the
   * recovery of `slot` (a concurrent call, or a dead thread that was recovering it), it returns
   * 0 at once and that recovery, or the `releaseThread` of that dead recoverer, finishes the
   * job and frees the Rcu slot (thread-recovery.ts, "The order-free recovery rule").
   *
   * Context: any attached thread other than the dead one, outside a read-side section, after
   * the dead thread has stopped (its worker's 'exit' event); never blocks. Call it once per
   * dead thread: calling it for a live thread, or again after the Rcu slot was released and
   * maybe taken by a new thread, breaks that thread and the space. Concurrent calls for the
   * same slot recover it once.
   * @returns how many things were recovered (locks, unfinished operations, owed capacity,
   * records), 0 when the thread held nothing or its recovery is another thread's (the Rcu slot
   * is released all the same, now or by that thread); -EINVAL slot out of range or the
   * caller's own slot (nothing changes)
   * @throws IoasidError ERR_IOASID_BAD_ARGUMENT (non-integer slot), ERR_IOASID_DETACHED,
   * ERR_IOASID_IN_READ_SECTION
   */
  releaseThread(slot: number): number {
    this.#attached('releaseThread()');
    checkInt('slot', slot);
    const core = this.#core;
    if (core.rcu.nesting > 0) throw ioasidErrors.inReadSection('releaseThread()');
    if (slot < 0 || slot >= this.#g.maxThreads || slot === core.rcu.slot) return -Errno.EINVAL;
    return core.releaseThread(slot);
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
    return this.#core.stats();
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
   * @param owner - the caller's owner tag (1 .. 2^31 - 1), kept with the subscriber so that
   *   `findNotifier` can find it again (a caller killed before it stored the returned id
   *   adopts it instead of registering a second one); default 0: no tag, never found
   *
   * Context: any attached thread; takes the distribution lock briefly (may block); not inside
   * a read-side section.
   * @returns the subscriber id (>= 0; a number, to send to other threads); -EINVAL not a live
   * set, a bad priority or a negative owner; -ENOSPC every subscriber slot (maxSubscribers)
   * is taken. On error nothing changes.
   */
  registerNotifier(set: number | null, priority: number, owner = 0): number {
    this.#attached('registerNotifier()');
    if (set !== null) checkInt('set', set);
    checkInt('priority', priority);
    checkInt('owner', owner);
    if (priority < 0 || priority > 3 || owner < 0 || owner > TOKEN_MAX) return -Errno.EINVAL;
    if (set !== null && !this.#setInRange(set)) return -Errno.EINVAL;
    return this.#core.hooks.register(set ?? -1, priority, owner);
  }

  /**
   * Subscribe to the chain of the MM set whose token is `token`. If there is no such set yet,
   * the subscriber waits (pending) and is attached when `setAlloc(token, _, SetType.MM)`
   * creates it; when that set is destroyed it goes back to pending for the token.
   *
   * @param token - an MM token (0 .. 2^31 - 1)
   * @param priority - a {@link NotifierPriority} (0..3)
   * @param owner - the caller's owner tag, as for `registerNotifier` (found by
   *   `findNotifierMm`); default 0: no tag
   *
   * Context: any attached thread; takes the set lock and the distribution lock briefly (may
   * block); not inside a read-side section.
   * @returns the subscriber id (>= 0); -EINVAL bad token, priority or owner; -EBUSY the MM set
   * exists and already has ids (events are not replayed); -ENOSPC no subscriber slot. On
   * error nothing changes.
   */
  registerNotifierMm(token: number, priority: number, owner = 0): number {
    this.#attached('registerNotifierMm()');
    checkInt('token', token);
    checkInt('priority', priority);
    checkInt('owner', owner);
    if (priority < 0 || priority > 3 || token < 0 || token > TOKEN_MAX) return -Errno.EINVAL;
    if (owner < 0 || owner > TOKEN_MAX) return -Errno.EINVAL;
    return this.#core.registerNotifierMm(token, priority, owner);
  }

  /**
   * Find the subscriber that `registerNotifier(set, priority, owner)` returned, for a caller
   * that cannot remember its id (it was killed between the registration's return and storing
   * the id, and its replacement resumes): adopt it rather than register a second one, which
   * would leave the first unread and hold up every subscriber behind it on the chain.
   * Registrations whose call has not returned are not found: one still running in another
   * thread, or one whose thread died inside it (`releaseThread` undoes it).
   *
   * @param set - a set id (0 .. maxSets - 1; its live incarnation: a subscriber of a set freed
   *   since is not found), or null for the global chain
   * @param priority - the {@link NotifierPriority} it registered with (0..3)
   * @param owner - the owner tag it registered with (1 .. 2^31 - 1)
   *
   * Context: any attached thread; lock-free (loads only; legal inside a read-side section);
   * stale on return (another thread may unregister it). Cost: a scan of the subscriber slots.
   * @returns the subscriber id (the earliest registered when several match), or -ENOENT (none,
   * or the set is not live)
   * @throws IoasidError ERR_IOASID_BAD_ARGUMENT for a set out of range, a priority out of 0..3,
   * an owner out of 1 .. 2^31 - 1, or a non-integer (nothing is read or changed)
   */
  findNotifier(set: number | null, priority: number, owner: number): number {
    this.#attached('findNotifier()');
    if (set !== null && !(isInt(set) && this.#setInRange(set)))
      throw ioasidErrors.badArgument('set', `null or a set id 0..${this.#g.maxSets - 1}`, set);
    checkFindKey(priority, owner);
    return this.#core.hooks.find(set ?? -1, -1, priority, owner);
  }

  /**
   * Find the subscriber that `registerNotifierMm(token, priority, owner)` returned (attached
   * to the token's MM set, or pending for it), as `findNotifier` does for a set's chain.
   *
   * @param token - the MM token it registered with (0 .. 2^31 - 1)
   * @param priority - the {@link NotifierPriority} it registered with (0..3)
   * @param owner - the owner tag it registered with (1 .. 2^31 - 1)
   *
   * Context: as `findNotifier`.
   * @returns the subscriber id (the earliest registered when several match), or -ENOENT
   * @throws IoasidError ERR_IOASID_BAD_ARGUMENT for a token out of 0 .. 2^31 - 1, a priority
   * out of 0..3, an owner out of 1 .. 2^31 - 1, or a non-integer (nothing is read or changed)
   */
  findNotifierMm(token: number, priority: number, owner: number): number {
    this.#attached('findNotifierMm()');
    if (!(isInt(token) && token >= 0 && token <= TOKEN_MAX))
      throw ioasidErrors.badArgument('token', 'an MM token 0 .. 2^31 - 1', token);
    checkFindKey(priority, owner);
    return this.#core.hooks.find(-1, token, priority, owner);
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
   * Context: blocks (Atomics.wait); any attached thread, not inside a read-side section. qsbr
   * flavor: an online caller is offline while it waits (it is quiescent, being outside any
   * section) and online again when this returns, as `synchronize` does; otherwise a
   * subscriber waiting for events would hold up every grace period until they came.
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
    const { rcu } = this.#core;
    if (rcu.nesting > 0) throw ioasidErrors.inReadSection('waitNotifications()');
    // qsbr: offline for the wait (a no-op in the other flavors); the wait reads no record
    // under RCU, only the hooks buffer. An offline caller stays offline.
    const wasOnline = rcu.online;
    if (wasOnline) rcu.threadOffline();
    try {
      return this.#core.hooks.wait(sub, timeoutMs);
    } finally {
      if (wasOnline) rcu.threadOnline();
    }
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
   * group while the default allocator has live ids, or while another thread holds a quota
   * charge in flight (an id cached in its magazine that it is taking out to release or to
   * reuse, e.g. in its `detach`): registration takes every parked charge back first, but
   * unlike -EDQUOT it does not wait for a charge in flight, so a caller that knows no id is
   * live may retry; -ENOSPC 8 groups exist. On error nothing changes.
   * @throws IoasidError ERR_IOASID_BAD_ARGUMENT when ops is not such an object
   */
  registerAllocator(ops: AllocatorOps): number {
    this.#attached('registerAllocator()');
    checkAllocatorOps(ops);
    // "Live ids" are units held: ids parked in magazines with a charge are none (id-magazine.ts).
    this.#core.reclaimParked(-1);
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
 * Read a handle's fields once each (a getter cannot answer differently later) and check
 * their kinds; the buffers themselves are checked by spaceReadHeader and Rcu.attach.
 */
function snapshotHandle(handle: unknown): {
  buffer: SharedArrayBuffer;
  rcu: RcuHandle;
  hooks: unknown;
} {
  if (typeof handle !== 'object' || handle === null)
    throw ioasidErrors.badHandle(`kind is not '${HANDLE_KIND}'`);
  let kind: unknown;
  let version: unknown;
  let buffer: unknown;
  let rcu: unknown;
  let hooks: unknown;
  try {
    ({ kind, version, buffer, rcu, hooks } = handle as IoasidHandle);
  } catch {
    throw ioasidErrors.badHandle('reading its fields threw');
  }
  if (kind !== HANDLE_KIND) throw ioasidErrors.badHandle(`kind is not '${HANDLE_KIND}'`);
  if (!(buffer instanceof SharedArrayBuffer))
    throw ioasidErrors.badHandle('buffer is not a SharedArrayBuffer');
  if (version !== SPACE_LAYOUT_VERSION)
    throw ioasidErrors.layoutVersion(Number(version), SPACE_LAYOUT_VERSION);
  return { buffer, rcu: rcu as RcuHandle, hooks };
}

/**
 * The hot paths' guard: an int32 number. Never converts `v` (no user code, no TypeError for
 * a BigInt or Symbol): the typeof test comes first.
 */
function isI32(v: unknown): v is number {
  return typeof v === 'number' && (v | 0) === v;
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

/** findNotifier's priority and owner: a NotifierPriority and a non-zero owner tag. */
function checkFindKey(priority: unknown, owner: unknown): void {
  if (!(isInt(priority) && priority >= 0 && priority <= 3))
    throw ioasidErrors.badArgument('priority', 'a NotifierPriority 0..3', priority);
  if (!(isInt(owner) && owner >= 1 && owner <= TOKEN_MAX))
    throw ioasidErrors.badArgument('owner', 'an owner tag 1 .. 2^31 - 1', owner);
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
