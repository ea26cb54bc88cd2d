/**
 * Recovery of a dead thread's share of a space: what `IoasidSpace.releaseThread` does before
 * it frees the thread's Rcu slot, and what `attach()` does when it inherits a slot whose
 * previous owner died without that.
 *
 * A thread keeps everything it holds privately in its thread slot (space-layout.ts TS_*), written
 * with plain stores right after the atomic step that took it (space-core.ts "Kill points"):
 *
 * - the intent of the operation in flight (alloc, reclaim, setAlloc, installCapacity) and how
 *   far it got;
 * - capacity it took from a set it destroyed and has not yet returned (TS_CAP);
 * - its free-record cache, its retire batch, and the limbo chains a drain of its holds;
 * - the set lock or SPID lock, which carry their owner's tag (slot + 1).
 *
 * Recovery finishes or rolls back exactly what those words say, then gives every record back
 * through limbo. Ids the thread had allocated (published) stay allocated: they belong to the
 * caller's sets, and `freeAllInSet` reclaims them. References taken with get/findBySpid are
 * not tracked per thread and are not recovered (an id then stays free-pending).
 *
 * Developer notes: the caller owns the slot exclusively (TS_STATE is RECOVERING, set by CAS),
 * and its previous owner is dead, so the slot words are read with Atomics but nothing races
 * on them. The locks are released first (a dead holder would block the SPID unhash below).
 * TS_CAP is settled before the intent, because rolling back an intent may destroy a set,
 * which uses the recovering thread's own TS_CAP (the same words when `attach()` recovers its
 * own slot). Cache records go to limbo, not to the free stack: see records.ts for the ABA
 * argument this keeps.
 *
 * @internal
 */
import { capacityFinishInstall, capacityReturn } from './capacity.js';
import { bitmapRelease } from './pasid-bitmap.js';
import { batchSeal, chainTail, type GracePeriodSource, limboPush, recWord } from './records.js';
import { setReleaseUnit } from './sets.js';
import {
  MAP_IDX_MASK,
  REC_BATCH_COUNT,
  REC_BATCH_NEXT,
  REC_GEN_BITS,
  REC_NEXT,
  REC_SPID,
  REC_SPID_NONE,
  REC_STATE,
  SPACE_SET_LOCK_WORD,
  SPACE_SPID_LOCK_WORD,
  type SpaceGeometry,
  TS_AUX,
  TS_BATCH_COUNT,
  TS_BATCH_HEAD,
  TS_CACHE_COUNT,
  TS_CACHE_HEAD,
  TS_CAP,
  TS_DRAIN_KEEP,
  TS_DRAIN_KEEP_TAIL,
  TS_DRAIN_READY,
  TS_DRAIN_READY_TAIL,
  TS_DRAIN_REST,
  TS_ID,
  TS_OP,
  TS_OP_ALLOC,
  TS_OP_INSTALL,
  TS_OP_MASK,
  TS_OP_NONE,
  TS_OP_RECLAIM,
  TS_OP_SET_ALLOC,
  TS_PHASE_SHIFT,
  TS_REC,
  TS_SET,
  threadSlotWord,
} from './space-layout.js';
import { lockForceRelease } from './space-lock.js';
import { unhashSpid } from './spid.js';

type I32 = Int32Array<SharedArrayBuffer>;

/** The recovering thread: its own slot words (for TS_CAP/TS_OP) and lock tag. */
export interface Recoverer {
  readonly ts: number;
  readonly tag: number;
}

/**
 * Finish or roll back everything dead slot `slot` holds in the space.
 *
 * Context: the caller set the slot's TS_STATE to RECOVERING (exclusive) and the slot's owner
 * is dead; not inside a read-side section; may take the SPID lock briefly; never waits for
 * a grace period.
 * @returns how many things were recovered: locks released, intents finished or rolled back,
 * owed capacity returned, and records given back to limbo
 */
export function recoverThreadSlot(
  i32: I32,
  g: SpaceGeometry,
  gp: GracePeriodSource,
  me: Recoverer,
  slot: number,
): number {
  const ts = threadSlotWord(g, slot);
  let n = 0;
  if (lockForceRelease(i32, SPACE_SET_LOCK_WORD, slot + 1)) n++;
  if (lockForceRelease(i32, SPACE_SPID_LOCK_WORD, slot + 1)) n++;
  const cap = Atomics.load(i32, ts + TS_CAP);
  if (cap !== 0) {
    capacityReturn(i32, cap);
    Atomics.store(i32, ts + TS_CAP, 0);
    n++;
  }
  n += recoverIntent(i32, g, me, ts);
  n += recoverDrain(i32, g, ts);
  n += giveBack(i32, g, gp, ts, TS_BATCH_HEAD, TS_BATCH_COUNT);
  n += giveBack(i32, g, gp, ts, TS_CACHE_HEAD, TS_CACHE_COUNT);
  for (const w of [TS_OP, TS_SET, TS_ID, TS_REC, TS_AUX]) Atomics.store(i32, ts + w, 0);
  return n;
}

/**
 * Finish or roll back the operation TS_OP describes. Each phase was recorded right after the
 * atomic step it names, so "phase p" means exactly "steps 1..p done, p+1.. not done".
 */
function recoverIntent(i32: I32, g: SpaceGeometry, me: Recoverer, ts: number): number {
  const op = Atomics.load(i32, ts + TS_OP);
  const phase = op >>> TS_PHASE_SHIFT;
  const set = Atomics.load(i32, ts + TS_SET);
  const id = Atomics.load(i32, ts + TS_ID);
  switch (op & TS_OP_MASK) {
    case TS_OP_ALLOC: {
      // Phase 3: record REC was popped from the cache (and maybe given a LIVE STATE) but the
      // map store had not happened (the OP store follows it with no call in between).
      if (phase >= 3) {
        const x = Atomics.load(i32, ts + TS_REC);
        const r = recWord(g, x - 1);
        Atomics.store(i32, r + REC_STATE, Atomics.load(i32, r + REC_STATE) & REC_GEN_BITS);
        Atomics.store(i32, r + REC_NEXT, Atomics.load(i32, ts + TS_CACHE_HEAD));
        Atomics.store(i32, ts + TS_CACHE_HEAD, x);
        Atomics.add(i32, ts + TS_CACHE_COUNT, 1);
      }
      if (phase >= 2) bitmapRelease(i32, g.bitmapBase, id);
      if (phase >= 1) setReleaseUnit(i32, g, set, me.ts, TS_OP_NONE);
      return phase >= 1 ? 1 : 0;
    }
    case TS_OP_RECLAIM: {
      // The dead thread won the CAS to FREE (phase 0 is recorded right after it).
      const m = Atomics.load(i32, ts + TS_AUX);
      const x = m & MAP_IDX_MASK;
      const r = recWord(g, x - 1);
      if (phase < 1) {
        if (Atomics.load(i32, r + REC_SPID) !== REC_SPID_NONE) unhashSpid(i32, g, r, set, me.tag);
        // The bit is still the dead thread's, so map[id] is m or already 0.
        Atomics.store(i32, g.mapBase + id, 0);
        bitmapRelease(i32, g.bitmapBase, id);
      }
      if (phase < 2) setReleaseUnit(i32, g, set, me.ts, TS_OP_NONE);
      // Linking into the batch and clearing OP happen with no call in between: not linked yet.
      Atomics.store(i32, r + REC_NEXT, Atomics.load(i32, ts + TS_BATCH_HEAD));
      Atomics.store(i32, ts + TS_BATCH_HEAD, x);
      Atomics.add(i32, ts + TS_BATCH_COUNT, 1);
      return 1;
    }
    case TS_OP_SET_ALLOC:
      // Capacity reserved, set not published (OP is cleared right after the publishing store).
      capacityReturn(i32, Atomics.load(i32, ts + TS_AUX));
      return 1;
    case TS_OP_INSTALL:
      capacityFinishInstall(i32, Atomics.load(i32, ts + TS_AUX));
      return 1;
    default:
      return 0;
  }
}

/** Push the limbo chains a dead drain held back onto limbo (their cookies are unchanged). */
function recoverDrain(i32: I32, g: SpaceGeometry, ts: number): number {
  let n = 0;
  const chains: Array<[number, number]> = [
    [TS_DRAIN_READY, TS_DRAIN_READY_TAIL],
    [TS_DRAIN_KEEP, TS_DRAIN_KEEP_TAIL],
  ];
  for (const [headWord, tailWord] of chains) {
    const head = Atomics.load(i32, ts + headWord);
    if (head !== 0) {
      n += chainRecords(i32, g, head, Atomics.load(i32, ts + tailWord));
      limboPush(i32, g, head, Atomics.load(i32, ts + tailWord));
    }
    Atomics.store(i32, ts + headWord, 0);
    Atomics.store(i32, ts + tailWord, 0);
  }
  const rest = Atomics.load(i32, ts + TS_DRAIN_REST);
  if (rest !== 0) {
    // The rest of the chain is untouched: its links are the original limbo links.
    const tail = chainTail(i32, g, rest);
    n += chainRecords(i32, g, rest, tail);
    limboPush(i32, g, rest, tail);
    Atomics.store(i32, ts + TS_DRAIN_REST, 0);
  }
  return n;
}

/** Records in the batches head..tail (BATCH_NEXT-linked; tail's link may be stale). */
function chainRecords(i32: I32, g: SpaceGeometry, head: number, tail: number): number {
  let n = 0;
  for (let x = head; ; ) {
    const r = recWord(g, x - 1);
    n += Atomics.load(i32, r + REC_BATCH_COUNT);
    if (x === tail) return n;
    x = Atomics.load(i32, r + REC_BATCH_NEXT);
  }
}

/** Seal the NEXT-linked private chain at `headWord` as one batch and push it to limbo. */
function giveBack(
  i32: I32,
  g: SpaceGeometry,
  gp: GracePeriodSource,
  ts: number,
  headWord: number,
  countWord: number,
): number {
  const head = Atomics.load(i32, ts + headWord);
  if (head === 0) return 0;
  let count = 0;
  for (let x = head; x !== 0 && count <= g.maxIoasids; count++) {
    x = Atomics.load(i32, recWord(g, x - 1) + REC_NEXT);
  }
  batchSeal(i32, g, head, count, gp);
  limboPush(i32, g, head, head);
  Atomics.store(i32, ts + headWord, 0);
  Atomics.store(i32, ts + countWord, 0);
  return count;
}
