/**
 * A thread slot's words are written by its owner on every alloc and free, all over the
 * slot's two lines (TS_OP ... TS_MAG + 7). A SharedArrayBuffer starts 16 bytes past a cache
 * line (src/core/cache-line.ts GUARD_WORDS), so two slots packed line by line share a real
 * line; each slot must end in a guard line that nothing writes. The cost of sharing is a
 * benchmark figure (bench/FINDINGS.md), never a test; this test holds the layout to the rule.
 */
import { describe, expect, it } from 'vitest';
import { GUARD_WORDS, LINE_WORDS } from '../src/core/cache-line.js';
import * as L from '../src/core/ioasid/space-layout.js';

/** Every TS_* word index the core writes (the encodings TS_* of STATE and OP are not words). */
const SLOT_WORDS = [
  L.TS_STATE,
  L.TS_OP,
  L.TS_SET,
  L.TS_ID,
  L.TS_REC,
  L.TS_AUX,
  L.TS_CACHE_HEAD,
  L.TS_CACHE_COUNT,
  L.TS_BATCH_HEAD,
  L.TS_BATCH_COUNT,
  L.TS_DRAIN_REST,
  L.TS_DRAIN_READY,
  L.TS_DRAIN_READY_TAIL,
  L.TS_DRAIN_KEEP,
  L.TS_DRAIN_KEEP_TAIL,
  L.TS_CAP,
  L.TS_RESERVED,
  L.TS_RECOVERING_SLOT,
  L.TS_RECOVERED,
  L.TS_SET_FREEING,
  L.TS_OWN_HEAD,
  L.TS_OWN_TAIL,
  L.TS_OWN_BATCHES,
  L.TS_OWN_RECYCLED,
  L.TS_OWN_HELD,
  L.TS_MAG + L.TS_MAG_SIZE - 1,
];

describe('thread slot layout', () => {
  it('every written word lies before a guard line of at least one cache line', () => {
    expect(GUARD_WORDS).toBeGreaterThanOrEqual(LINE_WORDS);
    const last = Math.max(...SLOT_WORDS);
    expect(last).toBeLessThan(L.SPACE_TS_WORDS - GUARD_WORDS);
  });

  it("slots start on the layout's line grid (a guard cannot make up for a broken grid)", () => {
    const g = L.spaceGeometry(20, 16, 4096, 8);
    for (let slot = 0; slot < 8; slot++) {
      expect(L.threadSlotWord(g, slot) % LINE_WORDS).toBe(0);
    }
  });
});
