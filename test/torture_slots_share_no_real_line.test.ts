/**
 * The torture buffer's per-worker slots (writers, readers, fake writers) must not share a real
 * 64-byte line through the words their owners write on hot paths, wherever the buffer starts
 * (any multiple of 16 bytes past a line: src/core/cache-line.ts GUARD_WORDS). A layout rule,
 * not a timing: the cost of sharing is a benchmark figure, never a test.
 */
import { describe, expect, it } from 'vitest';
import { GUARD_WORDS } from '../src/core/cache-line.js';
import * as T from '../stress/torture/torture-layout.js';
import { sharedRealLines, slotWrites, type WrittenWord } from './helpers/real-lines.js';

const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);
/** Writer words stored or added per publish, per grace period waited, per record retired. */
const WRITER_HOT = [
  T.W_CURRENT,
  T.W_VERSION,
  T.W_TFLE,
  T.W_COOKIE_ERR,
  ...range(T.W_METHOD, T.WAIT_METHODS.length),
  T.W_COOKIE_WAIT_ERR,
  ...range(T.W_CIRC, T.HIST),
];
/** Reader words added per section (histograms, error counters, reads, nesting, sleeps). */
const READER_HOT = [
  ...range(T.R_PIPE, T.HIST),
  T.R_MBERR,
  T.R_GENERR,
  T.R_COOKIE_ERR,
  T.R_READS,
  ...range(T.R_BATCH, T.HIST),
  T.R_NESTED,
  T.R_SLEEPS,
];
const FAKE_HOT = [T.F_OPS];

describe('torture layout', () => {
  it('writer slots end in a guard line', () => {
    expect(Math.max(...WRITER_HOT)).toBeLessThan(T.WRITER_WORDS - GUARD_WORDS);
  });

  it('reader slots keep their last line unwritten, fake writers write only their first 16 bytes', () => {
    expect(Math.max(...READER_HOT)).toBeLessThan(T.READER_WORDS - GUARD_WORDS);
    expect(Math.max(...FAKE_HOT)).toBeLessThan(4);
  });

  it('no real line holds hot words of two workers, for any 16-byte base offset', () => {
    const g: T.TortureGeometry = { writers: 3, readers: 3, fakeWriters: 3 };
    const writes: WrittenWord[] = [
      ...slotWrites(T.writerBase(0), T.WRITER_WORDS, WRITER_HOT, g.writers, (k) => `writer ${k}`),
      ...slotWrites(
        T.readerBase(g, 0),
        T.READER_WORDS,
        READER_HOT,
        g.readers,
        (k) => `reader ${k}`,
      ),
      ...slotWrites(T.fakeBase(g, 0), T.FAKE_WORDS, FAKE_HOT, g.fakeWriters, (k) => `fake ${k}`),
    ];
    expect(sharedRealLines(writes)).toEqual([]);
  });
});
