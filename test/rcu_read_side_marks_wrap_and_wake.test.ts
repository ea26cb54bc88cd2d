/**
 * White-box checks of the read side's two promises to the grace-period leader
 * (src/core/rcu-read-side.ts): inside a section the slot always holds a non-zero mark, new at
 * every outermost readLock, also where the 30-bit mark wraps (a 0 would hide the reader from
 * every snapshot); and a leaving reader that finds the leader's WAIT bit wakes it, once.
 */
import { describe, expect, it } from 'vitest';
import {
  RCU_GP_FUTEX_WORD,
  RCU_MARK_MASK,
  RCU_SLOT_CTR,
  RCU_STAT_WAKEUPS_WORD,
  RCU_WAIT,
  rcuBufferWords,
  rcuSlotBase,
} from '../src/core/rcu/rcu-layout.js';
import { RcuReadSide } from '../src/core/rcu/rcu-read-side.js';

function readSide(firstMark: number) {
  const words = new Int32Array(new SharedArrayBuffer(rcuBufferWords(2) * 4));
  const reader = new RcuReadSide(words);
  reader.bind(1, firstMark);
  return { words, reader, ctr: rcuSlotBase(1) + RCU_SLOT_CTR };
}

describe('RCU read side: marks and wake-ups', () => {
  it('publishes a fresh odd non-zero mark per outermost section, across the 30-bit wrap', () => {
    const { words, reader, ctr } = readSide(RCU_MARK_MASK - 6);
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) {
      reader.lock();
      reader.lock(); // nested: part of the same section, the mark stays
      const mark = Atomics.load(words, ctr);
      reader.unlock();
      expect(Atomics.load(words, ctr)).toBe(mark);
      reader.unlock();
      expect(Atomics.load(words, ctr)).toBe(0);
      expect(mark & 1).toBe(1);
      expect(mark).toBeGreaterThan(0);
      expect(mark & ~RCU_MARK_MASK).toBe(0);
      seen.push(mark);
    }
    expect(seen).toContain(RCU_MARK_MASK); // the last mark before the wrap
    expect(seen).toContain(1); // and the first after it
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('any seed gives odd marks: a new owner of a slot cannot publish 0', () => {
    for (const seed of [0, -1, 2, 0x7fffffff, Math.imul(7, 0x9e3779b1)]) {
      const { words, reader, ctr } = readSide(seed);
      reader.lock();
      expect(Atomics.load(words, ctr) & 1).toBe(1);
      reader.unlock();
    }
  });

  it('a leaving reader that finds WAIT wakes the sleeping leader once; without WAIT, never', () => {
    const { words, reader, ctr } = readSide(1);
    Atomics.store(words, RCU_GP_FUTEX_WORD, -1); // the leader announced its sleep
    reader.lock();
    reader.unlock(); // no WAIT in our mark: the leader was not waiting for us
    expect(Atomics.load(words, RCU_GP_FUTEX_WORD)).toBe(-1);
    expect(Atomics.load(words, RCU_STAT_WAKEUPS_WORD)).toBe(0);
    reader.lock();
    Atomics.or(words, ctr, RCU_WAIT); // what the leader's CAS does before it sleeps
    reader.unlock();
    expect(Atomics.load(words, ctr)).toBe(0);
    expect(Atomics.load(words, RCU_GP_FUTEX_WORD)).toBe(0);
    expect(Atomics.load(words, RCU_STAT_WAKEUPS_WORD)).toBe(1);
  });
});
