/**
 * Each stress operation, used as a CPU uses it (its own `pick` on a partial view of a real
 * space that only this thread uses), accepts what the space returns, and its check rejects
 * every result outside the op's legal table and, where the CPU can predict the result, every
 * other result: the CPU's checks can fail. (The complete-view checks are exercised, result
 * by result, in test/ioasid_model.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { Errno } from '../src/core/ioasid/errno.js';
import { IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import { Prng } from '../src/workers/prng.js';
import { opIndex, STRESS_OPS } from '../stress/ops/index.js';
import { perform, type StressOp } from '../stress/ops/op.js';
import { View } from '../stress/ops/view.js';
import { testSeed } from './helpers/seed.js';

const FILE = 'test/stress_ops_reject_what_a_cpu_must_not_see.test.ts';
/** Results to try against each check: errnos, 0, 1, ids, data. */
const CANDIDATES = [...Object.values(Errno).map((e) => -e), -999, 0, 1, 2, 5, 31, 32, 1_000_000];

/** Ops whose result a CPU predicts exactly from its own view (the others: any legal one). */
const LOOSE = ['alloc', 'setAlloc', 'find'];

/** A view that records its breaches and shows each result before the view changes. */
class RecordingView extends View {
  readonly breaches: string[] = [];
  onResult: ((result: number) => void) | undefined;
  override breach(op: string, b: { kind: string; why: string }): void {
    this.breaches.push(`${b.kind} in ${op}: ${b.why}`);
  }
  override log(_op: number, _set: number, _id: number, result: number): void {
    this.onResult?.(result);
  }
}

describe('stress ops, used as a CPU uses them', () => {
  it('accept what a correct space returns, and reject what it cannot', () => {
    const seed = testSeed(FILE);
    const space = IoasidSpace.create({ pasidBits: 5, maxSets: 8, maxIoasids: 128, maxThreads: 4 });
    const shared = [space.setAlloc(null, 12, SetType.NULL), space.setAlloc(null, 12, SetType.NULL)];
    const rng = new Prng(seed);
    const v = new RecordingView({
      complete: false,
      cpu: 3,
      generation: 1,
      rng,
      idMin: 1,
      idMax: 31,
      maxSets: 8,
      capacity: 31,
      cyclic: false,
      shared,
      maxHeld: 10,
      subRangeOneIn: 8,
      scratchQuota: 4,
      getterSleepOneIn: 4,
    });
    const ran = new Set<string>();
    const mostAccepted = new Map<string, number>();
    for (let step = 0; step < 4000; step++) {
      const op = STRESS_OPS[rng.below(STRESS_OPS.length)] as StressOp<unknown>;
      const c = op.pick(v);
      if (c === undefined) continue;
      let seen: number | undefined;
      v.onResult = (result) => {
        seen = result;
        const accepted = [...CANDIDATES, result].filter((r) => op.check(v, c, r) === undefined);
        for (const r of accepted)
          expect(op.legal(r), `${op.show(c)} accepts ${r}, which no CPU may see`).toBe(true);
        const others = accepted.filter((r) => r !== result).length;
        mostAccepted.set(op.name, Math.max(mostAccepted.get(op.name) ?? 0, others));
      };
      const r = perform(op, opIndex(op.name), space, v, c);
      v.onResult = undefined;
      ran.add(op.name);
      expect(seen).toBe(r);
      expect(v.breaches, `${op.show(c)} returned ${r}`).toEqual([]);
    }
    expect([...ran].sort()).toEqual(STRESS_OPS.map((o) => o.name).sort());
    // Where the CPU predicts the result, nothing but that result passes its check.
    for (const [name, n] of mostAccepted)
      if (!LOOSE.includes(name)) expect(n, `${name} accepts results besides the real one`).toBe(0);
    space.detach();
  });
});
