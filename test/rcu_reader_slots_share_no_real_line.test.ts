/**
 * An Rcu reader slot needs no guard line: its owner writes CTR (every outermost readLock and
 * readUnlock), OWNER and CLAIMS, all in the slot's first 16 bytes, so no real 64-byte line
 * holds two readers' words, nor a reader's and the grace-period leader's (GP words, stats,
 * SNAP), wherever the buffer starts (any multiple of 16 bytes past a line:
 * src/core/cache-line.ts GUARD_WORDS). (Leaving readers add WAKEUPS only after the leader
 * asked them to, by WAIT.) A layout rule, not a timing.
 */
import { describe, expect, it } from 'vitest';
import * as L from '../src/core/rcu/rcu-layout.js';
import { sharedRealLines, slotWrites, type WrittenWord } from './helpers/real-lines.js';

const READER = [L.RCU_SLOT_CTR, L.RCU_SLOT_OWNER, L.RCU_SLOT_CLAIMS];

describe('rcu reader slots', () => {
  it("write only their first 16 bytes, clear of each other's and the leader's lines", () => {
    expect(Math.max(...READER)).toBeLessThan(4);
    const n = 5;
    const leader: WrittenWord[] = [
      L.RCU_GP_SEQ_LO_WORD,
      L.RCU_GP_SEQ_HI_WORD,
      L.RCU_GP_CTR_WORD,
      L.RCU_GP_FUTEX_WORD,
      L.RCU_GP_BEAT_WORD,
      L.RCU_STAT_STALLS_WORD,
      L.RCU_STAT_SLEEPS_WORD,
      L.RCU_STAT_SKIPPED_WORD,
      ...Array.from({ length: n }, (_, s) => L.rcuSnapWord(n, s)),
    ].map((word) => ({ owner: 'leader', word }));
    const readers = slotWrites(L.rcuSlotBase(0), L.RCU_SLOT_WORDS, READER, n, (k) => `reader ${k}`);
    expect(sharedRealLines([...leader, ...readers])).toEqual([]);
  });
});
