/**
 * A CPU's slot of the stress run buffer is written all over by its CPU (header, counters,
 * histograms, timeline, and per operation a log entry plus LOG_HEAD), and the log ring ends
 * the slot. A SharedArrayBuffer may start any multiple of 16 bytes past a real cache line
 * (src/core/cache-line.ts GUARD_WORDS), so the slot must end in a guard line that nothing
 * writes. A layout rule, not a timing.
 */
import { describe, expect, it } from 'vitest';
import { GUARD_WORDS, LINE_WORDS } from '../src/core/cache-line.js';
import * as R from '../src/workers/run-layout.js';
import { sharedRealLines, slotWrites } from './helpers/real-lines.js';

/** Every word a CPU writes in its slot: header words, then ops .. the log ring's last word. */
function cpuWritten(nOps: number): number[] {
  const at = R.cpuLayout(nOps);
  const header = [
    R.CPU_STATUS,
    R.CPU_RCU_SLOT,
    R.CPU_TASKS,
    R.CPU_LOG_HEAD,
    R.CPU_PARKED,
    R.CPU_THREAD,
    R.CPU_PHASE,
  ];
  const end = at.log + R.LOG_ENTRIES * R.LOG_ENTRY_WORDS;
  return [...header, ...Array.from({ length: end - at.ops }, (_, i) => at.ops + i)];
}

describe('run buffer CPU slots', () => {
  for (const nOps of [1, 7, 12]) {
    it(`every written word lies before a guard line (${nOps} ops)`, () => {
      const words = cpuWritten(nOps);
      expect(Math.max(...words)).toBeLessThan(R.cpuLayout(nOps).words - GUARD_WORDS);
      const g: R.CpuGeometry = { cpus: 3, nOps };
      expect(R.cpuBase(g, 1) % LINE_WORDS).toBe(0);
      const writes = slotWrites(R.cpuBase(g, 0), R.cpuLayout(nOps).words, words, g.cpus);
      expect(sharedRealLines(writes)).toEqual([]);
    });
  }
});
