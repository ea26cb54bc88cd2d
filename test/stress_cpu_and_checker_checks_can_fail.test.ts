/**
 * The checks a stress CPU makes beside its ops' own (stress/cpu/cpu-view.ts: the shadow
 * claim, the shadow quota, a set reused while the CPUs still count ids in it) and the
 * checker's global ones (stress/check/checker.ts: each set's quota, by the space's count and
 * by the shadow count; exact capacity) each fail, by name, on a state made to break them;
 * one thread, by hand.
 */
import { describe, expect, it } from 'vitest';
import {
  type IoasidSpace,
  SetType,
  IoasidSpace as Space,
} from '../src/core/ioasid/ioasid-space.js';
import { OpLog } from '../src/workers/op-log.js';
import { Prng } from '../src/workers/prng.js';
import { type CpuGeometry, runWords } from '../src/workers/run-layout.js';
import {
  type CheckGeometry,
  checkWords,
  shadowOwnerBase,
  shadowSetBase,
} from '../stress/check/check-layout.js';
import { Checker } from '../stress/check/checker.js';
import { readViolations } from '../stress/check/violations.js';
import { CpuView } from '../stress/cpu/cpu-view.js';
import { N_OPS } from '../stress/ops/index.js';
import { spaceDouble } from './helpers/space-double.js';

const rg: CpuGeometry = { cpus: 2, nOps: N_OPS };
const cg: CheckGeometry = { cpus: 2, pasidBits: 5, maxSets: 4 };

function setup() {
  const space = Space.create({ pasidBits: 5, maxSets: 4, maxIoasids: 64, maxThreads: 4 });
  const run = new SharedArrayBuffer(runWords(rg) * 4);
  const check = new SharedArrayBuffer(checkWords(cg) * 4);
  const w = new Int32Array(check);
  const set = space.setAlloc(null, 4, SetType.NULL);
  Atomics.store(w, shadowSetBase(cg, set) + 1, 4);
  const view = new CpuView(
    {
      complete: false,
      cpu: 0,
      generation: 0,
      rng: new Prng(1),
      idMin: 1,
      idMax: 31,
      maxSets: 4,
      capacity: 31,
      cyclic: false,
      shared: [set],
      maxHeld: 8,
      subRangeOneIn: 0,
      scratchQuota: 2,
      getterSleepOneIn: 256,
    },
    check,
    cg,
    new OpLog(run, rg, 0),
  );
  const tally = (kind: string) => readViolations(w).find((t) => t.kind === kind)!;
  const held = (id: number) => ({ id, set, refs: 1, pending: false, spid: null, data: 5 });
  return { space, run, check, w, set, view, tally, held };
}

describe("a stress CPU's own checks", () => {
  it('names an id live twice when its shadow claim is taken by another CPU', () => {
    const { w, set, view, tally, held } = setup();
    Atomics.store(w, shadowOwnerBase(cg) + 7, 2); // CPU 1 holds id 7
    view.adopt(held(7), 'alloc');
    expect(tally('id-live-twice').first).toMatchObject({
      op: 'alloc',
      cpu: 0,
      id: 7,
      set,
      detail: 1,
      foundBy: 'cpu',
    });
    expect(tally('id-live-twice').first?.why).toMatch(/CPU 1 still holds it/);
    expect(view.heldId(7)).toBeUndefined(); // not this CPU's to free
  });

  it('names a set over its quota by the shadow count', () => {
    const { w, set, view, tally, held } = setup();
    Atomics.store(w, shadowSetBase(cg, set), 4); // the CPUs already hold 4 of its 4
    view.adopt(held(3), 'alloc');
    expect(tally('quota-exceeded').first).toMatchObject({
      op: 'alloc',
      cpu: 0,
      id: 3,
      set,
      detail: 5,
    });
  });

  it('names a set reused while the CPUs still count ids in it', () => {
    const { w, view, tally } = setup();
    Atomics.store(w, shadowSetBase(cg, 2), 3);
    view.setCreated(2, { type: SetType.NULL, token: null, quota: 2, count: 0, pending: false });
    expect(tally('leak').first).toMatchObject({
      op: 'setAlloc',
      cpu: 0,
      id: null,
      set: 2,
      detail: 3,
    });
  });

  it('claims, counts, releases and gives back without a report when nothing is wrong', () => {
    const { w, set, view, held } = setup();
    const h = held(9);
    view.adopt(h, 'alloc');
    expect(Atomics.load(w, shadowOwnerBase(cg) + 9)).toBe(1);
    expect(Atomics.load(w, shadowSetBase(cg, set))).toBe(1);
    view.releasing(h);
    view.reclaimed(h);
    expect(Atomics.load(w, shadowOwnerBase(cg) + 9)).toBe(0);
    expect(Atomics.load(w, shadowSetBase(cg, set))).toBe(0);
    expect(readViolations(w).every((t) => t.count === 0)).toBe(true);
  });
});

/** A space whose setInfo reports `count` ids in every live set. */
function overCounted(space: IoasidSpace, count: number): IoasidSpace {
  const setInfo = (set: number) => {
    const info = space.setInfo(set);
    return info && { ...info, count };
  };
  return spaceDouble(space, { setInfo });
}

describe("the checker's global checks", () => {
  it("names a set over its quota by the space's own count", () => {
    const { space, run, check, set, tally } = setup();
    new Checker(overCounted(space, 5), run, rg, check, cg).pass();
    expect(tally('quota-exceeded').first).toMatchObject({
      op: null,
      cpu: null,
      set,
      detail: 5,
      foundBy: 'checker',
    });
    expect(tally('quota-exceeded').first?.why).toMatch(/over its quota 4 \(setInfo\)/);
  });

  it('names a set over its quota by the shadow count', () => {
    const { space, run, check, w, set, tally } = setup();
    Atomics.store(w, shadowSetBase(cg, set), 6);
    new Checker(space, run, rg, check, cg).pass();
    expect(tally('quota-exceeded').first).toMatchObject({ set, detail: 6, foundBy: 'checker' });
    expect(tally('quota-exceeded').first?.why).toMatch(/\(shadow count\)/);
  });

  it('finds capacity taken that no set accounts for, exactly', () => {
    const { space, run, check, tally } = setup();
    const checker = new Checker(space, run, rg, check, cg);
    expect(checker.quiescentCheck()).toBe(0);
    space.reserveCapacity(2);
    expect(checker.quiescentCheck()).toBe(2);
    expect(tally('capacity-accounting').first).toMatchObject({ detail: 2, foundBy: 'checker' });
  });
});
