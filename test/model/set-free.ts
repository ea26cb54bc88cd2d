import fc from 'fast-check';
import { expect } from 'vitest';
import { E, expectSameState, MAX_SETS, type Model, type Real } from './model.js';

/** setFree(set) for set in 0..MAX_SETS (the last one is out of range). */
export class SetFreeCommand implements fc.Command<Model, Real> {
  constructor(readonly set: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const got = r.space.setFree(this.set);
    const s = m.sets.get(this.set);
    let want: number;
    if (!s) want = E.EINVAL;
    else if (s.count === 0) {
      m.sets.delete(this.set);
      m.available += s.quota;
      want = 0;
    } else {
      s.pending = true;
      want = E.EBUSY;
    }
    expect(got).toBe(want);
    expectSameState(m, r);
  }
  toString(): string {
    return `setFree(${this.set})`;
  }
}

export const setFreeCommand = fc.nat(MAX_SETS).map((set) => new SetFreeCommand(set));
