/**
 * The record pool: `maxIoasids` fixed-size records, one per live id, recycled through RCU.
 *
 * A record holds one allocation: its STATE word [gen:12 | refs:17 | SPID | st:2], its KEY
 * [gen:12 | set:16], id, data and SPID. Records move in batches (NEXT-linked chains of up to
 * RETIRE_BATCH records whose first record, the batch head, holds the count, a cookie and the
 * link to the next batch). The life of a record:
 *
 * ```text
 * free stack --pop batch--> thread cache --alloc--> published --reclaim--> retire batch
 *     ^                    (private)                                      (private)
 *     +---- drain, once a grace period has passed since the cookie ---- limbo <--push--+
 * ```
 *
 * so a record leaves limbo only after a grace period (the kernel's `kfree_rcu`): a reader that
 * found it through the id map or the SPID table can finish reading it.
 *
 * Own ring. A full retire batch does not go to limbo but to the thread's own ring (TS_OWN_*:
 * a FIFO of sealed batches, private like the retire batch), and a refill takes the oldest one
 * back as its cache once its grace period has passed:
 *
 * ```text
 * retire batch --seal--> own ring --grace period passed, at refill--> thread cache
 * ```
 *
 * Why: through the shared stacks, a batch one CPU retired is popped by whichever CPU refills
 * next, and every record line of it then moves between the CPUs' caches: on 2 vCPUs that was
 * ~30% of an alloc+free pair on disjoint sets, where two separate spaces lost nothing
 * (bench/FINDINGS.md). The ring keeps a thread's records on its CPU and takes the free stack
 * off the steady state (limbo's head is still exchanged once every #driveEvery batches, by
 * #batchFullSlow's drain). Bounds: the ring holds at most maxIoasids / (4 * maxThreads)
 * records (space-core.ts #ownCap; a pool of fewer than 4 * maxThreads * retireBatch records
 * has no ring and keeps using limbo), and a full ring pushes new batches to limbo. A refill
 * whose oldest own batch is not ready drives a grace period once the ring is half full.
 * Records in a ring are no thread's but its owner's to reuse, so the ring's head word is the
 * one other threads may take, with one exchange (ringsSteal): flushRecords and a refill that
 * found neither a ready own batch nor a free batch push every other thread's ring to limbo
 * (an idle thread's ring would otherwise keep its records for good), and detach,
 * flushRecords, releaseThread and such a refill push the caller's own. The owner works on its
 * ring after taking it out of the head word (TS_OWN_HELD) and puts it back with one store;
 * only the owner stores a non-zero head, so a thief and the owner never both hold it.
 *
 * Developer notes.
 * - A thread's cache and retire batch live in its thread slot (space-layout.ts TS_*), written with
 *   plain stores by that thread only, so `releaseThread` can recover them after it dies.
 *   Records in them are private: the cache holds records that came off the free stack or
 *   the thread's own ring (reachable by no reader: a grace period passed after they were
 *   unpublished, and no map word or SPID entry points at them); the retire batch and the own
 *   ring hold records this thread reclaimed and unpublished itself (a thief that takes a ring
 *   only pushes it to limbo). No other thread writes a private record; stale writers
 *   (free/get/put that validated an older STATE) only attempt a CAS on STATE, which fails
 *   because the generation or the FREE state differs.
 * - Free stack: head = [tag:12 | idx+1:20] of the top batch. Pop runs inside a read-side
 *   section, and every batch pushed onto the free stack went through limbo after it was last
 *   popped (thread caches given back by detach/releaseThread are pushed to limbo, not here),
 *   so a batch popped by another thread after we loaded the head cannot be back on the stack
 *   before our section ends: the classic pop ABA cannot happen. The tag is a second,
 *   redundant defence (labelled as such).
 * - Limbo is a stack of batches, pushed by CAS (ABA-harmless) and emptied by a drain with one
 *   `Atomics.exchange`; the drain sorts batches by cookie in O(batches) and pushes the ready
 *   chain onto the free stack and the rest back onto limbo, one CAS each. While one thread
 *   drains, limbo looks empty to the others.
 * - Kill safety: every step that moves batches into or out of shared stacks is followed, with
 *   no call in between, by plain stores into the caller's thread slot saying what the thread
 *   now holds (space-core.ts "Kill points"); a drain keeps its three chains (rest, ready, keep) in
 *   TS_DRAIN_* at every kill point, so `releaseThread` can push them back.
 * - Rejected: one shared limbo list of single records (a drain walked every record: quadratic
 *   under load); hazard pointers (a store+fence per record visited, against one read-side
 *   section per lookup); returning thread caches straight to the free stack (breaks the ABA
 *   argument above).
 * Parameter names: `i32` the space view, `g` its geometry, `idx` a record index, `x` an
 * idx+1 (0 = none), `ts` the calling thread's slot base word.
 *
 * @internal
 */
import {
  REC_BATCH_COUNT,
  REC_BATCH_NEXT,
  REC_COOKIE,
  REC_GEN_BITS,
  REC_NEXT,
  REC_SPID,
  REC_SPID_NONE,
  REC_ST_FREE,
  REC_ST_MASK,
  REC_STATE,
  SPACE_FREE_HEAD_WORD,
  SPACE_LIMBO_HEAD_WORD,
  SPACE_REC_WORDS,
  SPACE_STACK_IDX_MASK,
  SPACE_STACK_TAG_MASK,
  SPACE_STACK_TAG_SHIFT,
  SPACE_STAT_DRAINS_WORD,
  SPACE_STAT_RECYCLED_WORD,
  type SpaceGeometry,
  TS_BATCH_COUNT,
  TS_CACHE_COUNT,
  TS_DRAIN_KEEP,
  TS_DRAIN_KEEP_TAIL,
  TS_DRAIN_READY,
  TS_DRAIN_READY_TAIL,
  TS_DRAIN_REST,
  TS_OWN_HEAD,
  TS_OWN_HELD,
  TS_OWN_RECYCLED,
  threadSlotWord,
} from './space-layout.js';

type I32 = Int32Array<SharedArrayBuffer>;

/** What the pool needs from RCU (the space's `Rcu` provides it). */
export interface GracePeriodSource {
  getState(): number;
  pollState(cookie: number): boolean;
  completedGracePeriods(): number;
}

/** Cookies are stored modulo 2^31 and compared by serial arithmetic. */
export const COOKIE_MASK = 0x7fffffff;

/** First word of record `idx`. */
export function recWord(g: SpaceGeometry, idx: number): number {
  return g.recordsBase + idx * SPACE_REC_WORDS;
}

/**
 * Initialise every record as free and stack them all on the free stack in batches of
 * `batch`, record 0 in the top batch.
 *
 * Context: `create()` only, before the buffer is shared.
 */
export function recordsInit(i32: I32, g: SpaceGeometry, batch: number): void {
  let below = 0;
  // Build from the bottom batch up, so the top batch holds the lowest indices.
  const last = Math.floor((g.maxIoasids - 1) / batch) * batch;
  for (let first = last; first >= 0 && g.maxIoasids > 0; first -= batch) {
    const end = Math.min(first + batch, g.maxIoasids);
    for (let idx = first; idx < end; idx++) {
      const r = recWord(g, idx);
      Atomics.store(i32, r + REC_STATE, REC_ST_FREE);
      Atomics.store(i32, r + REC_SPID, REC_SPID_NONE);
      Atomics.store(i32, r + REC_NEXT, idx + 1 < end ? idx + 2 : 0);
    }
    const h = recWord(g, first);
    Atomics.store(i32, h + REC_BATCH_COUNT, end - first);
    Atomics.store(i32, h + REC_BATCH_NEXT, below);
    below = first + 1;
  }
  Atomics.store(i32, SPACE_FREE_HEAD_WORD, below);
}

/**
 * Pop the top batch of the free stack.
 *
 * CAS loop on the head: retries only when the head changed (another pop or push made
 * progress). ABA defence: see the module notes (read-side section, plus the tag).
 *
 * Context: the caller MUST be inside an RCU read-side section; never blocks. Kill point rule:
 * the caller records the returned batch in its thread slot with plain stores right after.
 * @returns idx+1 of the batch head (its BATCH_COUNT records, NEXT-linked), or 0 when empty.
 */
export function freeStackPop(i32: I32, g: SpaceGeometry): number {
  for (;;) {
    const h = Atomics.load(i32, SPACE_FREE_HEAD_WORD);
    const top = h & SPACE_STACK_IDX_MASK;
    if (top === 0) return 0;
    const next = Atomics.load(i32, recWord(g, top - 1) + REC_BATCH_NEXT);
    // Redundant ABA defence: the tag (the read-side section is the real one, exact: no batch
    // popped after our head load is back on the stack before our section ends; so the
    // 12-bit tag's wrap after 4096 pushes needs no bound of its own).
    const tag = ((h >>> SPACE_STACK_TAG_SHIFT) + 1) & SPACE_STACK_TAG_MASK;
    // Takes the batch; pairs with the CAS in freeStackPush.
    const nh = (tag << SPACE_STACK_TAG_SHIFT) | next;
    if (Atomics.compareExchange(i32, SPACE_FREE_HEAD_WORD, h, nh) === h) return top;
  }
}

/**
 * Push a chain of batches `head`..`tail` (linked through BATCH_NEXT, each with its count),
 * whose grace periods have passed, onto the free stack.
 *
 * CAS loop: retries only when the head changed (progress elsewhere); bumps the tag.
 *
 * Context: any thread; never blocks. The caller clears what it recorded about the chain right
 * after this returns (kill point rule); `tail`'s BATCH_NEXT is rewritten on every attempt.
 */
export function freeStackPush(i32: I32, g: SpaceGeometry, head: number, tail: number): void {
  const t = recWord(g, tail - 1) + REC_BATCH_NEXT;
  for (;;) {
    const h = Atomics.load(i32, SPACE_FREE_HEAD_WORD);
    Atomics.store(i32, t, h & SPACE_STACK_IDX_MASK);
    const tag = ((h >>> SPACE_STACK_TAG_SHIFT) + 1) & SPACE_STACK_TAG_MASK;
    // Publishes the chain's links and counts; pairs with the loads in freeStackPop.
    const nh = (tag << SPACE_STACK_TAG_SHIFT) | head;
    if (Atomics.compareExchange(i32, SPACE_FREE_HEAD_WORD, h, nh) === h) return;
  }
}

/**
 * Push a chain of batches `head`..`tail` onto limbo. Each batch head carries its cookie.
 *
 * CAS push: retries only when the head changed (progress); a push is ABA-immune.
 *
 * Context: any thread; never blocks. Kill point rule as in freeStackPush.
 */
export function limboPush(i32: I32, g: SpaceGeometry, head: number, tail: number): void {
  const t = recWord(g, tail - 1) + REC_BATCH_NEXT;
  for (;;) {
    const h = Atomics.load(i32, SPACE_LIMBO_HEAD_WORD);
    Atomics.store(i32, t, h);
    // Publishes the batches (links, cookies, counts); pairs with the exchange in recordsDrain.
    if (Atomics.compareExchange(i32, SPACE_LIMBO_HEAD_WORD, h, head) === h) return;
  }
}

/**
 * Turn the private chain `first` (NEXT-linked, `count` records) into a batch tagged with a
 * cookie taken now, ready for limboPush. The cookie is taken after every record in it was
 * unpublished, so one grace period from it covers them all.
 *
 * Context: the chain is private to the caller; never blocks.
 */
export function batchSeal(
  i32: I32,
  g: SpaceGeometry,
  first: number,
  count: number,
  gp: GracePeriodSource,
): void {
  const r = recWord(g, first - 1);
  Atomics.store(i32, r + REC_COOKIE, gp.getState() & COOKIE_MASK);
  Atomics.store(i32, r + REC_BATCH_COUNT, count);
}

/**
 * Has the grace period of a stored cookie (mod 2^31) completed, given `done` completed grace
 * periods? A cookie is at most two grace periods ahead of the count when it was taken
 * (getState), and the count only grows: a cookie 1 or 2 ahead of `done` is not due, and any
 * other difference is a cookie that has passed, however long ago (a batch that waited 2^30
 * grace periods or more, say in an idle thread's ring while others drove them). Never early;
 * after exactly k * 2^31 - 1 or - 2 grace periods it reads "not yet" for one or two more.
 */
export function cookieReady(stored: number, done: number): boolean {
  return ((stored - done - 1) & COOKIE_MASK) >= 2;
}

/**
 * Move every limbo batch whose grace period has passed to the free stack.
 *
 * @param driveSteps - `pollState` steps to advance grace periods first (0 = just look)
 * @param ts - the calling thread's slot base word (TS_DRAIN_* record the chains it holds)
 *
 * Cost: one exchange, then O(batches), then at most two CAS pushes.
 *
 * Context: a registered thread; outside a read-side section if driving is to achieve
 * anything (a grace period cannot end while the caller itself is a reader); never blocks.
 * @returns how many records moved to the free stack.
 */
export function recordsDrain(
  i32: I32,
  g: SpaceGeometry,
  gp: GracePeriodSource,
  driveSteps: number,
  ts: number,
): number {
  const chain = Atomics.exchange(i32, SPACE_LIMBO_HEAD_WORD, 0);
  // Kill point rule: the chain is ours from the exchange on; record it before any call.
  i32[ts + TS_DRAIN_REST] = chain;
  if (chain === 0) return 0;
  Atomics.add(i32, SPACE_STAT_DRAINS_WORD, 1);
  if (driveSteps > 0) driveGracePeriods(i32, g, gp, chain, driveSteps);
  const done = gp.completedGracePeriods();
  const base = g.recordsBase;
  let readyHead = 0;
  let readyTail = 0;
  let keepHead = 0;
  let keepTail = 0;
  let moved = 0;
  for (let x = chain; x !== 0; ) {
    const r = base + (x - 1) * SPACE_REC_WORDS;
    const next = Atomics.load(i32, r + REC_BATCH_NEXT);
    const ready = cookieReady(Atomics.load(i32, r + REC_COOKIE), done);
    if (ready) moved += Atomics.load(i32, r + REC_BATCH_COUNT);
    // Prepend x to its chain; then, with no call in between, record all three chains so that
    // every kill point (the calls above and the back-edge) sees each batch exactly once.
    Atomics.store(i32, r + REC_BATCH_NEXT, ready ? readyHead : keepHead);
    if (ready) {
      if (readyTail === 0) readyTail = x;
      readyHead = x;
    } else {
      if (keepTail === 0) keepTail = x;
      keepHead = x;
    }
    i32[ts + TS_DRAIN_READY] = readyHead;
    i32[ts + TS_DRAIN_READY_TAIL] = readyTail;
    i32[ts + TS_DRAIN_KEEP] = keepHead;
    i32[ts + TS_DRAIN_KEEP_TAIL] = keepTail;
    i32[ts + TS_DRAIN_REST] = next;
    x = next;
  }
  if (keepHead !== 0) {
    limboPush(i32, g, keepHead, keepTail);
    i32[ts + TS_DRAIN_KEEP] = 0;
    i32[ts + TS_DRAIN_KEEP_TAIL] = 0;
  }
  if (readyHead !== 0) {
    freeStackPush(i32, g, readyHead, readyTail);
    i32[ts + TS_DRAIN_READY] = 0;
    i32[ts + TS_DRAIN_READY_TAIL] = 0;
    Atomics.add(i32, SPACE_STAT_RECYCLED_WORD, moved);
  }
  return moved;
}

/** Advance grace periods up to `steps` pollState steps, towards the newest batch's cookie. */
function driveGracePeriods(
  i32: I32,
  g: SpaceGeometry,
  gp: GracePeriodSource,
  newestHead: number,
  steps: number,
): void {
  const done0 = gp.completedGracePeriods();
  const stored = Atomics.load(i32, recWord(g, newestHead - 1) + REC_COOKIE);
  // The top batch need not be the newest (kept and given-back batches are pushed on top):
  // when its cookie has passed, there is nothing to drive towards.
  if (!cookieReady(stored, done0)) driveCookie(gp, stored, done0, steps);
}

/**
 * Take up to `steps` pollState steps towards the stored cookie `stored`, which is not ready
 * against `done`, the count that check read: it is then 1 or 2 grace periods ahead of `done`
 * (cookieReady), so `done` plus the difference is a valid pollState target. A count read
 * later could make a cookie that has just passed look ~2^31 ahead, and pollState throws for a
 * target that far. The caller checks readiness again after.
 *
 * Context: outside a read-side section if driving is to achieve anything; never blocks.
 */
export function driveCookie(
  gp: GracePeriodSource,
  stored: number,
  done: number,
  steps: number,
): void {
  const target = done + ((stored - done) & COOKIE_MASK);
  for (let i = 0; i < steps && !gp.pollState(target); i++);
}

/**
 * Take every other thread slot's own ring (TS_OWN_HEAD, one exchange each) and push it to
 * limbo, where any thread's drain recycles it once its grace period has passed. A ring its
 * owner holds at this moment (TS_OWN_HELD: inside an alloc or free) is left alone.
 *
 * Kill points: the chain is recorded as TS_DRAIN_REST right after the exchange (its links are
 * intact until the push), then, before the push rewrites its tail's link, as TS_DRAIN_KEEP
 * with its tail; recovery (thread-recovery.ts recoverDrain) pushes either back to limbo.
 *
 * Context: a registered thread, any nesting; never blocks. `ts` is the caller's slot.
 * @returns how many rings were taken
 */
export function ringsSteal(i32: I32, g: SpaceGeometry, ts: number): number {
  let taken = 0;
  for (let slot = 0; slot < g.maxThreads; slot++) {
    const own = threadSlotWord(g, slot) + TS_OWN_HEAD;
    if (own === ts + TS_OWN_HEAD || Atomics.load(i32, own) === 0) continue;
    // Takes the ring; pairs with the owner's store that put it back (its links and cookies).
    const head = Atomics.exchange(i32, own, 0);
    i32[ts + TS_DRAIN_REST] = head; // kill point rule: right after the exchange
    if (head === 0) continue;
    const tail = chainTail(i32, g, head);
    i32[ts + TS_DRAIN_KEEP] = head;
    i32[ts + TS_DRAIN_KEEP_TAIL] = tail;
    i32[ts + TS_DRAIN_REST] = 0;
    limboPush(i32, g, head, tail);
    i32[ts + TS_DRAIN_KEEP] = 0; // kill point rule: the push's CAS was its last step
    i32[ts + TS_DRAIN_KEEP_TAIL] = 0;
    taken++;
  }
  return taken;
}

/**
 * Last batch of a BATCH_NEXT-linked chain starting at `head` (walks it).
 *
 * Context: the caller owns the chain; never blocks.
 */
export function chainTail(i32: I32, g: SpaceGeometry, head: number): number {
  let x = head;
  for (let n = 0; n <= g.maxIoasids; n++) {
    const next = Atomics.load(i32, recWord(g, x - 1) + REC_BATCH_NEXT);
    if (next === 0) return x;
    x = next;
  }
  throw new Error('internal: batch chain does not end');
}

/** Record counts, as `IoasidSpace.stats()` reports them. */
export interface RecordCensus {
  /** Records on the free stack or in a thread's cache. */
  free: number;
  /** Records waiting for a grace period: limbo, retire batches, own rings, drains' chains. */
  limbo: number;
  /** Records whose STATE is not FREE (live or free-pending allocations). */
  live: number;
}

/**
 * Count records by walking both stacks, the thread slots, and scanning every STATE.
 *
 * Context: exact only while no other thread allocates, frees or drains (the walks follow
 * links that concurrent pops rewrite, and thread slots are written without atomics);
 * otherwise a rough snapshot. Never blocks.
 */
export function recordsCensus(i32: I32, g: SpaceGeometry): RecordCensus {
  const batches = (head: number): number => {
    let n = 0;
    for (let x = head, k = 0; x !== 0 && k <= g.maxIoasids; k++) {
      const r = recWord(g, x - 1);
      n += Atomics.load(i32, r + REC_BATCH_COUNT);
      x = Atomics.load(i32, r + REC_BATCH_NEXT);
    }
    return n;
  };
  let free = batches(Atomics.load(i32, SPACE_FREE_HEAD_WORD) & SPACE_STACK_IDX_MASK);
  let limbo = batches(Atomics.load(i32, SPACE_LIMBO_HEAD_WORD));
  for (let slot = 0; slot < g.maxThreads; slot++) {
    const ts = threadSlotWord(g, slot);
    free += Atomics.load(i32, ts + TS_CACHE_COUNT);
    limbo += Atomics.load(i32, ts + TS_BATCH_COUNT);
    limbo += batches(Atomics.load(i32, ts + TS_OWN_HEAD));
    limbo += batches(Atomics.load(i32, ts + TS_OWN_HELD));
    limbo += batches(Atomics.load(i32, ts + TS_DRAIN_REST));
    limbo += batches(Atomics.load(i32, ts + TS_DRAIN_READY));
    limbo += batches(Atomics.load(i32, ts + TS_DRAIN_KEEP));
  }
  let live = 0;
  for (let idx = 0; idx < g.maxIoasids; idx++) {
    if ((Atomics.load(i32, recWord(g, idx) + REC_STATE) & REC_ST_MASK) !== REC_ST_FREE) live++;
  }
  return { free, limbo, live };
}

/**
 * Records threads took back from their own rings (TS_OWN_RECYCLED of every slot, a counter
 * that stays with the slot across its owners, so nothing is folded at detach or recovery).
 * Context: any thread; a snapshot (owners add with plain stores). Never blocks.
 */
export function ownRecycled(i32: I32, g: SpaceGeometry): number {
  let n = 0;
  for (let slot = 0; slot < g.maxThreads; slot++) {
    n += Atomics.load(i32, threadSlotWord(g, slot) + TS_OWN_RECYCLED);
  }
  return n;
}

/**
 * Set `flag` in record `r`'s STATE while it is the live incarnation map word `m` names.
 * CAS loop: retries only when STATE changed (a get/put by another thread: progress).
 *
 * Context: any thread; never blocks. Kill point rule: nothing but a return follows the CAS.
 * @returns false when the record was reclaimed meanwhile (nothing changed)
 */
export function setStateFlag(i32: I32, r: number, m: number, flag: number): boolean {
  for (;;) {
    const s = Atomics.load(i32, r + REC_STATE);
    if ((s & REC_ST_MASK) === REC_ST_FREE || ((s ^ m) & REC_GEN_BITS) !== 0) return false;
    if (Atomics.compareExchange(i32, r + REC_STATE, s, s | flag) === s) return true;
  }
}

/**
 * Clear `flag` in record `r`'s STATE while it is the live incarnation map word `m` names; a
 * reclaimed record is left alone. CAS loop as in setStateFlag.
 *
 * Context: any thread; never blocks.
 */
export function clearStateFlag(i32: I32, r: number, m: number, flag: number): void {
  for (;;) {
    const s = Atomics.load(i32, r + REC_STATE);
    if ((s & REC_ST_MASK) === REC_ST_FREE || ((s ^ m) & REC_GEN_BITS) !== 0) return;
    if (Atomics.compareExchange(i32, r + REC_STATE, s, s & ~flag) === s) return;
  }
}
