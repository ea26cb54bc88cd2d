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

  /** Terminate the worker running CPU `cpu` (thread `threadId`); resolves once it has exited. */
  async kill(cpu: number, threadId: number): Promise<void> {
    const worker = this.#pool.threads.find((t: Worker) => t.threadId === threadId);
    const exited = worker
      ? new Promise<void>((resolve) => worker.once('exit', () => resolve()))
      : Promise.resolve();
    this.#aborts.get(cpu)?.abort(new Error(`cpu ${cpu} killed by fault injection`));
    await exited;
  }

  /** How many worker threads exist (a killed one is replaced). */
  get threads(): number {
    return this.#pool.threads.length;
  }

  async destroy(): Promise<void> {
    await this.#pool.destroy();
  }
}
