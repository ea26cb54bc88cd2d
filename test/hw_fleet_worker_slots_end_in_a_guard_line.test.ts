/**
 * A threaded model run's worker slots (src/workers/hw-fleet-layout.ts) are written by their
 * worker every 256 loop iterations at +2, +6, +7 and +9; a SharedArrayBuffer may start any
 * multiple of 16 bytes past a real cache line (src/core/cache-line.ts GUARD_WORDS), so each
 * slot ends in a guard line. A layout rule, not a timing.
 */
import { describe, expect, it } from 'vitest';
import { GUARD_WORDS, LINE_WORDS } from '../src/core/cache-line.js';
import * as F from '../src/workers/hw-fleet-layout.js';
import { sharedRealLines, slotWrites } from './helpers/real-lines.js';

/** Every word a worker writes in its slot. */
const WORKER_WRITES = [
  F.W_STATUS,
  F.W_PARKED,
  F.W_STEPS,
  F.W_ROW,
  F.W_RCU_SLOT,
  F.W_THREAD,
  F.W_STUTTER,
  F.W_QUIET,
  F.W_GUEST_RCU_SLOT,
  F.W_ITERS,
];

describe('hw fleet worker slots', () => {
  it('every written word lies before a guard line', () => {
    expect(Math.max(...WORKER_WRITES)).toBeLessThan(F.WORKER_WORDS - GUARD_WORDS);
    expect(F.workerSlot(1) % LINE_WORDS).toBe(0);
  });

  it('no real line holds words of two workers, for any 16-byte base offset', () => {
    const slots = 3;
    const words = F.workerSlot(1) - F.workerSlot(0);
    expect(sharedRealLines(slotWrites(F.workerSlot(0), words, WORKER_WRITES, slots))).toEqual([]);
    expect(F.fleetWords(slots)).toBe(F.workerSlot(slots));
  });
});
