/**
 * The thin runner of the hardware model: one scenario, on threads or in deterministic mode,
 * the text report (or one JSON document with --json), exit 1 when an invariant was violated.
 * The stress CLI takes the model over (`ioasid-stress --scenario host-sva`); until then:
 *
 * ```sh
 * node dist/src/workers/hw-run.js --scenario host-sva --seconds 5 [--deterministic] [--seed N]
 *      [--mutation NAME] [--fault kill-cpu,stutter] [--steps N] [--json]
 * ```
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { runDeterministic } from '../hw-model/deterministic.js';
import { MUTATIONS, type MutationName } from '../hw-model/mutations.js';
import type { ModelRunConfig, ModelRunResult } from '../hw-model/run-result.js';
import { MODEL_FAULTS, MODEL_SCENARIOS, type ModelFault } from '../hw-model/scenarios.js';
import { formatModelRun } from '../hw-model/summary.js';
import { runThreaded } from './hw-fleet.js';
import { randomSeed } from './prng.js';

/**
 * Run a model scenario in the given mode.
 *
 * @param cfg - the run
 * @param deterministic - one thread under the seeded scheduler, else worker threads
 *
 * Context: the main thread; resolves when the run ended.
 * @returns the run's result
 */
export function runModel(cfg: ModelRunConfig, deterministic: boolean): Promise<ModelRunResult> {
  return deterministic ? Promise.resolve(runDeterministic(cfg)) : runThreaded(cfg);
}

async function main(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string', default: 'host-sva' },
      seconds: { type: 'string', default: '5' },
      seed: { type: 'string' },
      steps: { type: 'string' },
      mutation: { type: 'string' },
      fault: { type: 'string', default: '' },
      deterministic: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  if (!MODEL_SCENARIOS[v.scenario])
    throw new Error(`--scenario: one of ${Object.keys(MODEL_SCENARIOS).join(', ')}`);
  if (v.mutation !== undefined && !(v.mutation in MUTATIONS))
    throw new Error(`--mutation: one of ${Object.keys(MUTATIONS).join(', ')}`);
  const faults = v.fault.split(',').filter(Boolean) as ModelFault[];
  for (const f of faults)
    if (!MODEL_FAULTS.includes(f)) throw new Error(`--fault: ${MODEL_FAULTS.join(', ')}`);
  const cfg: ModelRunConfig = {
    scenario: v.scenario,
    seed: v.seed !== undefined ? Number(v.seed) : randomSeed(),
    seconds: Number(v.seconds),
    maxSteps: v.steps !== undefined ? Number(v.steps) : undefined,
    mutation: v.mutation as MutationName | undefined,
    faults: faults.length ? faults : undefined,
  };
  const r = await runModel(cfg, v.deterministic);
  if (v.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  else for (const l of formatModelRun(r)) console.log(l);
  return r.verdict === 'pass' ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: Error) => {
      console.error(`hw-run: ${e.message}`);
      process.exitCode = 2;
    },
  );
}
