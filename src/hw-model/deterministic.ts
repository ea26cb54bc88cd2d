/**
 * Deterministic mode: every actor of a platform in one thread, interleaved by a seeded
 * scheduler, the checker consuming the log after every step. Same actor code and same
 * shared buffers as a threaded run, so a violation found on threads can be replayed and read
 * step by step here; a fixed step budget (`maxSteps`) replays exactly.
 *
 * ```ts
 * const r = runDeterministic({ scenario: 'host-sva', seed: 7, seconds: 5, maxSteps: 200_000 });
 * r.verdict;          // 'pass' | 'fail'
 * r.firstViolation;   // { id: 'INV-6', message, trace, replay }
 * ```
 *
 * ## Developer notes
 * Weights: a process is picked as often as any other process; each device engine about a
 * third as often as all processes together submit, the IOMMU engine and the PRQ thread a
 * quarter, the workqueue an eighth (hardware runs faster than applications). Faults come from
 * the scheduler's own stream: stutter suspends one actor for 100..1000 steps; kill-cpu kills
 * every process of one CPU group (pid % cpus) and reaps them as the threaded harness does
 * (the dead process's half-done operations resolved, its exit run by the reaper);
 * oversubscribe has no meaning in one thread. The step loop reads the clock every 1024 steps.
 */
import type { Actor } from './actors/actor.js';
import { PrqActor } from './actors/engine-actors.js';
import { allActors, buildActors } from './actors/fleet.js';
import { ProcessActor } from './actors/process-actor.js';
import { ModelChecker } from './checker/checker.js';
import type { HwContext } from './hw-context.js';
import { hwErrors } from './hw-errors.js';
import { Platform } from './platform.js';
import { busyParts } from './quiesce.js';
import { reapProcess } from './recovery.js';
import { ModelRng } from './rng.js';
import { type ModelRunConfig, type ModelRunResult, replayCommand } from './run-result.js';
import { MODEL_SCENARIOS, type ModelFault, type ModelScenario } from './scenarios.js';

const QUIESCENT_EVERY = 4096;
const WIND_DOWN_STEPS = 400_000;
/** Steps with no event after which the wind-down gives up (a stuck teardown). */
const STALL_STEPS = 20_000;

/** The seeded scheduler: picks the next actor, injects the faults. */
export class Scheduler {
  readonly #actors: Actor[];
  readonly #weights: number[];
  readonly #rng: ModelRng;
  readonly #actorRng: ModelRng[];
  readonly #suspended = new Map<number, number>();
  readonly #faults: Set<ModelFault>;
  readonly #cpus: number;
  readonly #reap: (pid: number) => void;
  kills = 0;
  stutters = 0;

  constructor(
    actors: Actor[],
    seed: number,
    faults: ModelFault[],
    cpus: number,
    reap: (pid: number) => void,
  ) {
    this.#actors = actors;
    this.#rng = new ModelRng(seed, 0);
    this.#actorRng = actors.map((a) => new ModelRng(seed, a.id));
    const processes = actors.filter((a) => a.kind === 'process').length;
    const share = {
      process: 1,
      device: Math.ceil(processes / 3),
      iommu: Math.ceil(processes / 4),
      prq: Math.ceil(processes / 4),
      workqueue: Math.ceil(processes / 8),
    };
    this.#weights = actors.map((a) => share[a.kind]);
    this.#faults = new Set(faults);
    this.#cpus = cpus;
    this.#reap = reap;
  }

  /** Pick one actor and step it (or a suspended one's turn passes). @returns its result */
  step(): number {
    if (this.#faults.has('stutter') && this.#rng.oneIn(2000)) this.#stutter();
    if (this.#faults.has('kill-cpu') && this.#rng.oneIn(5000)) this.#kill();
    const i = this.#rng.weighted(this.#weights);
    const left = this.#suspended.get(i);
    if (left !== undefined) {
      if (left <= 1) this.#suspended.delete(i);
      else this.#suspended.set(i, left - 1);
      return 0;
    }
    return this.#actors[i]!.step(this.#actorRng[i]!);
  }

  #stutter(): void {
    this.#suspended.set(this.#rng.below(this.#actors.length), 100 + this.#rng.below(900));
    this.stutters++;
  }

  #kill(): void {
    const cpu = this.#rng.below(this.#cpus);
    for (const a of this.#actors) {
      if (!(a instanceof ProcessActor) || a.pid % this.#cpus !== cpu) continue;
      a.killed();
      this.#reap(a.pid);
    }
    this.kills++;
  }

  /** Stop injecting faults and resume every suspended actor (the wind-down). */
  calm(): void {
    this.#faults.clear();
    this.#suspended.clear();
  }
}

/** Resolve a scenario by name (throws HwModelError ERR_HW_BAD_ARGUMENT for an unknown one). */
export function scenarioOf(name: string): ModelScenario {
  const sc = MODEL_SCENARIOS[name];
  if (!sc)
    throw hwErrors.badArgument(
      'scenario',
      `one of ${Object.keys(MODEL_SCENARIOS).join(', ')}`,
      name,
    );
  return sc;
}

/** The scenario of a run with the run's overrides applied. */
export function effectiveScenario(cfg: ModelRunConfig): ModelScenario {
  const sc = scenarioOf(cfg.scenario);
  return {
    ...sc,
    profile: { ...sc.profile, ...cfg.profile, mutation: cfg.mutation },
    mix: { ...sc.mix, ...cfg.mix },
    faults: cfg.faults ?? sc.faults,
    cpus: cfg.cpus ?? sc.cpus,
  };
}

/**
 * Run a scenario in deterministic mode.
 *
 * Context: any thread; blocks for up to `seconds` (plus the wind-down); never throws for a
 * broken model: the verdict says it.
 * @returns the run's result
 */
export function runDeterministic(cfg: ModelRunConfig): ModelRunResult {
  const sc = effectiveScenario(cfg);
  const t0 = Date.now();
  const platform = Platform.create(sc.profile);
  const hw = platform.context;
  const replay = replayCommand(cfg);
  const checker = new ModelChecker(hw, { replay, livenessBound: cfg.livenessBound });
  const actors = buildActors(hw, platform.freeChain, sc, allActors(hw));
  const reap = (pid: number) => {
    hw.log.actor = 0;
    reapProcess(hw, pid, platform.freeChain);
  };
  const sched = new Scheduler(actors, cfg.seed, sc.faults, sc.cpus, reap);
  const stop = cfg.stopOnViolation !== false;
  const deadline = t0 + cfg.seconds * 1000;
  const maxSteps = cfg.maxSteps ?? Number.POSITIVE_INFINITY;
  let steps = 0;
  let interrupted: ModelRunResult['interrupted'] = null;
  while (steps < maxSteps && ((steps & 1023) !== 0 || Date.now() < deadline)) {
    sched.step();
    steps++;
    checker.consume();
    if (steps % QUIESCENT_EVERY === 0) checker.quiescent();
    if (stop && checker.first) break;
    if ((steps & 1023) === 0 && cfg.signal?.aborted) {
      interrupted = { signal: String(cfg.signal.reason), atSeconds: (Date.now() - t0) / 1000 };
      break;
    }
  }
  const busySteps = steps;
  let leftBusy: string[] = [];
  if (!(stop && checker.first)) {
    const wound = windDown(hw, actors, sched, checker, stop);
    steps += wound.steps;
    leftBusy = wound.busy;
    checker.consume();
    if (!(stop && checker.first)) checker.end();
  }
  for (const a of actors) if (a instanceof PrqActor) a.stop();
  // The busy part's step count replays this very run (the checker named a budget not yet known).
  const exact = replayCommand(cfg, busySteps);
  const first = checker.first;
  const result: ModelRunResult = {
    scenario: cfg.scenario,
    mode: 'deterministic',
    seed: cfg.seed,
    mutation: cfg.mutation,
    verdict: checker.violationCount === 0 ? 'pass' : 'fail',
    steps,
    busySteps,
    interrupted,
    events: checker.events,
    elapsedSeconds: (Date.now() - t0) / 1000,
    invariants: checker.counts(),
    violations: checker.violationCount,
    firstViolation: first ? { ...first, replay: exact } : undefined,
    hardware: platform.counters(),
    timelines: checker.timelines(),
    kills: sched.kills,
    stutters: sched.stutters,
    leftBusy,
    replay: exact,
  };
  checker.close();
  platform.detach();
  return result;
}

/** Let every process exit, then step the engines until the platform is at rest. */
function windDown(
  hw: HwContext,
  actors: Actor[],
  sched: Scheduler,
  checker: ModelChecker,
  stop: boolean,
): { steps: number; busy: string[] } {
  sched.calm();
  for (const a of actors) a.finish();
  let steps = 0;
  let lastEvents = checker.events;
  let lastProgress = 0;
  for (; steps < WIND_DOWN_STEPS; steps++) {
    if ((steps & 255) === 0 && actors.every((a) => a.quiet()) && busyParts(hw).length === 0) break;
    sched.step();
    checker.consume();
    if (stop && checker.first) break;
    // Stuck (nothing logged for a long while): leave what is left to the end checks.
    if (checker.events !== lastEvents) {
      lastEvents = checker.events;
      lastProgress = steps;
    } else if (steps - lastProgress > STALL_STEPS) break;
  }
  return { steps, busy: busyParts(hw) };
}
