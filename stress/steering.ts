/**
 * The monitor loop shared by the stress run and the RCU torture: the main thread wakes every
 * few tens of milliseconds and steers the threads that do the work, through shared memory,
 * until the run's time is up, it is told to stop (a failure seen, a signal), or it is
 * aborted: periodic samples and progress, stutters (everyone pauses), kills.
 *
 * ## Developer notes
 * The main thread only steers: it never takes part in the work, so a hang there shows up as
 * a stall the harness reports, not a frozen harness. A kill is never started during a
 * stutter (a parked thread is not where a kill should land); the caller's `kill` awaits the
 * thread's real exit before it returns. Later stutters and kills keep clear of the end of
 * the run, but the first of each (the first `atLeast` kills) is made whenever it comes due,
 * however late, and after the run's time if it never came due in it: a run asked to inject a fault injects it, even when
 * a loaded machine delays the monitor's wake-ups. Aborting (`signal`) ends
 * the loop at its next wake-up, with a stutter in progress resumed, so the caller can stop
 * its threads the ordinary way and still write its report.
 */
import { sleep } from './timers.js';

/** Longest stutter made after the run's time when none was made, and kill attempts per kill
 * still owed then. */
const LAST_CHANCE_MS = 500;
const LAST_CHANCE_TRIES = 20;

/** Something done every `periodMs` of the run (samples, progress lines). */
export interface Periodic {
  periodMs: number;
  /** Called with the seconds since the start. */
  run(t: number): void;
}

/** When everyone pauses, and for how long. */
export interface StutterPlan {
  firstAfterMs: number;
  /** Time from a stutter's start to the next one's. */
  nextAfterMs(): number;
  lengthMs(): number;
  /** No stutter but the first starts with less than this left of the run. */
  minLeftMs: number;
  /** Pause every thread; `t` is the seconds since the start. */
  pause(t: number): void;
  /** Let them go on; `t` is the seconds since the start. */
  resume(t: number): void;
}

/** When a thread is killed. */
export interface KillPlan {
  firstAfterMs: number;
  /**
   * Time from a kill's start to the next one's (a kill that took longer, waiting for its
   * thread's exit and its replacement's start on a loaded machine, is followed at once).
   */
  nextAfterMs(): number;
  /** No kill but the first starts with less than this left of the run. */
  minLeftMs: number;
  /**
   * Kills the run makes whatever the machine's load: the first `atLeast` are made whenever
   * they come due, and after the run's time if they did not (default 1).
   */
  atLeast?: number;
  /**
   * Kill one thread (and replace it); `t` is the seconds since the start.
   * @returns false when there was nothing to kill yet (it is tried again at the next wake-up)
   */
  kill(t: number): Promise<boolean>;
}

/** What the monitor loop does. */
export interface SteeringPlan {
  seconds: number;
  monitorMs: number;
  /** Ends the run early (its reason, e.g. 'SIGINT', is returned as `interrupted`). */
  signal?: AbortSignal | undefined;
  every?: Periodic[];
  stutter?: StutterPlan | undefined;
  kill?: KillPlan | undefined;
  /** Called at every wake-up after the above, with whether a stutter is in progress. */
  tick?(now: number, stuttering: boolean): void;
  /** Checked before every wake-up: true ends the run early. */
  stopWhen?(): boolean;
  /**
   * Checked once the run's time is up: while true, the run goes on (work a loaded machine
   * did not get to do in the time, e.g. a minimum number of grace periods), for at most
   * `maxExtraSeconds` more.
   */
  extendWhile?(): boolean;
  /** The bound on `extendWhile`'s extension (default 0: no extension). */
  maxExtraSeconds?: number;
}

/** How the run ended. */
export interface SteeringResult {
  /** performance.now() at the start. */
  t0: number;
  elapsedSeconds: number;
  stutters: number;
  /** The abort reason (a signal name) when it was aborted. */
  interrupted: string | undefined;
}

/**
 * The reason an aborted signal carries, as text.
 *
 * @param signal - an aborted signal
 *
 * Context: pure.
 * @returns its reason if that is a string (a signal name), else 'aborted'
 */
export function abortReason(signal: AbortSignal): string {
  return typeof signal.reason === 'string' ? signal.reason : 'aborted';
}

/**
 * Run the monitor loop.
 *
 * @param p - what to do and when
 *
 * Context: the main thread (event loop); returns after the run's time, a stop or an abort.
 * @returns when it started, how long it ran, how many stutters, and whether it was aborted
 */
export async function steer(p: SteeringPlan): Promise<SteeringResult> {
  const t0 = performance.now();
  const endAt = t0 + p.seconds * 1000;
  const every = p.every ?? [];
  const due = every.map((e) => t0 + e.periodMs);
  const { stutter, kill, signal } = p;
  let nextStutter = stutter ? t0 + stutter.firstAfterMs : Number.POSITIVE_INFINITY;
  let nextKill = kill ? t0 + kill.firstAfterMs : Number.POSITIVE_INFINITY;
  let stutterUntil = 0;
  let stutters = 0;
  let kills = 0;
  const killsOwed = kill?.atLeast ?? 1;
  const seconds = (now: number): number => (now - t0) / 1000;
  const hardEndAt = endAt + (p.maxExtraSeconds ?? 0) * 1000;
  const timeLeft = (now: number): boolean =>
    now < endAt || (now < hardEndAt && (p.extendWhile?.() ?? false));
  while (!signal?.aborted && timeLeft(performance.now()) && !p.stopWhen?.()) {
    await sleep(p.monitorMs, signal);
    if (signal?.aborted) break;
    const now = performance.now();
    every.forEach((e, i) => {
      if (now < due[i]!) return;
      due[i]! += e.periodMs;
      e.run(seconds(now));
    });
    if (stutter && stutterUntil > 0 && now >= stutterUntil) {
      stutter.resume(seconds(now));
      stutterUntil = 0;
    } else if (
      stutter &&
      stutterUntil === 0 &&
      now >= nextStutter &&
      (stutters === 0 || now + stutter.minLeftMs < endAt)
    ) {
      stutter.pause(seconds(now));
      stutterUntil = now + stutter.lengthMs();
      nextStutter = now + stutter.nextAfterMs();
      stutters++;
    }
    if (
      kill &&
      stutterUntil === 0 &&
      now >= nextKill &&
      (kills < killsOwed || now + kill.minLeftMs < endAt) &&
      (await kill.kill(seconds(now)))
    ) {
      kills++;
      nextKill = now + kill.nextAfterMs();
    }
    p.tick?.(now, stutterUntil > 0);
  }
  if (stutterUntil > 0) stutter?.resume(seconds(performance.now()));
  // A run asked to inject a fault injects it, even when the time ran out first (a slow start,
  // or a kill that waited long for its CPU, on a loaded machine): one stutter, and the kills
  // still owed, now.
  const finished = !signal?.aborted && !p.stopWhen?.();
  if (finished && stutter && stutters === 0) {
    stutter.pause(seconds(performance.now()));
    stutters++;
    await sleep(Math.min(stutter.lengthMs(), LAST_CHANCE_MS), signal);
    stutter.resume(seconds(performance.now()));
  }
  const killTries = LAST_CHANCE_TRIES * killsOwed;
  for (let tries = 0; finished && kill && kills < killsOwed && tries < killTries; tries++) {
    if (await kill.kill(seconds(performance.now()))) kills++;
    else await sleep(p.monitorMs, signal);
  }
  return {
    t0,
    elapsedSeconds: seconds(performance.now()),
    stutters,
    interrupted: signal?.aborted ? abortReason(signal) : undefined,
  };
}
