/**
 * Notifier chains: who is subscribed to what. Subscriber slots (hooks-layout.ts S_*), their
 * attachment to a set's chain or to the global chain, MM subscribers waiting for their set,
 * and the chain order the distributor walks.
 *
 * A subscriber is a slot in shared memory, not an object of any thread: its id is a number
 * (slot and generation) that any thread may read, wait on or unregister. Chain order is the
 * kernel's `notifier_chain_register` order: priority descending, then registration order.
 *
 * Developer notes.
 * - Every change of membership happens under the distribution lock (DLOCK), which the
 *   distributor holds while it delivers entries. So the distributor sees membership frozen,
 *   and a subscriber receives exactly the entries distributed while it was attached whose seq
 *   is >= its S_FROM (LOG_HEAD when it attached): one that registers after an event was
 *   emitted does not get it, even if the event was not distributed yet.
 * - Membership is derived, not incremental: after each change `chainsRebuildLocked` recomputes
 *   the ORDER array, the per-set and global counts (the emitters' hints) and the subscriber
 *   bits of HOOKS from the slots. Each store writes a final value (no transient zero an emitter
 *   could act on), and the rebuild is idempotent, so a thread taking a dead holder's lock over
 *   just runs it again.
 * - A set subscriber is attached to one incarnation of its set (S_SETGEN, the set's
 *   generation). Nothing happens when a set dies (set destruction is lock-free and must stay
 *   so): events of a dead set are no longer emitted, and the next rebuild detaches subscribers
 *   whose set is dead or reborn: an MM subscriber goes back to pending for its token, a set
 *   subscriber is orphaned (it receives nothing more; its queued events stay readable).
 *   `setAlloc` of an MM set attaches the pending subscribers of its token (`mmAttachLocked`).
 * Rejected: linked chains through the slots (every link step would need its own kill-safety
 * argument, and a walk cannot resume after a dead holder without extra state); counting
 * subscribers incrementally (a kill between the change and the count leaves it wrong forever).
 *
 * @internal
 */
import { Errno } from './errno.js';
import {
  GLOBAL_COUNT_WORD,
  HK_REG_ARG,
  HK_REG_OP,
  HOOKS_CUSTOM,
  HOOKS_SUB_ONE,
  HOOKS_WORD,
  HOUSEKEEPING_WORD,
  type HooksGeometry,
  hooksThreadWord,
  LOG_HEAD_WORD,
  ORDER_COUNT_WORD,
  Q_GATE,
  Q_SEQ,
  queueEntryWord,
  REG_ORDER_WORD,
  REG_REGISTERING,
  S_BELL,
  S_DOOMED,
  S_FROM,
  S_GEN,
  S_HEAD,
  S_ID,
  S_KIND,
  S_LOST,
  S_ORDER,
  S_OWNER,
  S_PRIO,
  S_READ_SEQ,
  S_SET,
  S_SETGEN,
  S_TAIL,
  S_TOKEN,
  SUB_GEN_MAX,
  SUB_SLOT_BITS,
  SUB_SLOT_MASK,
  SUBK_GLOBAL,
  SUBK_MM,
  SUBK_SET,
  subWord,
} from './hooks-layout.js';

type I32 = Int32Array<SharedArrayBuffer>;

/** What membership code needs: the hooks buffer, and the current generation of a set. */
export interface ChainsEnv {
  readonly hk: I32;
  readonly hg: HooksGeometry;
  /** The live generation of `set`, or -1 when the set is dead. */
  setGen(set: number): number;
}

/**
 * Is `sub` a registered subscriber id (slot in range and current generation)?
 *
 * Context: any thread; lock-free; stale on return (another thread may unregister it).
 * @returns true when registered
 */
export function subIsRegistered(hk: I32, hg: HooksGeometry, sub: number): boolean {
  const slot = sub & SUB_SLOT_MASK;
  return sub >= 0 && slot < hg.maxSubs && Atomics.load(hk, subWord(hg, slot) + S_ID) === sub;
}

/**
 * Lowest free subscriber slot.
 *
 * Context: caller holds DLOCK.
 * @returns the slot, or -ENOSPC when every slot is registered
 */
export function subFreeSlotLocked(hk: I32, hg: HooksGeometry): number {
  for (let slot = 0; slot < hg.maxSubs; slot++)
    if (Atomics.load(hk, subWord(hg, slot) + S_ID) < 0) return slot;
  return -Errno.ENOSPC;
}

/** Parameters of a new subscriber. `set`/`setGen` -1 when not attached (global, pending MM). */
export interface SubSpec {
  kind: number;
  set: number;
  setGen: number;
  token: number;
  prio: number;
  /** The caller's owner tag (0: none). */
  owner: number;
}

/**
 * Fill free slot `slot` with a new subscriber and publish it (S_ID last), then rebuild.
 * It receives entries with seq >= LOG_HEAD now.
 *
 * Context: caller holds DLOCK and found `slot` free; never blocks. Kill safety: the caller
 * recorded the slot (HK_REG_OP REGISTERING) before calling, so whoever takes the lock over
 * frees the slot again (the id never reached anyone).
 * @returns the new sub id (>= 0)
 */
export function subRegisterLocked(env: ChainsEnv, slot: number, spec: SubSpec): number {
  const { hk, hg } = env;
  const s = subWord(hg, slot);
  const gen = (Atomics.load(hk, s + S_GEN) % SUB_GEN_MAX) + 1;
  const order = Atomics.add(hk, REG_ORDER_WORD, 1);
  const from = Atomics.load(hk, LOG_HEAD_WORD);
  Atomics.store(hk, s + S_GEN, gen);
  Atomics.store(hk, s + S_KIND, spec.kind);
  Atomics.store(hk, s + S_SET, spec.set);
  Atomics.store(hk, s + S_SETGEN, spec.setGen);
  Atomics.store(hk, s + S_TOKEN, spec.token);
  Atomics.store(hk, s + S_PRIO, spec.prio);
  Atomics.store(hk, s + S_OWNER, spec.owner);
  Atomics.store(hk, s + S_ORDER, order);
  Atomics.store(hk, s + S_FROM, from);
  // Drop whatever an earlier incarnation left: HEAD = TAIL. Readers of the old id fail
  // their HEAD CAS (HEAD moved) or find the queue empty.
  Atomics.store(hk, s + S_HEAD, Atomics.load(hk, s + S_TAIL));
  Atomics.store(hk, s + S_LOST, 0);
  Atomics.store(hk, s + S_DOOMED, 0);
  Atomics.store(hk, s + S_READ_SEQ, (from - 1) | 0);
  const sub = (gen << SUB_SLOT_BITS) | slot;
  // Publishes the slot: from here readers, the distributor and unregister see it.
  Atomics.store(hk, s + S_ID, sub);
  chainsRebuildLocked(env);
  return sub;
}

/**
 * The registered subscriber of chain `spec` (kind; set and setGen for SUBK_SET, token for
 * SUBK_MM) with priority `spec.prio` and owner tag `spec.owner`, as registered by a call that
 * returned: a slot recovery doomed (its registration never returned), or one a thread is
 * still registering (HK_REG_OP REGISTERING names it: its call has not returned, and recovery
 * undoes it if that thread dies now), is not found. A set subscriber is found only while
 * attached to incarnation `spec.setGen` of its set; an MM subscriber whether attached or
 * pending. Several: the earliest registered.
 *
 * Lock-free: each candidate's fields are read between two loads of its S_ID, which changes
 * (new generation) whenever the slot is re-registered; its config words change only then
 * (S_SET and S_SETGEN also when an MM subscriber attaches, which the MM match does not read,
 * and S_SET when the rebuild detaches a subscriber of a dead set, which `spec.setGen`
 * already tells apart).
 *
 * Context: any thread; never blocks; reads only (Atomics loads). Stale on return: another
 * thread may unregister the subscriber right after.
 * @returns the sub id, or -ENOENT
 */
export function subFind(hk: I32, hg: HooksGeometry, spec: SubSpec): number {
  let best = -Errno.ENOENT;
  let bestOrder = 0;
  for (let slot = 0; slot < hg.maxSubs; slot++) {
    const s = subWord(hg, slot);
    const sub = Atomics.load(hk, s + S_ID);
    if (sub < 0 || !subMatches(hk, s, spec)) continue;
    const order = Atomics.load(hk, s + S_ORDER);
    if (Atomics.load(hk, s + S_DOOMED) !== 0 || subBeingRegistered(hk, hg, slot)) continue;
    if (Atomics.load(hk, s + S_ID) !== sub) continue; // re-registered while we read it
    if (best < 0 || ((order - bestOrder) | 0) < 0) {
      best = sub;
      bestOrder = order;
    }
  }
  return best;
}

function subMatches(hk: I32, s: number, spec: SubSpec): boolean {
  if (Atomics.load(hk, s + S_KIND) !== spec.kind) return false;
  if (Atomics.load(hk, s + S_PRIO) !== spec.prio) return false;
  if (Atomics.load(hk, s + S_OWNER) !== spec.owner) return false;
  if (spec.kind === SUBK_MM) return Atomics.load(hk, s + S_TOKEN) === spec.token;
  if (spec.kind !== SUBK_SET) return true;
  return Atomics.load(hk, s + S_SET) === spec.set && Atomics.load(hk, s + S_SETGEN) === spec.setGen;
}

/**
 * Is a thread between filling subscriber slot `slot` and returning its id? HK_REG_OP and
 * HK_REG_ARG are the registering thread's Atomics.stores (hooks.ts #registerLocked), made
 * before its Atomics.store of the slot's S_ID, which the caller loaded: so a REGISTERING
 * naming the slot is seen until that thread clears it (after its DLOCK release: from then
 * on the id is the caller's). An aligned int32 word does not tear.
 */
function subBeingRegistered(hk: I32, hg: HooksGeometry, slot: number): boolean {
  for (let k = 0; k < hg.maxThreads; k++) {
    const ts = hooksThreadWord(hg, k);
    if (
      Atomics.load(hk, ts + HK_REG_OP) === REG_REGISTERING &&
      (Atomics.load(hk, ts + HK_REG_ARG) & SUB_SLOT_MASK) === slot
    )
      return true;
  }
  return false;
}

/**
 * Unregister `sub`: drop its queued events, hand the subscribers gated behind it over to the
 * one ahead of it, wake whoever waits on it, rebuild.
 *
 * Context: caller holds DLOCK; never blocks. Idempotent (a thread taking a dead holder's lock
 * over may repeat it).
 * @returns 0, or -ENOENT when `sub` is not registered (nothing changes)
 */
export function subUnregisterLocked(env: ChainsEnv, sub: number): number {
  const { hk, hg } = env;
  if (!subIsRegistered(hk, hg, sub)) return -Errno.ENOENT;
  const s = subWord(hg, sub & SUB_SLOT_MASK);
  regate(hk, hg, sub);
  // Unpublish: gates naming `sub` no longer match S_ID (regate moved the unread ones).
  Atomics.store(hk, s + S_ID, -1);
  Atomics.store(hk, s + S_HEAD, Atomics.load(hk, s + S_TAIL));
  Atomics.store(hk, s + S_LOST, 0);
  chainsRebuildLocked(env);
  // Wake its own waiters (they see -ENOENT) and those gated behind it (they recheck).
  Atomics.add(hk, s + S_BELL, 1);
  Atomics.notify(hk, s + S_BELL);
  Atomics.add(hk, s + S_READ_SEQ, 1);
  Atomics.notify(hk, s + S_READ_SEQ);
  return 0;
}

/**
 * Before `sub` leaves: a queue entry gated by it (the receiver just ahead) for a seq it has not
 * read is gated by `sub`'s own gate for that seq instead, so that its leaving releases those
 * behind it from itself only, not from the receivers further ahead (a gate names only the
 * receiver just ahead; its read of a seq stands for all those ahead of it). For a seq it has
 * read, its gate was passed: that is what releasing means. Q_GATE is the one queue word that
 * changes after publication; readers load it with Atomics at each look.
 * Cost: one walk of `sub`'s queue, then one of each other subscriber's (entries are in seq
 * order, so a Map of `sub`'s unread seqs is enough).
 */
function regate(hk: I32, hg: HooksGeometry, sub: number): void {
  const slot = sub & SUB_SLOT_MASK;
  const s = subWord(hg, slot);
  const mine = new Map<number, number>();
  const t = Atomics.load(hk, s + S_TAIL);
  for (let h = Atomics.load(hk, s + S_HEAD); h !== t; h = (h + 1) | 0) {
    const q = queueEntryWord(hg, slot, h);
    mine.set(hk[q + Q_SEQ]!, Atomics.load(hk, q + Q_GATE)); // entry words: published by S_TAIL
  }
  if (mine.size === 0) return;
  for (let other = 0; other < hg.maxSubs; other++) {
    const o = subWord(hg, other);
    if (other === slot || Atomics.load(hk, o + S_ID) < 0) continue;
    const ot = Atomics.load(hk, o + S_TAIL);
    for (let h = Atomics.load(hk, o + S_HEAD); h !== ot; h = (h + 1) | 0) {
      const q = queueEntryWord(hg, other, h);
      if (Atomics.load(hk, q + Q_GATE) !== sub + 1) continue;
      const gate = mine.get(hk[q + Q_SEQ]!);
      if (gate !== undefined) Atomics.store(hk, q + Q_GATE, gate);
    }
  }
}

/**
 * Attach every MM subscriber of `token` (pending, or still attached to a dead incarnation) to
 * set `set` of generation `setGen`, receiving from seq `from` on; then rebuild.
 *
 * @param from - LOG_HEAD read before the set was published, so that every event of the new
 *   set has a seq >= from
 *
 * Context: caller holds the set lock and DLOCK; never blocks. Idempotent (recorded as
 * REG_MM_ATTACH by the caller, so a thread taking the lock over repeats it).
 */
export function mmAttachLocked(
  env: ChainsEnv,
  token: number,
  set: number,
  setGen: number,
  from: number,
): void {
  const { hk, hg } = env;
  for (let slot = 0; slot < hg.maxSubs; slot++) {
    const s = subWord(hg, slot);
    if (Atomics.load(hk, s + S_ID) < 0 || Atomics.load(hk, s + S_KIND) !== SUBK_MM) continue;
    if (Atomics.load(hk, s + S_TOKEN) !== token) continue;
    Atomics.store(hk, s + S_FROM, from);
    Atomics.store(hk, s + S_SETGEN, setGen);
    Atomics.store(hk, s + S_SET, set);
  }
  chainsRebuildLocked(env);
}

/**
 * Recompute everything derived from the slots: detach subscribers of dead or reborn sets,
 * the chain order, the per-set and global counts, the subscriber bits of HOOKS.
 *
 * Context: caller holds DLOCK; never blocks. Allocates (control path only).
 */
export function chainsRebuildLocked(env: ChainsEnv): void {
  const { hk, hg } = env;
  const slots: number[] = [];
  const perSet = new Map<number, number>();
  let global = 0;
  for (let slot = 0; slot < hg.maxSubs; slot++) {
    const s = subWord(hg, slot);
    if (Atomics.load(hk, s + S_ID) < 0) continue;
    slots.push(slot);
    const kind = Atomics.load(hk, s + S_KIND);
    if (kind === SUBK_GLOBAL) {
      global++;
      continue;
    }
    const set = Atomics.load(hk, s + S_SET);
    if (set < 0) continue;
    if (env.setGen(set) !== Atomics.load(hk, s + S_SETGEN)) {
      // Its set died (or was reborn): MM -> pending for its token, set subscriber -> orphan.
      Atomics.store(hk, s + S_SET, -1);
      continue;
    }
    perSet.set(set, (perSet.get(set) ?? 0) + 1);
  }
  const key = (slot: number) => {
    const s = subWord(hg, slot);
    return [Atomics.load(hk, s + S_PRIO), Atomics.load(hk, s + S_ORDER)] as const;
  };
  slots.sort((a, b) => {
    const [pa, oa] = key(a);
    const [pb, ob] = key(b);
    return pb - pa || (oa - ob) | 0;
  });
  slots.forEach((slot, i) => {
    Atomics.store(hk, hg.orderBase + i, slot);
  });
  Atomics.store(hk, ORDER_COUNT_WORD, slots.length);
  // Final values only: an emitter never sees a transient 0 for a chain that has subscribers.
  for (let set = 0; set < hg.maxSets; set++) {
    const n = perSet.get(set) ?? 0;
    if (Atomics.load(hk, hg.chainsBase + set) !== n) Atomics.store(hk, hg.chainsBase + set, n);
  }
  Atomics.store(hk, GLOBAL_COUNT_WORD, global);
  // CAS loop: bit 0 belongs to the allocator registry (another lock); retries only when it
  // changed meanwhile.
  for (;;) {
    const w = Atomics.load(hk, HOOKS_WORD);
    const nw = (w & HOOKS_CUSTOM) | (slots.length * HOOKS_SUB_ONE);
    if (w === nw || Atomics.compareExchange(hk, HOOKS_WORD, w, nw) === w) return;
  }
}

/**
 * Membership work dead threads left (hooks.ts recovery, which takes no lock): unregister the
 * registrations that never returned (S_DOOMED), and do the MM attaches a dead setAlloc owed
 * (ATTACH_OWED entries: token + 1 and its `from`). Each item is cleared after it is done, so
 * a holder killed meanwhile leaves the rest for the next (its recovery sets HOUSEKEEPING
 * again).
 *
 * @param findMm - the live MM set of a token, or -1 (read lock-free: setInfo's seqlock)
 *
 * Context: caller holds DLOCK and found HOUSEKEEPING set; never blocks.
 */
export function housekeepingLocked(env: ChainsEnv, findMm: (token: number) => number): void {
  const { hk, hg } = env;
  if (Atomics.exchange(hk, HOUSEKEEPING_WORD, 0) === 0) return;
  for (let slot = 0; slot < hg.maxSubs; slot++) {
    const s = subWord(hg, slot);
    if (Atomics.load(hk, s + S_DOOMED) === 0) continue;
    const sub = Atomics.load(hk, s + S_ID);
    if (sub >= 0) subUnregisterLocked(env, sub);
    Atomics.store(hk, s + S_DOOMED, 0);
  }
  for (let k = 0; k < hg.maxThreads; k++) {
    const e = hg.attachBase + 2 * k;
    const tok = Atomics.load(hk, e);
    if (tok === 0) continue;
    const set = findMm(tok - 1);
    if (set >= 0) mmAttachLocked(env, tok - 1, set, env.setGen(set), Atomics.load(hk, e + 1));
    Atomics.store(hk, e, 0);
  }
}
