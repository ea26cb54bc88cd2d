/**
 * Per-thread slots of the hardware model's buffers (src/hw-model/hw-layout.ts) must not share
 * a real 64-byte line through the words their owners write, wherever the buffer starts (any
 * multiple of 16 bytes past a line: src/core/cache-line.ts GUARD_WORDS). vCPU slots write six
 * words, so they end in a guard line; process and thread slots write only their first 16
 * bytes; a log row's counters (one add per counted event) end far enough before the next row.
 * A layout rule, not a timing.
 */
import { describe, expect, it } from 'vitest';
import { GUARD_WORDS } from '../src/core/cache-line.js';
import { COUNTERS } from '../src/hw-model/counters.js';
import * as H from '../src/hw-model/hw-layout.js';
import { sharedRealLines, slotWrites } from './helpers/real-lines.js';

const VCPU_WRITES = [H.VC_STATE, H.VC_ACK, H.VC_KICK, H.VC_MSR, H.VC_BUSY, H.VC_EXIT_IN];

describe('hardware model per-thread slots', () => {
  it('vCPU slots end in a guard line', () => {
    expect(Math.max(...VCPU_WRITES)).toBeLessThan(H.VCPU_WORDS - GUARD_WORDS);
    expect(sharedRealLines(slotWrites(0, H.VCPU_WORDS, VCPU_WRITES))).toEqual([]);
  });

  it('process and thread slots write only their first 16 bytes', () => {
    const proc = [H.PS_MM, H.PS_SPAWNS];
    const thread = [H.TH_MSR, H.TH_MSR_GEN, H.TH_ACTIVATED, H.TH_MM];
    expect(Math.max(...proc, ...thread)).toBeLessThan(4);
    expect(sharedRealLines(slotWrites(0, H.PROCESS_WORDS, proc))).toEqual([]);
    expect(sharedRealLines(slotWrites(0, H.THREAD_WORDS, thread))).toEqual([]);
  });

  it("no real line holds two log rows' counters", () => {
    const row = [H.ROW_OWNER, ...COUNTERS.map((_, i) => H.ROW_COUNTERS + i)];
    expect(sharedRealLines(slotWrites(H.L_ROWS_BASE, H.ROW_WORDS, row))).toEqual([]);
  });
});
