/**
 * The qsbr flavor (`Rcu.create({ flavor: 'qsbr' })`): liburcu's urcu-qsbr in spirit. Readers
 * pay nothing for a read-side section; instead each registered thread announces, from time to
 * time, a *quiescent state*: a point where it holds no reference obtained under RCU. A grace
 * period waits until every online thread has announced one after it began.
 *
 * ```ts
 * const rcu = Rcu.create({ flavor: 'qsbr' });
 * // a CPU loop (its thread registered, hence online):
 * for (;;) { rcu.readLock(); use(find(id)); rcu.readUnlock(); rcu.quiescentState(); }
 * rcu.threadOffline(); Atomics.wait(...); rcu.threadOnline(); // around anything that blocks
 * ```
 *
 * ## Developer notes
 * **Words.** GP_CTR holds `rcuQsbrCtr(n)` (rcu-layout.ts), n the number of the grace period in
 * flight or last completed: odd and 30 bits wide. A thread's slot CTR is 0 while it is offline
 * and otherwise the GP_CTR value of its last quiescent state, plus WAIT when a sleeping leader
 * asked to be woken.
 *
 * **Reader.** `readLock`/`readUnlock` do nothing (in a debug attachment they count nesting and
 * refuse a section in an offline thread: `RcuReadSideQsbrDebug`). `quiescentState()` loads
 * GP_CTR and returns if it equals what the thread announced last: one load, on a line the
 * leader writes once per grace period. Otherwise it exchanges the new value into its slot and
 * wakes the leader if the old value carried WAIT. `threadOffline()` exchanges 0 in the same
 * way; `threadOnline()` stores GP_CTR's value, then loads GP_CTR again and repeats until the
 * two agree, so the value it leaves in its slot was current after its store.
 *
 * **Grace period.** One step (GP_SEQ step 1): store GP_CTR = rcuQsbrCtr(completed + 1), then
 * wait until every slot holds 0 or that value (WAIT aside). Why that is enough (SC atomics):
 * an updater unpublishes a pointer, then takes a cookie; the grace period that meets the
 * cookie starts after both, and stores GP_CTR after its start. A thread whose slot holds the
 * new value stored it after loading it, so after the unpublish: every reference it obtained
 * before that store was dropped by then (that is what announcing means), and every one it
 * obtains after cannot be the unpublished pointer. A thread whose slot holds 0 is offline and
 * holds no reference. Nothing else ends the wait: `releaseSlot` of a dead thread stores 0.
 * A resumed grace period (pollState, or after its leader died) rewrites GP_CTR with the same
 * value (it is a function of GP_SEQ) and goes on waiting: the state is resumable as is.
 *
 * **No counter wraps into a wrong answer.** A grace period completes only once every online
 * thread announced its value, so an online thread is at most one value behind GP_CTR. The one
 * way to store a value older than that is to load GP_CTR offline, be preempted, and store it
 * when going online; `threadOnline`'s reload-and-repeat catches that, so GP_CTR's wrap after
 * 2^29 grace periods cannot make a stale value look current.
 *
 * **A caller's own quiescent state.** A grace period never counts the caller as quiescent
 * unless it says so: `synchronize()` and `barrier()` (illegal inside a section) take an online
 * caller offline for the wait and back online after it, as liburcu-qsbr does, so a caller
 * never waits for itself. `pollState()` (legal inside a section) cannot: the grace period it
 * drives stays pending until the caller's next `quiescentState()`.
 *
 * **Stalls.** A thread that stays online without announcing holds every grace period up; the
 * leader reports it per slot every `stallMs`, as it reports a reader stuck in a section.
 *
 * Rejected: per-thread counters bumped at every quiescent state (a store each time, where the
 * load above is nothing when no grace period is waiting); liburcu's 32-bit two-phase variant
 * (with reload-and-repeat in threadOnline, one phase on 30 bits is exact).
 */
import { rcuErrors } from './rcu-errors.js';
import { gpSeqStore, seqCompleted, seqStep } from './rcu-gp-seq.js';
import {
  completeGracePeriod,
  FaultMode,
  faultSkipsThisGracePeriod,
  type GracePeriodContext,
  type ReaderScan,
  reportStalledSlot,
  waitForReaders,
} from './rcu-grace-period.js';
import {
  RCU_GP_CTR_WORD,
  RCU_SEQ_STEPS,
  RCU_SLOT_CTR,
  RCU_SLOT_HWM_WORD,
  RCU_STEP_SNAPSHOT,
  RCU_WAIT,
  rcuQsbrCtr,
  rcuSlotBase,
} from './rcu-layout.js';
import { RCU_MAX_NESTING, type ReadSide, wakeGracePeriodLeader } from './rcu-read-side.js';

/** @internal The qsbr read side: sections cost nothing; the thread announces quiescent states. */
export class RcuReadSideQsbr implements ReadSide {
  protected readonly words: Int32Array<SharedArrayBuffer>;
  /** Word index of this thread's slot CTR, or -1 while unregistered. */
  protected ctr = -1;
  /** The GP_CTR value this thread announced last; 0 while offline. Thread-local. */
  protected seen = 0;

  constructor(words: Int32Array<SharedArrayBuffer>) {
    this.words = words;
  }

  bind(slot: number, _firstMark = 1): void {
    this.ctr = slot < 0 ? -1 : rcuSlotBase(slot) + RCU_SLOT_CTR;
  }

  /** Not tracked outside debug attachments: always 0. */
  get nesting(): number {
    return 0;
  }

  get isOnline(): boolean {
    return this.seen !== 0;
  }

  lock(): void {}

  unlock(): void {}

  quiescentState(): void {
    // Pairs with the leader's GP_CTR store: a new value means a grace period waits for us.
    const c = Atomics.load(this.words, RCU_GP_CTR_WORD);
    if (c !== this.seen) this.announce(c);
  }

  /** Publish `c` as this thread's quiescent state (nothing while offline). */
  protected announce(c: number): void {
    if (this.seen === 0) return; // offline: no state to announce, and no reason to go online
    this.seen = c;
    // Every reference this thread took before is dropped: the leader may count us from here.
    if ((Atomics.exchange(this.words, this.ctr, c) & RCU_WAIT) !== 0)
      wakeGracePeriodLeader(this.words);
  }

  offline(): boolean {
    if (this.seen === 0) return false;
    this.seen = 0;
    // An offline thread holds nothing: no grace period waits for it from here.
    if ((Atomics.exchange(this.words, this.ctr, 0) & RCU_WAIT) !== 0)
      wakeGracePeriodLeader(this.words);
    return true;
  }

  online(): void {
    if (this.seen !== 0 || this.ctr < 0) return;
    const w = this.words;
    let c = Atomics.load(w, RCU_GP_CTR_WORD);
    // Store, then check the value is still current, so a value loaded before a preemption
    // that let grace periods pass is never what we leave in the slot (header notes).
    for (;;) {
      Atomics.store(w, this.ctr, c);
      const now = Atomics.load(w, RCU_GP_CTR_WORD);
      if (now === c) break;
      c = now;
    }
    this.seen = c;
  }
}

/**
 * @internal The qsbr read side of a debug attachment: readLock/readUnlock count nesting, and
 * the contract is checked (no section in an offline or unregistered thread; no quiescent
 * state, offline or blocking wait inside a section). With the `early-qs` fault, every
 * readLock announces a quiescent state (the broken twin the torture and model tests catch).
 */
export class RcuReadSideQsbrDebug extends RcuReadSideQsbr {
  #nest = 0;
  readonly #earlyQs: boolean;

  constructor(words: Int32Array<SharedArrayBuffer>, earlyQs: boolean) {
    super(words);
    this.#earlyQs = earlyQs;
  }

  override get nesting(): number {
    return this.#nest;
  }

  override lock(): void {
    if (this.ctr < 0) throw rcuErrors.notRegistered();
    if (this.seen === 0) throw rcuErrors.offline('readLock()');
    if (this.#nest >= RCU_MAX_NESTING) throw rcuErrors.nestOverflow(RCU_MAX_NESTING);
    if (this.#earlyQs) this.announce(Atomics.load(this.words, RCU_GP_CTR_WORD));
    this.#nest += 1;
  }

  override unlock(): void {
    if (this.#nest === 0) throw rcuErrors.unlockWithoutLock();
    this.#nest -= 1;
  }

  override quiescentState(): void {
    if (this.#nest > 0) throw rcuErrors.inReadSection('quiescentState()');
    super.quiescentState();
  }

  override offline(): boolean {
    if (this.#nest > 0) throw rcuErrors.inReadSection('threadOffline()');
    return super.offline();
  }
}

/**
 * The qsbr flavor's `GracePeriodContext.advance`: one step, waiting for every online thread
 * to announce GP_CTR's new value.
 */
export function advanceQsbrGracePeriod(
  ctx: GracePeriodContext,
  s: number,
  blocking: boolean,
): number {
  const { words, seq } = ctx;
  const done = seqCompleted(s);
  const base = done * RCU_SEQ_STEPS;
  let skip = faultSkipsThisGracePeriod(ctx, done);
  if (seqStep(s) === 0) {
    // Start: before GP_CTR moves, so a thread announcing the new value did so after the start.
    gpSeqStore(words, seq, s, base + RCU_STEP_SNAPSHOT);
    s = base + RCU_STEP_SNAPSHOT;
  } else if (ctx.faultMode === FaultMode.loseSnapshot) {
    skip = true; // a resumed grace period forgets whom it waits for
  }
  const want = rcuQsbrCtr(done + 1);
  // (Re)written by whoever runs the step: a function of GP_SEQ, so a resumer writes the same.
  if (Atomics.load(words, RCU_GP_CTR_WORD) !== want) Atomics.store(words, RCU_GP_CTR_WORD, want);
  if (!skip && !waitForReaders(ctx, scanQuiescent, want, blocking)) return s;
  return completeGracePeriod(ctx, s, skip);
}

/**
 * The qsbr flavor's `ReaderScan`: online slots that have not announced `want`. Before a sleep
 * it CASes WAIT into each, so the thread's next announcement (or going offline) wakes us.
 */
const scanQuiescent: ReaderScan = (ctx, want, prepareSleep, stallMs) => {
  const { words } = ctx;
  const ignored = ctx.faultMode === FaultMode.ignoreReader ? ctx.faultArg : -1;
  const hwm = Atomics.load(words, RCU_SLOT_HWM_WORD);
  let pending = 0;
  for (let slot = 0; slot < hwm; slot++) {
    const word = rcuSlotBase(slot) + RCU_SLOT_CTR;
    let c = Atomics.load(words, word);
    if (c === 0 || (c & ~RCU_WAIT) === want || slot === ignored) continue;
    if (prepareSleep && (c & RCU_WAIT) === 0) {
      // A failed CAS returns the new CTR: the thread announced (want) or went offline (0).
      const seen = Atomics.compareExchange(words, word, c, c | RCU_WAIT);
      c = seen === c ? c | RCU_WAIT : seen;
      if (c === 0 || (c & ~RCU_WAIT) === want) continue;
    }
    pending++;
    if (stallMs >= 0) reportStalledSlot(ctx, slot, stallMs);
  }
  return pending;
};
