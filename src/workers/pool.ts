/**
 * The CPUs: a piscina pool configured so that each worker thread is one CPU running one long
 * task per run. Fixed thread count (min = max), no idle timeout, one task per worker, and
 * workers parked in Atomics.wait between tasks (atomics: 'sync').
 *
 * Killing a CPU aborts its task, which makes piscina terminate that worker and start a fresh
 * one; the returned promise resolves only after the old thread has really exited, so the
 * caller may then release its RCU slot without racing a thread that still runs.
 */
import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { CpuTask, CpuTaskResult } from './cpu-worker.js';
import { workerModuleUrl } from './worker-url.js';

export class CpuPool {
  readonly #pool: Piscina<CpuTask, CpuTaskResult>;
  readonly #aborts = new Map<number, AbortController>();

  constructor(threads: number) {
    this.#pool = new Piscina({
      filename: workerModuleUrl(import.meta.url, './cpu-worker.js').href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
      maxQueue: threads * 2,
      atomics: 'sync',
    });
  }

  /** Start CPU `task.plan.cpu`'s loop; resolves when it returns, rejects if it is killed. */
  run(task: CpuTask): Promise<CpuTaskResult> {
    const abort = new AbortController();
    this.#aborts.set(task.plan.cpu, abort);
    return this.#pool.run(task, { signal: abort.signal });
  }

  /**
   * Terminate the worker running CPU `cpu` (thread `threadId`); resolves once it has exited.
   *
   * @param aim - optional; runs synchronously right before the terminate, to choose its
   *   moment (a spin until the CPU is inside some critical section)
   * @returns false, with nothing done, when no worker of the pool has that threadId
   */
  async kill(cpu: number, threadId: number, aim?: () => void): Promise<boolean> {
    const worker = this.#pool.threads.find((t: Worker) => t.threadId === threadId);
    if (!worker) return false;
    aim?.();
    // Terminate first, then abort: the abort reaches worker.terminate() only through the
    // signal's listeners, microseconds later, and an aimed kill is meant to land inside a
    // critical section about that long. Piscina then handles it as any aborted task (its own
    // terminate of the same worker is a no-op). 'exit' is emitted asynchronously, so the
    // listener below, registered after terminate(), cannot miss it.
    const stopping = worker.terminate();
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    this.#aborts.get(cpu)?.abort(new Error(`cpu ${cpu} killed by fault injection`));
    await Promise.all([exited, stopping]);
    return true;
  }

  /** How many worker threads exist (a killed one is replaced). */
  get threads(): number {
    return this.#pool.threads.length;
  }

  async destroy(): Promise<void> {
    await this.#pool.destroy();
  }
}
