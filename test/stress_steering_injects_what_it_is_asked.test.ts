/**
 * The monitor loop shared by the stress run and the torture (stress/steering.ts): a run asked
 * for a stutter and a kill gets at least one of each even when the first comes due too close
 * to the end (a loaded machine's late wake-ups); a kill with nothing to kill yet is tried
 * again; an abort ends the loop with its reason, and a stutter in progress is resumed; a run
 * goes on past its time while work is owed (`extendWhile`), within its bound.
 */
import { describe, expect, it } from 'vitest';
import { steer } from '../stress/steering.js';

describe('steering', () => {
  it('makes the first stutter and kill even when they come due near the end', async () => {
    const log: string[] = [];
    let attempts = 0;
    const r = await steer({
      seconds: 0.2,
      monitorMs: 10,
      stutter: {
        firstAfterMs: 120,
        nextAfterMs: () => 1,
        lengthMs: () => 10_000,
        minLeftMs: 10_000, // never for a later one
        pause: () => log.push('pause'),
        resume: () => log.push('resume'),
      },
      kill: {
        firstAfterMs: 0,
        nextAfterMs: () => 1,
        minLeftMs: 10_000,
        kill: async () => {
          attempts++;
          log.push(attempts < 3 ? 'nothing to kill' : 'kill');
          return attempts >= 3;
        },
      },
    });
    expect(r.stutters).toBe(1);
    expect(log.filter((x) => x === 'kill')).toEqual(['kill']);
    expect(log.filter((x) => x === 'nothing to kill')).toHaveLength(2);
    // The stutter outlives the run: it is resumed at the end.
    expect(log.at(-1)).toBe('resume');
    expect(r.interrupted).toBeUndefined();
  });

  it('makes the first stutter and kill after the run when they never came due in it', async () => {
    const log: string[] = [];
    const r = await steer({
      seconds: 0.05,
      monitorMs: 10,
      stutter: {
        firstAfterMs: 10_000,
        nextAfterMs: () => 1,
        lengthMs: () => 20,
        minLeftMs: 0,
        pause: () => log.push('pause'),
        resume: () => log.push('resume'),
      },
      kill: {
        firstAfterMs: 10_000,
        nextAfterMs: () => 1,
        minLeftMs: 0,
        kill: async () => {
          log.push('kill');
          return true;
        },
      },
    });
    expect(r.stutters).toBe(1);
    expect(log).toEqual(['pause', 'resume', 'kill']);
  });

  it('makes every kill it owes (atLeast), the slow ones after the run', async () => {
    let kills = 0;
    await steer({
      seconds: 0.05,
      monitorMs: 10,
      kill: {
        firstAfterMs: 0,
        // Each kill takes longer than the whole run, as on a heavily loaded machine.
        nextAfterMs: () => 1,
        minLeftMs: 0,
        atLeast: 4,
        kill: async () => {
          kills++;
          await new Promise((r) => setTimeout(r, 60));
          return true;
        },
      },
    });
    expect(kills).toBe(4);
  });

  it('ends at once on abort, with its reason, and resumes a stutter in progress', async () => {
    const ac = new AbortController();
    const log: string[] = [];
    const ticks: number[] = [];
    setTimeout(() => ac.abort('SIGTERM'), 100);
    const r = await steer({
      seconds: 600,
      monitorMs: 10,
      signal: ac.signal,
      every: [{ periodMs: 20, run: (t) => ticks.push(t) }],
      stutter: {
        firstAfterMs: 0,
        nextAfterMs: () => 1e9,
        lengthMs: () => 1e9,
        minLeftMs: 0,
        pause: () => log.push('pause'),
        resume: () => log.push('resume'),
      },
    });
    expect(r.interrupted).toBe('SIGTERM');
    expect(r.elapsedSeconds).toBeLessThan(600);
    expect(log).toEqual(['pause', 'resume']);
    expect(ticks.length).toBeGreaterThan(0);
  });

  it('goes on past its time while work is owed, and no further than its bound', async () => {
    // Counted in wake-ups, not in time: the run's own time is one wake-up's worth.
    let ticks = 0;
    const owed = await steer({
      seconds: 0.01,
      monitorMs: 5,
      maxExtraSeconds: 60,
      extendWhile: () => ticks < 20,
      tick: () => void ticks++,
    });
    expect(ticks).toBe(20);
    expect(owed.interrupted).toBeUndefined();
    // Never owed-off: the bound ends it (0.05 s is at most 10 wake-ups of 5 ms or more).
    ticks = 0;
    await steer({
      seconds: 0.01,
      monitorMs: 5,
      maxExtraSeconds: 0.05,
      extendWhile: () => true,
      tick: () => void ticks++,
    });
    expect(ticks).toBeLessThanOrEqual(12);
    // No bound given: no extension at all.
    ticks = 0;
    await steer({ seconds: 0.01, monitorMs: 5, extendWhile: () => true, tick: () => void ticks++ });
    expect(ticks).toBeLessThanOrEqual(4);
  });
});
