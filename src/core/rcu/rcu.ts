/**
 * Userspace RCU for Node worker threads over a SharedArrayBuffer.
 *
 * Readers (`readLock`/`readUnlock`) never block, touch no global word, and cost one atomic
 * store and one exchange, both on the thread's own cache line.
 * Updaters wait for a grace period with `synchronize()` (blocking), `getState`/`pollState`
 * (never blocking), or `callRcu(fn)` (deferred). Create one `Rcu` per shared structure, send
 * its `handle` to workers, and `Rcu.attach` it there.
 *
 * ```ts
 * const rcu = Rcu.create({ maxThreads: 64 });
 * new Worker(url, { workerData: rcu.handle });
 * // in the worker:
 * const r = Rcu.attach(workerData); r.registerThread();
 * r.readLock(); const i = Atomics.load(table, k); use(records[i]); r.readUnlock();
 * ```
 *
 * ## Developer notes
 * This module is the validating facade. The read side is `rcu-read-side.ts`, the grace-period
 * machinery `rcu-grace-period.ts`, the optional liburcu-mb flavor (both halves)
 * `rcu-flavor-mb.ts`, and every offset is in `rcu-layout.ts`. The flavor is fixed at create()
 * and read from the buffer's header by every attach, so all threads of one instance agree. Per-thread state (slot,
 * nesting depth, the callback queue) lives in the `Rcu` object, which belongs to the thread
 * that attached it; everything shared lives in the buffer.
 *
 * `callRcu` callbacks are closures, which cannot cross threads, so each thread keeps its own
 * FIFO queue tagged with cookies. They run from `runCallbacks()`, from `barrier()`, and from a
 * 1 ms timer while the queue is non-empty (a thread whose loop never yields to its event loop
 * must call `runCallbacks()` itself). Cookies are non-decreasing along the queue, so the queue
 * drains from its head.
 *
 * @module ioasid/rcu
 */
import { threadId } from 'node:worker_threads';
import { WORD_BYTES } from '../cache-line.js';
import { rcuErrors } from './rcu-errors.js';
import { advanceMbGracePeriod, RcuReadSideMb } from './rcu-flavor-mb.js';
import {
  advanceQsbrGracePeriod,
  RcuReadSideQsbr,
  RcuReadSideQsbrDebug,
} from './rcu-flavor-qsbr.js';
import { gpSeqLoad, seqCompleted, seqStep } from './rcu-gp-seq.js';
import {
  advanceMarksGracePeriod,
  completedGracePeriods,
  FaultMode,
  type GracePeriodContext,
  pollCookie,
  type StallReporter,
  snapshotCookie,
  waitForCookie,
} from './rcu-grace-period.js';
import {
  RCU_MAX_STALL_MS,
  RCU_MAX_THREADS,
  type RcuHeader,
  rcuFaultArgRange,
  rcuReadHeader,
} from './rcu-header.js';
import {
  RCU_FAULT_ARG_WORD,
  RCU_FAULT_MODE_WORD,
  RCU_FLAVOR_MARKS,
  RCU_FLAVOR_MB,
  RCU_FLAVOR_QSBR,
  RCU_FLAVOR_WORD,
  RCU_GP_COUNT,
  RCU_GP_CTR_WORD,
  RCU_GP_LOCK_WORD,
  RCU_LAYOUT_VERSION,
  RCU_LOCK_OWNER_MASK,
  RCU_LOCK_WAITERS,
  RCU_MAGIC,
  RCU_MAGIC_WORD,
  RCU_MAX_THREADS_WORD,
  RCU_SLOT_CLAIMS,
  RCU_SLOT_CTR,
  RCU_SLOT_HWM_WORD,
  RCU_SLOT_OWNER,
  RCU_STALL_MS_WORD,
  RCU_STAT_RELEASED_WORD,
  RCU_STAT_SKIPPED_WORD,
  RCU_STAT_SLEEPS_WORD,
  RCU_STAT_STALLS_WORD,
  RCU_STAT_WAKEUPS_WORD,
  RCU_TAG_WORD,
  RCU_VERSION_WORD,
  RCU_WAIT,
  rcuBufferWords,
  rcuLockOwner,
  rcuOwnerReleasing,
  rcuQsbrCtr,
  rcuSlotBase,
} from './rcu-layout.js';
import { RcuReadSide, type ReadSide, wakeGracePeriodLeader } from './rcu-read-side.js';

export { RcuError, type RcuErrorCode } from './rcu-errors.js';
export type { StallReporter } from './rcu-grace-period.js';

/** Deliberately broken grace periods, for proving a torture harness can fail. */
export type RcuFaultMode =
  | 'skip-gp'
  | 'skip-nth'
  | 'ignore-reader'
  | 'lose-snapshot'
  | 'early-qs'
  | 'short-wait';

/** Options of `Rcu.create`. */
export interface RcuOptions {
  /** Reader slots (threads that may be inside a read-side section at once). 1..4096. */
  maxThreads: number;
  /** A grace period waiting longer than this on one reader reports a stall, in ms. >= 1. */
  stallMs: number;
  /**
   * 'marks' (default): a reader stores a fresh mark to enter and exchanges it for 0 to leave;
   * a grace period snapshots the marks once. 'mb': liburcu's mb flavor, two loads and two
   * stores per section and two phase flips per grace period (rcu-flavor-mb.ts); slower
   * readers, kept for comparison. 'qsbr': liburcu's qsbr flavor (rcu-flavor-qsbr.ts):
   * sections cost nothing, and every registered thread must announce quiescent states
   * (`quiescentState()`) and go offline around anything that blocks (`threadOffline()`), or
   * it holds every grace period up; for loops that never block, not oversubscribed.
   */
  flavor: RcuFlavor;
  /**
   * @internal Torture self-test only: break grace periods on purpose. `arg` is N for
   * 'skip-nth' (every Nth grace period waits for nobody) and the slot for 'ignore-reader'.
   * 'early-qs' (qsbr only): every readLock announces a quiescent state. 'short-wait':
   * synchronize() and callRcu() (so barrier() too) use a cookie one completion short of
   * getState()'s: they wait for one grace period fewer than a full one.
   */
  fault?: { mode: RcuFaultMode; arg?: number } | undefined;
  /**
   * @internal The creator's tag, stored in the header (0 = none): `IoasidSpace.create` gives
   * its space and its Rcu the same random tag, and `IoasidSpace.attach` checks they match.
   */
  tag?: number | undefined;
}

/** How readers and grace periods meet (see `RcuOptions.flavor`). */
export type RcuFlavor = 'marks' | 'mb' | 'qsbr';

/** Options of `Rcu.attach`, local to the attaching thread. */
export interface RcuAttachOptions {
  /** Called for each reader slot holding a grace period up past `stallMs`. */
  onStall?: StallReporter;
  /**
   * Check the read side's contract at run time, as liburcu's debug builds do. Matters to
   * the qsbr flavor only, whose readLock/readUnlock otherwise do nothing at all: with it they
   * count nesting and refuse a section in an offline thread (ERR_RCU_OFFLINE), and
   * quiescentState, threadOffline, synchronize and barrier refuse to run inside a section
   * (ERR_RCU_IN_READ_SECTION). Default: true when the environment sets IOASID_DEBUG=1.
   */
  debug?: boolean;
}

const FLAVOR_CODES: Readonly<Record<RcuFlavor, number>> = Object.freeze(
  Object.assign(Object.create(null) as Record<RcuFlavor, number>, {
    marks: RCU_FLAVOR_MARKS,
    mb: RCU_FLAVOR_MB,
    qsbr: RCU_FLAVOR_QSBR,
  }),
);
const FLAVOR_NAMES: readonly RcuFlavor[] = ['marks', 'mb', 'qsbr'];

/** Defaults of `RcuOptions`. */
export const RCU_DEFAULTS: Readonly<RcuOptions> = Object.freeze({
  maxThreads: 64,
  stallMs: 10_000,
  flavor: 'marks',
  fault: undefined,
  tag: undefined,
});

/** Fault codes by mode name: a null-prototype map, so 'toString' or '__proto__' are no modes. */
const FAULT_CODES: Readonly<Record<RcuFaultMode, number>> = Object.freeze(
  Object.assign(Object.create(null) as Record<RcuFaultMode, number>, {
    'skip-gp': FaultMode.skipGp,
    'skip-nth': FaultMode.skipNth,
    'ignore-reader': FaultMode.ignoreReader,
    'lose-snapshot': FaultMode.loseSnapshot,
    'early-qs': FaultMode.earlyQs,
    'short-wait': FaultMode.shortWait,
  }),
);
const HANDLE_KIND = 'ioasid/rcu';

/** A structured-cloneable reference to an RCU instance: send it to workers. */
export interface RcuHandle {
  /** Always `'ioasid/rcu'`: `Rcu.attach` refuses anything else. */
  readonly kind: typeof HANDLE_KIND;
  /** The buffer's layout version; `Rcu.attach` refuses another (ERR_RCU_LAYOUT_VERSION). */
  readonly version: number;
  /** The instance's shared memory: header, grace-period words and reader slots. */
  readonly buffer: SharedArrayBuffer;
}

/** One reader slot as `stats()` reports it. */
export interface RcuSlotState {
  /** The slot's index, as `registerThread()` returned it. */
  slot: number;
  /** threadId of the owner (0 = main thread). */
  ownerThreadId: number;
  /** How many times the slot has been claimed. */
  claims: number;
  /**
   * Inside a read-side section (the depth of nesting is known only to the owner: `nesting`).
   * qsbr flavor: online, since its sections leave no trace and an online thread may hold
   * references anywhere between two quiescent states.
   */
  inSection: boolean;
  /** Not offline (qsbr flavor); always true for the other flavors' registered slots. */
  online: boolean;
  /** A grace-period leader asked this section's end (qsbr: this thread's next quiescent
   * state) to wake it; mb: false. */
  leaderWaiting: boolean;
}

/** What `stats()` returns: a lock-free, possibly stale snapshot. */
export interface RcuStats {
  /** The flavor chosen at `Rcu.create`. */
  flavor: RcuFlavor;
  /** Grace periods completed since `Rcu.create`. */
  gracePeriods: number;
  /** True while a grace period is in flight. */
  inProgress: boolean;
  /** threadId of the thread holding GP_LOCK (leading or polling a grace period), or -1. */
  leaderThreadId: number;
  /** Times a grace period waited `stallMs` on one reader (each one also warned). */
  stalls: number;
  /** Times a grace-period leader slept waiting for readers. */
  sleeps: number;
  /** Notifies of a sleeping leader, by readers leaving their section and by releaseSlot. */
  wakeups: number;
  /** Grace periods that skipped their wait (fault injection only). */
  skipped: number;
  /** Slots freed by releaseSlot(). */
  released: number;
  /** Reader slots in the buffer (the `maxThreads` option). */
  maxThreads: number;
  /** Claimed slots only. */
  slots: RcuSlotState[];
}

/**
 * Validate and complete `RcuOptions`.
 *
 * @param options - any subset of RcuOptions (an object; undefined for the defaults)
 *
 * Context: pure; any thread.
 * @returns the complete options
 * @throws RcuError ERR_RCU_BAD_ARGUMENT naming the bad field and its rule
 */
export function resolveRcuOptions(options: Partial<RcuOptions> = {}): RcuOptions {
  if (typeof options !== 'object' || options === null)
    throw rcuErrors.badArgument('options', 'an object', options);
  const o = { ...RCU_DEFAULTS, ...options };
  checkInt('maxThreads', o.maxThreads, 1, RCU_MAX_THREADS);
  checkInt('stallMs', o.stallMs, 1, RCU_MAX_STALL_MS);
  if (typeof o.flavor !== 'string' || !Object.hasOwn(FLAVOR_CODES, o.flavor))
    throw rcuErrors.badArgument('flavor', "'marks' | 'mb' | 'qsbr'", o.flavor);
  if (o.fault !== undefined) {
    if (typeof o.fault !== 'object' || o.fault === null)
      throw rcuErrors.badArgument('fault', 'undefined or { mode, arg? }', o.fault);
    const { mode, arg } = o.fault;
    if (typeof mode !== 'string' || !Object.hasOwn(FAULT_CODES, mode))
      throw rcuErrors.badArgument('fault.mode', Object.keys(FAULT_CODES).join(' | '), mode);
    const [lo, hi] = rcuFaultArgRange(FAULT_CODES[mode], o.maxThreads);
    checkInt('fault.arg', arg ?? 0, lo, hi);
    if (mode === 'early-qs' && o.flavor !== 'qsbr')
      throw rcuErrors.badArgument('fault.mode', "'early-qs' only with flavor 'qsbr'", mode);
  }
  if (o.tag !== undefined) checkInt('tag', o.tag, 0, 2 ** 31 - 1);
  return o;
}

/** Validate `RcuAttachOptions` (an object, or undefined). */
function checkAttachOptions(attach: unknown): RcuAttachOptions {
  if (attach === undefined) return {};
  if (typeof attach !== 'object' || attach === null)
    throw rcuErrors.badArgument('attach options', 'an object', attach);
  const { onStall, debug } = attach as RcuAttachOptions;
  if (onStall !== undefined && typeof onStall !== 'function')
    throw rcuErrors.badArgument('onStall', 'a function', onStall);
  if (debug !== undefined && typeof debug !== 'boolean')
    throw rcuErrors.badArgument('debug', 'a boolean', debug);
  return { onStall, debug: debug ?? process.env.IOASID_DEBUG === '1' };
}

function checkInt(name: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw rcuErrors.badArgument(name, `an integer in [${min}, ${max}]`, value);
}

/**
 * An attached RCU instance. One object per thread; the shared state is in `handle.buffer`.
 */
export class Rcu {
  readonly #words: Int32Array<SharedArrayBuffer>;
  readonly #ctx: GracePeriodContext;
  readonly #reader: ReadSide;
  /** The qsbr flavor: blocking waits take an online caller offline. */
  readonly #qsbr: boolean;
  readonly #handle: RcuHandle;
  readonly #header: RcuHeader;
  /**
   * 1 with the 'short-wait' fault, else 0: what synchronize's target and callRcu's callback
   * cookies fall short of getState()'s rule by.
   */
  readonly #shortBy: number;
  /** GP_LOCK value while this thread leads; never 0. */
  readonly #lockToken = threadId + 1;
  #slot = -1;
  readonly #cbCookies: number[] = [];
  readonly #cbFns: Array<() => void> = [];
  #cbHead = 0;
  #cbTimer: ReturnType<typeof setTimeout> | undefined;

  private constructor(handle: RcuHandle, header: RcuHeader, attach: RcuAttachOptions) {
    const words = new Int32Array(handle.buffer);
    this.#words = words;
    this.#handle = handle;
    this.#header = header;
    // The header (checked by rcuReadHeader, or just written by create) is immutable.
    const earlyQs = header.faultMode === FaultMode.earlyQs;
    this.#qsbr = header.flavor === RCU_FLAVOR_QSBR;
    this.#shortBy = header.faultMode === FaultMode.shortWait ? 1 : 0;
    let advance = advanceMarksGracePeriod;
    if (header.flavor === RCU_FLAVOR_MB) {
      this.#reader = new RcuReadSideMb(words);
      advance = advanceMbGracePeriod;
    } else if (header.flavor === RCU_FLAVOR_QSBR) {
      this.#reader =
        attach.debug || earlyQs
          ? new RcuReadSideQsbrDebug(words, earlyQs)
          : new RcuReadSideQsbr(words);
      advance = advanceQsbrGracePeriod;
    } else {
      this.#reader = new RcuReadSide(words);
    }
    this.#ctx = {
      advance,
      zeroIsQuiescent: header.flavor !== RCU_FLAVOR_QSBR,
      words,
      seq: new BigInt64Array(handle.buffer),
      maxThreads: header.maxThreads,
      stallMs: header.stallMs,
      faultMode: header.faultMode,
      faultArg: header.faultArg,
      onStall: attach.onStall ?? defaultStallReporter,
      poll: { gp: -1, since: 0, nextReport: 0 },
    };
  }

  /**
   * Allocate a new RCU instance (its SharedArrayBuffer) and attach it in this thread.
   *
   * @param options - see `RcuOptions`; defaults in `RCU_DEFAULTS`
   *
   * Context: any thread; does not register the calling thread as a reader.
   * @returns the attached instance
   * @throws RcuError ERR_RCU_BAD_ARGUMENT for an invalid option
   */
  static create(options: Partial<RcuOptions> = {}, attach: RcuAttachOptions = {}): Rcu {
    const o = resolveRcuOptions(options);
    const at = checkAttachOptions(attach);
    const header: RcuHeader = {
      maxThreads: o.maxThreads,
      stallMs: o.stallMs,
      faultMode: o.fault ? FAULT_CODES[o.fault.mode] : FaultMode.none,
      faultArg: o.fault?.arg ?? 0,
      flavor: FLAVOR_CODES[o.flavor],
      tag: o.tag ?? 0,
    };
    const buffer = new SharedArrayBuffer(rcuBufferWords(o.maxThreads) * WORD_BYTES);
    const words = new Int32Array(buffer);
    // Written before the handle exists, so before any other thread can see the buffer.
    Atomics.store(words, RCU_VERSION_WORD, RCU_LAYOUT_VERSION);
    Atomics.store(words, RCU_MAX_THREADS_WORD, header.maxThreads);
    Atomics.store(words, RCU_STALL_MS_WORD, header.stallMs);
    Atomics.store(words, RCU_FAULT_MODE_WORD, header.faultMode);
    Atomics.store(words, RCU_FAULT_ARG_WORD, header.faultArg);
    Atomics.store(words, RCU_FLAVOR_WORD, header.flavor);
    Atomics.store(words, RCU_TAG_WORD, header.tag);
    // mb: phase 0 with a count of one; qsbr: the value of grace period 0 (none yet).
    Atomics.store(words, RCU_GP_CTR_WORD, o.flavor === 'qsbr' ? rcuQsbrCtr(0) : RCU_GP_COUNT);
    Atomics.store(words, RCU_MAGIC_WORD, RCU_MAGIC);
    const handle = Object.freeze({ kind: HANDLE_KIND, version: RCU_LAYOUT_VERSION, buffer });
    return new Rcu(handle, header, at);
  }

  /**
   * Attach an existing instance from its handle, in any thread.
   *
   * @param handle - `rcu.handle` from the creating thread (structured-cloned)
   *
   * The handle's fields are read once; the buffer's header is checked word by word against
   * the limits `create` applies (rcu-header.ts), before anything past it is read.
   *
   * Context: any thread; does not register the caller.
   * @returns the attached instance, whose `handle` is a fresh copy of the one given
   * @throws RcuError ERR_RCU_BAD_HANDLE (not a handle, or a header `create` would not have
   * written) or ERR_RCU_LAYOUT_VERSION (another version of this library made it);
   * ERR_RCU_BAD_ARGUMENT for malformed attach options
   */
  static attach(handle: RcuHandle, attach: RcuAttachOptions = {}): Rcu {
    const at = checkAttachOptions(attach);
    if (typeof handle !== 'object' || handle === null)
      throw rcuErrors.badHandle(`kind is not '${HANDLE_KIND}'`);
    let kind: unknown;
    let version: unknown;
    let buffer: unknown;
    try {
      ({ kind, version, buffer } = handle); // once each: a getter cannot change its answer
    } catch {
      throw rcuErrors.badHandle('reading its fields threw');
    }
    if (kind !== HANDLE_KIND) throw rcuErrors.badHandle(`kind is not '${HANDLE_KIND}'`);
    if (!(buffer instanceof SharedArrayBuffer))
      throw rcuErrors.badHandle('buffer is not a SharedArrayBuffer');
    if (version !== RCU_LAYOUT_VERSION)
      throw rcuErrors.layoutVersion(Number(version), RCU_LAYOUT_VERSION);
    const header = rcuReadHeader(buffer);
    return new Rcu(Object.freeze({ kind: HANDLE_KIND, version, buffer }), header, at);
  }

  /** @internal The creator's tag in the header (0 = none; see RcuOptions.tag). */
  get tag(): number {
    return this.#header.tag;
  }

  /** @internal Reader slots of this instance. */
  get maxThreads(): number {
    return this.#header.maxThreads;
  }

  /** @internal Was this instance created with a fault mode (torture self-tests only)? */
  get faulty(): boolean {
    return this.#header.faultMode !== FaultMode.none;
  }

  /** The structured-cloneable handle to send to other threads. */
  get handle(): RcuHandle {
    return this.#handle;
  }

  /** This thread's reader slot, or -1 when not registered. */
  get slot(): number {
    return this.#slot;
  }

  /**
   * Current read-side nesting depth of this thread (0 = outside). The qsbr flavor tracks it
   * only in debug attachments (`RcuAttachOptions.debug`); otherwise it is always 0.
   */
  get nesting(): number {
    return this.#reader.nesting;
  }

  /**
   * Is this thread online: registered and, in the qsbr flavor, not offline? Grace periods
   * wait for an online qsbr thread's next quiescent state.
   */
  get online(): boolean {
    return this.#reader.isOnline;
  }

  /**
   * Claim a reader slot for this thread. In the qsbr flavor the thread is online from here
   * on: it must announce quiescent states, or go offline, or every grace period waits for it.
   *
   * Context: any thread, once per attached instance; never blocks.
   * @returns the slot index (also passed to `releaseSlot` if this thread dies)
   * @throws RcuError ERR_RCU_NO_SLOT when every slot is claimed; ERR_RCU_ALREADY_REGISTERED
   */
  registerThread(): number {
    if (this.#slot >= 0) throw rcuErrors.alreadyRegistered(this.#slot);
    const { words, maxThreads } = this.#ctx;
    for (let slot = 0; slot < maxThreads; slot++) {
      const base = rcuSlotBase(slot);
      if (Atomics.compareExchange(words, base + RCU_SLOT_OWNER, 0, this.#lockToken) !== 0) continue;
      // The slot is ours. Raise HWM before our first readLock so every scan that could
      // matter covers us (a scan that reads the old HWM began before we could enter).
      for (let hwm = Atomics.load(words, RCU_SLOT_HWM_WORD); hwm <= slot; ) {
        const seen = Atomics.compareExchange(words, RCU_SLOT_HWM_WORD, hwm, slot + 1);
        hwm = seen === hwm ? slot + 1 : seen;
      }
      const claims = Atomics.add(words, base + RCU_SLOT_CLAIMS, 1);
      this.#slot = slot;
      // Seed marks apart from the slot's earlier owners' (see RcuReadSide.bind).
      this.#reader.bind(slot, Math.imul(claims + 1, 0x9e3779b1));
      this.#reader.online(); // qsbr: a registered thread is online, as in liburcu
      return slot;
    }
    throw rcuErrors.noSlot(maxThreads);
  }

  /**
   * Give this thread's slot back.
   *
   * Context: outside any read-side section; never blocks.
   * @throws RcuError ERR_RCU_IN_READ_SECTION, ERR_RCU_NOT_REGISTERED
   */
  unregisterThread(): void {
    if (this.#reader.nesting > 0) throw rcuErrors.inReadSection('unregisterThread()');
    if (this.#slot < 0) throw rcuErrors.notRegistered();
    const base = rcuSlotBase(this.#slot);
    this.#reader.bind(-1);
    this.#slot = -1;
    // Outside any section; a qsbr thread may still be online and awaited by a sleeping leader.
    if ((Atomics.exchange(this.#words, base + RCU_SLOT_CTR, 0) & RCU_WAIT) !== 0)
      wakeGracePeriodLeader(this.#words);
    Atomics.store(this.#words, base + RCU_SLOT_OWNER, 0);
  }

  /**
   * Free the slot of a thread known to be dead (a terminated or crashed worker), even if it
   * died inside a read-side section or while leading a grace period.
   *
   * @param slot - the slot index the dead thread's `registerThread()` returned
   *
   * Context: any thread; never blocks. Calling it for a live thread breaks RCU for that thread.
   * A thread terminated inside this call leaves the slot being released (OWNER negative) and,
   * if it had not yet cleared CTR, grace periods waiting on it (reported as stalls):
   * `IoasidSpace.releaseThread` records the release and finishes it when the releaser is
   * recovered; a direct caller should call it from a thread that outlives the recovery.
   * @returns true if this call freed the slot; false if it was free or another call is
   *   freeing it (concurrent calls for one slot act once)
   * @throws RcuError ERR_RCU_BAD_ARGUMENT for a slot out of range or this thread's own slot
   */
  releaseSlot(slot: number): boolean {
    const { words, maxThreads } = this.#ctx;
    checkInt('slot', slot, 0, maxThreads - 1);
    if (slot === this.#slot)
      throw rcuErrors.badArgument('slot', "another thread's slot (use unregisterThread)", slot);
    const base = rcuSlotBase(slot);
    const owner = Atomics.load(words, base + RCU_SLOT_OWNER);
    // Claim the release first: of concurrent releasers one acts, and nobody can register into
    // the slot (and enter a section we would then erase) until we are done.
    if (
      owner <= 0 ||
      Atomics.compareExchange(words, base + RCU_SLOT_OWNER, owner, rcuOwnerReleasing(owner)) !==
        owner
    )
      return false;
    finishRelease(words, slot, owner);
    return true;
  }

  /**
   * @internal Release `slot` for a dead thread, resuming a release a dead releaser started:
   * what `IoasidSpace.releaseThread` calls, whose protocol guarantees that exactly one thread
   * at a time runs this for a slot and that the slot's owner is dead.
   *
   * Each step can be repeated after a kill: OWNER > 0 (not started) claims and releases;
   * OWNER < 0 (started, its releaser dead) finishes with the token it carries; OWNER 0
   * (done) does nothing. The last step is the CAS of OWNER to 0, so a caller can record
   * "released" right after this returns, with no call in between.
   *
   * Context: any thread; never blocks.
   * @returns true if a release was done or finished here
   */
  resumeRelease(slot: number): boolean {
    const { words } = this.#ctx;
    const base = rcuSlotBase(slot);
    for (;;) {
      const owner = Atomics.load(words, base + RCU_SLOT_OWNER);
      if (owner === 0) return false;
      if (owner < 0) {
        finishRelease(words, slot, -owner);
        return true;
      }
      const releasing = rcuOwnerReleasing(owner);
      if (Atomics.compareExchange(words, base + RCU_SLOT_OWNER, owner, releasing) === owner) {
        finishRelease(words, slot, owner);
        return true;
      }
    }
  }

  /**
   * Free GP_LOCK if the dead thread `threadId` holds it: the recovery for a thread that led a
   * grace period without a reader slot (a `synchronize` from an unregistered thread). Waiting
   * callers report such a leader as a stall with slot -1 and its thread id.
   *
   * @param threadId - the dead thread's `threadId` (`worker.threadId`)
   *
   * Context: any thread; never blocks. Calling it for a live leader breaks RCU.
   * @returns true if that thread held GP_LOCK and it is now free
   * @throws RcuError ERR_RCU_BAD_ARGUMENT if `threadId` is not an integer in [0, 2^30 - 2]
   *   or is this thread's own
   */
  releaseDeadLeader(threadId: number): boolean {
    checkInt('threadId', threadId, 0, RCU_LOCK_OWNER_MASK - 1);
    if (threadId + 1 === this.#lockToken)
      throw rcuErrors.badArgument('threadId', "another thread's id", threadId);
    return freeLockOf(this.#words, threadId + 1);
  }

  /**
   * Enter a read-side section. Nestable. In the qsbr flavor this does nothing (a debug
   * attachment checks the thread is registered and online and counts the nesting).
   *
   * Context: a registered thread (qsbr: online); never blocks, never allocates.
   * @throws RcuError ERR_RCU_NOT_REGISTERED, ERR_RCU_NEST_OVERFLOW (65535 levels);
   *   ERR_RCU_OFFLINE (qsbr, debug attachments)
   */
  readLock(): void {
    this.#reader.lock();
  }

  /**
   * Leave a read-side section; the outermost unlock wakes a grace period waiting for it.
   *
   * Context: a registered thread inside a section; never blocks.
   * @throws RcuError ERR_RCU_UNLOCK_WITHOUT_LOCK
   */
  readUnlock(): void {
    this.#reader.unlock();
  }

  /**
   * Wait for a full grace period: every read-side section that began before this call has
   * ended when it returns. Concurrent callers share grace periods.
   *
   * Context: blocks (spins ~30 µs, then Atomics.wait; legal on Node's main thread); any
   * thread, registered or not; not inside a read-side section. qsbr flavor: an online caller
   * is offline while it waits (it is quiescent, being outside any section) and online again
   * when this returns, as in liburcu-qsbr.
   * @throws RcuError ERR_RCU_IN_READ_SECTION
   */
  synchronize(): void {
    if (this.#reader.nesting > 0) throw rcuErrors.inReadSection('synchronize()');
    if (!this.#qsbr) {
      waitForCookie(this.#ctx, this.#synchronizeTarget(), this.#lockToken);
      return;
    }
    // qsbr: the caller is outside any section, hence quiescent: offline for the wait, so the
    // grace period does not wait for it (rcu-flavor-qsbr.ts).
    const wasOnline = this.#reader.offline();
    try {
      waitForCookie(this.#ctx, this.#synchronizeTarget(), this.#lockToken);
    } finally {
      if (wasOnline) this.#reader.online();
    }
  }

  /**
   * synchronize()'s target: undefined (waitForCookie takes its own cookie, after its GP_LOCK
   * CAS when it wins it), or with the 'short-wait' fault one completion short of a cookie.
   */
  #synchronizeTarget(): number | undefined {
    return this.#shortBy === 0 ? undefined : snapshotCookie(this.#words) - this.#shortBy;
  }

  /**
   * qsbr flavor: announce a quiescent state. This thread holds no reference it obtained under
   * RCU; every grace period in flight may count it from here. One atomic load when no grace
   * period waits for this thread, an exchange when one does. Other flavors: does nothing.
   *
   * Context: a registered thread outside any read-side section (checked in debug
   * attachments); never blocks. An offline thread stays offline.
   * @throws RcuError ERR_RCU_IN_READ_SECTION (qsbr, debug attachments)
   */
  quiescentState(): void {
    this.#reader.quiescentState();
  }

  /**
   * qsbr flavor: go offline. Grace periods stop waiting for this thread until
   * `threadOnline()`; it must not read under RCU meanwhile. Call it before anything that
   * blocks or idles (Atomics.wait, await, returning to a task pool). Other flavors: nothing.
   *
   * Context: a registered thread outside any read-side section (checked in debug
   * attachments); never blocks. Offline already: does nothing.
   * @throws RcuError ERR_RCU_IN_READ_SECTION (qsbr, debug attachments)
   */
  threadOffline(): void {
    this.#reader.offline();
  }

  /**
   * qsbr flavor: come back online (announcing a quiescent state at the same time). Other
   * flavors, or online already, or not registered: does nothing.
   *
   * Context: a registered thread; never blocks.
   */
  threadOnline(): void {
    this.#reader.online();
  }

  /**
   * Take a cookie for `pollState`/`peekState`.
   *
   * Context: any thread, also inside a read-side section; never blocks.
   * @returns an integer cookie (< 2^53)
   */
  getState(): number {
    return snapshotCookie(this.#words);
  }

  /**
   * True once a full grace period has passed since `getState()` returned `cookie`. If not,
   * advances the grace period in flight by one non-blocking scan (so a poll loop finishes even
   * if nobody calls synchronize).
   *
   * Context: any thread, also inside a read-side section; never blocks. qsbr flavor: the
   * caller's own quiescent state counts only once it announces it (`quiescentState()`):
   * while an online caller polls, the grace period waits for it.
   * @throws RcuError ERR_RCU_BAD_ARGUMENT if `cookie` is not a cookie
   */
  pollState(cookie: number): boolean {
    checkCookie(cookie);
    // getState() never returns more than completed + 2, and completed only grows; anything
    // further ahead is not a cookie, and polling for it would run grace periods unbounded.
    if (cookie > completedGracePeriods(this.#words) + 2)
      throw rcuErrors.badArgument('cookie', 'a value returned by getState()', cookie);
    return pollCookie(this.#ctx, cookie, this.#lockToken);
  }

  /**
   * Like `pollState` but only looks: one atomic load, no grace-period work.
   *
   * Context: any thread, also inside a read-side section; never blocks.
   */
  peekState(cookie: number): boolean {
    checkCookie(cookie);
    return completedGracePeriods(this.#words) >= cookie;
  }

  /** Grace periods completed so far (lock-free, stale on return). */
  completedGracePeriods(): number {
    return completedGracePeriods(this.#words);
  }

  /**
   * Run `fn` in this thread after a grace period.
   *
   * Context: any thread, also inside a read-side section; never blocks. `fn` runs from
   * `runCallbacks()`, `barrier()`, or a 1 ms timer on this thread's event loop. The timer does
   * not keep the process alive (call `barrier()` before exiting if callbacks must run), and
   * while it polls a grace period held up by a reader for `stallMs`, it reports the stall
   * like `synchronize` does (onStall, or an IOASID_RCU_STALL warning).
   * @throws RcuError ERR_RCU_BAD_ARGUMENT if `fn` is not a function
   */
  callRcu(fn: () => void): void {
    if (typeof fn !== 'function') throw rcuErrors.badArgument('fn', 'a function', fn);
    this.#cbCookies.push(snapshotCookie(this.#words) - this.#shortBy);
    this.#cbFns.push(fn);
    if (this.#cbTimer === undefined) this.#armTimer();
  }

  /** The callback timer: unref'd, so pending callbacks never keep the process alive. */
  #armTimer(): void {
    this.#cbTimer = setTimeout(this.#onTimer, 1);
    this.#cbTimer.unref();
  }

  /** Callbacks queued in this thread and not yet run. */
  get pendingCallbacks(): number {
    return this.#cbFns.length - this.#cbHead;
  }

  /**
   * Run this thread's callbacks whose grace period has passed, driving the grace period in
   * flight forward by one non-blocking step first.
   *
   * Context: any thread; never blocks. A throwing callback propagates; the rest stay queued.
   * @returns how many callbacks ran
   */
  runCallbacks(): number {
    if (this.pendingCallbacks === 0) return 0;
    pollCookie(this.#ctx, this.#cbCookies[this.#cbHead]!, this.#lockToken);
    return this.#runReady(completedGracePeriods(this.#words));
  }

  /**
   * Return once every callback this thread queued before the call has run.
   *
   * Context: blocks like `synchronize()` (qsbr: offline while it waits, likewise); not
   * inside a read-side section.
   * @throws RcuError ERR_RCU_IN_READ_SECTION
   */
  barrier(): void {
    if (this.#reader.nesting > 0) throw rcuErrors.inReadSection('barrier()');
    const last = this.#cbFns.length;
    if (last === this.#cbHead) return;
    const cookie = this.#cbCookies[last - 1]!;
    const wasOnline = this.#reader.offline();
    try {
      waitForCookie(this.#ctx, cookie, this.#lockToken);
    } finally {
      if (wasOnline) this.#reader.online();
    }
    // Every callback queued before the call has cookie <= `cookie` (cookies never decrease
    // along the queue); callbacks they queue carry later cookies and may stay queued.
    this.#runReady(completedGracePeriods(this.#words));
  }

  /**
   * A lock-free snapshot of grace-period counters and reader slots; stale on return.
   *
   * Context: any thread; never blocks.
   */
  stats(): RcuStats {
    const { words, maxThreads } = this.#ctx;
    const s = gpSeqLoad(words);
    const qsbr = this.#qsbr;
    const slots: RcuSlotState[] = [];
    const hwm = Atomics.load(words, RCU_SLOT_HWM_WORD);
    for (let slot = 0; slot < hwm; slot++) {
      const base = rcuSlotBase(slot);
      const owner = Atomics.load(words, base + RCU_SLOT_OWNER);
      if (owner <= 0) continue; // free, or being released
      const ctr = Atomics.load(words, base + RCU_SLOT_CTR);
      slots.push({
        slot,
        ownerThreadId: owner - 1,
        claims: Atomics.load(words, base + RCU_SLOT_CLAIMS),
        inSection: ctr !== 0,
        online: !qsbr || ctr !== 0,
        leaderWaiting: (ctr & RCU_WAIT) !== 0,
      });
    }
    return {
      flavor: FLAVOR_NAMES[this.#header.flavor]!,
      gracePeriods: seqCompleted(s),
      inProgress: seqStep(s) !== 0,
      leaderThreadId: rcuLockOwner(Atomics.load(words, RCU_GP_LOCK_WORD)) - 1,
      stalls: Atomics.load(words, RCU_STAT_STALLS_WORD),
      sleeps: Atomics.load(words, RCU_STAT_SLEEPS_WORD),
      wakeups: Atomics.load(words, RCU_STAT_WAKEUPS_WORD),
      skipped: Atomics.load(words, RCU_STAT_SKIPPED_WORD),
      released: Atomics.load(words, RCU_STAT_RELEASED_WORD),
      maxThreads,
      slots,
    };
  }

  /** Run queued callbacks with cookie <= completed, in order; compacts the queue when drained. */
  #runReady(completed: number): number {
    let ran = 0;
    while (this.#cbHead < this.#cbFns.length && this.#cbCookies[this.#cbHead]! <= completed) {
      const fn = this.#cbFns[this.#cbHead]!;
      this.#cbHead++;
      ran++;
      fn();
    }
    if (this.#cbHead === this.#cbFns.length) {
      this.#cbFns.length = 0;
      this.#cbCookies.length = 0;
      this.#cbHead = 0;
    }
    return ran;
  }

  readonly #onTimer = (): void => {
    this.#cbTimer = undefined;
    try {
      this.runCallbacks();
    } finally {
      if (this.pendingCallbacks > 0) this.#armTimer();
    }
  };
}

/**
 * The rest of a release once OWNER holds -owner: quiesce the slot so no grace period waits on
 * it, free a GP_LOCK the dead thread held (the grace period state in GP_SEQ is resumable), wake
 * a sleeping leader, then free the slot. Each step may be repeated (after a kill); the CAS of
 * OWNER to 0 comes last (see resumeRelease).
 */
function finishRelease(words: Int32Array<SharedArrayBuffer>, slot: number, owner: number): void {
  const base = rcuSlotBase(slot);
  Atomics.store(words, base + RCU_SLOT_CTR, 0);
  freeLockOf(words, owner);
  Atomics.add(words, RCU_STAT_RELEASED_WORD, 1);
  wakeGracePeriodLeader(words);
  Atomics.compareExchange(words, base + RCU_SLOT_OWNER, rcuOwnerReleasing(owner), 0);
}

/**
 * Free GP_LOCK if `token` holds it, and wake its waiters. True if it did. CAS loop: retries
 * only when a waiter set LOCK_WAITERS meanwhile (the owner cannot change: it is dead).
 */
function freeLockOf(words: Int32Array<SharedArrayBuffer>, token: number): boolean {
  for (;;) {
    const lock = Atomics.load(words, RCU_GP_LOCK_WORD);
    if (rcuLockOwner(lock) !== token) return false;
    // Only the CAS frees it: a second store of 0 could free a lock a new leader just took.
    if (Atomics.compareExchange(words, RCU_GP_LOCK_WORD, lock, 0) !== lock) continue;
    if ((lock & RCU_LOCK_WAITERS) !== 0) Atomics.notify(words, RCU_GP_LOCK_WORD);
    return true;
  }
}

function checkCookie(cookie: number): void {
  if (!Number.isSafeInteger(cookie) || cookie < 0)
    throw rcuErrors.badArgument('cookie', 'a value returned by getState()', cookie);
}

function defaultStallReporter(slot: number, ownerThreadId: number, waitedMs: number): void {
  const ms = Math.round(waitedMs);
  process.emitWarning(
    slot < 0
      ? `RCU grace-period leader (thread ${ownerThreadId}) made no progress for ${ms} ms; ` +
          `still waiting. If that thread is dead: releaseDeadLeader(${ownerThreadId}).`
      : `RCU grace period stalled ${ms} ms on reader slot ${slot} (thread ${ownerThreadId}); ` +
          `still waiting. A dead thread's slot needs releaseSlot(${slot}).`,
    { code: 'IOASID_RCU_STALL' },
  );
}
