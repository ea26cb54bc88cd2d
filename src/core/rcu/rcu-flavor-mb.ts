/**
 * The mb flavor (`Rcu.create({ flavor: 'mb' })`): liburcu's "mb" scheme on 32-bit words,
 * kept beside the default marks flavor for comparison and teaching. Readers copy a global
 * counter (a phase bit plus a nesting count of one) into their slot; a grace period flips
 * the phase twice and waits, after each flip, for the readers that entered with the other
 * phase. Same API, same shared GP_SEQ/GP_LOCK machinery (rcu-grace-period.ts), same recovery.
 *
 * ## Developer notes
 * **Readers.** The outermost `lock()` is `store(slot, load(GP_CTR))`; nested ones add one to
 * the slot (only this thread writes it). The outermost `unlock()` stores 0 and then loads
 * GP_FUTEX, which the leader sets to -1 before it sleeps: either the leader's rescan sees our
 * 0, or we see its -1 and wake it. Two atomic loads and two stores per section, against the
 * marks flavor's one store and one exchange (`npm run bench` prints both).
 *
 * **Why two steps are enough** (the parity argument of liburcu's urcu.c, on SC atomics): let T
 * be the store that moves GP_SEQ into step 1. A reader whose slot store precedes the step-1
 * scan of its slot holds phase 0 or 1. Phase 0: step 1 (which waits for "active and phase !=
 * 1") waits for it. Phase 1: its phase was loaded during an earlier step 1 and it is still
 * inside; step 2 waits for "active and phase != 0" and so for it. A reader whose slot store
 * follows that scan entered after T, so it cannot hold a pointer removed before T. Each grace
 * period ends with GP_CTR back at phase 0, so no counter wraps: the phase is one bit and the
 * nesting count is bounded. Each step begins by (re)writing GP_CTR for its phase, so whoever
 * holds GP_LOCK can redo the current step from the top (re-store GP_CTR, rescan). Safety
 * does not depend on GP_CTR's value, only progress does: a reader that entered before T is
 * waited for by whichever step waits for the phase it holds.
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
  RCU_GP_COUNT,
  RCU_GP_CTR_WORD,
  RCU_GP_FUTEX_WORD,
  RCU_NEST_MASK,
  RCU_PHASE,
  RCU_SEQ_STEPS,
  RCU_SLOT_CTR,
  RCU_SLOT_HWM_WORD,
  rcuSlotBase,
} from './rcu-layout.js';
import {
  RCU_MAX_NESTING,
  type ReadSide,
  SelfEndingReadSide,
  wakeGracePeriodLeader,
} from './rcu-read-side.js';

/** @internal The mb flavor's read side; same interface as RcuReadSide. */
export class RcuReadSideMb extends SelfEndingReadSide implements ReadSide {
  readonly #words: Int32Array<SharedArrayBuffer>;
  #nest = 0;

  constructor(words: Int32Array<SharedArrayBuffer>) {
    super();
    this.#words = words;
  }

  get nesting(): number {
    return this.#nest;
  }

  lock(): void {
    if (this.#nest === 0 && this.ctr >= 0) {
      // Enter: publish the phase we saw. Pairs with the leader's scan in scanPhase.
      Atomics.store(this.#words, this.ctr, Atomics.load(this.#words, RCU_GP_CTR_WORD));
      this.#nest = 1;
      return;
    }
    if (this.ctr < 0) throw rcuErrors.notRegistered();
    if (this.#nest >= RCU_MAX_NESTING) throw rcuErrors.nestOverflow(RCU_MAX_NESTING);
    this.#nest += 1; // nested: only the depth changes, the phase stays the outermost lock's
    Atomics.store(this.#words, this.ctr, Atomics.load(this.#words, this.ctr) + 1);
  }

  unlock(): void {
    if (this.#nest === 1) {
      this.#nest = 0;
      // Leave; pairs with the leader's "store GP_FUTEX = -1, rescan, wait".
      Atomics.store(this.#words, this.ctr, 0);
      if (Atomics.load(this.#words, RCU_GP_FUTEX_WORD) === -1) wakeGracePeriodLeader(this.#words);
      return;
    }
    if (this.#nest === 0) throw rcuErrors.unlockWithoutLock();
    this.#nest -= 1;
    Atomics.store(this.#words, this.ctr, Atomics.load(this.#words, this.ctr) - 1);
  }
}

/** The mb flavor's `GracePeriodContext.advance`: two phase flips, each followed by a wait. */
export function advanceMbGracePeriod(
  ctx: GracePeriodContext,
  s: number,
  blocking: boolean,
): number {
  const { words, seq } = ctx;
  const done = seqCompleted(s);
  const base = done * RCU_SEQ_STEPS;
  let step = seqStep(s);
  let skip = faultSkipsThisGracePeriod(ctx, done);
  // The mb analogue of lose-snapshot: a resumed grace period forgets what it waited for.
  if (step !== 0 && ctx.faultMode === FaultMode.loseSnapshot) skip = true;
  if (step === 0) {
    gpSeqStore(words, seq, s, base + 1); // start (see rcu-grace-period.ts cookies)
    s = base + 1;
    step = 1;
  }
  if (step === 1) {
    // Flip to phase 1; readers entering from now on record phase 1.
    Atomics.store(words, RCU_GP_CTR_WORD, RCU_GP_COUNT | RCU_PHASE);
    if (!skip && !waitForReaders(ctx, scanPhase, RCU_PHASE, blocking)) return s;
    gpSeqStore(words, seq, s, base + 2);
    s = base + 2;
  }
  // Step 2: flip back to phase 0 and wait for phase-1 readers.
  Atomics.store(words, RCU_GP_CTR_WORD, RCU_GP_COUNT);
  if (!skip && !waitForReaders(ctx, scanPhase, 0, blocking)) return s;
  return completeGracePeriod(ctx, s, skip);
}

/**
 * The mb flavor's `ReaderScan`: slots still inside a section entered with a phase other than
 * `phase`. Nothing to prepare before a sleep: a leaving reader loads GP_FUTEX after its store.
 */
const scanPhase: ReaderScan = (ctx, phase, _prepareSleep, report) => {
  const { words } = ctx;
  const ignored = ctx.faultMode === FaultMode.ignoreReader ? ctx.faultArg : -1;
  const hwm = Atomics.load(words, RCU_SLOT_HWM_WORD);
  let pending = 0;
  for (let slot = 0; slot < hwm; slot++) {
    const ctr = Atomics.load(words, rcuSlotBase(slot) + RCU_SLOT_CTR);
    if ((ctr & RCU_NEST_MASK) === 0 || (ctr & RCU_PHASE) === phase || slot === ignored) continue;
    pending++;
    if (report >= 0) reportStalledSlot(ctx, slot, report);
  }
  return pending;
};
