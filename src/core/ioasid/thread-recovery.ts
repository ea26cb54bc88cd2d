/**
 * Recovery of a dead thread's share of a space: what `IoasidSpace.releaseThread(slot)` does,
 * and what `attach()` does when the thread slot it inherits was left by a thread that died
 * without it. Also the thread-slot claim of `attach()`.
 *
 * ## Developer notes
 *
 * ### What a thread can hold when it dies, and where that is written down
 * Everything a thread holds privately is recorded in its thread slot (space-layout.ts TS_*)
 * with plain stores right after the atomic step that took it, with no call in between: a
 * terminated worker stops only at calls and loop back-edges (space-core.ts "Kill points").
 * - an operation in flight: TS_OP, an intent and its phase (the intent table in
 *   space-layout.ts: alloc, reclaim, setAlloc, installCapacity, attachSpid, detachSpid);
 * - capacity taken from a set it destroyed and not yet returned (TS_CAP), and capacity it
 *   reserved outside any set (TS_RESERVED);
 * - records: its cache, its retire batch, its own ring, the limbo chains a drain (or a steal
 *   of other threads' rings) of its holds;
 * - ids it freed and keeps in its id magazine (id-magazine.ts; their bits are set);
 * - the set lock or the SPID lock, which carry their owner's tag (slot + 1);
 * - its Rcu slot (a read-side section, GP_LOCK), released by `Rcu.resumeRelease`;
 * - the recovery of another dead thread's slot (TS_RECOVERING_SLOT, and that slot's STATE
 *   names it as recoverer), or of its own inherited slot when it died inside `attach()`
 *   (its STATE is RECOVERING by its own tag).
 *
 * ### The order-free recovery rule
 * Recovering a dead thread D:
 * 1. never waits for anything: it takes no lock (the SPID unhash of a reclaim is lock-free,
 *    spid.ts; a lock D holds is D's, and D's intents are finished under it before it is
 *    released) and waits for no grace period;
 * 2. continues D's intents in D's own words, recording each step right after it exactly as D
 *    would have (the kill point rule), so a recoverer killed anywhere leaves D's slot in a state
 *    from which any later recoverer continues exactly;
 * 3. has one owner at a time, named in D's STATE (RECOVERING, recoverer's tag << 8). If the
 *    owner is another thread R, R finishes it, or, if R died, whoever recovers R does (R's
 *    TS_RECOVERING_SLOT points at D): `releaseThread(D)` then returns at once. If the owner
 *    is D's own slot (a thread died in `attach()` while recovering the slot it inherited),
 *    `releaseThread(D)` or the next `attach()` into that slot takes it over;
 * 4. releases D's Rcu slot last when the owner is another thread (a `releaseThread`; an
 *    `attach()` recovering its own slot keeps the Rcu slot it holds), resumably
 *    (`Rcu.resumeRelease`), then sets RECOVERED, then leaves RECOVERING (to UNUSED, or to
 *    ATTACHED for an attach).
 * So `releaseThread` calls for several dead threads, in any order, each return without waiting
 * on any other thread, and once every dead thread had its call, everything is back.
 *
 * ### Where a thread can die, by path, and who finishes
 * - attach(): before its Rcu slot is claimed, nothing is held. With the Rcu slot claimed and
 *   the thread slot UNUSED, `releaseThread` releases the Rcu slot. With the thread slot
 *   ATTACHED, `releaseThread` recovers it. Recovering an inherited slot (RECOVERING by its own
 *   tag), `releaseThread` or the next `attach()` into the slot takes over.
 * - releaseThread(D) by T: before the claim, nothing. After it, D is RECOVERING by T and T's
 *   TS_RECOVERING_SLOT is D + 1 (written with no call after the claim): whoever recovers T
 *   finishes D. In D's Rcu slot release, OWNER is -owner until done (resumeRelease). Between
 *   RECOVERED and the final CAS, an `attach()` that got D's Rcu slot may finish it (CAS to
 *   ATTACHED, counting it in THREADS_RECOVERED); the recoverer's own final CAS then fails,
 *   harmlessly, and does not count it.
 * - A lock holder: the set lock (setAlloc, findMmSet, installCapacity, setFree) and the SPID
 *   lock (attachSpid, detachSpid) protect data that is consistent at every kill point
 *   (sets.ts, capacity.ts, spid.ts); what moved ownership is an intent or TS_CAP; the lock is
 *   released after the intents are finished.
 *
 * Not recovered: references a dead thread took with `get` (or findBySpid with get): they are
 * not tracked per thread, so its ids stay referenced (free-pending until someone puts them).
 * Ids it allocated stay allocated to their sets: `freeAllInSet` reclaims them.
 *
 * Cache records go to limbo, not to the free stack: see records.ts for the ABA argument this
 * keeps. Parameter names: `slot` a thread slot index, `ts` its first word, `tag` slot + 1.
 *
 * @internal
 */
import { capacityFinishInstall, capacityReturn } from './capacity.js';
import { magazineReclaim, magazineReturn, magazineReturnSteps } from './id-magazine.js';
import { bitmapRelease } from './pasid-bitmap.js';
import { batchSeal, chainTail, type GracePeriodSource, limboPush, recWord } from './records.js';
import { setReleaseUnit } from './sets.js';
import {
  MAP_IDX_MASK,
  mapSlot,
  REC_BATCH_COUNT,
  REC_BATCH_NEXT,
  REC_GEN_BITS,
  REC_NEXT,
  REC_STATE,
  SPACE_MIRROR_LOCK_WORD,
  SPACE_SET_LOCK_WORD,
  SPACE_SPID_LOCK_WORD,
  SPACE_STAT_THREADS_RECOVERED_WORD,
  type SpaceGeometry,
  TS_ALLOC_BIT,
  TS_ALLOC_RECORD,
  TS_ALLOC_UNIT,
  TS_ALLOC_XUNIT,
  TS_ATTACHED,
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
  TS_INSTALL_SWUNG,
  TS_MAG_RETURN_UNIT,
  TS_MAG_RETURNING,
  TS_OP,
  TS_OP_ALLOC,
  TS_OP_MASK,
  TS_OP_NONE,
  TS_OWN_BATCHES,
  TS_OWN_HEAD,
  TS_OWN_HELD,
  TS_OWN_TAIL,
  TS_REC,
  TS_RECLAIM_BIT_FREED,
  TS_RECLAIM_UNIT_FREED,
  TS_RECLAIM_WON,
  TS_RECOVERED,
  TS_RECOVERED_RCU_ONLY,
  TS_RECOVERED_THREAD,
  TS_RECOVERER_SHIFT,
  TS_RECOVERING,
  TS_RECOVERING_HELD,
  TS_RECOVERING_SLOT,
  TS_RESERVED,
  TS_SET,
  TS_SET_ALLOC_RESERVED,
  TS_SET_FREEING,
  TS_SPID_ATTACH_FLAGGED,
  TS_SPID_DETACHING,
  TS_STATE,
  TS_STATE_MASK,
  TS_UNUSED,
  threadSlotWord,
} from './space-layout.js';
import { lockForceRelease } from './space-lock.js';
import { spidBindLocked, spidUnbindLocked, unhashSpid } from './spid.js';

type I32 = Int32Array<SharedArrayBuffer>;

/** What recovery needs from the space's Rcu. */
export interface RecoveryRcu extends GracePeriodSource {
  resumeRelease(slot: number): boolean;
}

/**
 * The hooks' step of a recovery (notifier chains and custom allocators, hooks.ts): run before
 * the dead thread's intent is continued, told whether a half-done alloc published. It keeps
 * this module's rules (no wait, no lock, resumable).
 */
export interface RecoveryHooks {
  recoverSlot(slot: number, published: boolean): number;
}

/**
 * STATE of a slot being recovered by the thread whose tag is `tag`; `held`: the slot had a
 * thread, so the recovery counts in THREADS_RECOVERED (TS_RECOVERING_HELD).
 */
function recoveringBy(tag: number, held: boolean): number {
  return (tag << TS_RECOVERER_SHIFT) | (held ? TS_RECOVERING_HELD : 0) | TS_RECOVERING;
}

/** Does STATE value `st` (RECOVERING) say the slot had a thread? */
function recoveringHeld(st: number): boolean {
  return (st & TS_RECOVERING_HELD) !== 0;
}

/** Is STATE value `st` "RECOVERING, by the thread whose tag is `tag`"? */
function isRecoveringBy(st: number, tag: number): boolean {
  return (st & TS_STATE_MASK) === TS_RECOVERING && st >>> TS_RECOVERER_SHIFT === tag;
}

/**
 * `releaseThread(slot)`: recover dead thread slot `slot`, then release its Rcu slot, run by the
 * thread in slot `mySlot`.
 *
 * CAS loop on the slot's STATE: retries only when STATE changed (another recoverer claimed
 * or finished it first).
 *
 * Context: the caller is attached and outside a read-side section; `slot`'s thread is dead.
 * Never waits (the order-free rule, module notes).
 * @returns how many things were recovered; 0 when the slot held nothing or another
 * recoverer owns its recovery (which then releases the Rcu slot too)
 */
export function releaseDeadThread(
  i32: I32,
  g: SpaceGeometry,
  rcu: RecoveryRcu,
  mySlot: number,
  slot: number,
  hooks: RecoveryHooks,
): number {
  const ts = threadSlotWord(g, slot);
  for (;;) {
    const st = Atomics.load(i32, ts + TS_STATE);
    // Owned by another recoverer, alive or dead, which also releases the Rcu slot (rule 3):
    // never wait for it.
    if ((st & TS_STATE_MASK) === TS_RECOVERING && !isRecoveringBy(st, slot + 1)) return 0;
    // UNUSED (died in attach before claiming it: only the Rcu slot), ATTACHED (its owner
    // died), or RECOVERING by its own tag (died recovering its inherited slot): ours now.
    // Whether it had a thread goes into STATE with the claim (a successor of ours reads it).
    const state = st & TS_STATE_MASK;
    const held = state === TS_ATTACHED || (state === TS_RECOVERING && recoveringHeld(st));
    const claimed = recoveringBy(mySlot + 1, held);
    if (Atomics.compareExchange(i32, ts + TS_STATE, st, claimed) !== st) continue;
    // Kill point rule: recorded with no call since the claim.
    i32[ts + TS_RECOVERED] = 0;
    const mine = threadSlotWord(g, mySlot);
    i32[mine + TS_RECOVERING_SLOT] = slot + 1;
    return finishRecovery(i32, g, rcu, hooks, slot, mySlot + 1, TS_UNUSED, mine, held);
  }
}

/**
 * `attach()`: claim thread slot `slot`, the one of the Rcu slot this thread just registered.
 * A slot still ATTACHED was left by a thread that died and whose Rcu slot was released without
 * `releaseThread`; one RECOVERING by this slot's own tag, by a thread that died recovering it
 * in `attach()`. We hold that Rcu slot now, so they are dead: recover it here, keeping the Rcu
 * slot. A slot RECOVERING by another thread is that thread's to finish: once it set
 * RECOVERED it has nothing left to do but leave RECOVERING, which we do for it.
 *
 * CAS loop on STATE; it waits (Atomics.wait, 1 ms at a time) only in a case the protocol does
 * not produce: a slot still being recovered by another thread whose Rcu slot was released by
 * someone else (`rcu.releaseSlot` called directly while `releaseThread` ran).
 *
 * Context: the thread owns Rcu slot `slot`; outside a read-side section.
 * @returns how many things were recovered (0 for a clean slot)
 */
export function claimThreadSlot(
  i32: I32,
  g: SpaceGeometry,
  rcu: RecoveryRcu,
  slot: number,
  hooks: RecoveryHooks,
): number {
  const ts = threadSlotWord(g, slot);
  const tag = slot + 1;
  for (;;) {
    const st = Atomics.load(i32, ts + TS_STATE);
    const state = st & TS_STATE_MASK;
    if (state === TS_UNUSED) {
      // Pairs with detach's store and the recoverers' final CAS.
      if (Atomics.compareExchange(i32, ts + TS_STATE, st, TS_ATTACHED) === st) return 0;
      continue;
    }
    if (state === TS_ATTACHED || isRecoveringBy(st, tag)) {
      // Its own slot, ATTACHED when first claimed (by us, or by our own dead attach): held.
      const claimed = recoveringBy(tag, true);
      if (st !== claimed && Atomics.compareExchange(i32, ts + TS_STATE, st, claimed) !== st)
        continue;
      i32[ts + TS_RECOVERED] = 0; // kill point rule: no call since the claim
      return finishRecovery(i32, g, rcu, hooks, slot, tag, TS_ATTACHED, -1, true);
    }
    // RECOVERING by another thread R.
    const recovered = Atomics.load(i32, ts + TS_RECOVERED);
    if (recovered !== 0) {
      if (Atomics.compareExchange(i32, ts + TS_STATE, st, TS_ATTACHED) !== st) continue;
      // We ended R's recovery, so R's final CAS fails: the count is ours (once, as R's).
      if (recovered === TS_RECOVERED_THREAD) Atomics.add(i32, SPACE_STAT_THREADS_RECOVERED_WORD, 1);
      return 0;
    }
    Atomics.wait(i32, ts + TS_STATE, st, 1);
  }
}

/**
 * Run (or continue) the recovery of slot `slot`, owned by the thread whose tag is `tag`, to
 * its end: the share, then the Rcu slot release (unless `tag` is the slot's own: an attach),
 * RECOVERED, and STATE `final`.
 *
 * @param pointerTs - first word of the slot whose TS_RECOVERING_SLOT names `slot` (cleared at
 *   the end), or -1 for an attach recovering its own slot
 * @param counted - count the recovery in THREADS_RECOVERED (the slot had a thread)
 */
function finishRecovery(
  i32: I32,
  g: SpaceGeometry,
  rcu: RecoveryRcu,
  hooks: RecoveryHooks,
  slot: number,
  tag: number,
  final: number,
  pointerTs: number,
  counted: boolean,
): number {
  const ts = threadSlotWord(g, slot);
  // RECOVERED: only the release of RECOVERING is left (rule 4); the share must not be touched
  // again, since an attach may now own the slot and be using its words. (Defensive against a
  // live attacher running in parallel between the caller's STATE check and here; the
  // single-threaded kill-point tests cannot interleave inside a live thread's operation.)
  let n = Atomics.load(i32, ts + TS_RECOVERED) === 0 ? recoverShare(i32, g, rcu, hooks, slot) : 0;
  if (tag !== slot + 1 && Atomics.load(i32, ts + TS_RECOVERED) === 0) {
    const released = rcu.resumeRelease(slot);
    // Kill point rule: its last step was the OWNER CAS.
    i32[ts + TS_RECOVERED] = counted ? TS_RECOVERED_THREAD : TS_RECOVERED_RCU_ONLY;
    if (released) n++;
  }
  // A CAS: after RECOVERED, an attach into the released Rcu slot may have finished it for us,
  // and counted it then (claimThreadSlot). Whoever leaves RECOVERING counts, so exactly once;
  // a releaser goes by RECOVERED, which a recoverer that died before this CAS may have set.
  const owned = recoveringBy(tag, counted);
  if (Atomics.compareExchange(i32, ts + TS_STATE, owned, final) === owned) {
    const counts =
      tag === slot + 1 ? counted : Atomics.load(i32, ts + TS_RECOVERED) === TS_RECOVERED_THREAD;
    if (counts) Atomics.add(i32, SPACE_STAT_THREADS_RECOVERED_WORD, 1);
  }
  if (pointerTs >= 0) i32[pointerTs + TS_RECOVERING_SLOT] = 0;
  return n;
}

/**
 * Finish or roll back everything dead slot `slot` holds, step by step, each step recorded in
 * the slot's own words right after it (rule 2). Safe to run again from any kill point.
 * @returns how many things were recovered
 */
function recoverShare(
  i32: I32,
  g: SpaceGeometry,
  rcu: RecoveryRcu,
  hooks: RecoveryHooks,
  slot: number,
): number {
  const ts = threadSlotWord(g, slot);
  let n = 0;
  // 0. A recovery this thread was running when it died: it is ours to finish (rule 3).
  const p = Atomics.load(i32, ts + TS_RECOVERING_SLOT);
  if (p !== 0) {
    const target = p - 1;
    const st = Atomics.load(i32, threadSlotWord(g, target) + TS_STATE);
    // Counted as its claim said: the target had a thread, or only an Rcu slot.
    if (isRecoveringBy(st, slot + 1))
      n += finishRecovery(i32, g, rcu, hooks, target, slot + 1, TS_UNUSED, ts, recoveringHeld(st));
    else i32[ts + TS_RECOVERING_SLOT] = 0;
  }
  // 1. Capacity owed by a set destruction (before the intent, which may destroy a set too).
  n += returnUnits(i32, ts, TS_CAP);
  // 1b. Notifier chains and custom allocators (hooks.ts), before the intent is continued: an
  // event of an alloc is owed only if the alloc published (its intent is gone then).
  n += hooks.recoverSlot(slot, (Atomics.load(i32, ts + TS_OP) & TS_OP_MASK) !== TS_OP_ALLOC);
  // 2. The operation in flight.
  n += continueIntent(i32, g, ts);
  // 2b. A setFree's sweep of the PENDING set's parked charges (after the intent: a take-back
  // of the sweep may be that intent). Idempotent; its last take-back destroys the set when no
  // live id is left, which nobody else would do while the charges sit in live magazines.
  n += continueSetFreeSweep(i32, g, ts);
  // 3. Locks, once the intents that ran under them are finished.
  if (lockForceRelease(i32, SPACE_SET_LOCK_WORD, slot + 1)) n++;
  if (lockForceRelease(i32, SPACE_SPID_LOCK_WORD, slot + 1)) n++;
  // The mirror lock's holder leaves MIRROR_DIRTY (or a true state): the next sweep redoes it.
  if (lockForceRelease(i32, SPACE_MIRROR_LOCK_WORD, slot + 1)) n++;
  // 4. Capacity reserved outside sets.
  n += returnUnits(i32, ts, TS_RESERVED);
  // 5. Records: drain chains back to limbo, then the own ring, the retire batch, the cache.
  n += recoverDrain(i32, g, ts);
  n += recoverOwnRing(i32, g, ts);
  n += giveBack(i32, g, rcu, ts, TS_BATCH_HEAD, TS_BATCH_COUNT);
  n += giveBack(i32, g, rcu, ts, TS_CACHE_HEAD, TS_CACHE_COUNT);
  // 5b. Cached ids: bits back to the bitmap, their charges to their sets (id-magazine.ts).
  n += magazineReturn(i32, g, ts);
  // 6. Operands of finished intents.
  i32[ts + TS_SET] = 0;
  i32[ts + TS_ID] = 0;
  i32[ts + TS_REC] = 0;
  i32[ts + TS_AUX] = 0;
  return n;
}

/**
 * Redo the sweep a dead setFree owed (TS_SET_FREEING): take every id parked with a charge of
 * its set back from every magazine (id-magazine.ts magazineReclaim, each take-back recorded
 * in the dead slot `ts` itself), then clear the word. A kill anywhere in it leaves the word
 * set, and a successor sweeps again: a take-back is right for any set, even a new one.
 */
function continueSetFreeSweep(i32: I32, g: SpaceGeometry, ts: number): number {
  const set = Atomics.load(i32, ts + TS_SET_FREEING) - 1;
  if (set < 0) return 0;
  magazineReclaim(i32, g, ts, set);
  i32[ts + TS_SET_FREEING] = 0;
  return 1;
}

/** Give the capacity units in word `w` of slot `ts` back to AVAILABLE. */
function returnUnits(i32: I32, ts: number, w: number): number {
  const units = Atomics.load(i32, ts + w);
  if (units === 0) return 0;
  capacityReturn(i32, units);
  i32[ts + w] = 0; // kill point rule: the add was capacityReturn's last step
  return 1;
}

/**
 * Continue the intent in TS_OP, one step at a time, each followed by its phase exactly as
 * the operation records it (intent table in space-layout.ts), until TS_OP is NONE.
 */
function continueIntent(i32: I32, g: SpaceGeometry, ts: number): number {
  let n = 0;
  for (; ; n++) {
    const op = Atomics.load(i32, ts + TS_OP);
    const set = Atomics.load(i32, ts + TS_SET);
    const id = Atomics.load(i32, ts + TS_ID);
    switch (op) {
      case TS_OP_NONE:
        return n > 0 ? 1 : 0;
      case TS_ALLOC_RECORD: {
        // Record REC was popped (and maybe written: a FREE STATE keeps its generation) but
        // not published: back into the cache. Plain stores only, so no kill point between.
        const x = i32[ts + TS_REC]!;
        const r = recWord(g, x - 1);
        i32[r + REC_STATE] = i32[r + REC_STATE]! & REC_GEN_BITS;
        i32[r + REC_NEXT] = i32[ts + TS_CACHE_HEAD]!;
        i32[ts + TS_CACHE_HEAD] = x;
        i32[ts + TS_CACHE_COUNT]! += 1;
        i32[ts + TS_OP] = TS_ALLOC_BIT;
        break;
      }
      case TS_ALLOC_BIT:
        bitmapRelease(i32, g.bitmapBase, id);
        i32[ts + TS_OP] = TS_ALLOC_UNIT;
        break;
      case TS_ALLOC_UNIT:
        setReleaseUnit(i32, g, set, ts, TS_OP_NONE); // records TS_OP (and TS_CAP) itself
        break;
      case TS_RECLAIM_WON: {
        const r = recWord(g, (Atomics.load(i32, ts + TS_AUX) & MAP_IDX_MASK) - 1);
        unhashSpid(i32, g, r, set); // lock-free and idempotent
        // The bit is still the dead thread's, so map[id] is its map word or already 0.
        Atomics.store(i32, g.mapBase + mapSlot(g, id), 0);
        bitmapRelease(i32, g.bitmapBase, id);
        i32[ts + TS_OP] = TS_RECLAIM_BIT_FREED;
        break;
      }
      case TS_MAG_RETURNING:
      case TS_MAG_RETURN_UNIT:
        magazineReturnSteps(i32, g, ts); // the bit, then the entry's charge
        break;
      case TS_ALLOC_XUNIT:
        // The charge of the magazine entry the id came from (space-core.ts #claimId,
        // #claimBitmap, #claimCustom: an own entry, a steal).
        setReleaseUnit(i32, g, Atomics.load(i32, ts + TS_AUX), ts, TS_ALLOC_BIT);
        break;
      case TS_RECLAIM_BIT_FREED:
        setReleaseUnit(i32, g, set, ts, TS_RECLAIM_UNIT_FREED);
        break;
      case TS_RECLAIM_UNIT_FREED: {
        // Into the retire batch, as #reclaim does: plain stores, no kill point between.
        const x = i32[ts + TS_AUX]! & MAP_IDX_MASK;
        i32[recWord(g, x - 1) + REC_NEXT] = i32[ts + TS_BATCH_HEAD]!;
        i32[ts + TS_BATCH_HEAD] = x;
        i32[ts + TS_BATCH_COUNT]! += 1;
        i32[ts + TS_OP] = TS_OP_NONE;
        break;
      }
      case TS_SET_ALLOC_RESERVED:
        capacityReturn(i32, Atomics.load(i32, ts + TS_AUX));
        i32[ts + TS_OP] = TS_OP_NONE;
        break;
      case TS_INSTALL_SWUNG:
        capacityFinishInstall(i32, Atomics.load(i32, ts + TS_AUX));
        i32[ts + TS_OP] = TS_OP_NONE;
        break;
      case TS_SPID_ATTACH_FLAGGED: {
        // Still under the dead thread's SPID lock (released in step 3, after this), and the
        // record is pinned by its read-side section (its Rcu slot is released last).
        const m = Atomics.load(i32, ts + TS_AUX);
        spidBindLocked(i32, g, recWord(g, (m & MAP_IDX_MASK) - 1), m, set, id);
        i32[ts + TS_OP] = TS_OP_NONE;
        break;
      }
      case TS_SPID_DETACHING: {
        const m = Atomics.load(i32, ts + TS_AUX);
        spidUnbindLocked(i32, g, recWord(g, (m & MAP_IDX_MASK) - 1), m, set, id);
        i32[ts + TS_OP] = TS_OP_NONE;
        break;
      }
      default:
        throw new Error(`internal: unknown intent ${op} in a thread slot`);
    }
  }
}

/** Push the limbo chains a dead drain held back onto limbo (their cookies are unchanged). */
function recoverDrain(i32: I32, g: SpaceGeometry, ts: number): number {
  let n = 0;
  for (const [headWord, tailWord] of [
    [TS_DRAIN_READY, TS_DRAIN_READY_TAIL],
    [TS_DRAIN_KEEP, TS_DRAIN_KEEP_TAIL],
  ] as const) {
    const head = Atomics.load(i32, ts + headWord);
    if (head === 0) continue;
    const tail = Atomics.load(i32, ts + tailWord);
    n += chainRecords(i32, g, head, tail);
    limboPush(i32, g, head, tail);
    i32[ts + headWord] = 0; // kill point rule: the push's CAS was its last step
    i32[ts + tailWord] = 0;
  }
  const rest = Atomics.load(i32, ts + TS_DRAIN_REST);
  if (rest !== 0) {
    // The rest of the chain is untouched: its links are the original limbo links.
    const tail = chainTail(i32, g, rest);
    n += chainRecords(i32, g, rest, tail);
    limboPush(i32, g, rest, tail);
    i32[ts + TS_DRAIN_REST] = 0;
  }
  return n;
}

/**
 * Push a dead thread's own ring (records.ts "Own ring") onto limbo: the chain in TS_OWN_HEAD
 * (unless a thief took it) or the one it held in TS_OWN_HELD (never both at a kill point).
 * TS_OWN_TAIL is the tail of whichever it is.
 */
function recoverOwnRing(i32: I32, g: SpaceGeometry, ts: number): number {
  let head = Atomics.exchange(i32, ts + TS_OWN_HEAD, 0);
  if (head === 0) head = Atomics.load(i32, ts + TS_OWN_HELD);
  i32[ts + TS_OWN_HELD] = head; // kill point rule: a recoverer's death leaves it here
  if (head === 0) return 0;
  const tail = Atomics.load(i32, ts + TS_OWN_TAIL);
  const n = chainRecords(i32, g, head, tail);
  limboPush(i32, g, head, tail);
  i32[ts + TS_OWN_HELD] = 0; // kill point rule: the push's CAS was its last step
  i32[ts + TS_OWN_TAIL] = 0;
  i32[ts + TS_OWN_BATCHES] = 0;
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
  i32[ts + headWord] = 0; // kill point rule: the push's CAS was its last step
  i32[ts + countWord] = 0;
  return count;
}
