/**
 * The assumption `releaseThread` rests on (space-core.ts "Kill points"), checked on the running
 * engine: a worker stopped by `worker.terminate()` never stops between an atomic operation's
 * effect and the plain statement right after it. A worker CASes a counter and records it
 * with a plain store, in a loop; after each kill the two words must agree. The broken twin
 * puts a call between them, which is a kill point, and must be caught disagreeing.
 */
import { describe, expect, it } from 'vitest';
import { testSeed } from './helpers/seed.js';
import { startTestWorker } from './helpers/workers.js';
import type { KillPointWorkerData } from './workers/ioasid-kill-point-worker.js';

const FILE = 'test/ioasid_kill_points_are_call_boundaries.test.ts';
const KILLS = 60;

/** Kill a worker running `mode` KILLS times at random moments; count disagreements. */
async function disagreements(mode: KillPointWorkerData['mode'], seed: number): Promise<number> {
  let s = seed >>> 0 || 1;
  let bad = 0;
  for (let k = 0; k < KILLS; k++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const buffer = new SharedArrayBuffer(256);
    const w = startTestWorker('ioasid-kill-point-worker', { buffer, mode });
    await new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await new Promise((r) => setTimeout(r, (s >>> 8) % 25));
    await w.terminate();
    const a = new Int32Array(buffer);
    if (Atomics.load(a, 0) !== Atomics.load(a, 16)) bad++;
  }
  return bad;
}

describe('worker.terminate() stops only at call boundaries', () => {
  it('never between an atomic operation and the plain store after it', async () => {
    const bad = await disagreements('atomic-then-plain', testSeed(FILE));
    expect(bad).toBe(0);
  });

  it('broken twin: a call between them is a kill point, and the check sees it', async () => {
    const bad = await disagreements('atomic-then-call', testSeed(FILE));
    console.log(`twin: ${bad} of ${KILLS} kills separated the CAS from its record`);
    expect(bad).toBeGreaterThan(0);
  });
});
