/**
 * What a model run is asked to do and what it reports, shared by the deterministic runner
 * and the threaded fleet (src/workers) so that both print and compare the same thing.
 */

import type { TeardownTimeline, Violation } from './checker/checker.js';
import type { InvariantCount } from './checker/invariants.js';
import type { Counters } from './counters.js';
import type { MutationName } from './mutations.js';
import type { Profile } from './profile.js';
import type { ModelFault, ProcessMix } from './scenarios.js';

/** A run of one scenario. */
export interface ModelRunConfig {
  scenario: string;
  seed: number;
  /** Wall-time bound of the busy part (the wind-down comes after). */
  seconds: number;
  /** Deterministic mode: stop after this many scheduler steps (a fixed budget replays exactly). */
  maxSteps?: number | undefined;
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
}

/** Everything a run reports. */
export interface ModelRunResult {
  scenario: string;
  mode: 'deterministic' | 'threads';
  seed: number;
  mutation: MutationName | undefined;
  verdict: 'pass' | 'fail';
  /** Scheduler steps (deterministic) or actor steps summed over threads. */
  steps: number;
  events: number;
  elapsedSeconds: number;
  invariants: InvariantCount[];
  violations: number;
  firstViolation: Violation | undefined;
  hardware: Counters;
  timelines: TeardownTimeline[];
  kills: number;
  stutters: number;
  /** What was still busy when the wind-down gave up (empty: the platform came to rest). */
  leftBusy: string[];
  replay: string;
}

/**
 * The command that replays a run (deterministic mode replays it exactly, step by step).
 *
 * @param cfg - the run
 */
export function replayCommand(cfg: ModelRunConfig): string {
  const parts = [
    'ioasid-stress',
    '--scenario',
    cfg.scenario,
    '--deterministic',
    '--seed',
    String(cfg.seed),
  ];
  if (cfg.maxSteps !== undefined) parts.push('--steps', String(cfg.maxSteps));
  else parts.push('--seconds', String(cfg.seconds));
  if (cfg.mutation) parts.push('--mutation', cfg.mutation);
  return parts.join(' ');
}
