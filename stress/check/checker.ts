/**
 * The online checker: a thread of its own that, while the CPUs run, drains every CPU's
 * operation log and checks each result against the operations' legal results
 * (stress/ops/), and checks the invariants that no single CPU can see (every set's count
 * within its quota; the capacity reserved by sets equal to the quotas of the sets that are
 * visible). It runs once more after the CPUs stop, and the end-of-run verification uses it
 * too.
 *
 * ## Developer notes
 * Lock-free reads of a changing space are stale, so the online checks are only those that
 * hold at every instant in a correct allocator whatever interleaving the reads see: each
 * set's `count <= quota` (count is reserved before an id is handed out) and the shadow live
 * count <= quota (a lower bound of the real count). Capacity accounting involves several
 * words that change together (available, the set table), so it is checked exactly, as an
 * equality, only when no CPU runs: while every CPU is parked in a stutter, and at the end.
 */
import type { IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';
import {
  CPU_LOG_HEAD,
  type CpuGeometry,
  cpuBase,
  cpuLayout,
  LOG_ENTRIES,
  LOG_ENTRY_WORDS,
} from '../../src/workers/run-layout.js';
import { OP_NAMES, STRESS_OPS } from '../ops/index.js';
import { showResult } from '../ops/view.js';
import { type CheckGeometry, type Finder, shadowSetBase } from './check-layout.js';
import { reportViolation, type Violation } from './violations.js';

/** Results each operation may legally return to a CPU, indexed by the op number a log entry carries. */
const LEGAL = STRESS_OPS.map((op) => (r: number) => op.legal(r));
/** Log entries read between two reloads of a CPU's log head. */
const LOG_CHUNK = 256;

/** What the checker did. */
export interface CheckerStats {
  passes: number;
  entriesChecked: number;
  /** Log entries overwritten before the checker read them (not a violation). */
  entriesMissed: number;
  quiescentChecks: number;
}

/** The checks no single CPU can make, and the log reader. */
export class Checker {
  readonly #space: IoasidSpace;
  readonly #run: Int32Array<SharedArrayBuffer>;
  readonly #check: Int32Array<SharedArrayBuffer>;
  readonly #rg: CpuGeometry;
  readonly #cg: CheckGeometry;
  readonly #finder: Finder;
  readonly #log: number;
  readonly #cursor: number[];
  readonly stats: CheckerStats = {
    passes: 0,
    entriesChecked: 0,
    entriesMissed: 0,
    quiescentChecks: 0,
  };

  /**
   * @param space - the space under test
   * @param run - the run buffer (the CPUs' logs)
   * @param rg - its geometry
   * @param check - the check buffer (shadow counts; where violations go)
   * @param cg - its geometry
   * @param finder - who this checker reports as ('checker' online, 'end-of-run' after it)
   *
   * Context: any attached thread; starts reading each log at its current head.
   */
  constructor(
    space: IoasidSpace,
    run: SharedArrayBuffer,
    rg: CpuGeometry,
    check: SharedArrayBuffer,
    cg: CheckGeometry,
    finder: Finder = 'checker',
  ) {
    this.#space = space;
    this.#run = new Int32Array(run);
    this.#check = new Int32Array(check);
    this.#rg = rg;
    this.#cg = cg;
    this.#finder = finder;
    this.#log = cpuLayout(rg.nOps).log;
    this.#cursor = Array.from({ length: rg.cpus }, (_, c) =>
      Atomics.load(this.#run, cpuBase(rg, c) + CPU_LOG_HEAD),
    );
  }

  /**
   * One online pass: every new log entry and every set's quota.
   *
   * Context: the checker thread (or the main thread once the CPUs stopped); never blocks.
   * @returns nothing; violations go to the check buffer
   */
  pass(): void {
    this.stats.passes++;
    for (let c = 0; c < this.#rg.cpus; c++) this.#drainLog(c);
    this.#checkSets();
  }

  #report(v: Omit<Violation, 'foundBy'>): void {
    reportViolation(this.#check, { ...v, foundBy: this.#finder });
  }

  /**
   * Check CPU `cpu`'s entries since the last pass. The ring is read without stopping its
   * writer, so an entry can be overwritten while we read it: the head is reloaded after each
   * chunk, and only the entries it proves intact (fewer than LOG_ENTRIES behind it) count, in
   * the manner of a seqlock reader. A bad entry's words are all read inside the chunk, before
   * that reload, so the one proof covers them: a torn read is never reported, and a bad entry
   * counted as checked is always reported.
   */
  #drainLog(cpu: number): void {
    const w = this.#run;
    const base = cpuBase(this.#rg, cpu);
    const log = base + this.#log;
    // Pairs with the CPU's store of LOG_HEAD after it wrote the entry. Heads are int32
    // counters that wrap: all distances are taken modulo 2^32 (`| 0`).
    const head = Atomics.load(w, base + CPU_LOG_HEAD);
    let from = this.#cursor[cpu]!;
    let total = (head - from) | 0;
    // Only the newest LOG_ENTRIES - 1 entries can be intact: the CPU may be writing entry
    // `head` over entry head - LOG_ENTRIES right now.
    if (total > LOG_ENTRIES - 1) {
      this.stats.entriesMissed += total - (LOG_ENTRIES - 1);
      from = (head - (LOG_ENTRIES - 1)) | 0;
      total = LOG_ENTRIES - 1;
    }
    for (let done = 0; done < total; done += LOG_CHUNK) {
      const count = Math.min(LOG_CHUNK, total - done);
      const first = (from + done) | 0;
      const bad: { at: number; v: Omit<Violation, 'foundBy'> }[] = [];
      for (let i = 0; i < count; i++) {
        const e = log + ((first + i) & (LOG_ENTRIES - 1)) * LOG_ENTRY_WORDS;
        const opWord = Atomics.load(w, e);
        const result = Atomics.load(w, e + 3);
        const legal = LEGAL[opWord & 0xff];
        if (legal === undefined || legal(result)) continue;
        const op = OP_NAMES[opWord & 0xff]!;
        const id = Atomics.load(w, e + 2);
        const set = Atomics.load(w, e + 1);
        bad.push({
          at: (first + i) | 0,
          v: {
            kind: 'bad-result',
            op,
            cpu,
            id: id >= 0 ? id : null,
            set: set >= 0 ? set : null,
            detail: result,
            why: `CPU ${cpu}'s log shows ${op} returned ${showResult(result)}, not a result it may return to a CPU`,
          },
        });
      }
      // An entry is intact if, after we read it, the head is still less than LOG_ENTRIES
      // ahead of it (the CPU overwrites entry n - LOG_ENTRIES while it writes entry n).
      const now = Atomics.load(w, base + CPU_LOG_HEAD);
      const lost = Math.max(0, Math.min(count, ((now - first) | 0) - LOG_ENTRIES + 1));
      this.stats.entriesMissed += lost;
      this.stats.entriesChecked += count - lost;
      for (const { at, v } of bad) if (((now - at) | 0) < LOG_ENTRIES) this.#report(v);
    }
    this.#cursor[cpu] = head;
  }

  #checkSets(): void {
    for (let set = 0; set < this.#cg.maxSets; set++) {
      const info = this.#space.setInfo(set);
      if (!info) continue;
      const shadowLive = Atomics.load(this.#check, shadowSetBase(this.#cg, set));
      // The set's own count, or the CPUs' (a lower bound of it): either over the quota.
      const [count, whose] =
        info.count > info.quota ? [info.count, 'setInfo'] : [shadowLive, 'shadow count'];
      if (count > info.quota)
        this.#report({
          kind: 'quota-exceeded',
          op: null,
          cpu: null,
          id: null,
          set,
          detail: count,
          why: `set ${set} holds ${count} live ids, over its quota ${info.quota} (${whose})`,
        });
    }
  }

  /**
   * Exact capacity accounting: capacity - available == sum of live sets' quotas.
   *
   * Context: only while no thread allocates, frees or changes sets.
   * @returns the difference (0 when exact); a non-zero one is also reported
   */
  quiescentCheck(): number {
    this.stats.quiescentChecks++;
    let quotas = 0;
    for (let set = 0; set < this.#cg.maxSets; set++) quotas += this.#space.setInfo(set)?.quota ?? 0;
    const taken = this.#space.capacity() - this.#space.available();
    const diff = taken - quotas;
    if (diff !== 0)
      this.#report({
        kind: 'capacity-accounting',
        op: null,
        cpu: null,
        id: null,
        set: null,
        detail: diff,
        why:
          `capacity ${this.#space.capacity()} - available ${this.#space.available()} = ${taken} ` +
          `taken, but the live sets' quotas add up to ${quotas}`,
      });
    return diff;
  }
}
