/**
 * A CPU's operation log: a ring of LOG_ENTRIES four-word entries in its slot of the run
 * buffer (run-layout.ts), written only by that CPU and read, without stopping it, by
 * whoever checks the run (the stress harness's checker reads it seqlock-style).
 *
 * ## Developer notes
 * An entry is `op | (cpu << 8), set, id, result`; what `set` and `id` mean is the operation's
 * business (-1 for "none"). The four words are stored first, then LOG_HEAD, which publishes
 * them: a reader that loads the head and then the entry sees the entry's words, unless the
 * CPU has meanwhile lapped the ring (the reader proves it has not by reloading the head).
 * The head is an int32 counter that wraps; readers take distances modulo 2^32.
 */
import {
  CPU_LOG_HEAD,
  type CpuGeometry,
  cpuBase,
  cpuLayout,
  LOG_ENTRIES,
  LOG_ENTRY_WORDS,
} from './run-layout.js';

/** The writer of one CPU's log ring. */
export class OpLog {
  readonly #w: Int32Array<SharedArrayBuffer>;
  readonly #cpu: number;
  readonly #head: number;
  readonly #ring: number;
  #n: number;

  /**
   * @param run - the run buffer
   * @param g - its geometry
   * @param cpu - the CPU whose ring this writes
   *
   * Context: the CPU's own thread only (the ring has one writer).
   */
  constructor(run: SharedArrayBuffer, g: CpuGeometry, cpu: number) {
    this.#w = new Int32Array(run);
    this.#cpu = cpu;
    const base = cpuBase(g, cpu);
    this.#head = base + CPU_LOG_HEAD;
    this.#ring = base + cpuLayout(g.nOps).log;
    // A replacement CPU goes on from where its killed predecessor stopped.
    this.#n = Atomics.load(this.#w, this.#head);
  }

  /**
   * Append one entry and publish it.
   *
   * @param op - index of the operation in the CPUs' op table (< 256)
   * @param set - the set it acted on, or -1
   * @param id - the id (or other key) it acted on, or -1
   * @param result - what it returned
   *
   * Context: the CPU's own thread; never blocks.
   * @returns nothing
   */
  write(op: number, set: number, id: number, result: number): void {
    const w = this.#w;
    const e = this.#ring + (this.#n & (LOG_ENTRIES - 1)) * LOG_ENTRY_WORDS;
    Atomics.store(w, e, op | (this.#cpu << 8));
    Atomics.store(w, e + 1, set);
    Atomics.store(w, e + 2, id);
    Atomics.store(w, e + 3, result);
    this.#n = (this.#n + 1) | 0;
    // Publishes the entry: a reader that sees the new head sees its words.
    Atomics.store(w, this.#head, this.#n);
  }
}
