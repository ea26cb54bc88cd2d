/**
 * Reading one subscription's event stream and checking it as it is read: what a subscriber
 * CPU does for each of its subscriptions (stress/cpu/subscriber-cpu.ts), and what the
 * end-of-run verification does to drain what is left (verify-events.ts).
 *
 * Checked at every read, by the reader:
 * - `notify-order`: seqs strictly increase (so no event twice);
 * - `notify-spurious`: a global-chain event is a FREE; a set-chain event is of that set; per
 *   id, an allocation's events follow its ALLOC, and one allocation has at most one FREE (a
 *   second FREE with no ALLOC since is a FREE twice, or for an id that was not live);
 * - `notify-gating`: each subscription ahead of this one on its chain that is idle between
 *   reads has read the event (below).
 * A global-chain FREE is also tallied per id (check-layout.ts), for the end-of-run count
 * against the frees that raised them.
 *
 * ## Developer notes
 * Losses. An event dropped for this subscriber (its queue was full, or the log was full when
 * it was raised) would make an id's next event look spurious. Every drop is reported before
 * any event raised after it is read, or is still pending when that event is checked: a queue
 * drop of seq d sets the subscriber's lost count before any later seq is queued, and a reader
 * takes the lost count (the overflow entry first) before the entries; a log drop is counted on
 * its chain before the dropper returns, and the distributor adds it to the subscribers' lost
 * counts before it subtracts it from the chain's. So a check that would report first loads the
 * chain's pending log drops, then this subscriber's pending lost count, and holds back if
 * either is non-zero. A drop already reported to this reader (an overflow entry) has a seq, or
 * a time, below LOST_BELOW: the log head when that overflow entry was read. So:
 * - an event of an id this reader never saw is reported only while it has read no overflow
 *   entry and is the stream's first reader (the harness registered every subscription before
 *   any id existed, so the ALLOC of the id's current allocation came after the registration);
 * - a second FREE is reported only if the first one's seq is at or above LOST_BELOW (no drop
 *   can lie between them).
 *
 * Gating, with a logical clock (the CLOCK word, added to before and after every read call):
 * subscription P ahead of S publishes, before each read call, READING = its clock value, and
 * after it LOST_BELOW and LAST_SEQ (the highest seq it read), then READING = 0. When S has
 * read seq d (its call ended at clock t1), it loads P's READING first: 0 means P was between
 * reads at a time after t1; then LAST_SEQ < d (stored before READING went to 0) means none of
 * P's reads returned d, and P's next read begins after t1. So S read d before P began reading
 * it: gating broken. Unless P will never read d: it was dropped for P (d below P's LOST_BELOW,
 * or P's lost count pending), or P's reader died with d read but unpublished (the fleet then
 * publishes P's real position: verify-events.ts). A P inside a read call proves nothing and is
 * not reported. P's pending lost count is loaded before READING: a drop of d that count no
 * longer shows was taken by a read call of P that began before that load, so READING then
 * shows that call still running, or a later value, stored after the call published
 * LOST_BELOW above d. (Loaded after READING, P could take the count, between the two loads, in
 * a call that has not published yet: a false report, seen once in a 30 s run.)
 */
import type { IoasidSpace, NotifyRecord } from '../../src/core/ioasid/ioasid-space.js';
import {
  type CheckGeometry,
  freeTallyBase,
  NOTIFY_CLOCK,
  notifyBase,
  SUB_FREES,
  SUB_LAST_SEQ,
  SUB_LOST,
  SUB_LOST_BELOW,
  SUB_READ,
  SUB_READING,
  subOracleBase,
} from '../check/check-layout.js';
import type { ViolationKind } from '../check/invariants.js';
import { isAhead, type Subscription } from './subscriptions.js';

/** What a reader calls: the space, or a broken twin's double of it. */
export type SubscriberApi = Pick<IoasidSpace, 'readNotifications' | 'waitNotifications'>;

/** What the space tells a reader besides its stream (white-box: stress/space-probe.ts). */
export interface LossProbe {
  /** Events dropped for subscriber `sub` that its next read reports. */
  subscriberLost(sub: number): number;
  /** Events of a chain (a set, or null: global) the full log dropped, not charged yet. */
  chainLost(set: number | null): number;
  /** The next seq to claim. */
  logHead(): number;
}

/** Where a reader reports and what it reads besides its own stream. */
export interface ReaderEnv {
  /** The check buffer. */
  readonly w: Int32Array<SharedArrayBuffer>;
  readonly g: CheckGeometry;
  /** Every subscription of the run. */
  readonly subs: readonly Subscription[];
  readonly probe: LossProbe;
  /** Report a violation about this reader's stream. */
  report(
    kind: ViolationKind,
    s: Subscription,
    id: number | null,
    set: number | null,
    detail: number,
    why: string,
  ): void;
}

const ALLOC = 1;
const FREE = 2;
const EVENT_NAMES = ['', 'ALLOC', 'FREE', 'BIND', 'UNBIND'];
/** Per-id state of a set-chain stream, with the seq that set it: state + 4 * seq. */
const LIVE = 1;
const PENDING = 2;

/**
 * Name a subscription for a reason.
 *
 * @param s - the subscription
 *
 * Context: pure.
 * @returns e.g. "subscription 3 (set 0's chain, priority 2)"
 */
export function describeSubscription(s: Subscription): string {
  return `subscription ${s.index} (${s.chain === null ? 'global chain' : `set ${s.chain}'s chain`}, priority ${s.prio})`;
}

/** One subscription's reader. */
export class StreamReader {
  readonly s: Subscription;
  readonly #env: ReaderEnv;
  readonly #o: number;
  readonly #clock: number;
  readonly #tally: number;
  readonly #ahead: Subscription[];
  /** Set chains: each id's state and the seq that set it (LIVE/PENDING + 4 * seq). */
  readonly #states = new Map<number, number>();
  readonly #strict: boolean;
  #last: number;
  #lostBelow: number;

  /**
   * @param env - the check buffer, the probe and the reporter
   * @param s - the subscription to read
   * @param strict - this reader is the stream's first (no batch of it went unchecked)
   *
   * Context: the reading thread; the reader continues from the published position.
   */
  constructor(env: ReaderEnv, s: Subscription, strict: boolean) {
    this.s = s;
    this.#env = env;
    this.#o = subOracleBase(env.g, s.index);
    this.#clock = notifyBase(env.g) + NOTIFY_CLOCK;
    this.#tally = s.chain === null ? freeTallyBase(env.g, s.index) : -1;
    this.#ahead = env.subs.filter((p) => isAhead(p, s));
    this.#strict = strict;
    this.#last = Atomics.load(env.w, this.#o + SUB_LAST_SEQ) >>> 0;
    this.#lostBelow = Atomics.load(env.w, this.#o + SUB_LOST_BELOW) >>> 0;
  }

  /**
   * One read call of at most `max` entries, checked, tallied and published.
   *
   * @param api - the space (or a broken twin's double)
   * @param max - most entries to read
   *
   * Context: the reading thread; never blocks.
   * @returns how many entries the call returned
   */
  read(api: SubscriberApi, max: number): number {
    const { w } = this.#env;
    const o = this.#o;
    Atomics.store(w, o + SUB_READING, Atomics.add(w, this.#clock, 1) + 1);
    const got = api.readNotifications(this.s.sub, max);
    const t1 = Atomics.add(w, this.#clock, 1) + 1;
    let first: NotifyRecord | undefined;
    for (const r of got) {
      if (r.event === 'overflow') {
        // Every drop it reports came before the log head now (module notes).
        this.#lostBelow = Math.max(this.#lostBelow, this.#env.probe.logHead());
        Atomics.add(w, o + SUB_LOST, r.lost);
        continue;
      }
      first ??= r;
      this.#event(r.event, r.id, r.set, r.seq);
    }
    if (got.length > 0) Atomics.add(w, o + SUB_READ, got.length);
    Atomics.store(w, o + SUB_LOST_BELOW, this.#lostBelow | 0);
    Atomics.store(w, o + SUB_LAST_SEQ, this.#last | 0);
    Atomics.store(w, o + SUB_READING, 0);
    if (first !== undefined) this.#checkGating(first.seq, first.id, first.set, t1);
    return got.length;
  }

  /** No drop is pending for this reader (loads in the module notes' order). */
  #nothingPending(): boolean {
    const { probe } = this.#env;
    return probe.chainLost(this.s.chain) === 0 && probe.subscriberLost(this.s.sub) === 0;
  }

  #event(event: number, id: number, set: number, seq: number): void {
    const { s } = this;
    const name = EVENT_NAMES[event] ?? `event ${event}`;
    if (!(seq > this.#last))
      this.#report(
        'notify-order',
        id,
        set,
        seq,
        `read ${name} of id ${id} with seq ${seq} after seq ${this.#last}`,
      );
    else this.#last = seq;
    if (s.chain === null) {
      if (event !== FREE)
        this.#report(
          'notify-spurious',
          id,
          set,
          event,
          `read ${name} of id ${id} on the global chain, which carries FREE only`,
        );
      else {
        Atomics.add(this.#env.w, this.#tally + id, 1);
        Atomics.add(this.#env.w, this.#o + SUB_FREES, 1);
      }
      return;
    }
    if (set !== s.chain)
      this.#report(
        'notify-spurious',
        id,
        set,
        set,
        `read ${name} of id ${id} of set ${set} on set ${s.chain}'s chain`,
      );
    const st = this.#states.get(id);
    if (event === ALLOC) {
      this.#states.set(id, LIVE + 4 * seq);
      return;
    }
    if (st === undefined) {
      if (this.#strict && this.#lostBelow === 0 && this.#nothingPending())
        this.#report(
          'notify-spurious',
          id,
          set,
          seq,
          `read ${name} of id ${id} (seq ${seq}) but never its ALLOC, although it registered before set ${set} had any id: an event for an id that was not live`,
        );
    } else if (event === FREE && st % 4 === PENDING) {
      const since = Math.floor(st / 4);
      if (since >= this.#lostBelow && this.#nothingPending())
        this.#report(
          'notify-spurious',
          id,
          set,
          seq,
          `read a second FREE of one allocation of id ${id} (seqs ${since} and ${seq}, no ALLOC between)`,
        );
    }
    if (event === FREE) this.#states.set(id, PENDING + 4 * seq);
    else if (st === undefined) this.#states.set(id, LIVE + 4 * seq);
  }

  #checkGating(d: number, id: number, set: number, t1: number): void {
    const { w, g, probe } = this.#env;
    for (const p of this.#ahead) {
      const po = subOracleBase(g, p.index);
      // P's pending drops, then READING, then its published words: the module notes'
      // argument needs this order.
      if (probe.subscriberLost(p.sub) !== 0) continue;
      if (Atomics.load(w, po + SUB_READING) !== 0) continue;
      const pLast = Atomics.load(w, po + SUB_LAST_SEQ) >>> 0;
      if (pLast >= d || d < Atomics.load(w, po + SUB_LOST_BELOW) >>> 0) continue;
      this.#report(
        'notify-gating',
        id,
        set,
        d,
        `read seq ${d} (id ${id}) by clock ${t1}, but ${describeSubscription(p)}, ahead of it, ` +
          `had read only up to seq ${pLast} and was not reading`,
      );
      return;
    }
  }

  #report(kind: ViolationKind, id: number, set: number, detail: number, why: string): void {
    this.#env.report(kind, this.s, id, set, detail, `${describeSubscription(this.s)}: ${why}`);
  }
}
