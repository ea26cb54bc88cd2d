/**
 * The RCU read side: what every lookup runs. Kept apart from the grace-period machinery
 * (`rcu-grace-period.ts`) so that the part on every hot path stays small enough to audit.
 *
 * ## Developer notes
 * The scheme is liburcu's "mb" flavor on 32-bit words. The outermost `lock()` copies the
 * global GP_CTR word (phase bit plus a nesting count of one) into this thread's slot with one
 * `Atomics.store`; the outermost `unlock()` stores 0 and then checks GP_FUTEX, which the
 * grace-period leader sets to -1 before it sleeps. JS atomics are sequentially consistent, so
 * the store into the slot is also the full fence liburcu-mb issues at that point: a pointer
 * loaded after `lock()` is loaded after the slot became visible to the leader's scan.
 *
 * Nesting depth is kept in a plain field (this object is owned by one thread) and mirrored
 * into the slot's low 16 bits, so `stats()` and a dead thread's slot show it. Nested
 * lock/unlock only rewrite the slot; they never reload GP_CTR, so the phase recorded by the
 * outermost lock is kept (a nested section belongs to the outer one's grace period).
 *
 * Rejected: keeping nesting only in the shared word (liburcu has no cheaper TLS), which would
 * add an `Atomics.load` to every lock; and QSBR, which stalls grace periods whenever a
 * registered thread is descheduled (see spec "Implications" 2): our CPUs are oversubscribed.
 */
import {
  RCU_GP_CTR_WORD,
  RCU_GP_FUTEX_WORD,
  RCU_NEST_MASK,
  RCU_SLOT_CTR,
  RCU_STAT_WAKEUPS_WORD,
  rcuSlotBase,
} from './layout.js';
import { rcuErrors } from './rcu-errors.js';

/** @internal */
export class RcuReadSide {
  readonly #words: Int32Array<SharedArrayBuffer>;
  /** Word index of this thread's slot CTR, or -1 while unregistered. */
  #ctr = -1;
  /** Current nesting depth (0 = outside any read-side section). Thread-local. */
  #nest = 0;

  constructor(words: Int32Array<SharedArrayBuffer>) {
    this.#words = words;
  }

  /** Point the read side at `slot` (-1 to detach it). Only while outside a section. */
  bind(slot: number): void {
    this.#ctr = slot < 0 ? -1 : rcuSlotBase(slot) + RCU_SLOT_CTR;
  }

  get nesting(): number {
    return this.#nest;
  }

  lock(): void {
    if (this.#nest === 0 && this.#ctr >= 0) {
      // Enter: publish the phase we saw. Pairs with the leader's scan in
      // rcu-grace-period.ts `pendingReaders`: once this store is visible the leader waits for us.
      Atomics.store(this.#words, this.#ctr, Atomics.load(this.#words, RCU_GP_CTR_WORD));
      this.#nest = 1;
      return;
    }
    this.#lockSlow();
  }

  unlock(): void {
    if (this.#nest === 1) {
      this.#nest = 0;
      // Leave: from here on the leader may end a grace period without us. Pairs with the
      // leader's "store GP_FUTEX = -1, rescan, wait": either it sees our 0 on rescan, or we see
      // its -1 here and wake it.
      Atomics.store(this.#words, this.#ctr, 0);
      if (Atomics.load(this.#words, RCU_GP_FUTEX_WORD) === -1) wakeGracePeriodLeader(this.#words);
      return;
    }
    this.#unlockSlow();
  }

  #lockSlow(): void {
    if (this.#ctr < 0) throw rcuErrors.notRegistered();
    if (this.#nest >= RCU_NEST_MASK) throw rcuErrors.nestOverflow(RCU_NEST_MASK);
    // Nested: only the depth changes; the phase stays the outermost lock's. Only this thread
    // writes its slot, so the load-then-store cannot lose an update.
    this.#nest += 1;
    Atomics.store(this.#words, this.#ctr, Atomics.load(this.#words, this.#ctr) + 1);
  }

  #unlockSlow(): void {
    if (this.#nest === 0) throw rcuErrors.unlockWithoutLock();
    this.#nest -= 1;
    Atomics.store(this.#words, this.#ctr, Atomics.load(this.#words, this.#ctr) - 1);
  }
}

/**
 * @internal Wake the grace-period leader sleeping on GP_FUTEX. The CAS makes one waker win, so
 * a burst of unlocking readers issues one notify; a leader that has not slept yet sees 0 and
 * its `Atomics.wait(…, -1)` returns "not-equal" at once (no lost wake-up).
 */
export function wakeGracePeriodLeader(words: Int32Array<SharedArrayBuffer>): void {
  if (Atomics.compareExchange(words, RCU_GP_FUTEX_WORD, -1, 0) === -1) {
    Atomics.notify(words, RCU_GP_FUTEX_WORD);
    Atomics.add(words, RCU_STAT_WAKEUPS_WORD, 1);
  }
}
