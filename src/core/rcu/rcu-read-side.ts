/**
 * The RCU read side: what every lookup runs. Kept apart from the grace-period machinery
 * (`rcu-grace-period.ts`) so that the part on every hot path stays small enough to audit.
 *
 * ## Developer notes
 * Each reader slot holds 0 outside a section and a *mark* inside one: an odd number this
 * thread advances at every outermost `lock()`, so two sections of one thread never show the
 * same mark (until it wraps after 2^29 sections, which only makes a grace period wait longer;
 * see rcu-grace-period.ts). The outermost `lock()` is one `Atomics.store` of the next mark;
 * the outermost `unlock()` is one `Atomics.exchange(slot, 0)`, whose old value tells whether a
 * grace-period leader marked us WAIT before it went to sleep, in which case we wake it.
 * Neither path touches a global word: both touch only this thread's slot (its own cache line).
 *
 * JS atomics are sequentially consistent, so the enter store is also the full fence
 * liburcu-mb issues at that point: a pointer loaded after `lock()` is loaded after the mark
 * became visible to the leader's snapshot; and every load inside the section precedes the
 * leaving exchange, so a leader that sees the mark gone knows those loads are done.
 *
 * Nesting depth is a plain field (this object belongs to one thread): a nested section is
 * part of the outer one, so nested lock/unlock touch no shared word at all.
 *
 * Not the default: liburcu-mb's global phase counter copied into the slot, with two phase
 * flips per grace period (issue #2 asked for it; it is the 'mb' flavor, rcu-flavor-mb.ts,
 * kept for comparison and for teaching, torture-tested like this one). Its one extra
 * load per lock, which the store depends on, cost +0.4x one load+CAS on `find` when added to
 * this read side: 2.9-3.1x against find's target of 3x, where marks give 2.5x (bench/ioasid.ts,
 * alternating runs). The mark
 * keeps what the phase bit was for: a per-thread counter in a padded slot, nesting, and no
 * counter that can wrap into a wrong answer (a repeated mark only lengthens a grace period),
 * with one reader scan per grace period instead of two. Rejected: keeping
 * nesting in the shared word (a load per lock); leaving with a store and then loading a
 * "leader sleeps" word (one more load per unlock; an exchange costs what a seq-cst store costs
 * on x86, where V8 emits xchg for both); QSBR, which stalls grace periods whenever a
 * registered thread is descheduled (see spec "Implications" 2): our CPUs are oversubscribed.
 */

import { rcuErrors } from './rcu-errors.js';
import {
  RCU_GP_FUTEX_WORD,
  RCU_MARK_MASK,
  RCU_SLOT_CTR,
  RCU_STAT_WAKEUPS_WORD,
  RCU_WAIT,
  rcuSlotBase,
} from './rcu-layout.js';

/** Deepest nesting accepted; one more `lock()` throws ERR_RCU_NEST_OVERFLOW. */
export const RCU_MAX_NESTING = 0xffff;

/**
 * @internal What the facade needs of a flavor's read side: one object per attached thread.
 * The quiescent-state calls are the qsbr flavor's (rcu-flavor-qsbr.ts); the others' sections
 * end by themselves, so for them these do nothing.
 */
export interface ReadSide {
  /** Point the read side at `slot` (-1: detach it); only while outside a section. */
  bind(slot: number, firstMark?: number): void;
  /** Current nesting depth (qsbr outside debug attachments: always 0). */
  readonly nesting: number;
  /** Registered and not offline (qsbr); registered (the others). */
  readonly isOnline: boolean;
  lock(): void;
  unlock(): void;
  quiescentState(): void;
  /** Go offline; true if the thread was online (qsbr), false otherwise. */
  offline(): boolean;
  online(): void;
}

/**
 * @internal What the marks and mb read sides share: their sections end by themselves, so
 * there is no quiescent state to announce and no offline state (the ReadSide calls the qsbr
 * flavor needs do nothing here).
 */
export abstract class SelfEndingReadSide {
  /** Word index of this thread's slot CTR, or -1 while unregistered. */
  protected ctr = -1;

  bind(slot: number, _firstMark = 1): void {
    this.ctr = slot < 0 ? -1 : rcuSlotBase(slot) + RCU_SLOT_CTR;
  }

  get isOnline(): boolean {
    return this.ctr >= 0;
  }

  quiescentState(): void {}

  offline(): boolean {
    return false;
  }

  online(): void {}
}

/** @internal The marks flavor's read side (the default). */
export class RcuReadSide extends SelfEndingReadSide implements ReadSide {
  readonly #words: Int32Array<SharedArrayBuffer>;
  /** Current nesting depth (0 = outside any read-side section). Thread-local. */
  #nest = 0;
  /** Mark of the current or last section: odd, within RCU_MARK_MASK. Thread-local. */
  #mark = 1;

  constructor(words: Int32Array<SharedArrayBuffer>) {
    super();
    this.#words = words;
  }

  /**
   * Point the read side at `slot` (-1 to detach it). Only while outside a section. `firstMark`
   * seeds the marks, so a new owner of a released slot is unlikely to repeat the mark its dead
   * predecessor left in a leader's snapshot (a repeat would only lengthen that grace period).
   */
  override bind(slot: number, firstMark = 1): void {
    super.bind(slot);
    this.#mark = (firstMark | 1) & RCU_MARK_MASK;
  }

  get nesting(): number {
    return this.#nest;
  }

  lock(): void {
    if (this.#nest === 0 && this.ctr >= 0) {
      // Enter: publish a fresh mark. Pairs with the leader's snapshot load in
      // rcu-grace-period.ts `takeSnapshot`: once this store is visible the leader waits for us.
      const mark = (this.#mark + 2) & RCU_MARK_MASK;
      this.#mark = mark;
      this.#nest = 1;
      Atomics.store(this.#words, this.ctr, mark);
      return;
    }
    this.#lockSlow();
  }

  unlock(): void {
    if (this.#nest === 1) {
      this.#nest = 0;
      // Leave: from here on the leader may end a grace period without us. Pairs with the
      // leader's "store GP_FUTEX = -1, CAS WAIT into our mark, sleep": either its CAS fails on
      // our 0, or our exchange returns WAIT and we wake it.
      if ((Atomics.exchange(this.#words, this.ctr, 0) & RCU_WAIT) !== 0)
        wakeGracePeriodLeader(this.#words);
      return;
    }
    this.#unlockSlow();
  }

  #lockSlow(): void {
    if (this.ctr < 0) throw rcuErrors.notRegistered();
    if (this.#nest >= RCU_MAX_NESTING) throw rcuErrors.nestOverflow(RCU_MAX_NESTING);
    this.#nest += 1; // nested: part of the outer section, nothing to publish
  }

  #unlockSlow(): void {
    if (this.#nest === 0) throw rcuErrors.unlockWithoutLock();
    this.#nest -= 1;
  }
}

/**
 * @internal Wake the grace-period leader sleeping on GP_FUTEX. The CAS makes one waker win, so
 * a burst of leaving readers issues one notify; a leader that has not slept yet sees 0 and
 * its `Atomics.wait(…, -1)` returns "not-equal" at once (no lost wake-up).
 */
export function wakeGracePeriodLeader(words: Int32Array<SharedArrayBuffer>): void {
  if (Atomics.compareExchange(words, RCU_GP_FUTEX_WORD, -1, 0) === -1) {
    Atomics.notify(words, RCU_GP_FUTEX_WORD);
    Atomics.add(words, RCU_STAT_WAKEUPS_WORD, 1);
  }
}
