/**
 * The torture reader's in-section checks, one section at a time, in this thread: a delay
 * inside the section frees the record, recycles it, or ends a grace period, and each breakage
 * must land in its own counter (R_MBERR, R_GENERR, R_COOKIE_ERR) and nowhere else. The late
 * free is the case the end-of-section poison check exists for: the free falls after every
 * load the section made before its delay, so only that check sees it.
 */
import { describe, expect, it } from 'vitest';
import { Rcu } from '../src/core/rcu/rcu.js';
import { readSection, type SectionEnv, type SectionRcu } from '../stress/torture/read-section.js';
import {
  R_COOKIE_ERR,
  R_GENERR,
  R_MBERR,
  REC_CHECK,
  REC_GEN,
  REC_PIPE,
  REC_VALID,
  readerBase,
  recordBase,
  recordCheck,
  type TortureGeometry,
  tortureWords,
  W_CURRENT,
  writerBase,
} from '../stress/torture/torture-layout.js';

const g: TortureGeometry = { writers: 1, readers: 1, fakeWriters: 0 };
const REC = 3;

interface Errors {
  mberr: number;
  generr: number;
  cookie: number;
}

/** A torture buffer with writer 0's record REC published at generation 7, pipe age 2. */
function published(): { words: Int32Array; r: number } {
  const words = new Int32Array(new SharedArrayBuffer(tortureWords(g) * 4));
  const r = recordBase(g, REC);
  Atomics.store(words, r + REC_PIPE, 2);
  Atomics.store(words, r + REC_GEN, 7);
  Atomics.store(words, r + REC_CHECK, recordCheck(REC, 7));
  Atomics.store(words, r + REC_VALID, 1);
  Atomics.store(words, writerBase(0) + W_CURRENT, REC);
  return { words, r };
}

function errors(words: Int32Array): Errors {
  const base = readerBase(g, 0);
  return {
    mberr: Atomics.load(words, base + R_MBERR),
    generr: Atomics.load(words, base + R_GENERR),
    cookie: Atomics.load(words, base + R_COOKIE_ERR),
  };
}

/** One section on a real Rcu (this thread registered), with `delay` inside it. */
function section(words: Int32Array, delay: () => void, rcu?: SectionRcu): number {
  const real = Rcu.create({ maxThreads: 2 });
  real.registerThread();
  try {
    const env: SectionEnv = { words, g, rcu: rcu ?? real, delay };
    return readSection(env, readerBase(g, 0), 0);
  } finally {
    real.unregisterThread();
  }
}

describe('torture reader section: each breakage is counted where it belongs', () => {
  it('a record left alone: age read, no error counted', () => {
    const { words } = published();
    const out = section(words, () => {});
    expect(out & 0xffff).toBe(2);
    expect(errors(words)).toEqual({ mberr: 0, generr: 0, cookie: 0 });
  });

  it('nothing published yet: -1, no error', () => {
    const { words } = published();
    Atomics.store(words, writerBase(0) + W_CURRENT, -1);
    expect(section(words, () => {})).toBe(-1);
    expect(errors(words)).toEqual({ mberr: 0, generr: 0, cookie: 0 });
  });

  it('freed (poisoned) late in the section, after its first loads: the end-of-section check counts it', () => {
    const { words, r } = published();
    section(words, () => Atomics.store(words, r + REC_VALID, 0));
    expect(errors(words)).toEqual({ mberr: 1, generr: 0, cookie: 0 });
  });

  it('already poisoned when found: counted once, not twice', () => {
    const { words, r } = published();
    Atomics.store(words, r + REC_VALID, 0);
    section(words, () => {});
    expect(errors(words)).toEqual({ mberr: 1, generr: 0, cookie: 0 });
  });

  it('poisoned when found, then republished inside the section: both the free and the recycle counted', () => {
    const { words, r } = published();
    Atomics.store(words, r + REC_VALID, 0);
    section(words, () => {
      Atomics.store(words, r + REC_GEN, 8);
      Atomics.store(words, r + REC_CHECK, recordCheck(REC, 8));
      Atomics.store(words, r + REC_VALID, 1);
    });
    expect(errors(words)).toEqual({ mberr: 1, generr: 1, cookie: 0 });
  });

  it('recycled inside the section (a new generation): a generation error', () => {
    const { words, r } = published();
    section(words, () => {
      Atomics.store(words, r + REC_GEN, 8);
      Atomics.store(words, r + REC_CHECK, recordCheck(REC, 8));
    });
    expect(errors(words)).toEqual({ mberr: 0, generr: 1, cookie: 0 });
  });

  it('torn when found (check word of another generation): a generation error', () => {
    const { words, r } = published();
    Atomics.store(words, r + REC_CHECK, recordCheck(REC, 6));
    section(words, () => {});
    expect(errors(words)).toEqual({ mberr: 0, generr: 1, cookie: 0 });
  });

  it('a grace period that ends inside the section: a cookie error, and it is seen in the result', () => {
    const { words } = published();
    // A test double: the section's own cookie is satisfied once the delay "ends" a grace
    // period, as a broken RCU would let happen while a reader is inside.
    let completed = 10;
    const broken: SectionRcu = {
      readLock() {},
      readUnlock() {},
      getState: () => completed + 1,
      peekState: (cookie) => completed >= cookie,
      completedGracePeriods: () => completed,
    };
    const out = section(words, () => completed++, broken);
    expect(out >>> 16).toBe(1);
    expect(errors(words)).toEqual({ mberr: 0, generr: 0, cookie: 1 });
  });
});
