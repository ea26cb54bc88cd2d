/**
 * Waiting for a run's worker threads to start, so that the run's clock counts seconds of
 * work: the stress run's CPUs (stress/fleet.ts `started`), the threaded hardware-model run's
 * actors (hw-fleet.ts) and the RCU torture's threads (stress/torture/run.ts) all start their
 * clocks once every worker said it runs.
 *
 * ```ts
 * const problem = await untilStarted({ count: cpus, started: (i) => status(i) !== IDLE, signal });
 * if (problem) problems.push(problem); // 'cpu 3 did not start within 120 s'
 * ```
 *
 * ## Developer notes
 * On a loaded machine (load 20 and more) starting a worker thread and loading its modules
 * can take longer than a short run: a 2 s stress run whose clock started first once did no
 * operation at all and missed its broken twins. The wait is a poll of whatever each harness
 * already publishes (a status word, a ready message), bounded so that a worker that never
 * starts is reported instead of hanging the run, and cut short by a crash or an interrupt.
 *
 * `IOASID_SLOW_START_MS` makes every worker of these three harnesses sleep that long before
 * it says it runs (`slowStartForTests`): the loaded machine, on demand, for the tests that
 * prove a short run still works after a slow start.
 *
 * @internal
 */

/** How long a harness waits for its workers to start: only a broken worker takes this long. */
export const START_WAIT_MS = 120_000;
/** Poll period of the wait. */
const POLL_MS = 5;

/** What `untilStarted` waits for. */
export interface StartWait {
  /** Workers 0 .. count-1. */
  count: number;
  /** True once worker `i` runs (or already ended: it started). */
  started: (i: number) => boolean;
  /** A worker crashed: stop waiting (the harness reports the crash itself). */
  failed?: () => boolean;
  /** Ends the wait early (the run is being interrupted). */
  signal?: AbortSignal;
  /** Names worker `i` in the problem line (default `worker i`). */
  name?: (i: number) => string;
  /** Give up after this long (default START_WAIT_MS). */
  timeoutMs?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Wait until every worker started, a worker crashed, the signal aborted, or the timeout.
 *
 * @param w - the workers, how to tell they started, and when to stop waiting
 *
 * Context: a thread with an event loop (the harness's main thread); yields between polls.
 * @returns undefined when they all started, or the wait was cut short by a crash or the
 * signal; otherwise one line naming the first worker that did not start in time
 */
export async function untilStarted(w: StartWait): Promise<string | undefined> {
  const timeoutMs = w.timeoutMs ?? START_WAIT_MS;
  const deadline = performance.now() + timeoutMs;
  for (let i = 0; i < w.count; i++) {
    while (!w.started(i)) {
      if (w.signal?.aborted || w.failed?.()) return undefined;
      if (performance.now() > deadline)
        return `${w.name?.(i) ?? `worker ${i}`} did not start within ${timeoutMs / 1000} s`;
      await sleep(POLL_MS);
    }
  }
  return undefined;
}

/**
 * Sleep `IOASID_SLOW_START_MS` milliseconds if that variable is set (tests: a loaded
 * machine's slow worker start, on demand); otherwise return at once.
 *
 * Context: a worker thread, before it tells its harness that it runs; blocks (Atomics.wait).
 * @returns nothing
 */
export function slowStartForTests(): void {
  const ms = Number(process.env.IOASID_SLOW_START_MS ?? 0);
  if (!(ms > 0)) return;
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
