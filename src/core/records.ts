/**
 * The record pool: `maxIoasids` fixed-size records, one per live id, recycled through RCU.
 *
 * A record holds one allocation: its id, set, data, SPID and a packed STATE word
 * [gen:12 | refs:18 | st:2]. Free records sit on a lock-free stack; a reclaimed record goes
 * to the shared "limbo" stack tagged with an RCU cookie, and moves back to the free stack
 * only once a grace period has passed since it was retired (the kernel's `kfree_rcu`), so a
 * reader that found it through the id map can finish reading it.
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
 * - Limbo: pushes are plain CAS pushes (ABA-harmless); draining takes the whole list with one
 *   `Atomics.exchange`, splits it by cookie, pushes the ready part onto the free stack as one
 *   chain and the rest back onto limbo. Drains happen in alloc when the free stack is empty
 *   (driving grace periods with `pollState`, never blocking) and every 64 reclaims per thread.
 * - Rejected: per-thread limbo lists in thread-local memory (faster, but a killed worker would
 *   leak its limbo and nobody else could drain it); hazard pointers (a store+fence per record
 *   visited, against one read-side section per lookup).
 * Parameter names: `i32` the space view, `g` its geometry, `idx` a record index.
 *
 * @internal
 */
import {
  REC_COOKIE_HI,
  REC_COOKIE_LO,
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

const TWO_32 = 4294967296;
/** pollState calls a draining alloc makes before giving up (each is a non-blocking step). */
const DRIVE_STEPS = 8;

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
 * Retire record `idx` (already reclaimed: STATE is FREE and the id map no longer points to
 * it) to limbo, tagged with `cookie` from `getState()` taken after it was unpublished.
 *
 * CAS push: retries only when the head changed (progress); a push is ABA-immune.
 *
 * Context: any thread; never blocks.
 */
export function recordRetire(i32: I32, g: SpaceGeometry, idx: number, cookie: number): void {
  const r = recWord(g, idx);
  Atomics.store(i32, r + REC_COOKIE_LO, (cookie % TWO_32) | 0);
  Atomics.store(i32, r + REC_COOKIE_HI, Math.floor(cookie / TWO_32));
  for (;;) {
    const h = Atomics.load(i32, SPACE_LIMBO_HEAD_WORD);
    Atomics.store(i32, r + REC_NEXT, h);
    // Publishes NEXT and the cookie; pairs with the exchange in recordsDrain.
    if (Atomics.compareExchange(i32, SPACE_LIMBO_HEAD_WORD, h, idx + 1) === h) return;
  }
}

function cookieOf(i32: I32, r: number): number {
  return (
    (Atomics.load(i32, r + REC_COOKIE_LO) >>> 0) + Atomics.load(i32, r + REC_COOKIE_HI) * TWO_32
  );
}

/**
 * Move every limbo record whose grace period has passed to the free stack.
 *
 * @param drive - also advance grace periods with `pollState` (up to a few non-blocking
 *   steps) when the newest limbo record is not ready yet
 *
 * Context: any thread, outside a read-side section if `drive` is to achieve anything (a
 * grace period cannot end while the caller itself is a reader); never blocks. While one
 * thread drains, limbo looks empty to others (their alloc may then see -ENOMEM sooner).
 * @returns how many records moved to the free stack.
 */
export function recordsDrain(
  i32: I32,
  g: SpaceGeometry,
  gp: GracePeriodSource,
  drive: boolean,
): number {
  const chain = Atomics.exchange(i32, SPACE_LIMBO_HEAD_WORD, 0);
  if (chain === 0) return 0;
  Atomics.add(i32, SPACE_STAT_DRAINS_WORD, 1);
  if (drive) {
    const newest = cookieOf(i32, recWord(g, chain - 1));
    for (let i = 0; i < DRIVE_STEPS && !gp.pollState(newest); i++);
  }
  const done = gp.completedGracePeriods();
  let readyHead = 0;
  let readyTail = 0;
  let keepHead = 0;
  let keepTail = 0;
  let moved = 0;
  for (let x = chain; x !== 0; ) {
    const r = recWord(g, x - 1);
    const next = Atomics.load(i32, r + REC_NEXT);
    if (cookieOf(i32, r) <= done) {
      if (readyTail === 0) readyHead = x;
      else Atomics.store(i32, recWord(g, readyTail - 1) + REC_NEXT, x);
      readyTail = x;
      moved++;
    } else {
      if (keepTail === 0) keepHead = x;
      else Atomics.store(i32, recWord(g, keepTail - 1) + REC_NEXT, x);
      keepTail = x;
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
