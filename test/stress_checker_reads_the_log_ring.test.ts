/**
 * The stress checker's log reader (src/workers/checker.ts), driven by hand in one thread: it
 * reports an illegal result it reads, counts entries a CPU overwrote before it got to them as
 * missed (never as checked, never as violations), and keeps working when a CPU's int32 log
 * head wraps past 2^31.
 */
import { describe, expect, it } from 'vitest';
import { Errno, IoasidSpace } from '../src/core/ioasid/ioasid-space.js';
import { Checker } from '../src/workers/checker.js';
import {
  CPU_LOG,
  CPU_LOG_HEAD,
  cpuBase,
  LOG_ENTRIES,
  LOG_ENTRY_WORDS,
  OPS,
  type RunGeometry,
  runWords,
} from '../src/workers/run-layout.js';
import { readFirstViolation, violationCounts } from '../src/workers/violations.js';

const g: RunGeometry = { cpus: 2, pasidBits: 4, maxSets: 2 };

function setup(startHead = 0) {
  const space = IoasidSpace.create({ pasidBits: 4, maxSets: 2, maxIoasids: 16, maxThreads: 4 });
  const run = new SharedArrayBuffer(runWords(g) * 4);
  const w = new Int32Array(run);
  for (let c = 0; c < g.cpus; c++) Atomics.store(w, cpuBase(c) + CPU_LOG_HEAD, startHead);
  const checker = new Checker(space, run, g);
  const heads = [startHead, startHead];
  /** What cpu-loop.ts #log does: the entry's words, then the head that publishes it. */
  const log = (cpu: number, op: (typeof OPS)[number], result: number, id = 3, set = 1) => {
    const e = cpuBase(cpu) + CPU_LOG + (heads[cpu]! & (LOG_ENTRIES - 1)) * LOG_ENTRY_WORDS;
    Atomics.store(w, e, OPS.indexOf(op) | (cpu << 8));
    Atomics.store(w, e + 1, set);
    Atomics.store(w, e + 2, id);
    Atomics.store(w, e + 3, result);
    heads[cpu] = (heads[cpu]! + 1) | 0;
    Atomics.store(w, cpuBase(cpu) + CPU_LOG_HEAD, heads[cpu]!);
  };
  return { space, w, checker, log };
}

describe('stress checker: the log ring', () => {
  it('checks legal entries silently and reports the first illegal one with its CPU, id and set', () => {
    const { w, checker, log, space } = setup();
    log(0, 'alloc', 5);
    log(0, 'alloc', -Errno.EDQUOT);
    log(1, 'find', -Errno.ENOENT);
    checker.pass();
    expect(checker.stats.entriesChecked).toBe(3);
    expect(violationCounts(w)['bad-result']).toBe(0);
    log(1, 'free', -Errno.ENOENT, 9, 0); // a CPU never frees an id it does not hold
    log(0, 'put', 0);
    checker.pass();
    expect(checker.stats.entriesChecked).toBe(5);
    expect(violationCounts(w)['bad-result']).toBe(1);
    expect(readFirstViolation(w)).toMatchObject({
      kind: 'bad-result',
      op: 'free',
      cpu: 1,
      id: 9,
      set: 0,
      detail: -Errno.ENOENT,
    });
    space.detach();
  });

  it('counts what a lapping CPU overwrote as missed, and reads the rest', () => {
    const { w, checker, log, space } = setup();
    log(0, 'free', -Errno.EINVAL); // illegal, but overwritten before the checker runs
    for (let i = 0; i < LOG_ENTRIES + 99; i++) log(0, 'alloc', 1 + (i % 15));
    checker.pass();
    // All but the newest LOG_ENTRIES - 1 (the slot of the oldest one is the next to be written).
    expect(checker.stats.entriesMissed).toBe(101);
    expect(checker.stats.entriesChecked).toBe(LOG_ENTRIES - 1);
    expect(violationCounts(w)['bad-result']).toBe(0);
    space.detach();
  });

  it('reports a bad entry it counted as checked even if the CPU laps it right after', () => {
    const { w, checker, log, space } = setup();
    // The checker is behind: it will start at the oldest entry that can still be intact,
    // which is this bad one.
    log(0, 'free', -Errno.EINVAL, 7, 1);
    for (let i = 0; i < LOG_ENTRIES - 2; i++) log(0, 'alloc', 2);
    const headWord = cpuBase(0) + CPU_LOG_HEAD;
    const load = Atomics.load;
    let headLoads = 0;
    // Right after the checker's second head load (the one that proves its first chunk
    // intact), the CPU logs once more and so overwrites the bad entry's slot.
    Atomics.load = ((a: Int32Array, i: number) => {
      const v = load(a as Int32Array<SharedArrayBuffer>, i);
      if (a.buffer === w.buffer && i === headWord && ++headLoads === 2) log(0, 'alloc', 3);
      return v;
    }) as typeof Atomics.load;
    try {
      checker.pass();
    } finally {
      Atomics.load = load;
    }
    expect(headLoads).toBeGreaterThanOrEqual(2);
    expect(violationCounts(w)['bad-result']).toBe(1);
    expect(readFirstViolation(w)).toMatchObject({ op: 'free', id: 7, set: 1 });
    space.detach();
  });

  it('keeps reading when the int32 log head wraps past 2^31', () => {
    const { w, checker, log, space } = setup(2 ** 31 - 5);
    for (let i = 0; i < 10; i++) log(0, 'alloc', 2);
    log(0, 'setFree', -Errno.EINVAL); // just after the wrap
    checker.pass();
    expect(Atomics.load(w, cpuBase(0) + CPU_LOG_HEAD)).toBeLessThan(0);
    expect(checker.stats.entriesChecked).toBe(11);
    expect(checker.stats.entriesMissed).toBe(0);
    expect(readFirstViolation(w)).toMatchObject({ op: 'setFree', detail: -Errno.EINVAL });
    space.detach();
  });
});
