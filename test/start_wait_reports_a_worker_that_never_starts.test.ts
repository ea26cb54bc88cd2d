/**
 * The start wait the threaded harnesses share (src/workers/start-wait.ts): it returns once
 * every worker started, names the first one that did not start in time instead of hanging,
 * and stops at once on a crash or an interrupt.
 */
import { describe, expect, it } from 'vitest';
import { untilStarted } from '../src/workers/start-wait.js';

describe('untilStarted', () => {
  it('waits for workers that start late, and returns nothing', async () => {
    let polls = 0;
    const problem = await untilStarted({ count: 3, started: (i) => ++polls > 4 * (i + 1) });
    expect(problem).toBeUndefined();
    expect(polls).toBeGreaterThan(4);
  });

  it('names the first worker that does not start in time', async () => {
    const problem = await untilStarted({
      count: 3,
      started: (i) => i !== 1,
      name: (i) => `cpu ${i}`,
      timeoutMs: 30,
    });
    expect(problem).toBe('cpu 1 did not start within 0.03 s');
  });

  it('stops at once on a crash or an interrupt, leaving the report to the harness', async () => {
    const never = () => false;
    expect(await untilStarted({ count: 1, started: never, failed: () => true })).toBeUndefined();
    const ac = new AbortController();
    ac.abort();
    expect(await untilStarted({ count: 1, started: never, signal: ac.signal })).toBeUndefined();
  });
});
