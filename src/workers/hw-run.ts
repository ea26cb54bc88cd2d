/**
 * One entry for running a hardware-model scenario in either mode: on worker threads
 * (hw-fleet.ts) or all actors in one thread under the seeded scheduler
 * (src/hw-model/deterministic.ts). The stress CLI (`ioasid-stress --scenario host-sva`) runs
 * the model through it.
 */
import { runDeterministic } from '../hw-model/deterministic.js';
import type { ModelRunConfig, ModelRunResult } from '../hw-model/run-result.js';
import { runThreaded } from './hw-fleet.js';

/**
 * Run a model scenario in the given mode.
 *
 * @param cfg - the run
 * @param deterministic - one thread under the seeded scheduler, else worker threads
 *
 * Context: the main thread; resolves when the run (and its wind-down) ended.
 * @returns the run's result
 */
export function runModel(cfg: ModelRunConfig, deterministic: boolean): Promise<ModelRunResult> {
  return deterministic ? Promise.resolve(runDeterministic(cfg)) : runThreaded(cfg);
}
