/**
 * Each host scenario of the model (§7.10 1, 6 and 7) passes every invariant, in deterministic
 * mode (a fixed step budget) and on worker threads (a short run), comes to rest after its
 * wind-down (nothing left: no bond, no mm, no queued work), and does what the scenario is
 * about (#GP fix-ups and both exit paths; ENOSPC, EDQUOT and EOVERFLOW; PRQ overflow and drain
 * retries). Deterministic mode replays exactly: the same seed gives the same run.
 */
import { describe, expect, it } from 'vitest';
import {
  MODEL_SCENARIO_NAMES,
  type ModelRunResult,
  runDeterministic,
} from '../src/hw-model/index.js';
import { runThreaded } from '../src/workers/hw-fleet.js';
import { testSeed } from './helpers/seed.js';

const FILE = 'test/hw_model_scenarios_pass_on_threads_and_deterministic.test.ts';

function passes(r: ModelRunResult): void {
  if (r.firstViolation)
    console.log(
      r.firstViolation.message,
      '\n',
      r.firstViolation.trace.join('\n'),
      '\nreplay:',
      r.replay,
    );
  expect(r.verdict).toBe('pass');
  expect(r.leftBusy).toEqual([]);
  for (const inv of r.invariants) expect(inv.checks, inv.id).toBeGreaterThan(0);
}

function doesItsJob(name: string, r: ModelRunResult): void {
  const h = r.hardware;
  expect(h.translationsOk).toBeGreaterThan(0);
  expect(h.teardowns).toBeGreaterThan(0);
  if (name === 'host-sva') {
    expect(h.gpFixups).toBeGreaterThan(0);
    expect(r.timelines.some((t) => t.exception)).toBe(true);
    expect(r.timelines.some((t) => !t.exception)).toBe(true);
  }
  if (name === 'exhaustion') {
    expect(h.bindEdquot).toBeGreaterThan(0);
    expect(h.bindEnospc).toBeGreaterThan(0);
    expect(h.bindEoverflow).toBeGreaterThan(0);
  }
  if (name === 'pri-storm') {
    expect(h.pageRequestsOverflow).toBeGreaterThan(0);
    expect(h.prqOverflowRetries).toBeGreaterThan(0);
  }
}

describe('model scenarios', () => {
  const seed = testSeed(FILE);

  it.each(MODEL_SCENARIO_NAMES)('%s passes in deterministic mode and replays exactly', (name) => {
    const cfg = { scenario: name, seed, seconds: 60, maxSteps: 60_000 };
    const r = runDeterministic(cfg);
    passes(r);
    doesItsJob(name, r);
    const again = runDeterministic(cfg);
    expect([again.steps, again.events, again.hardware]).toEqual([r.steps, r.events, r.hardware]);
  });

  it.each(MODEL_SCENARIO_NAMES)('%s passes on threads with kill-cpu and stutter', async (name) => {
    const r = await runThreaded({
      scenario: name,
      seed,
      seconds: 2,
      faults: ['kill-cpu', 'stutter'],
    });
    passes(r);
    expect(r.mode).toBe('threads');
    expect(r.kills).toBeGreaterThan(0);
    expect(r.hardware.translations).toBeGreaterThan(0);
  });
});
