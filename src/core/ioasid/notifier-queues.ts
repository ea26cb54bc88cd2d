/**
 * Notifier queues: the event log emitters append to, the distributor that copies each entry
 * into the queues of its receivers in chain order, and the readers that take events out of a
 * subscriber's queue, gated behind the subscribers ahead of it.
 *
 * ```text
 * emitter: record the event in its thread slot -> claim a seq (CAS LOG_HEAD) -> commit (copy
 *   it into the log entry, store E_SEQ) -> tryDistribute
 * distributor (DLOCK, try-lock): for each committed entry in seq order, for each receiver in
 *   chain order: copy into its queue with Q_GATE = the receiver before it (or count it lost
 *   when the queue is full), publish (store S_TAIL), ring its bell
 * reader: take queue entries in order while the receiver named by Q_GATE has read that seq
 * ```
 *
 * Developer notes.
 * - Why a log and one distributor: a subscriber must see its events in seq order, and several
 *   threads emit at once. Claiming a seq and appending to N queues cannot be one atomic step;
 *   a single log ordered by seq, copied out by whoever holds DLOCK, makes every queue a
 *   single-producer queue filled in seq order. The emitter never waits: it appends (a CAS
 *   loop that retries only when another emitter claimed), then tries the lock; if another
 *   thread holds it, that thread distributes the entry (it re-checks after releasing), or the
 *   emitter of an earlier uncommitted entry does when it commits.
 * - Gating: the distributor knows, per entry and chain, which receivers got the entry and in
 *   what order, so each queue entry names the receiver just ahead of it (Q_GATE, a sub id + 1
 *   with its generation). A reader takes the entry once that subscriber's S_READ_SEQ has
 *   reached the seq. Gates chain, so a subscriber waits for every receiver ahead of it. A
 *   subscriber whose queue was full did not receive the entry and holds no one back. One that
 *   unregisters hands the entries gated by it, for seqs it had not read, to its own gate
 *   (notifier-chains.ts regate), so those behind it still wait for those ahead of it.
 * - Bounds: the log has LOG_SIZE entries; an emitter that finds LOG_SIZE entries not yet
 *   distributed (a preempted or dead emitter holds the head back) drops its event and counts
 *   it on its chains (set lost / GLOBAL_LOST); the distributor charges those counts to the
 *   chain's subscribers as losses. A full queue: the receiver's S_LOST. A reader returns
 *   `{ event: 'overflow', lost }` first when S_LOST is non-zero. Nothing is lost silently.
 *   A loss charged from the log is attributed to the chain's subscribers when the distributor
 *   next runs, so one that attached in between may be charged for an event it would not have
 *   received (an over-report, never an under-report).
 * - Kill safety: an emitter records the event in its hooks thread slot (HK_EV_*) before
 *   claiming, and the claimed seq right after the CAS, so recovery commits (or voids) an entry
 *   a dead emitter claimed. The distributor records its progress within an entry (DIST_*,
 *   plain stores right after each queue publish or loss count), so a thread that takes a dead
 *   holder's DLOCK over resumes at the next receiver: no duplicate, no gap.
 * - Atomics only where they order something: plain accesses are used for (a) an entry's words
 *   (log or queue), written before the Atomics.store that publishes the entry (E_SEQ, S_TAIL)
 *   and not rewritten until the slot is reused, which needs the consumer to have moved past it
 *   (DIST, S_HEAD); and (b) the subscriber slots' configuration and ORDER, written under DLOCK
 *   (with Atomics) and read by the DLOCK holder. A reader that copies a queue entry its slot's
 *   writer is reusing (it loaded a stale S_HEAD) loses its CAS on S_HEAD and drops the copy
 *   (Int32 reads never tear). On these machines every Atomics call costs about as much as the
 *   rest of an alloc+free: emission would cost three times as much with Atomics throughout.
 * - Seq numbers are 32-bit and compared by serial arithmetic; they are reported as unsigned
 *   (the first is 1), so they increase for the first 2^32 - 1 events of a space.
 * Rejected: per-subscriber multi-producer queues (a queue cannot keep seq order when two
 *   emitters claim seqs in one order and slots in the other); a lock around emission (a
 *   killed emitter would block every alloc and free until recovery); one shared broadcast
 *   ring read by every subscriber (a busy chain would overwrite a quiet chain's events, and the
 *   loser could not count what it lost).
 *
 * @internal
 */
import {
  DIST_GATE_WORD,
  DIST_OP_WORD,
  DIST_ORDER_WORD,
  DIST_PHASE_WORD,
  DIST_PRIO_WORD,
  DIST_WORD,
  DLOCK_WORD,
  DOP_DISTRIBUTE,
  DOP_NONE,
  E_EVENT,
  E_SEQ,
  E_SET,
  E_SETGEN,
  EVENT_PAYLOAD_WORDS,
  GLOBAL_COUNT_WORD,
  GLOBAL_LOST_WORD,
  HK_EV_DATA,
  HK_EV_EVENT,
  HK_EV_ID,
  HK_EV_KIND,
  HK_EV_SEQ,
  HK_EV_SET,
  HK_EV_SETGEN,
  HK_EV_SPID,
  HOOKS_FAULT_NO_GATING,
  HOUSEKEEPING_WORD,
  type HooksGeometry,
  HSTAT_EVENTS_WORD,
  HSTAT_LOST_WORD,
  HSTAT_OVERFLOWS_WORD,
  LOG_HEAD_WORD,
  LOST_PENDING_WORD,
  logEntryWord,
  ORDER_COUNT_WORD,
  Q_DATA,
  Q_EVENT,
  Q_GATE,
  Q_ID,
  Q_SEQ,
  Q_SET,
  Q_SPID,
  queueEntryWord,
  S_BELL,
  S_FROM,
  S_HEAD,
  S_ID,
  S_KIND,
  S_LOST,
  S_ORDER,
  S_PRIO,
  S_READ_SEQ,
  S_RS_WAITERS,
  S_SET,
  S_SETGEN,
  S_TAIL,
  S_WAITERS,
  SUB_SLOT_MASK,
  SUBK_GLOBAL,
  subWord,
} from './hooks-layout.js';
import { lockRelease } from './space-lock.js';

type I32 = Int32Array<SharedArrayBuffer>;

/** Kernel event numbers (IOASID_NOTIFY_*). */
export const EV_ALLOC = 1;
export const EV_FREE = 2;
export const EV_BIND = 3;
export const EV_UNBIND = 4;

/** Entries one holder distributes before it lets go (then waiters are woken to help). */
const DISTRIBUTE_BUDGET = 256;

/** One event as a reader returns it. */
export interface NotifyRecord {
  /** A NotifyEvent: 1 ALLOC, 2 FREE, 3 BIND, 4 UNBIND. */
  event: number;
  /** The id (PASID) the event is about. */
  id: number;
  /** Its SPID (BIND: the new one; UNBIND: the old one), or INVALID_IOASID when none. */
  spid: number;
  /** The set that owns the id (for a FREE read on the global chain too). */
  set: number;
  /** The id's private data when the event was emitted. */
  data: number;
  /** One increasing counter per space (unsigned; the first event is 1). */
  seq: number;
}

/** The entry a reader gets first when events were dropped for it. */
export interface OverflowRecord {
  /** Always 'overflow'. */
  event: 'overflow';
  /** How many of this subscriber's events were dropped since its last read. */
  lost: number;
}

/** What the queue functions need of the calling thread. */
export interface QueueEnv {
  readonly hk: I32;
  readonly hg: HooksGeometry;
  /** The caller's lock-owner tag (its thread slot + 1). */
  readonly tag: number;
  /** The caller's hooks thread slot (first word). */
  readonly hts: number;
  /** HOOKS_FAULT_* of this space (0 in every real system). */
  readonly fault: number;
  /** This thread's last look at DIST (a lower bound: DIST only grows), so that a claim need
   * not load it while the log is far from full. */
  distHint: number;
  /** Membership work dead threads left (notifier-chains.ts housekeepingLocked); DLOCK held. */
  housekeepingLocked(): void;
}

// ---------------------------------------------------------------------------------------------
// emitters
// ---------------------------------------------------------------------------------------------

/**
 * Record an event in the caller's hooks thread slot (plain stores, its own words), ahead of
 * the operation that raises it: once the operation takes effect the caller sets HK_EV_KIND to
 * EVK_OWED with no call in between, so that recovery emits it if the caller dies before.
 *
 * Context: any attached thread; never blocks.
 */
export function logRecord(
  q: QueueEnv,
  event: number,
  id: number,
  spid: number,
  set: number,
  setGen: number,
  data: number,
): void {
  const { hk, hts } = q;
  hk[hts + HK_EV_EVENT] = event; // plain (owner): the thread's own slot
  hk[hts + HK_EV_ID] = id;
  hk[hts + HK_EV_SPID] = spid;
  hk[hts + HK_EV_SET] = set;
  hk[hts + HK_EV_SETGEN] = setGen;
  hk[hts + HK_EV_DATA] = data;
}

/**
 * Claim a seq for the event recorded in thread slot `hts` (the caller's, or a dead thread's
 * during recovery).
 *
 * CAS loop on LOG_HEAD: retries only when another emitter claimed meanwhile (progress). No
 * ABA: LOG_HEAD only grows (mod 2^32; 2^32 claims cannot happen while one CAS is prepared).
 *
 * @param kind - EVK_COMMIT, or EVK_IF_PUBLISHED (an ALLOC claimed before its publish)
 *
 * Context: any attached thread; never blocks. Kill points: the event was recorded before
 * (logRecord); the seq and `kind` are stored right after the CAS with no call in between.
 * @returns true when claimed (HK_EV_KIND = `kind`); false when the log is full (the loss is
 * counted on the event's chains; HK_EV_KIND = 0)
 */
export function logClaimRecorded(q: QueueEnv, hts: number, kind: number): boolean {
  const { hk } = q;
  for (;;) {
    const h = Atomics.load(hk, LOG_HEAD_WORD);
    // The hint is a lower bound of DIST: h - hint in [0, logSize) proves room without a load.
    const byHint = (h - q.distHint) | 0;
    if (byHint < 0 || byHint >= q.hg.logSize) q.distHint = Atomics.load(hk, DIST_WORD);
    if (((h - q.distHint) | 0) >= q.hg.logSize) {
      logDrop(q, Atomics.load(hk, hts + HK_EV_EVENT), Atomics.load(hk, hts + HK_EV_SET));
      hk[hts + HK_EV_KIND] = 0; // (a kill before this over-reports the loss, see the notes)
      return false;
    }
    // Claims seq h; pairs with the E_SEQ load in distributeLocked (which waits for the commit).
    if (Atomics.compareExchange(hk, LOG_HEAD_WORD, h, (h + 1) | 0) === h) {
      hk[hts + HK_EV_SEQ] = h; // kill point rule: right after the CAS
      hk[hts + HK_EV_KIND] = kind;
      return true;
    }
  }
}

/** The log is full: count the event as lost on its chains. */
function logDrop(q: QueueEnv, event: number, set: number): void {
  const { hk, hg } = q;
  Atomics.add(hk, hg.lostBase + set, 1);
  if (event === EV_FREE && Atomics.load(hk, GLOBAL_COUNT_WORD) > 0)
    Atomics.add(hk, GLOBAL_LOST_WORD, 1);
  Atomics.store(hk, LOST_PENDING_WORD, 1);
}

/**
 * Commit (or void) the entry the thread slot at `hts` claimed, from the event recorded there.
 *
 * @param hts - the claimer's hooks thread slot: the caller's own, or a dead thread's (recovery)
 * @param live - false to void the entry (an ALLOC whose publish did not happen)
 *
 * Context: any thread; never blocks. Idempotent until HK_EV_KIND is cleared, which follows the
 * publishing store with no call in between.
 */
export function logCommit(q: QueueEnv, hts: number, live: boolean): void {
  const { hk, hg } = q;
  const seq = Atomics.load(hk, hts + HK_EV_SEQ);
  const e = logEntryWord(hg, seq);
  copyPayload(hk, hts + HK_EV_EVENT, e + E_EVENT);
  if (!live) hk[e + E_EVENT] = 0; // void (plain: published by the store below)
  // Publishes the entry; pairs with the E_SEQ load in distributeLocked.
  Atomics.store(hk, e + E_SEQ, seq);
  hk[hts + HK_EV_KIND] = 0; // kill point rule: committed
}

// ---------------------------------------------------------------------------------------------
// distributor
// ---------------------------------------------------------------------------------------------

/** Is there something the distributor could do now (a committed entry, or losses to charge)? */
function distributable(hk: I32, hg: HooksGeometry): boolean {
  const d = Atomics.load(hk, DIST_WORD);
  return (
    Atomics.load(hk, logEntryWord(hg, d) + E_SEQ) === d ||
    Atomics.load(hk, LOST_PENDING_WORD) !== 0 ||
    Atomics.load(hk, HOUSEKEEPING_WORD) !== 0
  );
}

/**
 * Distribute committed entries if no other thread is doing so.
 *
 * Try-lock loop: after releasing, it looks again, because an emitter whose try-lock failed
 * while we held the lock relies on us (or on itself, on its next try) to see its entry. Stops
 * after DISTRIBUTE_BUDGET entries so that no caller distributes for others forever; it then
 * wakes every waiting reader, and readers distribute before they read or wait.
 *
 * @param committed - the caller just committed an entry: skip the first look
 *
 * Context: any attached thread; never blocks (the lock is only tried).
 */
export function tryDistribute(q: QueueEnv, committed = false): void {
  const { hk, hg } = q;
  for (let first = committed; ; first = false) {
    if (!first && !distributable(hk, hg)) return;
    // Try-lock: 0 -> our tag; pairs with the exchange in lockRelease.
    if (Atomics.compareExchange(hk, DLOCK_WORD, 0, q.tag) !== 0) return;
    const more = distributeLocked(q);
    lockRelease(hk, DLOCK_WORD);
    if (more) {
      wakeAllReaders(hk, hg);
      return;
    }
  }
}

/**
 * Distribute committed entries in seq order, resuming an entry a dead holder left half done.
 *
 * Context: caller holds DLOCK; never blocks.
 * @returns true when it stopped on its budget with committed entries left
 */
export function distributeLocked(q: QueueEnv): boolean {
  const { hk, hg } = q;
  if (Atomics.load(hk, HOUSEKEEPING_WORD) !== 0) q.housekeepingLocked();
  hk[DIST_OP_WORD] = DOP_DISTRIBUTE; // plain (DLOCK)
  if (Atomics.load(hk, LOST_PENDING_WORD) !== 0) chargeLogLosses(hk, hg);
  let events = 0;
  let more = false;
  for (let n = 0; ; n++) {
    const d = hk[DIST_WORD]!; // plain (DLOCK): only the holder writes it
    const e = logEntryWord(hg, d);
    // Waits for the commit of entry d; pairs with the publishing store in logCommit.
    if (Atomics.load(hk, e + E_SEQ) !== d) break;
    if (n === DISTRIBUTE_BUDGET) {
      more = true;
      break;
    }
    if (hk[e + E_EVENT] !== 0) {
      deliverEntry(hk, hg, d, e);
      events++;
    }
    // The entry is done; frees its log slot for emitters (pairs with their DIST load).
    Atomics.store(hk, DIST_WORD, (d + 1) | 0);
    hk[DIST_PHASE_WORD] = 0; // kill point rule: the progress words restart with the entry
    hk[DIST_PRIO_WORD] = -1;
    hk[DIST_ORDER_WORD] = 0;
    hk[DIST_GATE_WORD] = 0;
  }
  if (events > 0) Atomics.add(hk, HSTAT_EVENTS_WORD, events);
  hk[DIST_OP_WORD] = DOP_NONE;
  return more;
}

/**
 * Copy entry `d` into each receiver's queue, set chain first then (FREE) the global chain,
 * each in chain order, from where DIST_* says the previous holder stopped.
 */
function deliverEntry(hk: I32, hg: HooksGeometry, d: number, e: number): void {
  // Plain: the entry is published (E_SEQ loaded), the slots' configuration is DLOCK's.
  const event = hk[e + E_EVENT]!;
  const set = hk[e + E_SET]!;
  const setGen = hk[e + E_SETGEN]!;
  const phases = event === EV_FREE ? 2 : 1;
  const count = hk[ORDER_COUNT_WORD]!;
  for (let phase = hk[DIST_PHASE_WORD]!; phase < phases; phase++) {
    let gate = hk[DIST_GATE_WORD]!;
    const lastPrio = hk[DIST_PRIO_WORD]!;
    const lastOrder = hk[DIST_ORDER_WORD]!;
    for (let i = 0; i < count; i++) {
      const slot = hk[hg.orderBase + i]!;
      const s = subWord(hg, slot);
      const prio = hk[s + S_PRIO]!;
      const order = hk[s + S_ORDER]!;
      // Chain order is (prio desc, order asc): skip receivers the previous holder handled.
      if (
        lastPrio >= 0 &&
        (prio > lastPrio || (prio === lastPrio && ((order - lastOrder) | 0) <= 0))
      )
        continue;
      if (!receives(hk, s, phase, set, setGen, d)) continue;
      gate = deliverTo(hk, hg, slot, s, d, e, gate, prio, order);
    }
    hk[DIST_PHASE_WORD] = phase + 1; // plain (DLOCK): the chain is done
    hk[DIST_PRIO_WORD] = -1;
    hk[DIST_GATE_WORD] = 0;
  }
}

/** Does subscriber `s` receive entry `d` in `phase` (0: the set chain, 1: the global chain)? */
function receives(
  hk: I32,
  s: number,
  phase: number,
  set: number,
  setGen: number,
  d: number,
): boolean {
  // Plain (DLOCK): written under DLOCK, which the caller holds.
  const kind = hk[s + S_KIND]!;
  const onChain =
    phase === 0
      ? kind !== SUBK_GLOBAL && hk[s + S_SET] === set && hk[s + S_SETGEN] === setGen
      : kind === SUBK_GLOBAL;
  return onChain && ((d - hk[s + S_FROM]!) | 0) >= 0;
}

/**
 * Deliver entry `d` (log entry `e`) to subscriber slot `slot`, gated behind `gate`, or count
 * it lost when its queue is full. Records the progress right after the effect.
 * @returns the gate for the next receiver
 */
function deliverTo(
  hk: I32,
  hg: HooksGeometry,
  slot: number,
  s: number,
  d: number,
  e: number,
  gate: number,
  prio: number,
  order: number,
): number {
  const t = Atomics.load(hk, s + S_TAIL);
  let next = gate;
  if (((t - Atomics.load(hk, s + S_HEAD)) | 0) >= hg.depth) {
    Atomics.add(hk, s + S_LOST, 1);
    hk[DIST_PRIO_WORD] = prio; // kill point rule: right after the count
    hk[DIST_ORDER_WORD] = order;
    Atomics.add(hk, HSTAT_LOST_WORD, 1);
  } else {
    // Plain: published by the S_TAIL store below (module notes).
    const qw = queueEntryWord(hg, slot, t);
    hk[qw + Q_SEQ] = d;
    copyPayload(hk, e + E_EVENT, qw + Q_EVENT);
    hk[qw + Q_GATE] = gate;
    next = hk[s + S_ID]! + 1; // plain (DLOCK)
    // Publishes the queue entry; pairs with the S_TAIL load in the readers.
    Atomics.store(hk, s + S_TAIL, (t + 1) | 0);
    hk[DIST_PRIO_WORD] = prio; // kill point rule: right after the publish
    hk[DIST_ORDER_WORD] = order;
    hk[DIST_GATE_WORD] = next;
  }
  ringBell(hk, s);
  return next;
}

/**
 * Copy an event's payload (EVENT .. DATA, the same offsets everywhere) from `src` to `dst`.
 * Plain: the source is a thread slot's own words (or a dead thread's, read after its death)
 * or a published entry, the destination an entry published by the caller's next store.
 */
function copyPayload(hk: I32, src: number, dst: number): void {
  for (let k = 0; k < EVENT_PAYLOAD_WORDS; k++) hk[dst + k] = hk[src + k]!;
}

/** Wake the readers waiting on subscriber `s`'s bell, if any. */
function ringBell(hk: I32, s: number): void {
  Atomics.add(hk, s + S_BELL, 1);
  // Pairs with the waiter's increment of S_WAITERS before it loads S_BELL (Dekker: one of us
  // sees the other's write).
  if (Atomics.load(hk, s + S_WAITERS) > 0) Atomics.notify(hk, s + S_BELL);
}

/**
 * Wake every waiting reader (so they help distribute, or re-check after a takeover).
 *
 * Context: any thread; never blocks.
 */
export function wakeAllReaders(hk: I32, hg: HooksGeometry): void {
  for (let slot = 0; slot < hg.maxSubs; slot++) {
    const s = subWord(hg, slot);
    if (Atomics.load(hk, s + S_ID) >= 0) ringBell(hk, s);
  }
}

/**
 * Charge the events emitters dropped at a full log to the subscribers of their chains.
 * Adds first, then subtracts what it charged: a holder killed in between over-reports (the
 * next holder charges again), it never under-reports.
 */
function chargeLogLosses(hk: I32, hg: HooksGeometry): void {
  Atomics.store(hk, LOST_PENDING_WORD, 0);
  const count = Atomics.load(hk, ORDER_COUNT_WORD);
  const charge = (n: number, match: (s: number) => boolean) => {
    for (let i = 0; i < count; i++) {
      const slot = Atomics.load(hk, hg.orderBase + i);
      const s = subWord(hg, slot);
      if (!match(s)) continue;
      Atomics.add(hk, s + S_LOST, n);
      Atomics.add(hk, HSTAT_LOST_WORD, n);
      ringBell(hk, s);
    }
  };
  const g = Atomics.load(hk, GLOBAL_LOST_WORD);
  if (g > 0) {
    charge(g, (s) => Atomics.load(hk, s + S_KIND) === SUBK_GLOBAL);
    Atomics.sub(hk, GLOBAL_LOST_WORD, g);
  }
  for (let set = 0; set < hg.maxSets; set++) {
    const n = Atomics.load(hk, hg.lostBase + set);
    if (n === 0) continue;
    charge(
      n,
      (s) => Atomics.load(hk, s + S_KIND) !== SUBK_GLOBAL && Atomics.load(hk, s + S_SET) === set,
    );
    Atomics.sub(hk, hg.lostBase + set, n);
  }
}

// ---------------------------------------------------------------------------------------------
// readers
// ---------------------------------------------------------------------------------------------

/**
 * The slot of the subscriber that gates queue entry `qw` (seq `d`), or -1 when it may be read:
 * no gate, the gate subscriber has read `d`, or it is no longer registered.
 */
function gatedBy(q: QueueEnv, qw: number, d: number): number {
  const { hk, hg } = q;
  // Atomics: unregister may move a gate to the receiver further ahead (notifier-chains.ts).
  const gate = Atomics.load(hk, qw + Q_GATE);
  if (gate === 0 || q.fault === HOOKS_FAULT_NO_GATING) return -1;
  const p = subWord(hg, (gate - 1) & SUB_SLOT_MASK);
  if (Atomics.load(hk, p + S_ID) !== gate - 1) return -1;
  return ((Atomics.load(hk, p + S_READ_SEQ) - d) | 0) >= 0 ? -1 : (gate - 1) & SUB_SLOT_MASK;
}

/**
 * Take up to `max` readable events of registered subscriber `sub` into `out`, an overflow
 * entry first if events were dropped for it.
 *
 * CAS on S_HEAD per entry: retries (re-reads the entry) only when another reader of the same
 * subscriber took it (progress). An entry is copied before the CAS that takes it; the writer
 * reuses its slot only after S_HEAD passed it, so a copy whose CAS succeeded is intact.
 *
 * Context: any attached thread; never blocks.
 * @returns how many records were appended
 */
export function subRead(
  q: QueueEnv,
  sub: number,
  max: number,
  out: Array<NotifyRecord | OverflowRecord>,
): number {
  const { hk, hg } = q;
  const slot = sub & SUB_SLOT_MASK;
  const s = subWord(hg, slot);
  let n = 0;
  if (max > 0 && Atomics.load(hk, s + S_LOST) !== 0) {
    const lost = Atomics.exchange(hk, s + S_LOST, 0);
    if (lost > 0) {
      out.push({ event: 'overflow', lost });
      Atomics.add(hk, HSTAT_OVERFLOWS_WORD, 1);
      n++;
    }
  }
  while (n < max) {
    const h = Atomics.load(hk, s + S_HEAD);
    if (h === Atomics.load(hk, s + S_TAIL) || Atomics.load(hk, s + S_ID) !== sub) break;
    // Plain: published by S_TAIL (loaded above); a copy of a reused slot loses the CAS below.
    const qw = queueEntryWord(hg, slot, h);
    const d = hk[qw + Q_SEQ]!;
    if (gatedBy(q, qw, d) >= 0) break;
    const rec: NotifyRecord = {
      event: hk[qw + Q_EVENT]!,
      id: hk[qw + Q_ID]!,
      spid: hk[qw + Q_SPID]! >>> 0,
      set: hk[qw + Q_SET]!,
      data: hk[qw + Q_DATA]!,
      seq: d >>> 0,
    };
    // Takes the entry; pairs with the writer's S_HEAD load (slot reuse) and other readers.
    if (Atomics.compareExchange(hk, s + S_HEAD, h, (h + 1) | 0) !== h) continue;
    out.push(rec);
    n++;
    markRead(hk, s, d);
  }
  return n;
}

/** Raise S_READ_SEQ to `d` (CAS loop: monotonic under concurrent readers), wake gated ones. */
function markRead(hk: I32, s: number, d: number): void {
  for (;;) {
    const r = Atomics.load(hk, s + S_READ_SEQ);
    if (((r - d) | 0) >= 0) break;
    if (Atomics.compareExchange(hk, s + S_READ_SEQ, r, d) === r) break;
  }
  // Pairs with the gated waiter's increment of S_RS_WAITERS before it loads S_READ_SEQ.
  if (Atomics.load(hk, s + S_RS_WAITERS) > 0) Atomics.notify(hk, s + S_READ_SEQ);
}

/**
 * What `sub` could read now: 1 for a pending overflow entry, plus its ungated entries; and,
 * when that is 0 because its first entry is gated, the gating subscriber's slot.
 */
function readable(q: QueueEnv, sub: number): { n: number; gate: number; d: number } {
  const { hk, hg } = q;
  const slot = sub & SUB_SLOT_MASK;
  const s = subWord(hg, slot);
  let n = Atomics.load(hk, s + S_LOST) > 0 ? 1 : 0;
  const t = Atomics.load(hk, s + S_TAIL);
  for (let h = Atomics.load(hk, s + S_HEAD); h !== t; h = (h + 1) | 0) {
    const qw = queueEntryWord(hg, slot, h);
    const d = hk[qw + Q_SEQ]!; // plain: published by S_TAIL
    const gate = gatedBy(q, qw, d);
    if (gate >= 0) return { n, gate: n === 0 ? gate : -1, d };
    n++;
  }
  return { n, gate: -1, d: 0 };
}

/**
 * Block until `sub` has something to read, it is unregistered, or `timeoutMs` passes.
 *
 * Waits on its own bell (empty queue) or on the gating subscriber's S_READ_SEQ (first entry
 * gated). Lost wake-ups are impossible: the waiter announces itself (S_WAITERS /
 * S_RS_WAITERS), loads the word it will wait on, re-checks, and waits only on that value;
 * writers change the word before they look for waiters.
 *
 * Context: blocks (Atomics.wait); any attached thread outside a read-side section.
 * @returns how many records a read would return now (> 0), 0 on timeout, -1 when `sub` is
 * not registered (any more)
 */
export function subWait(q: QueueEnv, sub: number, timeoutMs: number): number {
  const { hk, hg } = q;
  const s = subWord(hg, sub & SUB_SLOT_MASK);
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    tryDistribute(q);
    if (Atomics.load(hk, s + S_ID) !== sub) return -1;
    Atomics.add(hk, s + S_WAITERS, 1);
    const bell = Atomics.load(hk, s + S_BELL);
    const r = readable(q, sub);
    let woken = true;
    const left = deadline - performance.now();
    if (r.n === 0 && Atomics.load(hk, s + S_ID) === sub && left > 0) {
      if (r.gate < 0) woken = Atomics.wait(hk, s + S_BELL, bell, left) !== 'timed-out';
      else woken = waitGate(q, subWord(hg, r.gate), r.d, left);
    }
    Atomics.sub(hk, s + S_WAITERS, 1);
    if (r.n > 0) return r.n;
    if (Atomics.load(hk, s + S_ID) !== sub) return -1;
    if (!woken || deadline - performance.now() <= 0) {
      const last = readable(q, sub).n; // one last look, then time out
      return last;
    }
  }
}

/** Wait until gating subscriber `p` reads past `d` (or changes): false on timeout. */
function waitGate(q: QueueEnv, p: number, d: number, ms: number): boolean {
  const { hk } = q;
  Atomics.add(hk, p + S_RS_WAITERS, 1);
  const v = Atomics.load(hk, p + S_READ_SEQ);
  let woken = true;
  if (((v - d) | 0) < 0) woken = Atomics.wait(hk, p + S_READ_SEQ, v, ms) !== 'timed-out';
  Atomics.sub(hk, p + S_RS_WAITERS, 1);
  return woken;
}

/**
 * The notifier counters, for stats(): events distributed (voided ALLOCs excluded), events
 * lost, overflow entries returned.
 *
 * Context: any thread; lock-free; stale (events wait in the log until distributed).
 * @returns the counters
 */
export function notifierCounters(hk: I32): { events: number; lost: number; overflows: number } {
  return {
    events: Atomics.load(hk, HSTAT_EVENTS_WORD),
    lost: Atomics.load(hk, HSTAT_LOST_WORD),
    overflows: Atomics.load(hk, HSTAT_OVERFLOWS_WORD),
  };
}
