/** Event-loop timers shared by the stress and torture harnesses. */

/**
 * Wait `ms` on the event loop (never blocks it).
 *
 * @param ms - how long
 * @param signal - ends the wait early when aborted
 * @returns when the time passed or the signal was aborted
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Race `p` against a timer; the timer never outlives the race.
 *
 * @param p - the promise
 * @param ms - how long to wait for it
 * @returns true if `p` settled within `ms`
 */
export async function withTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
