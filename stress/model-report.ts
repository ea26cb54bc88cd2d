/**
 * The report of a hardware-model run (`ioasid-stress --scenario host-sva`): one JSON-able
 * object with the verdict, every invariant checked (`{ id: 'INV-10', name, checks,
 * violations }`), the hardware counters, the first violation with its trace and replay
 * command, and sampled teardown timelines; and its rendering as text. (The HTML page is
 * model-report-html.ts.) `schemaVersion` changes whenever a field changes meaning or goes
 * away; fields are only ever added within a version.
 */

import type { TeardownTimeline, Violation } from '../src/hw-model/checker/checker.js';
import { INVARIANTS, type InvariantCount } from '../src/hw-model/checker/invariants.js';
import type { Counters } from '../src/hw-model/counters.js';
import type { MutationName } from '../src/hw-model/mutations.js';
import type { ModelRunConfig, ModelRunResult } from '../src/hw-model/run-result.js';
import { formatModelRun } from '../src/hw-model/summary.js';
import { type Environment, environment } from './environment.js';

/** The model report's schema version (see the module notes). */
export const MODEL_REPORT_SCHEMA_VERSION = 1;

/** One invariant's line: checks and violations, and where it is checked. */
export interface ModelInvariantReport extends InvariantCount {
  /** online, quiescent, per-translation, end. */
  checkedAt: string[];
}

/** The report of one model run. */
export interface ModelReport {
  schemaVersion: typeof MODEL_REPORT_SCHEMA_VERSION;
  tool: 'ioasid-stress';
  /** What was run: the hardware model (the allocator's own scenarios report `kind` absent). */
  kind: 'hw-model';
  environment: Environment;
  verdict: 'PASS' | 'FAIL';
  /** Set when a signal ended the run early: the report covers what ran. */
  interrupted: { signal: string; atSeconds: number } | null;
  scenario: string;
  /** Worker threads, or one thread under the seeded scheduler. */
  mode: 'threads' | 'deterministic';
  seed: number;
  mutation: MutationName | null;
  /** The command that replays this run (deterministic: exactly). */
  replay: string;
  config: {
    seconds: number;
    steps: number | null;
    faults: string[];
    cpus: number | null;
    pasidBits: number | null;
  };
  elapsedSeconds: number;
  steps: number;
  events: number;
  invariants: ModelInvariantReport[];
  /** The first violation: invariant, message, the events of its PASID, replay command. */
  firstViolation: Violation | null;
  violations: number;
  hardware: Counters;
  /** Teardowns sampled: log positions of P0 .. P8 (-1: not seen). */
  timelines: TeardownTimeline[];
  faults: { kills: number; stutters: number };
  /** What was still busy when the wind-down gave up (empty: the platform came to rest). */
  leftBusy: string[];
  /** Per VM: PASIDs live (end, peak), guest ENQCMDs, ZF = 1, exits 72, vDWQ MOVDIR64Bs, vcmds, destroys (bound PASIDs). */
  vms: ModelRunResult['vms'];
  /** The reference-count walk of one vcmd PASID (the one that reached the most references). */
  refWalk: ModelRunResult['refWalk'] | null;
}

/**
 * Build the report of a model run.
 *
 * @param cfg - the run as configured
 * @param r - its result
 *
 * Context: main thread; pure but for the environment (clock, package.json).
 * @returns the report
 */
export function buildModelReport(cfg: ModelRunConfig, r: ModelRunResult): ModelReport {
  return {
    schemaVersion: MODEL_REPORT_SCHEMA_VERSION,
    tool: 'ioasid-stress',
    kind: 'hw-model',
    environment: environment(),
    verdict: r.verdict === 'pass' ? 'PASS' : 'FAIL',
    interrupted: r.interrupted,
    scenario: r.scenario,
    mode: r.mode,
    seed: r.seed,
    mutation: r.mutation ?? null,
    replay: r.replay,
    config: {
      seconds: cfg.seconds,
      steps: cfg.maxSteps ?? null,
      faults: [...(cfg.faults ?? [])],
      cpus: cfg.cpus ?? null,
      pasidBits: cfg.profile?.pasidBits ?? null,
    },
    elapsedSeconds: r.elapsedSeconds,
    steps: r.steps,
    events: r.events,
    invariants: r.invariants.map((i) => ({
      ...i,
      checkedAt: [...(INVARIANTS.find((x) => x.id === i.id)?.sites ?? [])],
    })),
    firstViolation: r.firstViolation ?? null,
    violations: r.violations,
    hardware: r.hardware,
    timelines: r.timelines,
    faults: { kills: r.kills, stutters: r.stutters },
    leftBusy: r.leftBusy,
    vms: r.vms,
    refWalk: r.refWalk ?? null,
  };
}

/**
 * The report as text for the terminal: the run's summary (hw-model/summary.ts) and, for an
 * interrupted run, a line saying so.
 *
 * @param r - the report
 * @param result - the run's result the summary is made from
 *
 * Context: pure.
 * @returns the text
 */
export function formatModelReport(r: ModelReport, result: ModelRunResult): string {
  const lines = formatModelRun(result);
  if (r.interrupted)
    lines.unshift(
      `interrupted by ${r.interrupted.signal} after ${r.interrupted.atSeconds.toFixed(1)} s: a partial run`,
    );
  return lines.join('\n');
}
