/**
 * One CPU of a stress run: a long loop of weighted random operations on the shared space,
 * each checked against what this CPU knows (the ids it holds, their refs, SPIDs and data)
 * and against the run's shadow oracle (run-layout.ts), with per-CPU counters, sampled latency
 * histograms, a throughput timeline and an operation log in shared memory.
 *
 * ## Developer notes
 * A CPU touches only its own ids with state-changing calls (free, get, put, SPIDs, data);
 * lookups (find) also probe ids held by others, under RCU, where only the shape of the result
 * can be checked. That split is what makes exact expectations possible without a global
 * order of operations: nobody else can change an id this CPU holds.
 *
 * Shared sets are created by the harness and never destroyed during the run. Each CPU may
 * also own one scratch set, which exercises setAlloc/setFree/freeAllInSet without disturbing
 * the others.
 *
 * ## Kill safety
 * The harness terminates a CPU at any point of any operation, including while it holds the
 * set lock (setAlloc) or the SPID lock (attachSpid, detachSpid, the reclaim of an id with a
 * SPID in free, put or freeAllInSet), leads a grace period (detachData, or an alloc driving
 * one) or sits in a read-side section. The space takes all of that back: the owner-tagged
 * locks, the half-done operation and the Rcu slot, with the dead leader's grace period
 * resumed by the next caller (`releaseThread`). No handshake is needed; what is left is this
 * CPU's own bookkeeping, which is correct whichever of its statements was the last:
 * - Shadow claim (alloc): claimed after the id is live, counted after the claim. A kill in
 *   between leaves a live id unclaimed or claimed but not counted; the counts stay a lower
 *   bound and a claim still implies a live id.
 * - Shadow release (free, put, freeAllInSet): released, then uncounted, then the call that
 *   reclaims. A kill in between leaves a live id unclaimed, counted or not; never a claim on
 *   a reclaimed id, so a set the allocator destroys has a shadow count of 0 (setAlloc checks
 *   it when the slot is reused).
 * - HELD is published after an id is pushed or forgotten, so a dead CPU held at most HELD ids
 *   plus the one its alloc had just published; a freeAllInSet cut short forgets nothing.
 * - The scratch set: at most one per task (setAlloc only when there is none; a dying one is
 *   destroyed with its last id), published in SCRATCH once setAlloc returned it and until it
 *   is destroyed, CREATING while setAlloc runs. So a dead CPU leaves at most its published
 *   set (live or free-pending, maybe already destroyed by a setFree or reclaim cut short) or,
 *   if it died CREATING, one set nobody knows of (live and empty, or rolled back by
 *   `releaseThread`); the harness empties and frees them at the end.
 * - SPIDs carry the task's generation, so a replacement CPU never collides with the SPIDs of
 *   its predecessor's ids, which stay bound until the harness frees those ids at the end.
 * - PARKED is one store each way (run-layout.ts).
 * What the harness checks after the run is in run-stress.ts `verifyAtEnd`.
 *
 * Counters are batched locally and flushed every FLUSH_OPS operations; a killed CPU loses at
 * most one batch of statistics, never correctness data (the shadow words are updated at once).
 */
import { Errno, type IoasidSpace, SetType } from '../core/ioasid/ioasid-space.js';
import { Prng } from './prng.js';
import {
  CPU_ERRS,
  CPU_HELD,
  CPU_HIST,
  CPU_LOG,
  CPU_LOG_HEAD,
  CPU_OPS,
  CPU_PARKED,
  CPU_PHASE,
  CPU_SCRATCH,
  CPU_TIMELINE,
  cpuBase,
  HIST_BUCKETS,
  histBucket,
  LOG_ENTRIES,
  LOG_ENTRY_WORDS,
  N_OPS,
  OPS,
  type OpName,
  RUN_EPOCH,
  RUN_STATE,
  type RunGeometry,
  SCRATCH_CREATING,
  STATE_PAUSE,
  STATE_STOP,
  shadowOwnerBase,
  shadowSetBase,
  TIMELINE_SLOTS,
  type ViolationKind,
} from './run-layout.js';
import { reportViolation } from './violations.js';

/** What the harness gives each CPU for one run. Structured-cloneable. */
export interface CpuPlan {
  cpu: number;
  seed: number;
  geometry: RunGeometry;
  /** Weight of each op, in OPS order. */
  mix: number[];
  /** Shared sets (never destroyed during the run) and their quotas. */
  sets: number[];
  /** Allocation range. */
  idMin: number;
  idMax: number;
  /** Most ids one CPU holds at once; beyond it, alloc turns into free. */
  maxHeld: number;
  /** Quota of a scratch set. */
  scratchQuota: number;
  /** Distinct per task (a replacement CPU gets a new one), so SPIDs never collide with a dead CPU's. */
  generation: number;
  /** One find in this many sleeps inside its getter (inside the RCU read-side section). */
  getterSleepOneIn: number;
}

const FLUSH_OPS = 256;
const SAMPLE_MASK = 7; // time one operation in 8
const OP_INDEX: Record<OpName, number> = Object.fromEntries(OPS.map((o, i) => [o, i])) as Record<
  OpName,
  number
>;

interface Held {
  id: number;
  set: number;
  /** References the library counts (1 from alloc, +1 per get). */
  refs: number;
  pending: boolean;
  spid: number;
  data: number;
}

export class CpuLoop {
  readonly #space: IoasidSpace;
  readonly #p: CpuPlan;
  readonly #w: Int32Array<SharedArrayBuffer>;
  readonly #base: number;
  readonly #rng: Prng;
  readonly #cumulative: number[];
  readonly #total: number;
  readonly #held: Held[] = [];
  readonly #ops = new Int32Array(N_OPS);
  readonly #errs = new Int32Array(N_OPS);
  readonly #hist = new Int32Array(N_OPS * HIST_BUCKETS);
  #sinceFlush = 0;
  #logHead = 0;
  #dataSeq = 1;
  #spidSeq = 1;
  #scratch = -1;
  #scratchDying = false;
  #sleepWord: Int32Array<SharedArrayBuffer>;

  constructor(space: IoasidSpace, run: SharedArrayBuffer, plan: CpuPlan) {
    this.#space = space;
    this.#p = plan;
    this.#w = new Int32Array(run);
    this.#sleepWord = new Int32Array(new SharedArrayBuffer(4));
    this.#base = cpuBase(plan.cpu);
    this.#rng = new Prng(plan.seed, plan.cpu);
    let acc = 0;
    this.#cumulative = plan.mix.map((weight) => {
      acc += weight;
      return acc;
    });
    this.#total = acc;
    this.#logHead = Atomics.load(this.#w, this.#base + CPU_LOG_HEAD);
  }

  /** Run until the harness says stop; then give back everything held. Returns ops done. */
  run(): number {
    Atomics.store(this.#w, this.#base + CPU_PHASE, 1);
    let done = 0;
    for (;;) {
      const state = Atomics.load(this.#w, RUN_STATE);
      if (state === STATE_STOP) break;
      if (state === STATE_PAUSE) {
        this.#flush();
        // Flagged while parked, so the checker knows when nobody runs (quiescentCheck).
        Atomics.store(this.#w, this.#base + CPU_PARKED, 1);
        while (Atomics.load(this.#w, RUN_STATE) === STATE_PAUSE)
          Atomics.wait(this.#w, RUN_STATE, STATE_PAUSE, 50);
        Atomics.store(this.#w, this.#base + CPU_PARKED, 0);
        continue;
      }
      for (let i = 0; i < 64; i++) this.#step();
      done += 64;
    }
    Atomics.store(this.#w, this.#base + CPU_PHASE, 2);
    this.#releaseAll();
    this.#flush();
    return done;
  }

  #step(): void {
    const op = this.#pick();
    const sampled = (this.#sinceFlush & SAMPLE_MASK) === 0;
    const t0 = sampled ? performance.now() : 0;
    const result = this.#do(op);
    if (sampled) {
      const ns = (performance.now() - t0) * 1e6;
      this.#hist[op * HIST_BUCKETS + histBucket(ns)]!++;
    }
    this.#ops[op]!++;
    if (result < 0) this.#errs[op]!++;
    if (++this.#sinceFlush >= FLUSH_OPS) this.#flush();
  }

  #pick(): number {
    const r = this.#rng.below(this.#total);
    let op = 0;
    while (this.#cumulative[op]! <= r) op++;
    return op;
  }

  /** Run op `op` (an index into OPS), log it, and return its result. */
  #do(op: number): number {
    switch (OPS[op]!) {
      case 'alloc':
        return this.#alloc();
      case 'free':
        return this.#free();
      case 'get':
        return this.#get();
      case 'put':
        return this.#put();
      case 'find':
        return this.#find();
      case 'findBySpid':
        return this.#findBySpid();
      case 'attachSpid':
        return this.#attachSpid();
      case 'detachSpid':
        return this.#detachSpid();
      case 'attachData':
        return this.#attachData();
      case 'detachData':
        return this.#detachData();
      case 'setAlloc':
        return this.#setAlloc();
      case 'setFree':
        return this.#setFree();
      case 'freeAllInSet':
        return this.#freeAllInSet();
    }
  }

  // ---------------------------------------------------------------------------------------
  // operations
  // ---------------------------------------------------------------------------------------

  #alloc(): number {
    if (this.#held.length >= this.#p.maxHeld) return this.#free();
    const useScratch = this.#scratch >= 0 && !this.#scratchDying && this.#rng.oneIn(4);
    const set = useScratch ? this.#scratch : this.#p.sets[this.#rng.below(this.#p.sets.length)]!;
    const data = this.#nextData();
    const id = this.#space.alloc(set, this.#p.idMin, this.#p.idMax, data);
    this.#log('alloc', set, 0, id);
    if (id < 0) {
      if (id !== -Errno.EDQUOT && id !== -Errno.ENOSPC && id !== -Errno.ENOMEM)
        this.#bad('alloc', id, set, 0, 'expected -EDQUOT, -ENOSPC or -ENOMEM');
      return id;
    }
    if (id < this.#p.idMin || id > this.#p.idMax)
      this.#bad('alloc', id, set, id, 'id outside [min, max]');
    // Claim the shadow word: taken means another allocation of `id` is still live.
    const owner = Atomics.compareExchange(
      this.#w,
      shadowOwnerBase(this.#p.geometry) + id,
      0,
      this.#p.cpu + 1,
    );
    if (owner !== 0) this.#violation('id-live-twice', 'alloc', id, set, owner - 1);
    const live = Atomics.add(this.#w, shadowSetBase(this.#p.geometry, set), 1) + 1;
    const quota = Atomics.load(this.#w, shadowSetBase(this.#p.geometry, set) + 1);
    if (quota > 0 && live > quota) this.#violation('quota-exceeded', 'alloc', id, set, live);
    this.#held.push({ id, set, refs: 1, pending: false, spid: 0, data });
    this.#publishHeld();
    return id;
  }

  #free(): number {
    const h = this.#pickHeld((x) => !x.pending);
    if (!h) return this.#alloc();
    const reclaimNow = h.refs === 1;
    if (reclaimNow) this.#releaseShadow(h);
    const r = this.#space.free(h.set, h.id);
    this.#log('free', h.set, h.id, r);
    if (r !== 0) {
      this.#bad('free', r, h.set, h.id, 'free of a held id must return 0');
      if (reclaimNow) this.#reclaimShadow(h);
      return r;
    }
    if (reclaimNow) this.#forget(h);
    else {
      // free drops the allocation's reference; the last put reclaims.
      h.pending = true;
      h.refs--;
    }
    return r;
  }

  #get(): number {
    const h = this.#pickHeld(() => true);
    if (!h) return this.#alloc();
    const r = this.#space.get(h.set, h.id);
    this.#log('get', h.set, h.id, r);
    const want = h.pending ? -Errno.EBUSY : 0;
    if (r !== want) this.#bad('get', r, h.set, h.id, `expected ${want}`);
    else if (r === 0) h.refs++;
    return r;
  }

  #put(): number {
    const h = this.#pickHeld((x) => x.refs > 1 || x.pending || this.#rng.oneIn(8));
    if (!h) return this.#get();
    const last = h.refs === 1;
    if (last) this.#releaseShadow(h);
    const r = this.#space.put(h.set, h.id);
    this.#log('put', h.set, h.id, r);
    if (r !== (last ? 1 : 0)) {
      this.#bad('put', r, h.set, h.id, `expected ${last ? 1 : 0}`);
      if (last) this.#reclaimShadow(h);
      return r;
    }
    if (last) this.#forget(h);
    else h.refs--;
    return r;
  }

  #find(): number {
    const own = this.#held.length > 0 && this.#rng.oneIn(2);
    const h = own ? this.#held[this.#rng.below(this.#held.length)]! : undefined;
    const id = h ? h.id : this.#p.idMin + this.#rng.below(this.#p.idMax - this.#p.idMin + 1);
    const sleep = this.#rng.oneIn(this.#p.getterSleepOneIn);
    const r = sleep
      ? this.#space.find(null, id, () => this.#sleepInGetter())
      : this.#space.find(null, id);
    this.#log('find', -1, id, r);
    if (h && r !== h.data) this.#violation('wrong-data', 'find', id, h.set, r);
    if (!h && r < 0 && r !== -Errno.ENOENT)
      this.#bad('find', r, -1, id, 'expected data or -ENOENT');
    return r;
  }

  #sleepInGetter(): boolean {
    // Hold the read-side section across a real deschedule: a record recycled meanwhile
    // (a grace period that did not wait for us) is what this makes visible.
    Atomics.wait(this.#sleepWord, 0, 0, 0.05);
    return true;
  }

  #findBySpid(): number {
    const h = this.#pickHeld((x) => x.spid !== 0);
    if (!h) return this.#find();
    const get = !h.pending && this.#rng.oneIn(4);
    const r = this.#space.findBySpid(h.set, h.spid, get);
    this.#log('findBySpid', h.set, h.spid, r);
    if (r !== h.id) this.#bad('findBySpid', r, h.set, h.id, 'expected the id holding the SPID');
    else if (get) h.refs++;
    return r;
  }

  #attachSpid(): number {
    const h = this.#pickHeld((x) => x.spid === 0 && !x.pending);
    if (!h) return this.#alloc();
    // generation (8 bits) | cpu (6 bits) | sequence (17 bits): unique among live SPIDs unless
    // one id keeps its SPID across 2^17 attaches of its CPU.
    const spid =
      ((this.#p.generation & 0xff) << 23) |
      ((this.#p.cpu & 0x3f) << 17) |
      (this.#spidSeq++ & 0x1ffff);
    const r = this.#space.attachSpid(h.id, spid);
    this.#log('attachSpid', h.set, h.id, r);
    if (r !== 0) this.#bad('attachSpid', r, h.set, h.id, 'expected 0 for a fresh SPID');
    else h.spid = spid;
    return r;
  }

  #detachSpid(): number {
    const h = this.#pickHeld((x) => x.spid !== 0);
    if (!h) return this.#attachSpid();
    const r = this.#space.detachSpid(h.id);
    this.#log('detachSpid', h.set, h.id, r);
    if (r !== 0) this.#bad('detachSpid', r, h.set, h.id, 'expected 0');
    else h.spid = 0;
    return r;
  }

  #attachData(): number {
    const h = this.#pickHeld(() => true);
    if (!h) return this.#alloc();
    const data = this.#nextData();
    const r = this.#space.attachData(h.id, data);
    this.#log('attachData', h.set, h.id, r);
    const want = h.data !== 0 ? -Errno.EBUSY : 0;
    if (r !== want) this.#bad('attachData', r, h.set, h.id, `expected ${want}`);
    else if (r === 0) h.data = data;
    return r;
  }

  #detachData(): number {
    const h = this.#pickHeld((x) => x.data !== 0);
    if (!h) return this.#attachData();
    const r = this.#space.detachData(h.id); // waits for a grace period
    this.#log('detachData', h.set, h.id, r);
    if (r !== 0) this.#bad('detachData', r, h.set, h.id, 'expected 0');
    else h.data = 0;
    return r;
  }

  #setAlloc(): number {
    if (this.#scratch >= 0) return this.#alloc();
    const quota = this.#p.scratchQuota;
    // Before the call: a CPU killed inside setAlloc may leave a set nobody else knows of.
    Atomics.store(this.#w, this.#base + CPU_SCRATCH, SCRATCH_CREATING);
    const set = this.#space.setAlloc(null, quota, SetType.NULL);
    this.#log('setAlloc', set, 0, set);
    if (set < 0) {
      this.#ownScratch(-1);
      if (set !== -Errno.ENOSPC) this.#bad('setAlloc', set, -1, 0, 'expected a set or -ENOSPC');
      return set;
    }
    const sb = shadowSetBase(this.#p.geometry, set);
    if (Atomics.load(this.#w, sb) !== 0)
      this.#violation('leak', 'setAlloc', 0, set, Atomics.load(this.#w, sb));
    Atomics.store(this.#w, sb + 1, quota);
    this.#ownScratch(set);
    return set;
  }

  #setFree(): number {
    if (this.#scratch < 0 || this.#scratchDying) return this.#setAlloc();
    const set = this.#scratch;
    const remaining = this.#held.filter((h) => h.set === set).length;
    const r = this.#space.setFree(set);
    this.#log('setFree', set, 0, r);
    const want = remaining > 0 ? -Errno.EBUSY : 0;
    if (r !== want) this.#bad('setFree', r, set, 0, `expected ${want} with ${remaining} ids left`);
    if (remaining > 0) this.#scratchDying = true;
    else this.#ownScratch(-1);
    return r;
  }

  #freeAllInSet(): number {
    const set = this.#scratch;
    if (set < 0) return this.#setAlloc();
    const mine = this.#held.filter((h) => h.set === set);
    // Only when every id would be reclaimed at once, so the count is exact.
    if (mine.some((h) => h.pending || h.refs !== 1)) return this.#alloc();
    for (const h of mine) this.#releaseShadow(h);
    const r = this.#space.freeAllInSet(set);
    this.#log('freeAllInSet', set, 0, r);
    if (r !== mine.length) this.#bad('freeAllInSet', r, set, 0, `expected ${mine.length}`);
    for (const h of mine) this.#forget(h);
    return r;
  }

  // ---------------------------------------------------------------------------------------
  // bookkeeping
  // ---------------------------------------------------------------------------------------

  /** Give back every id this CPU holds (end of run): free it, then put every extra reference. */
  #releaseAll(): void {
    for (const h of [...this.#held]) {
      if (!h.pending) {
        const reclaimNow = h.refs === 1;
        if (reclaimNow) this.#releaseShadow(h);
        const r = this.#space.free(h.set, h.id);
        if (r !== 0) this.#bad('free', r, h.set, h.id, 'free of a held id must return 0');
        if (reclaimNow) {
          this.#forget(h);
          continue;
        }
        h.pending = true;
        h.refs--;
      }
      while (h.refs > 0) {
        const last = h.refs === 1;
        if (last) this.#releaseShadow(h);
        const r = this.#space.put(h.set, h.id);
        if (r !== (last ? 1 : 0)) this.#bad('put', r, h.set, h.id, `expected ${last ? 1 : 0}`);
        h.refs--;
      }
      this.#forget(h);
    }
    // Every id is gone, so the scratch set is destroyed now (a dying one already was, with its
    // last id): a live CPU leaves no set behind (verifyAtEnd counts on it).
    if (this.#scratch >= 0 && !this.#scratchDying) {
      const r = this.#space.setFree(this.#scratch);
      if (r !== 0) this.#bad('setFree', r, this.#scratch, 0, 'expected 0 for an empty set');
    }
    this.#ownScratch(-1);
  }

  #pickHeld(ok: (h: Held) => boolean): Held | undefined {
    const n = this.#held.length;
    if (n === 0) return undefined;
    const start = this.#rng.below(n);
    for (let i = 0; i < n; i++) {
      const h = this.#held[(start + i) % n]!;
      if (ok(h)) return h;
    }
    return undefined;
  }

  /** Release the shadow claim just before the call that reclaims `h` (see run-layout.ts). */
  #releaseShadow(h: Held): void {
    const g = this.#p.geometry;
    if (
      Atomics.compareExchange(this.#w, shadowOwnerBase(g) + h.id, this.#p.cpu + 1, 0) !==
      this.#p.cpu + 1
    )
      this.#violation(
        'id-live-twice',
        'free',
        h.id,
        h.set,
        Atomics.load(this.#w, shadowOwnerBase(g) + h.id),
      );
    Atomics.sub(this.#w, shadowSetBase(g, h.set), 1);
  }

  /** Undo #releaseShadow after the reclaiming call failed (already reported as bad-result). */
  #reclaimShadow(h: Held): void {
    const g = this.#p.geometry;
    Atomics.compareExchange(this.#w, shadowOwnerBase(g) + h.id, 0, this.#p.cpu + 1);
    Atomics.add(this.#w, shadowSetBase(g, h.set), 1);
  }

  #forget(h: Held): void {
    const i = this.#held.indexOf(h);
    this.#held[i] = this.#held[this.#held.length - 1]!;
    this.#held.pop();
    this.#publishHeld();
    // A scratch set whose setFree said -EBUSY is destroyed with its last id.
    if (this.#scratchDying && h.set === this.#scratch && !this.#held.some((x) => x.set === h.set))
      this.#ownScratch(-1);
  }

  /** Make `set` this CPU's scratch set (-1: none) and publish it (CPU_SCRATCH). */
  #ownScratch(set: number): void {
    this.#scratch = set;
    this.#scratchDying = false;
    Atomics.store(this.#w, this.#base + CPU_SCRATCH, set + 1);
  }

  #publishHeld(): void {
    Atomics.store(this.#w, this.#base + CPU_HELD, this.#held.length);
  }

  #nextData(): number {
    // 31-bit, never 0 ("no data"): the CPU in the top bits makes foreign data recognisable.
    this.#dataSeq = (this.#dataSeq + 1) & 0xfffff;
    return ((this.#p.cpu & 0x3ff) << 20) | (this.#dataSeq + 1);
  }

  #log(op: OpName, set: number, id: number, result: number): void {
    const e = this.#base + CPU_LOG + (this.#logHead & (LOG_ENTRIES - 1)) * LOG_ENTRY_WORDS;
    Atomics.store(this.#w, e, OP_INDEX[op] | (this.#p.cpu << 8));
    Atomics.store(this.#w, e + 1, set);
    Atomics.store(this.#w, e + 2, id);
    Atomics.store(this.#w, e + 3, result);
    // Publishes the entry: a reader that sees the new head sees its words.
    this.#logHead = (this.#logHead + 1) | 0; // an int32 counter that wraps (checker.ts)
    Atomics.store(this.#w, this.#base + CPU_LOG_HEAD, this.#logHead);
  }

  #bad(op: OpName, result: number, set: number, id: number, why: string): void {
    this.#violation('bad-result', op, id, set, result, why);
  }

  #violation(
    kind: ViolationKind,
    op: OpName,
    id: number,
    set: number,
    detail: number,
    why = '',
  ): void {
    reportViolation(this.#w, { kind, op, cpu: this.#p.cpu, id, set, detail, why });
  }

  #flush(): void {
    const w = this.#w;
    const b = this.#base;
    for (let i = 0; i < N_OPS; i++) {
      if (this.#ops[i]) Atomics.add(w, b + CPU_OPS + i, this.#ops[i]!);
      if (this.#errs[i]) Atomics.add(w, b + CPU_ERRS + i, this.#errs[i]!);
    }
    for (let i = 0; i < this.#hist.length; i++)
      if (this.#hist[i]) Atomics.add(w, b + CPU_HIST + i, this.#hist[i]!);
    const ops = this.#ops.reduce((a, x) => a + x, 0);
    const epoch = Math.min(Atomics.load(w, RUN_EPOCH), TIMELINE_SLOTS - 1);
    if (ops) Atomics.add(w, b + CPU_TIMELINE + epoch, ops);
    this.#ops.fill(0);
    this.#errs.fill(0);
    this.#hist.fill(0);
    this.#sinceFlush = 0;
  }
}
