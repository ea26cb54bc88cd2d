/**
 * The stress checker's log reader (stress/check/checker.ts), driven by hand in one thread: it
 * reports an illegal result it reads, counts entries a CPU overwrote before it got to them as
 * missed (never as checked, never as violations), and keeps working when a CPU's int32 log
 * head wraps past 2^31.
 */
import { describe, expect, it } from 'vitest';
import { Errno, IoasidSpace } from '../src/core/ioasid/ioasid-space.js';
import { OpLog } from '../src/workers/op-log.js';
import {
  CPU_LOG_HEAD,
  type CpuGeometry,
  cpuBase,
  LOG_ENTRIES,
  runWords,
} from '../src/workers/run-layout.js';
import { type CheckGeometry, checkWords } from '../stress/check/check-layout.js';
import { Checker } from '../stress/check/checker.js';
import { firstViolation, readViolations } from '../stress/check/violations.js';
import { N_OPS, type OpName, opIndex } from '../stress/ops/index.js';

const rg: CpuGeometry = { cpus: 2, nOps: N_OPS };
const cg: CheckGeometry = { cpus: 2, pasidBits: 4, maxSets: 2 };

function setup(startHead = 0) {
  const space = IoasidSpace.create({ pasidBits: 4, maxSets: 2, maxIoasids: 16, maxThreads: 4 });
  const run = new SharedArrayBuffer(runWords(rg) * 4);
  const check = new SharedArrayBuffer(checkWords(cg) * 4);
  const w = new Int32Array(run);
  const cw = new Int32Array(check);
  for (let c = 0; c < rg.cpus; c++) Atomics.store(w, cpuBase(rg, c) + CPU_LOG_HEAD, startHead);
  const checker = new Checker(space, run, rg, check, cg);
  // The CPUs' own log writers (src/workers/op-log.ts): the entry's words, then the head.
  const writers = [new OpLog(run, rg, 0), new OpLog(run, rg, 1)];
  const log = (cpu: number, op: OpName, result: number, id = 3, set = 1) =>
    writers[cpu]!.write(opIndex(op), set, id, result);
  const badResults = () => readViolations(cw).find((t) => t.kind === 'bad-result')!.count;
  const first = () => firstViolation(readViolations(cw));
  return { space, w, checker, log, badResults, first };
}

describe('stress checker: the log ring', () => {
  it('checks legal entries silently and reports the first illegal one with its CPU, id and set', () => {
    const { checker, log, space, badResults, first } = setup();
    log(0, 'alloc', 5);
    log(0, 'alloc', -Errno.EDQUOT);
    log(1, 'find', -Errno.ENOENT);
    checker.pass();
    expect(checker.stats.entriesChecked).toBe(3);
    expect(badResults()).toBe(0);
    log(1, 'free', -Errno.ENOENT, 9, 0); // a CPU never frees an id it does not hold
    log(0, 'put', 0);
    checker.pass();
    expect(checker.stats.entriesChecked).toBe(5);
    expect(badResults()).toBe(1);
    expect(first()).toMatchObject({
      kind: 'bad-result',
      op: 'free',
      cpu: 1,
      id: 9,
      set: 0,
      detail: -Errno.ENOENT,
      foundBy: 'checker',
    });
    expect(first()?.why).toMatch(/free returned -ENOENT/);
    space.detach();
  });

  it('counts what a lapping CPU overwrote as missed, and reads the rest', () => {
    const { checker, log, space, badResults } = setup();
    log(0, 'free', -Errno.EINVAL); // illegal, but overwritten before the checker runs
    for (let i = 0; i < LOG_ENTRIES + 99; i++) log(0, 'alloc', 1 + (i % 15));
    checker.pass();
    // All but the newest LOG_ENTRIES - 1 (the slot of the oldest one is the next to be written).
    expect(checker.stats.entriesMissed).toBe(101);
    expect(checker.stats.entriesChecked).toBe(LOG_ENTRIES - 1);
    expect(badResults()).toBe(0);
    space.detach();
  });

  it('reports a bad entry it counted as checked even if the CPU laps it right after', () => {
    const { w, checker, log, space, badResults, first } = setup();
    // The checker is behind: it will start at the oldest entry that can still be intact,
    // which is this bad one.
    log(0, 'free', -Errno.EINVAL, 7, 1);
    for (let i = 0; i < LOG_ENTRIES - 2; i++) log(0, 'alloc', 2);
    const headWord = cpuBase(rg, 0) + CPU_LOG_HEAD;
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
    expect(badResults()).toBe(1);
    expect(first()).toMatchObject({ op: 'free', id: 7, set: 1 });
    space.detach();
  });

  it('keeps reading when the int32 log head wraps past 2^31', () => {
    const { w, checker, log, space, first } = setup(2 ** 31 - 5);
    for (let i = 0; i < 10; i++) log(0, 'alloc', 2);
    log(0, 'setFree', -Errno.EINVAL); // just after the wrap
    checker.pass();
    expect(Atomics.load(w, cpuBase(rg, 0) + CPU_LOG_HEAD)).toBeLessThan(0);
    expect(checker.stats.entriesChecked).toBe(11);
    expect(checker.stats.entriesMissed).toBe(0);
    expect(first()).toMatchObject({ op: 'setFree', detail: -Errno.EINVAL });
    space.detach();
  });
});
