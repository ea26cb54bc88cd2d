/**
 * What a model run is asked to do and what it reports, shared by the deterministic runner
 * and the threaded fleet (src/workers) so that both print and compare the same thing.
 */

import type { TeardownTimeline, Violation } from './checker/checker.js';
import type { RefWalk, VmStats } from './checker/guest-checks.js';
import type { InvariantCount } from './checker/invariants.js';
import type { Counters } from './counters.js';
import type { MutationName } from './mutations.js';
import type { Platform } from './platform.js';
import type { Profile } from './profile.js';
import type { ModelFault, ProcessMix } from './scenarios.js';

/** A run of one scenario. */
export interface ModelRunConfig {
  /** A name of MODEL_SCENARIOS. */
  scenario: string;
  /** The run seed (every actor and the scheduler draw from it). */
  seed: number;
  /** Wall-time bound of the busy part (the wind-down comes after). */
  seconds: number;
  /** Deterministic mode: stop after this many scheduler steps (a fixed budget replays exactly). */
  maxSteps?: number | undefined;
  /** A deliberately broken driver, for the checker to catch. */
  mutation?: MutationName | undefined;
  /** Default: the scenario's. */
  faults?: ModelFault[] | undefined;
  /** CPU workers (threads) / CPU groups for kill-cpu (deterministic). Default: the scenario's. */
  cpus?: number | undefined;
  /** Overrides on top of the scenario's profile. */
  profile?: Partial<Profile> | undefined;
  /** Overrides on top of the scenario's process mix. */
  mix?: Partial<ProcessMix> | undefined;
  /** Stop at the first violation (default true). */
  stopOnViolation?: boolean | undefined;
  /** Liveness bound of INV-16, in events. */
  livenessBound?: number | undefined;
  /** Aborting it ends the busy part early (a signal): the run winds down and reports. */
  signal?: AbortSignal | undefined;
  /**
   * Threaded runs: called with the main thread's platform after the wind-down and the end
   * checks, before it is detached (tests look at the hardware at rest).
   */
  atEnd?: ((platform: Platform) => void) | undefined;
  /**
   * Threaded runs: after `seconds`, no more kills, and the busy part goes on until every VM
   * has submitted in its current life (VmStats `submissionsThisBoot`), bounded by work: as
   * many worker steps again as the busy part made (at least 200 000), counted afresh while a
   * VM that is not running moves on, 20 such bounds at most; it also ends when no worker makes
   * a step any more. A VM that still has not submitted then is a finding of the run (the check
   * is the caller's).
   */
  untilEveryVmWorked?: boolean | undefined;
  /**
   * Threaded runs: the busy part goes on past `seconds` until the workers made this many
   * steps (a loaded machine may give them little of the time), bounded by work: it still ends
   * at a violation (stopOnViolation), an abort, a crashed worker, or when no worker makes a
   * step any more (the wind-down's stall rule). Default 0.
   */
  minSteps?: number | undefined;
}

/** Why and when a run was ended early. */
export interface RunInterruption {
  /** The abort reason (the signal's name, e.g. 'SIGINT'). */
  signal: string;
  /** Seconds after the run started. */
  atSeconds: number;
}

/** Everything a run reports. */
export interface ModelRunResult {
  /** The scenario's name. */
  scenario: string;
  /** One thread under the seeded scheduler, or worker threads. */
  mode: 'deterministic' | 'threads';
  /** The run seed. */
  seed: number;
  /** The mutation the run had, if any. */
  mutation: MutationName | undefined;
  /** 'fail' when any invariant was violated. */
  verdict: 'pass' | 'fail';
  /** Scheduler steps (deterministic) or actor steps summed over threads. */
  steps: number;
  /** Scheduler steps of the busy part (deterministic; the replay's --steps), else 0. */
  busySteps: number;
  /** Set when the run was ended early by its signal. */
  interrupted: RunInterruption | null;
  /** Events the checker read. */
  events: number;
  /** Wall time of the whole run. */
  elapsedSeconds: number;
  /** Checks and violations per invariant. */
  invariants: InvariantCount[];
  /** Violations found (all of them; the checker keeps the first 100). */
  violations: number;
  /** The first violation, with its PASID's trace and the replay command. */
  firstViolation: Violation | undefined;
  /** The hardware counters at the end. */
  hardware: Counters;
  /** A sample of teardown timelines (log positions of P0 .. P8). */
  timelines: TeardownTimeline[];
  /** CPUs killed (kill-cpu). */
  kills: number;
  /** Stutters injected. */
  stutters: number;
  /** What was still busy when the wind-down gave up (empty: the platform came to rest). */
  leftBusy: string[];
  /**
   * Threaded runs with `untilEveryVmWorked`: VMs that had made no submission in their current
   * life when the busy part ended (0: every VM worked after its last destroy); else undefined.
   */
  vmsIdleAtBusyEnd?: number | undefined;
  /** The command that replays the run. */
  replay: string;
  /** Per VM: PASIDs live at the end, guest submissions (vDWQ MOVDIR64B among them) / retried, exits 72, vcmds, destroys with bound PASIDs. */
  vms: VmStats[];
  /** The reference-count walk of the first PASID a vcmd Allocate handed out. */
  refWalk: RefWalk | undefined;
}

/**
 * The command that replays a run in deterministic mode: with the step budget of a
 * deterministic run it replays that run exactly, step by step; without one, the same
 * scenario, seed and faults in one thread for the same time (the interleaving differs).
 *
 * @param cfg - the run
 * @param steps - the busy part's step count, when known (a deterministic run)
 *
 * Context: pure.
 * @returns the command line
 */
export function replayCommand(cfg: ModelRunConfig, steps?: number): string {
  const parts = ['ioasid-stress', '--scenario', cfg.scenario, '--deterministic'];
  parts.push('--seed', String(cfg.seed));
  const budget = steps ?? cfg.maxSteps;
  if (budget !== undefined) parts.push('--steps', String(budget));
  else parts.push('--seconds', String(cfg.seconds));
  return [...parts, ...runFlags(cfg)].join(' ');
}

/**
 * The command that runs a threaded run again: the same scenario, seed, time, faults (kills of
 * VM threads included, which one thread cannot inject) and mutation, on threads. What the
 * seed fixes (the actors' choices, the scheduler of faults) is the same; the threads' timing
 * is not replayed (THREADED_REPLAY_NOTE).
 *
 * @param cfg - the run
 *
 * Context: pure.
 * @returns the command line
 */
export function threadedReplayCommand(cfg: ModelRunConfig): string {
  const parts = ['ioasid-stress', '--scenario', cfg.scenario, '--seed', String(cfg.seed)];
  parts.push('--seconds', String(cfg.seconds));
  return [...parts, ...runFlags(cfg)].join(' ');
}

/** What a threaded run's replay command reproduces, and what it cannot. */
export const THREADED_REPLAY_NOTE =
  'threads: the same seed, scenario, faults and mutation; thread timing is not replayed';

/** The flags both replay commands share. */
function runFlags(cfg: ModelRunConfig): string[] {
  const parts: string[] = [];
  if (cfg.mutation) parts.push('--mutation', cfg.mutation);
  if (cfg.faults?.length) parts.push('--fault', cfg.faults.join(','));
  if (cfg.cpus !== undefined) parts.push('--cpus', String(cfg.cpus));
  if (cfg.profile?.pasidBits !== undefined)
    parts.push('--pasid-bits', String(cfg.profile.pasidBits));
  return parts;
}
