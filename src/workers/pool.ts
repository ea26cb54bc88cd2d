/**
 * The CPUs: a piscina pool configured so that each worker thread is one CPU running one long
 * task per run. Fixed thread count (min = max), no idle timeout, one task per worker, and
 * workers parked in Atomics.wait between tasks (atomics: 'sync'). The task module is the
 * caller's (it knows which ops its CPUs run; see cpu-task.ts).
 *
 * Killing a CPU aborts its task, which makes piscina terminate that worker and start a fresh
 * one; the returned promise resolves only after the old thread has really exited, so the
 * caller may then release its RCU slot without racing a thread that still runs.
 */
import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { CpuTask, CpuTaskResult } from './cpu-task.js';

/** A pool of CPUs, each a worker thread running one long task of module `taskModule`. */
export class CpuPool<P> {
  readonly #pool: Piscina<CpuTask<P>, CpuTaskResult>;
  readonly #aborts = new Map<number, AbortController>();

  /**
   * @param threads - how many CPUs (worker threads)
   * @param taskModule - URL of the compiled task module (default export: CpuTask -> result)
   *
   * Context: main thread; starts the threads.
   */
  constructor(threads: number, taskModule: URL) {
    this.#pool = new Piscina({
      filename: taskModule.href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
      maxQueue: threads * 2,
      atomics: 'sync',
    });
  }

  /**
   * Start CPU `task.cpu`'s loop.
   *
   * @param task - what the CPU runs
   *
   * Context: main thread.
   * @returns a promise that resolves when the loop returns and rejects if the CPU is killed
   */
  run(task: CpuTask<P>): Promise<CpuTaskResult> {
    const abort = new AbortController();
    this.#aborts.set(task.cpu, abort);
    return this.#pool.run(task, { signal: abort.signal });
  }

  /**
   * Terminate the worker running CPU `cpu` (thread `threadId`); resolves once it has exited.
   *
   * @param aim - optional; runs synchronously right before the terminate, to choose its
   *   moment (a spin until the CPU is inside some critical section)
   * Context: main thread.
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

  /**
   * Stop every worker.
   *
   * Context: main thread, after every task returned or was killed.
   * @returns when the threads are gone
   */
  async destroy(): Promise<void> {
    await this.#pool.destroy();
  }
}
