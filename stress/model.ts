/**
 * The hardware model behind `ioasid-stress --scenario host-sva|exhaustion|pri-storm`: which
 * flags apply to a model scenario, the run's configuration from them, and the run itself (on
 * worker threads, or in one thread with `--deterministic`).
 */
import { MUTATIONS, type MutationName } from '../src/hw-model/mutations.js';
import { PROFILE_DEFAULTS } from '../src/hw-model/profile.js';
import type { ModelRunConfig, ModelRunResult } from '../src/hw-model/run-result.js';
import { MODEL_FAULTS, MODEL_SCENARIOS, type ModelFault } from '../src/hw-model/scenarios.js';
import { runModel } from '../src/workers/hw-run.js';
import type { ParsedOptions } from './options.js';
import { UsageError } from './options.js';
import { FAULTS } from './scenarios.js';

/** True when `name` is a model scenario. */
export function isModelScenario(name: string): boolean {
  return Object.hasOwn(MODEL_SCENARIOS, name);
}

/** Flags of the allocator's scenarios that mean nothing to the model. */
const ALLOCATOR_ONLY = [
  'mix',
  'sets',
  'quota',
  'policy',
  'broken',
  'subscribers',
  'custom-allocator',
  'rcu',
] as const;
/** Flags of the model that mean nothing to the allocator's scenarios. */
export const MODEL_ONLY = ['mutation', 'deterministic', 'steps'] as const;

/** The faults that kill a VM's thread: a guest's (kill-vcpu) or the VMMs' (kill-vmm). */
const VM_FAULTS: readonly string[] = ['kill-vcpu', 'kill-vmm'] satisfies ModelFault[];

/** `--fault` choices: the allocator's faults and the model's. */
export const FAULT_CHOICES = [...new Set<string>([...FAULTS, ...MODEL_FAULTS])];

/** The model scenarios with VMs (the ones a VM fault applies to). */
function vmScenarios(): string[] {
  return Object.keys(MODEL_SCENARIOS).filter(
    (n) => (MODEL_SCENARIOS[n]!.profile.vms ?? PROFILE_DEFAULTS.vms) > 0,
  );
}

/**
 * Refuse the model's VM faults on an allocator scenario (it has no VM thread to kill).
 *
 * @param o - the parsed flags
 *
 * Context: pure. Throws UsageError naming the fault.
 */
export function refuseModelFaults(o: ParsedOptions): void {
  for (const f of (o.fault as string[] | undefined) ?? [])
    if (!(FAULTS as readonly string[]).includes(f))
      throw new UsageError(
        `--fault ${f} applies to the model scenarios with VMs (${vmScenarios().join(', ')})`,
      );
}

/** Refuse a VM fault the model scenario cannot take. Throws UsageError naming it. */
function checkModelFaults(o: ParsedOptions, deterministic: boolean): void {
  const name = o.scenario as string;
  for (const f of (o.fault as string[] | undefined) ?? []) {
    if (!VM_FAULTS.includes(f)) continue;
    if (!vmScenarios().includes(name))
      throw new UsageError(
        `--fault ${f} kills a VM's thread: scenario '${name}' has no VMs (${vmScenarios().join(', ')} have)`,
      );
    if (deterministic)
      throw new UsageError(
        `--fault ${f} kills a worker thread: it needs a threaded run (without --deterministic)`,
      );
  }
}

/** The mutation names, for the option table. */
export const MUTATION_NAMES = Object.keys(MUTATIONS);

/**
 * Refuse model flags on an allocator scenario.
 *
 * @param o - the parsed flags
 *
 * Context: pure. Throws UsageError naming the flag.
 */
export function refuseModelFlags(o: ParsedOptions): void {
  for (const f of MODEL_ONLY)
    if (o[f] !== undefined && o[f] !== false)
      throw new UsageError(
        `--${f} applies to the model scenarios only (${Object.keys(MODEL_SCENARIOS).join(', ')})`,
      );
}

/**
 * The model run a command line asks for.
 *
 * @param o - the parsed flags (scenario is a model scenario)
 * @param seed - the run seed
 * @param signal - ends the run early (SIGINT and friends)
 *
 * Context: pure. Throws UsageError for a flag that does not apply.
 * @returns the run's configuration and whether it runs in one thread
 */
export function modelConfigFrom(
  o: ParsedOptions,
  seed: number,
  signal: AbortSignal,
): { cfg: ModelRunConfig; deterministic: boolean } {
  for (const f of ALLOCATOR_ONLY)
    if (o[f] !== undefined)
      throw new UsageError(`--${f} does not apply to the model scenario '${o.scenario}'`);
  const deterministic = o.deterministic === true;
  if (o.steps !== undefined && !deterministic)
    throw new UsageError('--steps bounds a --deterministic run (threads run for --seconds)');
  checkModelFaults(o, deterministic);
  const sc = MODEL_SCENARIOS[o.scenario as string]!;
  const faults = [...new Set([...sc.faults, ...((o.fault as ModelFault[] | undefined) ?? [])])];
  const pasidBits = o['pasid-bits'] as number | undefined;
  const cfg: ModelRunConfig = {
    scenario: o.scenario as string,
    seed,
    seconds: (o.seconds as number | undefined) ?? sc.seconds,
    maxSteps: o.steps as number | undefined,
    mutation: o.mutation as MutationName | undefined,
    faults,
    cpus: o.cpus as number | undefined,
    profile: pasidBits === undefined ? undefined : { pasidBits },
    signal,
  };
  return { cfg, deterministic };
}

/**
 * Run it.
 *
 * Context: main thread; resolves when the run (and its wind-down) ended; a broken model is a
 * verdict, not a rejection.
 * @returns the run's result
 */
export function runModelScenario(
  cfg: ModelRunConfig,
  deterministic: boolean,
): Promise<ModelRunResult> {
  return runModel(cfg, deterministic);
}
