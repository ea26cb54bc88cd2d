/**
 * SIGINT, SIGTERM and SIGHUP during a stress or torture run: the first one ends the run
 * cleanly (the harness stops its threads, verifies, and writes its partial report with the
 * seed; the exit code is then 128 + the signal's number, `exitCodeOf`), a second one exits
 * at once.
 */
import { constants } from 'node:os';

/** The signals that end a run with its partial report. */
export const INTERRUPT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** An AbortSignal that the interrupt signals abort, and how to stop listening. */
export interface Interrupt {
  /** Aborted, with the signal's name as its reason, by the first interrupt signal. */
  signal: AbortSignal;
  /** Stop handling the signals (their default action applies again). */
  dispose(): void;
}

/**
 * Handle SIGINT, SIGTERM and SIGHUP for one run.
 *
 * @param log - where the one-line notice goes (stderr by default)
 *
 * Context: main thread; call dispose() once the run's report is written.
 * @returns the signal to hand to runStress/runTorture
 */
export function interruptOnSignals(
  log: (line: string) => void = (l) => console.error(l),
): Interrupt {
  const ac = new AbortController();
  const handler = (sig: NodeJS.Signals): void => {
    if (ac.signal.aborted) process.exit(128 + (constants.signals[sig] ?? 2));
    log(`\n${sig}: ending the run with its partial report (${sig} again to quit at once)`);
    ac.abort(sig);
  };
  for (const s of INTERRUPT_SIGNALS) process.on(s, handler);
  return {
    signal: ac.signal,
    dispose() {
      for (const s of INTERRUPT_SIGNALS) process.off(s, handler);
    },
  };
}

/**
 * The process exit code a report calls for (house rules): 128 + the signal's number when a
 * signal ended the run, else 0 for PASS and 1 for FAIL.
 *
 * @param r - a report
 *
 * Context: pure.
 * @returns the exit code
 */
export function exitCodeOf(r: { interrupted: { signal: string } | null; verdict: string }): number {
  if (r.interrupted) {
    const n = (constants.signals as Record<string, number | undefined>)[r.interrupted.signal];
    return n === undefined ? 130 : 128 + n;
  }
  return r.verdict === 'PASS' || r.verdict === 'SUCCESS' ? 0 : 1;
}
