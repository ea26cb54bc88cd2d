/**
 * The free ledger (what the operations did, against which the event streams are counted) and
 * what the harness does about the event streams outside the subscriber CPUs: settle what a
 * killed CPU left half-published, and, at the end of the run, drain every subscription and
 * count each global-chain subscriber's FREEs against the ledger.
 *
 * ## Developer notes
 * The ledger counts, per id, the FREE transitions (a free that left references, making the id
 * free-pending: the only path that raises FREE) made by the op CPUs and by the end-of-run
 * release of what killed CPUs held. A CPU publishes its free in two steps around the call
 * (CPU_FREEING: the id and the ledger's word before it; after the call, the ledger's word + 1,
 * then FREEING 0), and it is the only writer of an id's ledger word while it holds the id. So
 * for a CPU killed in between, the harness knows exactly whether the free took effect (the id
 * is free-pending now: nobody else frees or puts a dead CPU's id until the end) and whether the
 * ledger counts it already (its word moved past the value before).
 *
 * Against the ledger, per global subscription and id: more FREEs read than made is
 * `notify-spurious` (a FREE twice, or for an id no free made free-pending); so is, in all,
 * more read plus reported lost than made (a FREE twice of an id whose other FREEs were lost:
 * a global chain carries FREEs only, so its overflow entries count FREEs); in all, fewer read
 * than made by more than its overflow entries reported lost, plus what its killed readers may
 * have taken without tallying (one batch each), is `notify-missed`.
 */
import type { IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';
import {
  type CheckGeometry,
  CPU_FREEING,
  CPU_FREEING_BEFORE,
  cpuOracleBase,
  freeLedgerBase,
  freeTallyBase,
  SUB_LAST_SEQ,
  SUB_LOST,
  SUB_LOST_BELOW,
  SUB_MAYBE_LOST,
  SUB_READING,
  subOracleBase,
} from '../check/check-layout.js';
import { reportAtEnd } from '../check/violations.js';
import type { SpaceProbe } from '../space-probe.js';
import { type ReaderEnv, StreamReader } from './stream-check.js';
import { inChainOrder, type Subscription } from './subscriptions.js';

/** Most entries a subscriber CPU reads in one call (a killed reader may take that many untallied). */
export const MAX_READ = 64;
/** Entries per read call when the harness drains the subscriptions at the end. */
const DRAIN_READ = 4096;

/**
 * A free of `id` that left references, made by the harness itself (no kill can cut it).
 *
 * @param w - the check buffer
 * @param g - its geometry (with subscriptions)
 * @param id - the id the free made free-pending
 *
 * Context: main thread.
 */
export function ledgerFreed(w: Int32Array<SharedArrayBuffer>, g: CheckGeometry, id: number): void {
  Atomics.add(w, freeLedgerBase(g) + id, 1);
}

/**
 * A killed op CPU may have died around a free that left references: count it in the ledger if
 * it took effect and is not counted yet (module notes).
 *
 * @param space - the space
 * @param w - the check buffer
 * @param g - its geometry (with subscriptions)
 * @param cpu - the killed CPU
 *
 * Context: main thread, after the CPU's thread exited, before its replacement starts.
 */
export function settleKilledFreer(
  space: IoasidSpace,
  w: Int32Array<SharedArrayBuffer>,
  g: CheckGeometry,
  cpu: number,
): void {
  const oracle = cpuOracleBase(cpu);
  const id = Atomics.load(w, oracle + CPU_FREEING);
  if (id === 0) return;
  const before = Atomics.load(w, oracle + CPU_FREEING_BEFORE);
  const word = freeLedgerBase(g) + id;
  if (Atomics.load(w, word) === before && space.inspect(id).state === 'free-pending')
    Atomics.store(w, word, before + 1);
  Atomics.store(w, oracle + CPU_FREEING, 0);
}

/**
 * A killed subscriber CPU may have died inside a read call: what it read there was never
 * published. Publish where its subscriptions really are (the space's read position, and the
 * log head as the bound of the drops an overflow entry it took may have reported), so that the
 * subscriptions behind them are not held to a position they passed, and count the batch it may
 * have taken untallied.
 *
 * @param w - the check buffer
 * @param g - its geometry
 * @param subs - the run's subscriptions
 * @param reader - the killed subscriber CPU's reader index
 * @param probe - reads the space's read positions
 *
 * Context: main thread, after the CPU's thread exited, before its replacement starts.
 */
export function settleKilledReader(
  w: Int32Array<SharedArrayBuffer>,
  g: CheckGeometry,
  subs: readonly Subscription[],
  reader: number,
  probe: SpaceProbe,
): void {
  for (const s of subs) {
    if (s.reader !== reader) continue;
    const o = subOracleBase(g, s.index);
    if (Atomics.load(w, o + SUB_READING) === 0) continue;
    const seq = Math.max(Atomics.load(w, o + SUB_LAST_SEQ) >>> 0, probe.subscriberReadSeq(s.sub));
    // It may have taken an overflow entry too: every drop so far came before the log head.
    const below = Math.max(Atomics.load(w, o + SUB_LOST_BELOW) >>> 0, probe.logHead());
    Atomics.store(w, o + SUB_LOST_BELOW, below | 0);
    Atomics.store(w, o + SUB_LAST_SEQ, seq | 0);
    Atomics.add(w, o + SUB_MAYBE_LOST, MAX_READ);
    Atomics.store(w, o + SUB_READING, 0);
  }
}

/** What the end-of-run check of the event streams needs. */
export interface EventsAtEnd {
  space: IoasidSpace;
  probe: SpaceProbe;
  w: Int32Array<SharedArrayBuffer>;
  g: CheckGeometry;
  subs: readonly Subscription[];
}

/**
 * Drain every subscription (its stream checked as the subscriber CPUs check theirs), then
 * count each global subscription's FREEs against the ledger (module notes).
 *
 * @param e - the space, the check buffer and the subscriptions
 *
 * Context: main thread, once every CPU stopped and every id was freed (so every FREE was
 * raised).
 * @returns how many events the drain read
 */
export function verifyEventsAtEnd(e: EventsAtEnd): number {
  const { space, w, g } = e;
  const env: ReaderEnv = {
    w,
    g,
    subs: e.subs,
    probe: e.probe,
    report: (kind, _s, id, set, detail, why) => reportAtEnd(w, { kind, id, set, detail, why }),
  };
  // In chain order: each one's gate is open once those ahead of it are drained.
  const readers = inChainOrder(e.subs).map((s) => new StreamReader(env, s, false));
  let drained = 0;
  for (;;) {
    let n = 0;
    for (const r of readers) n += r.read(space, DRAIN_READ);
    drained += n;
    if (n === 0) break;
  }
  const idMax = 2 ** g.pasidBits - 1;
  const ledger = freeLedgerBase(g);
  for (const s of e.subs) {
    if (s.chain !== null) continue;
    const tally = freeTallyBase(g, s.index);
    let made = 0;
    let read = 0;
    let short = 0;
    let firstShort = -1;
    let extra = -1;
    for (let id = 1; id <= idMax; id++) {
      const m = Atomics.load(w, ledger + id);
      const r = Atomics.load(w, tally + id);
      made += m;
      read += r;
      if (r > m && extra < 0) extra = id;
      if (r < m) {
        short += m - r;
        if (firstShort < 0) firstShort = id;
      }
    }
    const who = `global subscription ${s.index} (priority ${s.prio})`;
    if (extra > 0)
      env.report(
        'notify-spurious',
        s,
        extra,
        null,
        Atomics.load(w, tally + extra),
        `${who} read ${Atomics.load(w, tally + extra)} FREE(s) of id ${extra}, but frees left it ` +
          `free-pending ${Atomics.load(w, ledger + extra)} time(s)`,
      );
    const o = subOracleBase(g, s.index);
    const lost = Atomics.load(w, o + SUB_LOST);
    const maybe = Atomics.load(w, o + SUB_MAYBE_LOST);
    // In all: every FREE raised is read or counted lost at most once (a killed reader's
    // untallied batch and an overflow entry it took only lower the sum), so more is a FREE
    // read twice, even of an id whose other FREEs were lost.
    if (extra < 0 && read + lost > made)
      env.report(
        'notify-spurious',
        s,
        null,
        null,
        read + lost - made,
        `${who} read ${read} FREEs and its overflow entries counted ${lost} lost: ` +
          `${read + lost - made} more than the ${made} FREEs that frees raised`,
      );
    if (short > lost + maybe)
      env.report(
        'notify-missed',
        s,
        firstShort,
        null,
        short - lost - maybe,
        `${who} read ${read} FREEs of the ${made} that frees raised: ${short} missing (the first ` +
          `of id ${firstShort}), but its overflow entries counted ${lost} lost and killed readers ` +
          `may have taken ${maybe}`,
      );
  }
  return drained;
}
