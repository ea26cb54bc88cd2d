/**
 * The record pool: `maxIoasids` fixed-size records, one per live id, recycled through RCU.
 *
 * A record holds one allocation: its id, set, data, SPID and a packed STATE word
 * [gen:12 | refs:18 | st:2]. Free records sit on a lock-free stack. A reclaimed record joins
 * its thread's retire batch; full batches (header RETIRE_BATCH records, <= 64) go to the shared
 * "limbo" stack tagged with one RCU cookie, and move back to the free stack only once a grace
 * period has passed since the cookie (the kernel's `kfree_rcu`), so a reader that found a
 * record through the id map can finish reading it.
 *
 * Developer notes.
 * - STATE moves in one CAS (get/put/free/reclaim). `gen` is bumped each time the record is
 *   published for a new allocation; writers (free/get/put), which do not hold a read-side
 *   section, CAS against the STATE they validated, so a record recycled under them makes the
 *   CAS fail (ABA defence: 12-bit generation, plus a grace period between any two
 *   incarnations).
 * - Free stack: head = [tag:12 | idx+1:20]. Pop runs inside a read-side section, and every
 *   push onto the free stack is of records whose retirement grace period has passed, so a
 *   record popped by another thread after we loaded the head cannot be back on the stack
 *   before our section ends: the classic pop ABA cannot happen. The tag is a second, redundant
 *   defence (labelled as such).
 * - Limbo is a stack of batches: each batch is a NEXT-linked segment whose first record holds
 *   the cookie (mod 2^31, serial comparison) and the index of its last record. Pushes are CAS
 *   pushes (ABA-harmless); a drain takes the whole stack with one `Atomics.exchange`, splits it
 *   by cookie in O(batches), pushes the ready segments onto the free stack as one chain and the
 *   rest back onto limbo. Drains run after each batch push (one `pollState` step) and in alloc
 *   when the free stack is empty (a few steps, never blocking).
 * - A worker killed with a partial batch leaks at most SPACE_RETIRE_BATCH - 1 records; detach()
 *   and flushRecords() push the batch.
 * - Rejected: one shared limbo list of single records (a drain walked every record: quadratic
 *   under load, measured at ~10 us per alloc with two workers); hazard pointers (a store+fence
 *   per record visited, against one read-side section per lookup).
 * Parameter names: `i32` the space view, `g` its geometry, `idx` a record index.
 *
 * @internal
 */
import {
  REC_BATCH_TAIL,
  REC_COOKIE,
  REC_GEN_MASK,
  REC_GEN_SHIFT,
  REC_NEXT,
  REC_SPID,
  REC_SPID_NONE,
  REC_ST_FREE,
  REC_ST_MASK,
  REC_STATE,
  SPACE_FREE_HEAD_WORD,
  SPACE_LIMBO_HEAD_WORD,
  SPACE_REC_WORDS,
  SPACE_RETIRE_BATCH,
  SPACE_STACK_IDX_MASK,
  SPACE_STACK_TAG_MASK,
  SPACE_STACK_TAG_SHIFT,
  SPACE_STAT_DRAINS_WORD,
  SPACE_STAT_RECYCLED_WORD,
  type SpaceGeometry,
} from './layout.js';

type I32 = Int32Array<SharedArrayBuffer>;

/** What the pool needs from RCU (the space's `Rcu` provides it). */
export interface GracePeriodSource {
  getState(): number;
  pollState(cookie: number): boolean;
  completedGracePeriods(): number;
}

const COOKIE_MASK = 0x7fffffff;
const COOKIE_HALF = 0x40000000;

/** First word of record `idx`. */
export function recWord(g: SpaceGeometry, idx: number): number {
  return g.recordsBase + idx * SPACE_REC_WORDS;
}

/** STATE of a record about to be published: next generation, `refs` = 1, `st`. */
export function nextGenState(old: number, live: number): number {
  const gen = ((old >>> REC_GEN_SHIFT) + 1) & REC_GEN_MASK;
  return (gen << REC_GEN_SHIFT) | (1 << 2) | live;
}

/**
 * Initialise every record as free and chain them all onto the free stack, index 0 on top.
 *
 * Context: `create()` only, before the buffer is shared.
 */
export function recordsInit(i32: I32, g: SpaceGeometry): void {
  for (let idx = 0; idx < g.maxIoasids; idx++) {
    const r = recWord(g, idx);
    Atomics.store(i32, r + REC_STATE, REC_ST_FREE);
    Atomics.store(i32, r + REC_SPID, REC_SPID_NONE);
    Atomics.store(i32, r + REC_NEXT, idx + 1 < g.maxIoasids ? idx + 2 : 0);
  }
  Atomics.store(i32, SPACE_FREE_HEAD_WORD, g.maxIoasids > 0 ? 1 : 0);
}

/**
 * Pop a free record.
 *
 * CAS loop on the head: retries only when the head changed (another pop or push made
 * progress). ABA defence: see the module notes (read-side section + tag).
 *
 * Context: the caller MUST be inside an RCU read-side section; never blocks.
 * @returns the record index, or -1 when the free stack is empty.
 */
export function recordPop(i32: I32, g: SpaceGeometry): number {
  for (;;) {
    const h = Atomics.load(i32, SPACE_FREE_HEAD_WORD);
    const top = h & SPACE_STACK_IDX_MASK;
    if (top === 0) return -1;
    const next = Atomics.load(i32, recWord(g, top - 1) + REC_NEXT);
    const tag = ((h >>> SPACE_STACK_TAG_SHIFT) + 1) & SPACE_STACK_TAG_MASK;
    // Takes `top`; pairs with the CAS in pushFreeChain.
    if (
      Atomics.compareExchange(
        i32,
        SPACE_FREE_HEAD_WORD,
        h,
        (tag << SPACE_STACK_TAG_SHIFT) | next,
      ) === h
    ) {
      return top - 1;
    }
  }
}

/**
 * A thread's retired records not yet handed to limbo (thread-local, no shared state): they
 * are chained through NEXT while private, and pushed to limbo as one batch with one cookie.
 */
export class RetireBatch {
  /** Batch size of this space (header word RETIRE_BATCH). */
  readonly limit: number;
  head = 0;
  tail = 0;
  count = 0;
  constructor(limit: number) {
    this.limit = limit;
  }
}

/**
 * Retire record `idx` (already reclaimed: STATE is FREE and the id map no longer points to
 * it) into this thread's batch; a full batch goes to limbo.
 *
 * Context: any thread; never blocks.
 * @returns true when a batch was pushed to limbo by this call.
 */
export function recordRetire(
  i32: I32,
  g: SpaceGeometry,
  b: RetireBatch,
  idx: number,
  gp: GracePeriodSource,
): boolean {
  // The record is unreachable for new readers; NEXT is not read by readers (only by stacks).
  Atomics.store(i32, recWord(g, idx) + REC_NEXT, b.head);
  if (b.tail === 0) b.tail = idx + 1;
  b.head = idx + 1;
  if (++b.count < b.limit) return false;
  batchPush(i32, g, b, gp);
  return true;
}

/**
 * Push this thread's batch to limbo, tagged with a cookie taken now (after every record in it
 * was unpublished, so one grace period from the cookie covers them all).
 *
 * CAS push: retries only when the head changed (progress); a push is ABA-immune.
 *
 * Context: any thread; never blocks.
 */
export function batchPush(i32: I32, g: SpaceGeometry, b: RetireBatch, gp: GracePeriodSource): void {
  if (b.count === 0) return;
  const first = recWord(g, b.head - 1);
  Atomics.store(i32, first + REC_COOKIE, gp.getState() & COOKIE_MASK);
  Atomics.store(i32, first + REC_BATCH_TAIL, b.tail);
  const t = recWord(g, b.tail - 1) + REC_NEXT;
  for (;;) {
    const h = Atomics.load(i32, SPACE_LIMBO_HEAD_WORD);
    Atomics.store(i32, t, h);
    // Publishes the batch (NEXT links, cookie, tail); pairs with the exchange in recordsDrain.
    if (Atomics.compareExchange(i32, SPACE_LIMBO_HEAD_WORD, h, b.head) === h) break;
  }
  b.head = 0;
  b.tail = 0;
  b.count = 0;
}

/**
 * Has the grace period of a stored cookie (mod 2^31) completed, given `done` completed grace
 * periods? Serial-number comparison: correct while a batch waits less than 2^30 grace
 * periods; a batch that waited longer reads as "not yet" (safe: later, never earlier).
 */
function ready(stored: number, done: number): boolean {
  return ((done - stored) & COOKIE_MASK) < COOKIE_HALF;
}

/**
 * Move every limbo batch whose grace period has passed to the free stack.
 *
 * @param driveSteps - `pollState` steps to advance grace periods first (0 = just look)
 *
 * Cost: one exchange, then O(batches), not O(records): each batch is a NEXT-linked segment
 * whose head knows its tail.
 *
 * Context: any thread, outside a read-side section if driving is to achieve anything (a grace
 * period cannot end while the caller itself is a reader); never blocks. While one thread
 * drains, limbo looks empty to others.
 * @returns how many records moved to the free stack.
 */
export function recordsDrain(
  i32: I32,
  g: SpaceGeometry,
  gp: GracePeriodSource,
  driveSteps: number,
): number {
  const chain = Atomics.exchange(i32, SPACE_LIMBO_HEAD_WORD, 0);
  if (chain === 0) return 0;
  Atomics.add(i32, SPACE_STAT_DRAINS_WORD, 1);
  if (driveSteps > 0) {
    const done0 = gp.completedGracePeriods();
    const stored = Atomics.load(i32, recWord(g, chain - 1) + REC_COOKIE);
    const newest = done0 + ((stored - done0) & COOKIE_MASK); // full cookie of the newest batch
    for (let i = 0; i < driveSteps && !gp.pollState(newest); i++);
  }
  const done = gp.completedGracePeriods();
  let readyHead = 0;
  let readyTail = 0;
  let keepHead = 0;
  let keepTail = 0;
  let moved = 0;
  for (let x = chain; x !== 0; ) {
    const r = recWord(g, x - 1);
    const tail = Atomics.load(i32, r + REC_BATCH_TAIL);
    const next = Atomics.load(i32, recWord(g, tail - 1) + REC_NEXT);
    if (ready(Atomics.load(i32, r + REC_COOKIE), done)) {
      if (readyTail === 0) readyHead = x;
      else Atomics.store(i32, recWord(g, readyTail - 1) + REC_NEXT, x);
      readyTail = tail;
      moved += batchLength(i32, g, x, tail);
    } else {
      if (keepTail === 0) keepHead = x;
      else Atomics.store(i32, recWord(g, keepTail - 1) + REC_NEXT, x);
      keepTail = tail;
    }
    x = next;
  }
  if (keepHead !== 0) pushLimboChain(i32, g, keepHead, keepTail);
  if (readyHead !== 0) {
    pushFreeChain(i32, g, readyHead, readyTail);
    Atomics.add(i32, SPACE_STAT_RECYCLED_WORD, moved);
  }
  return moved;
}

/** Records in a batch: SPACE_RETIRE_BATCH except for flushed partial batches (walked). */
function batchLength(i32: I32, g: SpaceGeometry, head: number, tail: number): number {
  let n = 1;
  for (let x = head; x !== tail && n <= SPACE_RETIRE_BATCH; n++) {
    x = Atomics.load(i32, recWord(g, x - 1) + REC_NEXT);
  }
  return n;
}

/** Push a chain of batches back onto limbo (CAS push; the chain keeps its batch heads). */
function pushLimboChain(i32: I32, g: SpaceGeometry, head: number, tail: number): void {
  const t = recWord(g, tail - 1) + REC_NEXT;
  for (;;) {
    const h = Atomics.load(i32, SPACE_LIMBO_HEAD_WORD);
    Atomics.store(i32, t, h);
    if (Atomics.compareExchange(i32, SPACE_LIMBO_HEAD_WORD, h, head) === h) return;
  }
}

/** Push a chain of grace-period-expired records onto the free stack (CAS; bumps the tag). */
function pushFreeChain(i32: I32, g: SpaceGeometry, head: number, tail: number): void {
  const t = recWord(g, tail - 1) + REC_NEXT;
  for (;;) {
    const h = Atomics.load(i32, SPACE_FREE_HEAD_WORD);
    Atomics.store(i32, t, h & SPACE_STACK_IDX_MASK);
    const tag = ((h >>> SPACE_STACK_TAG_SHIFT) + 1) & SPACE_STACK_TAG_MASK;
    // Publishes the chain's NEXT words; pairs with the loads in recordPop.
    if (
      Atomics.compareExchange(
        i32,
        SPACE_FREE_HEAD_WORD,
        h,
        (tag << SPACE_STACK_TAG_SHIFT) | head,
      ) === h
    ) {
      return;
    }
  }
}

/** Record counts, as `IoasidSpace.stats()` reports them. */
export interface RecordCensus {
  /** Records on the free stack. */
  free: number;
  /** Records waiting in limbo for a grace period. */
  limbo: number;
  /** Records whose STATE is not FREE (live or free-pending allocations). */
  live: number;
}

/**
 * Count records by walking both stacks and scanning every STATE.
 *
 * Context: exact only while no other thread allocates, frees or drains (the walks follow
 * NEXT links that concurrent pops rewrite); otherwise a rough snapshot. Never blocks.
 */
export function recordsCensus(i32: I32, g: SpaceGeometry): RecordCensus {
  const walk = (head: number): number => {
    let n = 0;
    for (let x = head; x !== 0 && n <= g.maxIoasids; n++) {
      x = Atomics.load(i32, recWord(g, x - 1) + REC_NEXT);
    }
    return n;
  };
  let live = 0;
  for (let idx = 0; idx < g.maxIoasids; idx++) {
    if ((Atomics.load(i32, recWord(g, idx) + REC_STATE) & REC_ST_MASK) !== REC_ST_FREE) live++;
  }
  return {
    free: walk(Atomics.load(i32, SPACE_FREE_HEAD_WORD) & SPACE_STACK_IDX_MASK),
    limbo: walk(Atomics.load(i32, SPACE_LIMBO_HEAD_WORD)),
    live,
  };
}
