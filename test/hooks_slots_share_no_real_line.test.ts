/**
 * The hooks buffer's subscriber slots (src/core/ioasid/hooks-layout.ts) split a line the
 * distributor writes per delivery (line A: S_TAIL, S_BELL) from the words a subscriber's readers
 * write per event read (line B: S_HEAD, S_READ_SEQ, S_RS_WAITERS). A SharedArrayBuffer may start
 * any multiple of 16 bytes past a real cache line (src/core/cache-line.ts GUARD_WORDS), so a
 * guard line separates them and line B's words fit its first 16 bytes. Thread slots need no
 * guard: the words written per operation (HK_EV_*, HK_CU_*) end far enough before the next
 * slot. (S_WAITERS and S_LOST are written by readers only when they sleep or report a loss.)
 * A layout rule, not a timing.
 */
import { describe, expect, it } from 'vitest';
import { LINE_WORDS } from '../src/core/cache-line.js';
import * as K from '../src/core/ioasid/hooks-layout.js';
import { sharedRealLines, type WrittenWord } from './helpers/real-lines.js';

const hg = K.hooksGeometry(4, 16, 4, 4);
const DISTRIBUTOR = [K.S_TAIL, K.S_BELL];
const READER = [K.S_HEAD, K.S_READ_SEQ, K.S_RS_WAITERS];
const THREAD_HOT = Array.from({ length: K.HK_CU_ID + 1 }, (_, i) => i);

describe('hooks layout', () => {
  it("line B's words fit in its first 16 bytes, a line after line A", () => {
    expect(Math.max(...READER) - K.S_HEAD).toBeLessThan(4);
    expect(K.S_HEAD).toBeGreaterThanOrEqual(2 * LINE_WORDS);
    expect(K.subWord(hg, 1) % LINE_WORDS).toBe(0);
  });

  it("no real line holds the distributor's words and a subscriber's readers' words", () => {
    const writes: WrittenWord[] = [];
    for (let s = 0; s < 3; s++) {
      const base = K.subWord(hg, s);
      for (const o of DISTRIBUTOR) writes.push({ owner: 'distributor', word: base + o });
      for (const o of READER) writes.push({ owner: `readers of ${s}`, word: base + o });
    }
    expect(sharedRealLines(writes)).toEqual([]);
  });

  it("no real line holds two threads' per-operation words", () => {
    const writes: WrittenWord[] = [];
    for (let t = 0; t < 3; t++) {
      const base = K.hooksThreadWord(hg, t);
      for (const o of THREAD_HOT) writes.push({ owner: `thread ${t}`, word: base + o });
    }
    expect(sharedRealLines(writes)).toEqual([]);
  });
});
