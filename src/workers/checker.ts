/**
 * The online checker: a thread of its own that, while the CPUs run, drains every CPU's
 * operation log and checks each result against the API contract, and checks the global
 * invariants that no single CPU can see (every set's count within its quota, and the
 * capacity reserved by sets never less than the quotas of the sets that are visible).
 * It runs once more after the CPUs stop.
 *
 * ## Developer notes
 * Lock-free reads of a changing space are stale, so the online checks are only those that
 * hold at every instant in a correct allocator whatever interleaving the reads see: each
 * set's `count <= quota` (count is reserved before an id is handed out) and the shadow live
 * count <= quota (a lower bound of the real count). Capacity accounting involves several
 * words that change together (available, the set table), so it is checked exactly, as an
 * equality, only when no CPU runs: while every CPU is parked in a stutter, and at the end.
 */
import { Errno, type IoasidSpace } from '../core/ioasid/ioasid-space.js';
import {
  CPU_LOG,
  CPU_LOG_HEAD,
  cpuBase,
  LOG_ENTRIES,
  LOG_ENTRY_WORDS,
  OPS,
  type OpName,
  type RunGeometry,
  shadowSetBase,
} from './run-layout.js';
import { reportViolation, type Violation } from './violations.js';

/** Results each operation may legally return to a CPU that used it as cpu-loop.ts does. */
const LEGAL_BY_NAME: Record<OpName, (r: number) => boolean> = {
  alloc: (r) => r > 0 || r === -Errno.EDQUOT || r === -Errno.ENOSPC || r === -Errno.ENOMEM,
  free: (r) => r === 0,
  get: (r) => r === 0 || r === -Errno.EBUSY,
  put: (r) => r === 0 || r === 1,
  find: (r) => r >= 0 || r === -Errno.ENOENT,
  findBySpid: (r) => r > 0,
  attachSpid: (r) => r === 0,
  detachSpid: (r) => r === 0,
  attachData: (r) => r === 0 || r === -Errno.EBUSY,
  detachData: (r) => r === 0,
  setAlloc: (r) => r >= 0 || r === -Errno.ENOSPC,
  setFree: (r) => r === 0 || r === -Errno.EBUSY,
  freeAllInSet: (r) => r >= 0,
};
/** The same, indexed by the op number a log entry carries (no string lookup per entry). */
const LEGAL = OPS.map((op) => LEGAL_BY_NAME[op]);
/** Log entries read between two reloads of a CPU's log head. */
const LOG_CHUNK = 256;

export interface CheckerStats {
  passes: number;
  entriesChecked: number;
  /** Log entries overwritten before the checker read them (not a violation). */
  entriesMissed: number;
  quiescentChecks: number;
}

export class Checker {
  readonly #space: IoasidSpace;
  readonly #w: Int32Array<SharedArrayBuffer>;
  readonly #g: RunGeometry;
  readonly #cursor: number[];
  #recycledSeen = 0;
  readonly stats: CheckerStats = {
    passes: 0,
    entriesChecked: 0,
    entriesMissed: 0,
    quiescentChecks: 0,
  };

  constructor(space: IoasidSpace, run: SharedArrayBuffer, g: RunGeometry) {
    this.#space = space;
    this.#w = new Int32Array(run);
    this.#g = g;
    this.#cursor = Array.from({ length: g.cpus }, (_, c) =>
      Atomics.load(this.#w, cpuBase(c) + CPU_LOG_HEAD),
    );
  }

  /** One online pass: every new log entry, every set's quota, and every 16th pass the space's
   * own count of records that changed under an RCU reader. */
  pass(): void {
    this.stats.passes++;
    for (let c = 0; c < this.#g.cpus; c++) this.#drainLog(c);
    this.#checkSets();
    if ((this.stats.passes & 15) === 1) this.#checkReaders();
  }

  /** Records recycled under a reader can only come from a broken grace period. */
  #checkReaders(): void {
    const seen = this.#space.stats().recycledUnderReader;
    if (seen > this.#recycledSeen)
      reportViolation(this.#w, {
        kind: 'record-recycled-under-reader',
        op: 'check',
        cpu: -1,
        id: 0,
        set: -1,
        detail: seen - this.#recycledSeen,
      });
    this.#recycledSeen = seen;
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
    const w = this.#w;
    const base = cpuBase(cpu);
    const log = base + CPU_LOG;
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
      const bad: { at: number; v: Violation }[] = [];
      for (let i = 0; i < count; i++) {
        const e = log + ((first + i) & (LOG_ENTRIES - 1)) * LOG_ENTRY_WORDS;
        const opWord = Atomics.load(w, e);
        const result = Atomics.load(w, e + 3);
        const legal = LEGAL[opWord & 0xff];
        if (legal === undefined || legal(result)) continue;
        const op = OPS[opWord & 0xff]!;
        const id = Atomics.load(w, e + 2);
        const set = Atomics.load(w, e + 1);
        bad.push({
          at: (first + i) | 0,
          v: { kind: 'bad-result', op, cpu, id, set, detail: result },
        });
      }
      // An entry is intact if, after we read it, the head is still less than LOG_ENTRIES
      // ahead of it (the CPU overwrites entry n - LOG_ENTRIES while it writes entry n).
      const now = Atomics.load(w, base + CPU_LOG_HEAD);
      const lost = Math.max(0, Math.min(count, ((now - first) | 0) - LOG_ENTRIES + 1));
      this.stats.entriesMissed += lost;
      this.stats.entriesChecked += count - lost;
      for (const { at, v } of bad) if (((now - at) | 0) < LOG_ENTRIES) reportViolation(w, v);
    }
    this.#cursor[cpu] = head;
  }

  #checkSets(): void {
    for (let set = 0; set < this.#g.maxSets; set++) {
      const info = this.#space.setInfo(set);
      if (!info) continue;
      const shadowLive = Atomics.load(this.#w, shadowSetBase(this.#g, set));
      if (info.count > info.quota || shadowLive > info.quota)
        reportViolation(this.#w, {
          kind: 'quota-exceeded',
          op: 'check',
          cpu: -1,
          id: 0,
          set,
          detail: Math.max(info.count, shadowLive),
        });
    }
  }

  /**
   * Exact capacity accounting: capacity - available == sum of live sets' quotas.
   * Context: only while no thread allocates, frees or changes sets.
   * @returns the difference (0 when exact); a non-zero one is also reported
   */
  quiescentCheck(): number {
    this.stats.quiescentChecks++;
    let quotas = 0;
    for (let set = 0; set < this.#g.maxSets; set++) quotas += this.#space.setInfo(set)?.quota ?? 0;
    const diff = this.#space.capacity() - this.#space.available() - quotas;
    if (diff !== 0)
      reportViolation(this.#w, {
        kind: 'capacity-accounting',
        op: 'check',
        cpu: -1,
        id: 0,
        set: -1,
        detail: diff,
      });
    return diff;
  }
}
