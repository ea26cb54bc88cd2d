/**
 * Grace-period machinery: the reader snapshot, the wait for the snapshotted sections, sharing
 * of grace periods between concurrent callers, and stall reports.
 *
 * ## Developer notes
 * **State lives in shared memory, so anyone can resume it.** One 64-bit word, GP_SEQ, holds
 * `completed * 4 + step` (read and written with Int32 atomics: rcu-gp-seq.ts). Step 0 is idle; step 1 takes the snapshot (copies every reader's
 * CTR into SNAP); step 2 waits until no reader's CTR still holds the mark SNAP recorded for
 * it. Whoever holds GP_LOCK can resume from GP_SEQ and SNAP alone: redo step 1 from the top,
 * or go on waiting in step 2. That is what lets `pollState` advance a grace period one
 * non-blocking scan at a time, and lets another thread finish a grace period whose leader was
 * terminated (after `releaseSlot` frees GP_LOCK).
 *
 * **Why one snapshot is enough** (SC atomics throughout). Let an updater unpublish a pointer
 * and then take a cookie; the grace period that meets it starts (its step-1 store) after both,
 * and its snapshot loads follow. Take a reader section S that loaded the old pointer. That
 * load precedes the unpublish, so S's entering store precedes the snapshot load of its slot,
 * which therefore returns S's mark or something S's thread stored later. The first later
 * store is S's leaving exchange (0), so "later" means S is over. If the snapshot holds S's
 * mark, step 2 waits while CTR, WAIT bit aside, still equals it; the only stores that change
 * it are S's leaving exchange, and `releaseSlot` of a dead thread. So step 2 ends only after
 * S did, and every load S made precedes its exchange. A section entered after the snapshot
 * load of its slot loads pointers after the unpublish and is not waited for.
 * A repeated mark (2^29 sections later, or a new owner of a released slot) only makes step 2
 * wait for that section too: the error can only lengthen a grace period, never shorten it.
 * Snapshotting later than the start is also safe (it only adds sections to wait for), which
 * is why a resumed step 1 simply snapshots again; step 2 never re-snapshots, or a poll loop
 * could chase new sections forever.
 *
 * **Why the cookie is right.** `getState()` loads GP_SEQ = c*4+s and asks for c+1 completions
 * when idle, c+2 otherwise (the grace period in flight may have begun before the call). Every
 * grace period stores its start (step 1) before its first reader scan, the idle fast path
 * (`tryIdleGracePeriod`) included: so the grace period that completes number c+1 after our
 * load saw c*4+0 stored its start after that load, and every load of its reader scan follows
 * every update the caller made before calling. Cookies depend on GP_SEQ alone, which never
 * decreases, so they never decrease either: a wait that starts after a getState() (whose own
 * target is such a cookie, read after its GP_LOCK CAS or before it) asks for at least as many
 * completions, which is rcutorture's "cookie check 2". Rejected: skipping the start store in
 * the idle fast path and having getState load GP_LOCK too, asking for c+2 while it is held at
 * idle (one atomic less per grace period): that cookie then exceeds a later one, c+1 once the
 * holder released without completing (a leader between its completion store and its release,
 * a barrier whose cookie was met, a dead holder freed by the recovery), and a synchronize()
 * that won GP_LOCK next completed one grace period and left the earlier cookie unmet (the
 * torture's "not satisfied after a wait", CI on 9c094c1). GP_SEQ is 64-bit: 2^61 grace
 * periods before a wrap.
 *
 * **Sharing.** Callers do not queue: they compare completions with their cookie, and the one
 * that wins GP_LOCK runs whole grace periods until its own cookie is met. Everyone else sleeps
 * on GP_LOCK's value (after setting its LOCK_WAITERS bit, so that only a release that has
 * sleepers pays for a notify) and rechecks when the leader releases it; since a cookie only
 * needs grace periods that start after it was taken, N concurrent callers cost about two grace
 * periods, not N. A caller that wins GP_LOCK at once reads GP_SEQ only after taking it: the
 * read still follows the call's start, and GP_SEQ never decreases, so the cookie is at least
 * the one a read before the CAS would have given.
 *
 * **What an uncontended grace period costs** (marks and mb flavors, no reader inside a
 * section): `tryIdleGracePeriod`, called by whoever holds GP_LOCK before the flavor's own
 * steps. The GP_LOCK CAS, GP_SEQ read with two plain loads (the lock holder's), the start
 * store, the HWM load, one load per reader slot, the completion store and the release
 * exchange: 5 + slots atomics, no clock read, no allocation, no wait or notify, no SNAP
 * access, no try/finally on the way (it costs V8 about 15 ns even when nothing throws). A
 * slot found inside a section hands over to the flavor's advance at step 1, which resumes it
 * as it resumes a dead leader's step 1. What is left costs about 8 ns per atomic in Node
 * 20's V8, which calls a builtin for each `Atomics` operation, and one cache miss per reader
 * slot a running reader wrote since the last grace period.
 *
 * **Waiting for readers** follows liburcu's adaptive wait: scan, spin for a bounded time
 * (about 30 µs: a futex wake-up costs about 22 µs on these VMs), then store GP_FUTEX = -1,
 * CAS the WAIT bit into every pending reader's CTR (a failed CAS means that reader just left),
 * and `Atomics.wait` on GP_FUTEX with a 10 ms safety timeout. A reader's leaving exchange
 * returns WAIT and it wakes us; GP_FUTEX was -1 before WAIT was set, so the wake cannot be
 * lost, except when the reader is terminated between its exchange and the notify: then the
 * leader oversleeps by up to the 10 ms timeout. Marks readers thus touch no global word: the
 * leader tells each one, in its own line. (The mb flavor, rcu-flavor-mb.ts, shares this wait
 * through its own ReaderScan; its readers load GP_FUTEX after leaving instead.)
 *
 * **A leader that dies** holds GP_LOCK. Callers waiting for it watch GP_SEQ and GP_BEAT (the
 * leader bumps it after every sleep); when neither moves for `stallMs` they report a stall
 * with slot -1 and the leader's thread id, and keep waiting. `releaseSlot` (a registered
 * leader) or `releaseDeadLeader` (any thread) frees the lock; the grace period resumes.
 *
 * Not the default: liburcu-mb's two phase flips of a global counter that readers copy (a load
 * per readLock, two scans per grace period): the 'mb' flavor, rcu-flavor-mb.ts. Rejected: a
 * free-running
 * global counter in reader slots (wraps within minutes at millions of grace periods per
 * second; perfbook's toy-RCU overflow scenario); a queue of waiters as in liburcu (threads
 * cannot share wait-queue nodes; counters suffice).
 */
import {
  completedGracePeriods,
  cookieOf,
  gpSeqLoad,
  gpSeqLoadLocked,
  gpSeqStore,
  seqCompleted,
  seqStep,
} from './rcu-gp-seq.js';
import {
  RCU_GP_BEAT_WORD,
  RCU_GP_FUTEX_WORD,
  RCU_GP_LOCK_WORD,
  RCU_GP_SEQ_LO_WORD,
  RCU_LOCK_WAITERS,
  RCU_SEQ_STEPS,
  RCU_SLOT_CTR,
  RCU_SLOT_HWM_WORD,
  RCU_SLOT_OWNER,
  RCU_STAT_SKIPPED_WORD,
  RCU_STAT_SLEEPS_WORD,
  RCU_STAT_STALLS_WORD,
  RCU_STEP_IDLE,
  RCU_STEP_SNAPSHOT,
  RCU_STEP_WAIT,
  RCU_WAIT,
  rcuLockOwner,
  rcuSlotBase,
  rcuSnapWord,
} from './rcu-layout.js';

export { completedGracePeriods } from './rcu-gp-seq.js';

/** Fault-injection modes (torture testing only; 0 in every real system). */
export const FaultMode = {
  none: 0,
  /** Every grace period returns without waiting for readers. */
  skipGp: 1,
  /** Every Nth grace period (FAULT_ARG) returns without waiting for readers. */
  skipNth: 2,
  /** Reader slot FAULT_ARG is never waited for. */
  ignoreReader: 3,
  /**
   * A grace period resumed in step 2 (by a poller, or after its leader died) forgets its
   * snapshot and completes at once: the bug that resumable state exists to prevent.
   */
  loseSnapshot: 4,
  /**
   * qsbr only: every readLock announces a quiescent state, i.e. before the reads of the
   * section it opens (and, when nested, in the middle of the outer section): an announcement
   * not ordered after the thread's reads.
   */
  earlyQs: 5,
  /**
   * synchronize() and callRcu() (hence barrier()) take their targets by a cookie rule one
   * completion short of getState()'s: a second copy of the rule, off by one, that counts the
   * grace period in flight (or, at idle, the last one completed) as one that began after the
   * call. getState() keeps the right rule, so a cookie it gave before such a wait is still
   * unmet after it: the torture's cookie check 2 ("not satisfied after a wait"). Applied in
   * the facade (rcu.ts), not here: the grace-period paths stay as they are.
   */
  shortWait: 6,
} as const;

/**
 * Called once per stall period per slot that holds a grace period up, by the leader; or with
 * slot -1 by a waiting caller when the leader itself (thread `ownerThreadId`, holding GP_LOCK)
 * has shown no progress for a stall period: dead, or stuck in user code.
 */
export type StallReporter = (slot: number, ownerThreadId: number, waitedMs: number) => void;

/** @internal Everything the machinery needs; built once per attached Rcu. */
export interface GracePeriodContext {
  readonly words: Int32Array<SharedArrayBuffer>;
  /** The same buffer as 64-bit words: GP_SEQ's rare whole-word store (rcu-gp-seq.ts). */
  readonly seq: BigInt64Array<SharedArrayBuffer>;
  readonly maxThreads: number;
  readonly stallMs: number;
  readonly faultMode: number;
  readonly faultArg: number;
  readonly onStall: StallReporter;
  /**
   * Runs the grace period in GP_SEQ (whose value is `s`: the caller holds GP_LOCK and just
   * read or wrote it) from its current step: the marks flavor's `advanceMarksGracePeriod`
   * below, the mb flavor's (rcu-flavor-mb.ts) or the qsbr flavor's (rcu-flavor-qsbr.ts).
   * Returns GP_SEQ's value afterwards: one more completion when it completed a grace period;
   * the same count when, not `blocking`, one scan found a reader still pending (the state
   * stays in GP_SEQ, and SNAP, for the next caller).
   */
  readonly advance: (ctx: GracePeriodContext, s: number, blocking: boolean) => number;
  /**
   * The flavor's reader slots hold 0 exactly while the thread holds no reference (marks, mb:
   * outside any section), so a grace period may take the idle fast path (`idleGracePeriod`).
   * False for qsbr, whose online threads hold a nonzero CTR between quiescent states.
   */
  readonly zeroIsQuiescent: boolean;
  /**
   * This thread's watch over non-blocking polls (pollState, runCallbacks, the callRcu timer):
   * since when it has seen grace period `gp` (a completed count) wait for readers, and when
   * it reports the stalled ones next. Thread-local; see waitForReaders.
   */
  readonly poll: { gp: number; since: number; nextReport: number };
}

/** Bounded spin before sleeping, in ms (performance.now() units). */
const SPIN_MS = 0.03;
/** Safety-net timeout of every Atomics.wait here: a lost wake-up costs at most this. */
const WAIT_TIMEOUT_MS = 10;

/** The completion count at which a full grace period will have passed since this call. */
export function snapshotCookie(words: Int32Array<SharedArrayBuffer>): number {
  // GP_SEQ alone: see "Why the cookie is right" above.
  return cookieOf(gpSeqLoad(words));
}

/**
 * Block until a full grace period has passed since this call (`cookie` undefined) or until
 * `cookie` grace periods have completed, leading them if nobody else is.
 *
 * Context: blocks (spins ~30 µs, then Atomics.wait); the caller must be outside any read-side
 * section of this Rcu (checked by the facade). `lockToken` identifies the caller's thread.
 */
export function waitForCookie(
  ctx: GracePeriodContext,
  cookie: number | undefined,
  lockToken: number,
): void {
  const { words } = ctx;
  // Fast path: nobody leads. A cookie read now, after the CAS, is at least the one a read
  // before it would have given (see Sharing above).
  if (Atomics.compareExchange(words, RCU_GP_LOCK_WORD, 0, lockToken) === 0) {
    let s = gpSeqLoadLocked(words);
    const target = cookie ?? cookieOf(s);
    // The common case, one idle grace period, runs no user code (no stall reporter) and so
    // needs no try/finally, whose mere presence costs this path about 15 ns in V8: the rest
    // runs in a function of its own.
    if (seqCompleted(s) < target) s = tryIdleGracePeriod(ctx, s);
    if (seqCompleted(s) < target) leadUntil(ctx, s, target);
    else releaseGracePeriodLock(words);
    return;
  }
  waitBehindLeader(ctx, cookie ?? snapshotCookie(words), lockToken);
}

/** Run grace periods from GP_SEQ value `s` until `target` completed; release GP_LOCK (held). */
function leadUntil(ctx: GracePeriodContext, s: number, target: number): void {
  try {
    while (seqCompleted(s) < target) s = advanceGracePeriod(ctx, s, true);
  } finally {
    releaseGracePeriodLock(ctx.words);
  }
}

/**
 * Run the grace period in GP_SEQ (value `s`; the caller holds GP_LOCK) from its current step:
 * the idle fast path first when it is at step 0, else (or when a reader was inside) the
 * flavor's advance. Same contract as `GracePeriodContext.advance`.
 */
function advanceGracePeriod(ctx: GracePeriodContext, s: number, blocking: boolean): number {
  const next = tryIdleGracePeriod(ctx, s);
  return seqStep(next) === 0 && next !== s ? next : ctx.advance(ctx, next, blocking);
}

/**
 * The grace period of the common case, where no reader is inside a section: store the start,
 * load each reader slot's CTR once and complete if every one is 0. Six atomics with one reader
 * slot: the GP_LOCK CAS and release around it, the start store, HWM, one load per slot, the
 * completion store; no clock read, no allocation, no wait or notify, no SNAP write.
 *
 * Why it is a full grace period (SC atomics, as in the header's argument): a section that
 * loaded a pointer before the caller unpublished it (before calling, or before its
 * getState()) entered, storing its nonzero CTR, before our start store, so before our load of
 * its slot. Only its own leaving store (or `releaseSlot` of its dead thread) puts 0 there,
 * and later sections store nonzero values again: a 0 loaded after the start store means that
 * section is over. A slot claimed after our HWM load enters its first section after it. The
 * marks and mb flavors keep 0 in a slot exactly while its thread is outside every section,
 * nested ones included (`zeroIsQuiescent`); qsbr does not take this path.
 *
 * The start store comes first, as in the flavors' own steps: a getState() that loads GP_SEQ
 * idle before it asks for this grace period, and one that loads it after asks for the next
 * ("Why the cookie is right" above). A holder killed after it leaves step 1 in GP_SEQ, which
 * whoever takes GP_LOCK next resumes.
 *
 * Not taken when GP_SEQ is not at step 0 (a grace period in flight resumes where it is), for
 * a grace period that fault injection skips (the flavor's advance skips and counts it), or
 * for qsbr: besides its online threads' nonzero CTRs, completing without advancing GP_CTR
 * would let GP_CTR fall behind GP_SEQ, and after 2^29 such grace periods an online thread's
 * old value could equal the next one. The ignore-reader fault ignores its slot here too.
 *
 * Context: the GP_LOCK holder.
 * @returns GP_SEQ's value afterwards: `s` unchanged when not taken, one more completion at
 *   step 0 when it completed, or `s + 1` (step 1) when a slot was inside a section: the
 *   flavor's advance then resumes step 1, as it resumes a dead leader's.
 */
function tryIdleGracePeriod(ctx: GracePeriodContext, s: number): number {
  if (!ctx.zeroIsQuiescent || seqStep(s) !== RCU_STEP_IDLE) return s;
  if (ctx.faultMode !== FaultMode.none && faultSkipsThisGracePeriod(ctx, seqCompleted(s))) return s;
  const { words } = ctx;
  // Start. s is a multiple of RCU_SEQ_STEPS, so s + 1 has the same high half (gpSeqStore).
  const started = s + RCU_STEP_SNAPSHOT;
  Atomics.store(words, RCU_GP_SEQ_LO_WORD, started | 0);
  const ignored = ctx.faultMode === FaultMode.ignoreReader ? ctx.faultArg : -1;
  const hwm = Atomics.load(words, RCU_SLOT_HWM_WORD);
  for (let slot = 0; slot < hwm; slot++) {
    // Pairs with the reader's entering store and its leaving exchange (rcu-read-side.ts).
    if (Atomics.load(words, rcuSlotBase(slot) + RCU_SLOT_CTR) !== 0 && slot !== ignored) {
      // Hand over to the flavor's steps, which resume step 1: they snapshot (or flip) again.
      return started;
    }
  }
  const next = s + RCU_SEQ_STEPS;
  gpSeqStore(words, ctx.seq, started, next);
  return next;
}

/** waitForCookie's slow path: another thread held GP_LOCK when we tried. */
function waitBehindLeader(ctx: GracePeriodContext, cookie: number, lockToken: number): void {
  const { words } = ctx;
  // Leader watch: the (GP_SEQ, GP_BEAT) pair a live leader changes at least every 10 ms.
  let seen = gpSeqLoad(words);
  let beat = Atomics.load(words, RCU_GP_BEAT_WORD);
  let since = performance.now();
  let reported = since;
  while (seqCompleted(gpSeqLoad(words)) < cookie) {
    const holder = Atomics.compareExchange(words, RCU_GP_LOCK_WORD, 0, lockToken);
    if (holder === 0) {
      leadUntil(ctx, gpSeqLoadLocked(words), cookie);
      return;
    }
    waitForLockChange(ctx, holder, cookie);
    const nowSeq = gpSeqLoad(words);
    const nowBeat = Atomics.load(words, RCU_GP_BEAT_WORD);
    const now = performance.now();
    if (nowSeq !== seen || nowBeat !== beat) {
      seen = nowSeq;
      beat = nowBeat;
      since = now;
      reported = now;
    } else if (
      now - reported >= ctx.stallMs &&
      rcuLockOwner(Atomics.load(words, RCU_GP_LOCK_WORD)) === rcuLockOwner(holder)
    ) {
      // The leader made no progress for a whole stall period: report it (slot -1), wait on.
      reported = now;
      Atomics.add(words, RCU_STAT_STALLS_WORD, 1);
      ctx.onStall(-1, rcuLockOwner(holder) - 1, now - since);
    }
  }
}

/**
 * True once `cookie` grace periods have completed; if not, and nobody holds GP_LOCK, push the
 * current grace period forward by one non-blocking scan per step.
 *
 * Context: never blocks; legal inside a read-side section (a step that waits for the caller
 * itself just stays pending).
 */
export function pollCookie(ctx: GracePeriodContext, cookie: number, lockToken: number): boolean {
  const { words } = ctx;
  if (completedGracePeriods(words) >= cookie) return true;
  // A cookie is at most two grace periods ahead (snapshotCookie), so the loop below runs at
  // most two; the facade refuses anything further ahead.
  if (Atomics.compareExchange(words, RCU_GP_LOCK_WORD, 0, lockToken) === 0) {
    try {
      let s = gpSeqLoadLocked(words);
      while (seqCompleted(s) < cookie) {
        const next = advanceGracePeriod(ctx, s, false);
        if (seqCompleted(next) === seqCompleted(s)) break; // a reader still pending
        s = next;
      }
    } finally {
      releaseGracePeriodLock(words);
    }
  }
  return completedGracePeriods(words) >= cookie;
}

/** Release GP_LOCK; wake the callers sleeping on it, if any (they recheck their cookies). */
export function releaseGracePeriodLock(words: Int32Array<SharedArrayBuffer>): void {
  if ((Atomics.exchange(words, RCU_GP_LOCK_WORD, 0) & RCU_LOCK_WAITERS) !== 0)
    Atomics.notify(words, RCU_GP_LOCK_WORD);
}

/**
 * Marks flavor: run the grace period in GP_SEQ (value `s`) from its current step. Caller
 * holds GP_LOCK. With `blocking`, returns once it completed; without, returns as soon as one
 * scan finds a reader still pending (the state stays in GP_SEQ and SNAP for the next caller).
 * @returns GP_SEQ's value afterwards (see GracePeriodContext.advance)
 */
export function advanceMarksGracePeriod(
  ctx: GracePeriodContext,
  s: number,
  blocking: boolean,
): number {
  const { words, seq } = ctx;
  const done = seqCompleted(s);
  const base = done * RCU_SEQ_STEPS;
  const step = seqStep(s);
  let skip = faultSkipsThisGracePeriod(ctx, done);
  let pending = -1; // unknown: a resumed step 2 scans
  if (step !== RCU_STEP_WAIT) {
    // Start: from this store on, a getState() asks for one more completion (see header).
    if (step === 0) gpSeqStore(words, seq, s, base + RCU_STEP_SNAPSHOT);
    s = base + RCU_STEP_SNAPSHOT;
    // A resumed step 1 may find SNAP half written by a dead leader; a fresh one finds it all
    // zero (SNAP's invariant: zero everywhere while no grace period is in flight).
    pending = takeSnapshot(ctx, skip, step !== 0);
    // With nobody inside a section there is nothing to wait for: complete straight from
    // step 1 (a resumer of step 1 would only snapshot again).
    if (pending !== 0) {
      gpSeqStore(words, seq, s, base + RCU_STEP_WAIT);
      s = base + RCU_STEP_WAIT;
    }
  } else if (ctx.faultMode === FaultMode.loseSnapshot) {
    skip = true;
  }
  if (!skip && pending !== 0 && !waitForReaders(ctx, scanMarks, 0, blocking)) return s;
  if (skip) clearSnapshot(ctx); // keep SNAP's invariant on the fault's path too
  return completeGracePeriod(ctx, s, skip);
}

/**
 * End the grace period in flight (GP_SEQ value `s`): publishes "everything it waited for is
 * over"; pairs with the loads in completedGracePeriods()/pollState(). `skipped`: its wait was
 * skipped by fault injection (counted).
 *
 * Context: the GP_LOCK holder, at the end of a flavor's advance.
 * @returns GP_SEQ's new value (one more completion, step 0)
 */
export function completeGracePeriod(ctx: GracePeriodContext, s: number, skipped: boolean): number {
  if (skipped) Atomics.add(ctx.words, RCU_STAT_SKIPPED_WORD, 1);
  const next = (seqCompleted(s) + 1) * RCU_SEQ_STEPS;
  gpSeqStore(ctx.words, ctx.seq, s, next);
  return next;
}

/**
 * Report reader slot `slot` as holding the grace period up for `waitedMs` (counted, and
 * passed to the onStall reporter with the slot owner's thread id).
 *
 * Context: the GP_LOCK holder, from a flavor's ReaderScan.
 * @returns nothing
 */
export function reportStalledSlot(ctx: GracePeriodContext, slot: number, waitedMs: number): void {
  Atomics.add(ctx.words, RCU_STAT_STALLS_WORD, 1);
  ctx.onStall(slot, Atomics.load(ctx.words, rcuSlotBase(slot) + RCU_SLOT_OWNER) - 1, waitedMs);
}

/** Deliberately broken modes for the torture harness's self-test. */
export function faultSkipsThisGracePeriod(ctx: GracePeriodContext, gpNumber: number): boolean {
  if (ctx.faultMode === FaultMode.skipGp) return true;
  if (ctx.faultMode === FaultMode.skipNth) return gpNumber % ctx.faultArg === ctx.faultArg - 1;
  return false;
}

/**
 * Step 1: SNAP[slot] = the slot's mark (0 if outside), for every slot below HWM. A slot claimed
 * after the HWM load enters its first section after this scan began, so it is not needed
 * (registerThread raises HWM before its first readLock). A skipped grace period (fault
 * injection) snapshots nobody.
 *
 * SNAP's invariant: every entry is 0 while no grace period is in flight (step 2 zeroes each
 * entry whose section it sees end, and completes only when none is left; the fault paths
 * clear it explicitly). So a fresh snapshot stores only the marks of slots inside a section:
 * one load per idle slot. A `resumed` one (step 1 of a dead leader, who may have stored some
 * entries) rewrites every entry that differs.
 * @returns how many slots were inside a section
 */
function takeSnapshot(ctx: GracePeriodContext, skip: boolean, resumed: boolean): number {
  const { words, maxThreads } = ctx;
  const hwm = Atomics.load(words, RCU_SLOT_HWM_WORD);
  let inside = 0;
  for (let slot = 0; slot < hwm; slot++) {
    // Pairs with the reader's entering store (rcu-read-side.ts lock).
    const ctr = skip ? 0 : Atomics.load(words, rcuSlotBase(slot) + RCU_SLOT_CTR) & ~RCU_WAIT;
    const snapWord = rcuSnapWord(maxThreads, slot);
    if (ctr !== 0) {
      inside++;
      words[snapWord] = ctr; // plain: SNAP is the lock holder's (rcu-layout.ts)
    } else if (resumed) words[snapWord] = 0;
  }
  return inside;
}

/** Zero every SNAP entry (fault paths only: a skipped wait left some behind). */
function clearSnapshot(ctx: GracePeriodContext): void {
  const hwm = Atomics.load(ctx.words, RCU_SLOT_HWM_WORD);
  for (let slot = 0; slot < hwm; slot++) ctx.words[rcuSnapWord(ctx.maxThreads, slot)] = 0;
}

/**
 * Step 2 scan: how many snapshotted sections are still open. An entry whose section is seen
 * to have ended is zeroed, so later scans of this grace period skip its slot. With
 * `markWaiting`, also CAS WAIT into each pending CTR (the leader is about to sleep; GP_FUTEX
 * is already -1), so that reader's leaving exchange wakes it.
 */
function pendingReaders(ctx: GracePeriodContext, markWaiting: boolean): number {
  const { words, maxThreads } = ctx;
  const ignored = ctx.faultMode === FaultMode.ignoreReader ? ctx.faultArg : -1;
  const hwm = Atomics.load(words, RCU_SLOT_HWM_WORD);
  let pending = 0;
  for (let slot = 0; slot < hwm; slot++) {
    const snapWord = rcuSnapWord(maxThreads, slot);
    const mark = words[snapWord]!; // plain: SNAP is the lock holder's (rcu-layout.ts)
    if (mark === 0) continue;
    if (slot === ignored) {
      words[snapWord] = 0; // the fault: not waited for (SNAP's invariant kept)
      continue;
    }
    const ctrWord = rcuSlotBase(slot) + RCU_SLOT_CTR;
    let ctr = Atomics.load(words, ctrWord);
    if (markWaiting && ctr === mark) {
      // A failed CAS returns the new CTR: the reader left (0) or is in a later section. Only
      // the leader sets WAIT, so a CTR already holding mark | WAIT needs no CAS.
      const seen = Atomics.compareExchange(words, ctrWord, mark, mark | RCU_WAIT);
      ctr = seen === mark ? mark | RCU_WAIT : seen;
    }
    if ((ctr & ~RCU_WAIT) === mark) pending++;
    else words[snapWord] = 0;
  }
  return pending;
}

/** The marks flavor's `ReaderScan` (step 2; WAIT marking as the sleep preparation). */
const scanMarks: ReaderScan = (ctx, _arg, markWaiting, stallMs) => {
  if (stallMs >= 0) reportStalls(ctx, stallMs);
  return pendingReaders(ctx, markWaiting);
};

/**
 * A flavor's reader scan for `waitForReaders`: how many readers the current step still waits
 * for. `prepareSleep`: the leader is about to sleep (GP_FUTEX is already -1); the scan must
 * leave each pending reader able to wake it. `stallMs` >= 0: also report every pending reader
 * as stalled for that long. `arg` is the flavor's own (the mb flavor's phase).
 */
export type ReaderScan = (
  ctx: GracePeriodContext,
  arg: number,
  prepareSleep: boolean,
  stallMs: number,
) => number;

/**
 * Wait until `scan` finds no reader pending. Non-blocking mode scans once. Blocking mode
 * spins ~30 µs, then sleeps on GP_FUTEX, reporting a stall per pending slot every `stallMs`
 * and waiting on regardless: a stalled reader delays, never breaks, RCU.
 */
export function waitForReaders(
  ctx: GracePeriodContext,
  scan: ReaderScan,
  arg: number,
  blocking: boolean,
): boolean {
  if (scan(ctx, arg, false, -1) === 0) return true;
  if (!blocking) {
    pollStallWatch(ctx, scan, arg);
    return false;
  }
  const { words } = ctx;
  const start = performance.now();
  let nextStall = start + ctx.stallMs;
  for (let pass = 1; ; pass++) {
    if (scan(ctx, arg, false, -1) === 0) return true;
    if ((pass & 7) !== 0) continue;
    const now = performance.now();
    if (now - start < SPIN_MS) continue;
    if (now >= nextStall) {
      scan(ctx, arg, false, now - start);
      nextStall = now + ctx.stallMs;
    }
    // Announce the sleep, then rescan with prepareSleep: a reader that left before the scan
    // is not pending; one that leaves after it wakes us (marks: it finds the WAIT bit the
    // scan set, and GP_FUTEX = -1 was stored before; mb: it loads GP_FUTEX after leaving).
    Atomics.store(words, RCU_GP_FUTEX_WORD, -1);
    if (scan(ctx, arg, true, -1) === 0) {
      Atomics.store(words, RCU_GP_FUTEX_WORD, 0);
      return true;
    }
    Atomics.add(words, RCU_STAT_SLEEPS_WORD, 1);
    Atomics.wait(words, RCU_GP_FUTEX_WORD, -1, Math.min(WAIT_TIMEOUT_MS, ctx.stallMs));
    Atomics.add(words, RCU_GP_BEAT_WORD, 1); // alive: see waitForCookie's leader watch
    // A timed-out wait leaves -1 behind; clear it so later leaving readers skip the notify.
    if (Atomics.load(words, RCU_GP_FUTEX_WORD) !== 0) Atomics.store(words, RCU_GP_FUTEX_WORD, 0);
  }
}

/**
 * A non-blocking poll found readers pending. Polls of the same grace period by this thread
 * that keep finding them for `stallMs` report each stalled reader, as a blocking wait does,
 * then again every `stallMs`: without this a callRcu timer polling behind a dead reader
 * would wait in silence forever.
 */
function pollStallWatch(ctx: GracePeriodContext, scan: ReaderScan, arg: number): void {
  const gp = completedGracePeriods(ctx.words);
  const now = performance.now();
  const w = ctx.poll;
  if (w.gp !== gp) {
    w.gp = gp;
    w.since = now;
    w.nextReport = now + ctx.stallMs;
  } else if (now >= w.nextReport) {
    scan(ctx, arg, false, now - w.since);
    w.nextReport = now + ctx.stallMs;
  }
}

function reportStalls(ctx: GracePeriodContext, waitedMs: number): void {
  const { words, maxThreads } = ctx;
  const hwm = Atomics.load(words, RCU_SLOT_HWM_WORD);
  for (let slot = 0; slot < hwm; slot++) {
    const mark = words[rcuSnapWord(maxThreads, slot)]!; // plain: the lock holder's
    const base = rcuSlotBase(slot);
    if (mark === 0 || (Atomics.load(words, base + RCU_SLOT_CTR) & ~RCU_WAIT) !== mark) continue;
    if (ctx.faultMode === FaultMode.ignoreReader && slot === ctx.faultArg) continue;
    reportStalledSlot(ctx, slot, waitedMs);
  }
}

/**
 * Caller lost the race for GP_LOCK to `holder`: spin briefly, then set LOCK_WAITERS (so the
 * release notifies) and sleep until the lock word changes; the caller's loop rechecks its
 * cookie.
 */
function waitForLockChange(ctx: GracePeriodContext, holder: number, cookie: number): void {
  const { words } = ctx;
  const start = performance.now();
  for (let pass = 1; ; pass++) {
    if (Atomics.load(words, RCU_GP_LOCK_WORD) !== holder) return;
    if (completedGracePeriods(words) >= cookie) return;
    if ((pass & 7) === 0 && performance.now() - start >= SPIN_MS) break;
  }
  const sleeping = holder | RCU_LOCK_WAITERS;
  // A failed CAS: the leader released (or another waiter set the bit first, then we sleep on
  // the same value). Either way no notify can be lost: the release's exchange follows our CAS.
  if (holder !== sleeping) {
    const seen = Atomics.compareExchange(words, RCU_GP_LOCK_WORD, holder, sleeping);
    if (seen !== holder && seen !== sleeping) return;
  }
  // "not-equal" if the leader released meanwhile.
  Atomics.wait(words, RCU_GP_LOCK_WORD, sleeping, WAIT_TIMEOUT_MS);
}
