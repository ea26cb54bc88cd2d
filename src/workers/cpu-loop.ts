/**
 * One CPU: a long loop of weighted random operations taken from an op table, steered through
 * the run buffer (run, pause for a stutter, stop), with per-CPU counters per operation and
 * errno, sampled latency histograms and a throughput timeline in shared memory
 * (run-layout.ts).
 *
 * ```ts
 * const loop = new CpuLoop(ops, context, rng, run, geometry, { cpu, mix });
 * loop.run();   // until the harness stores STATE_STOP
 * loop.flush(); // after whatever the caller does once stopped
 * ```
 *
 * ## Developer notes
 * The loop knows nothing of what its operations do: each is a `CpuOp` over a context of the
 * caller's choosing (the stress harness's ops are in stress/ops/, one file each, and their
 * context is the CPU's view of what it holds). An op with nothing to act on returns
 * `undefined` and the loop runs its `fallback` instead, at most MAX_FALLBACKS times per step;
 * the op that ran is the one counted.
 *
 * Counters are batched locally and flushed every FLUSH_OPS operations and whenever the
 * harness starts a new epoch (checked every 64 operations, with the run state), so that the
 * timeline counts each operation in its epoch even when a CPU runs slowly; a killed CPU loses
 * at most one batch of statistics, never correctness data (whatever checks the operations
 * keeps its own state, written at once).
 */
import type { Rcu } from '../core/rcu/rcu.js';
import type { Prng } from './prng.js';
import {
  CPU_PARKED,
  type CpuGeometry,
  type CpuSlotLayout,
  cpuBase,
  cpuLayout,
  ERRNO_SLOTS,
  errnoSlot,
  HIST_BUCKETS,
  histBucket,
  RUN_EPOCH,
  RUN_STATE,
  STATE_PAUSE,
  STATE_STOP,
  TIMELINE_SLOTS,
} from './run-layout.js';

/** One operation a CPU can run, over a context `C` of the caller's choosing. */
export interface CpuOp<C> {
  /** Its name (reports and logs). */
  readonly name: string;
  /** Index in the op table of the op to run when this one has nothing to act on; -1: none. */
  readonly fallback: number;
  /**
   * Do it once.
   *
   * @returns its result (negative: an errno, counted per code), or undefined when it had
   *   nothing to act on (nothing was called)
   */
  step(ctx: C): number | undefined;
}

/** What a CPU is told for one run. */
export interface CpuLoopPlan {
  cpu: number;
  /** Weight of each op, in op-table order. */
  mix: readonly number[];
  /**
   * The RCU its ops read under. The loop announces a quiescent state after every operation
   * and goes offline while parked (the qsbr flavor's duties; no-ops in the others), so a
   * grace period waits for no CPU longer than one operation.
   */
  rcu?: Pick<Rcu, 'quiescentState' | 'threadOffline' | 'threadOnline'> | undefined;
}

const FLUSH_OPS = 256;
const SAMPLE_MASK = 7; // time one operation in 8
/** Most fallbacks one step follows (a cycle of ops that all have nothing to do ends here). */
const MAX_FALLBACKS = 4;

/**
 * Park while the harness says STATE_PAUSE (a stutter), flagged in the CPU's CPU_PARKED word
 * meanwhile, so that a checker knows when nobody runs; offline in `rcu` meanwhile (qsbr: grace
 * periods must not wait for a CPU that sleeps).
 *
 * @param w - the run buffer
 * @param base - the CPU's first word (cpuBase)
 * @param rcu - the RCU the CPU reads under, if any
 *
 * Context: the CPU's own thread, outside any read-side section; blocks (Atomics.wait) until
 * the pause ends.
 * @returns nothing
 */
export function parkWhilePaused(
  w: Int32Array<SharedArrayBuffer>,
  base: number,
  rcu?: Pick<Rcu, 'threadOffline' | 'threadOnline'>,
): void {
  rcu?.threadOffline();
  Atomics.store(w, base + CPU_PARKED, 1);
  while (Atomics.load(w, RUN_STATE) === STATE_PAUSE) Atomics.wait(w, RUN_STATE, STATE_PAUSE, 50);
  Atomics.store(w, base + CPU_PARKED, 0);
  rcu?.threadOnline();
}

/** The loop of one CPU. */
export class CpuLoop<C> {
  readonly #ops: readonly CpuOp<C>[];
  readonly #ctx: C;
  readonly #rng: Prng;
  readonly #w: Int32Array<SharedArrayBuffer>;
  readonly #base: number;
  readonly #at: CpuSlotLayout;
  readonly #cumulative: number[];
  readonly #total: number;
  readonly #nOps: number;
  readonly #count: Int32Array;
  readonly #errnos: Int32Array;
  readonly #hist: Int32Array;
  readonly #rcu: CpuLoopPlan['rcu'];
  #sinceFlush = 0;
  /** The epoch this CPU's counts go to: the one it saw at its last check of RUN_EPOCH. */
  #epoch = 0;

  /**
   * @param ops - the op table (its order is the order of the mix and of the counters)
   * @param ctx - what every op acts on
   * @param rng - the CPU's seeded PRNG (shared with its ops, so a run replays from its seed)
   * @param run - the run buffer
   * @param g - its geometry; g.nOps must equal ops.length
   * @param plan - which CPU this is and the op weights
   *
   * Context: the CPU's own thread.
   */
  constructor(
    ops: readonly CpuOp<C>[],
    ctx: C,
    rng: Prng,
    run: SharedArrayBuffer,
    g: CpuGeometry,
    plan: CpuLoopPlan,
  ) {
    if (ops.length !== g.nOps || plan.mix.length !== ops.length)
      throw new RangeError(
        `op table of ${ops.length}, geometry of ${g.nOps} and mix of ${plan.mix.length} ops differ`,
      );
    this.#ops = ops;
    this.#ctx = ctx;
    this.#rng = rng;
    this.#w = new Int32Array(run);
    this.#base = cpuBase(g, plan.cpu);
    this.#at = cpuLayout(g.nOps);
    this.#nOps = ops.length;
    let acc = 0;
    this.#cumulative = plan.mix.map((weight) => {
      acc += weight;
      return acc;
    });
    this.#total = acc;
    this.#count = new Int32Array(this.#nOps);
    this.#errnos = new Int32Array(this.#nOps * ERRNO_SLOTS);
    this.#hist = new Int32Array(this.#nOps * HIST_BUCKETS);
    this.#rcu = plan.rcu;
  }

  /**
   * Run operations until the harness stores STATE_STOP, parking while it says STATE_PAUSE.
   *
   * Context: the CPU's own thread; blocks (Atomics.wait) while parked.
   * @returns how many operations ran
   */
  run(): number {
    const w = this.#w;
    let done = 0;
    this.#epoch = Atomics.load(w, RUN_EPOCH);
    for (;;) {
      const state = Atomics.load(w, RUN_STATE);
      if (state === STATE_STOP) break;
      // A new epoch: what was done in the last one is counted there, not in the new one.
      const epoch = Atomics.load(w, RUN_EPOCH);
      if (epoch !== this.#epoch) {
        this.flush();
        this.#epoch = epoch;
      }
      if (state === STATE_PAUSE) {
        this.flush();
        // Flagged while parked (a checker knows when nobody runs); offline meanwhile (qsbr:
        // grace periods must not wait for a CPU that sleeps).
        parkWhilePaused(w, this.#base, this.#rcu);
        continue;
      }
      for (let i = 0; i < 64; i++) this.#step();
      done += 64;
    }
    return done;
  }

  #step(): void {
    let op = this.#pick();
    const sampled = (this.#sinceFlush & SAMPLE_MASK) === 0;
    const t0 = sampled ? performance.now() : 0;
    let r = this.#ops[op]!.step(this.#ctx);
    for (let hops = 0; r === undefined && hops < MAX_FALLBACKS; hops++) {
      op = this.#ops[op]!.fallback;
      if (op < 0) break;
      r = this.#ops[op]!.step(this.#ctx);
    }
    // Between operations: nothing read under RCU is held from here on.
    this.#rcu?.quiescentState();
    if (r === undefined) return;
    if (sampled) {
      const ns = (performance.now() - t0) * 1e6;
      this.#hist[op * HIST_BUCKETS + histBucket(ns)]!++;
    }
    this.#count[op]!++;
    if (r < 0) this.#errnos[op * ERRNO_SLOTS + errnoSlot(r)]!++;
    if (++this.#sinceFlush >= FLUSH_OPS) this.flush();
  }

  #pick(): number {
    const r = this.#rng.below(this.#total);
    let op = 0;
    while (this.#cumulative[op]! <= r) op++;
    return op;
  }

  /**
   * Add the locally batched counters to the CPU's slot, the operations to the current epoch.
   *
   * Context: the CPU's own thread; never blocks.
   * @returns nothing
   */
  flush(): void {
    const w = this.#w;
    const b = this.#base;
    const at = this.#at;
    let ops = 0;
    for (let i = 0; i < this.#nOps; i++) {
      const n = this.#count[i]!;
      if (n) Atomics.add(w, b + at.ops + i, n);
      ops += n;
    }
    for (let i = 0; i < this.#errnos.length; i++)
      if (this.#errnos[i]) Atomics.add(w, b + at.errnos + i, this.#errnos[i]!);
    for (let i = 0; i < this.#hist.length; i++)
      if (this.#hist[i]) Atomics.add(w, b + at.hist + i, this.#hist[i]!);
    const epoch = Math.min(this.#epoch, TIMELINE_SLOTS - 1);
    if (ops) Atomics.add(w, b + at.timeline + epoch, ops);
    this.#count.fill(0);
    this.#errnos.fill(0);
    this.#hist.fill(0);
    this.#sinceFlush = 0;
  }
}
