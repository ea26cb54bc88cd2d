import fc from 'fast-check';
import { expect } from 'vitest';
import { E, expectSameState, ID_MAX, MAX_SETS, type Model, type Real, showSet } from './model.js';

/** get(set | null, id). */
export class GetCommand implements fc.Command<Model, Real> {
  constructor(
    readonly set: number | null,
    readonly id: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const got = r.space.get(this.set, this.id);
    const rec = m.ids.get(this.id);
    let want = 0;
    if (!rec) want = E.EINVAL;
    else if (rec.pending) want = E.EBUSY;
    else if (this.set !== null && rec.set !== this.set) want = E.EACCES;
    else rec.refs++;
    expect(got).toBe(want);
    expectSameState(m, r);
  }
  toString(): string {
    return `get(${showSet(this.set)}, ${this.id})`;
  }
}

export const getCommand = fc
  .tuple(fc.option(fc.nat(MAX_SETS - 1), { freq: 3 }), fc.nat(ID_MAX + 1))
  .map(([set, id]) => new GetCommand(set, id));
