import fc from 'fast-check';
import { expect } from 'vitest';
import {
  E,
  expectSameState,
  ID_MAX,
  MAX_SETS,
  type Model,
  type Real,
  reclaim,
  showSet,
} from './model.js';

/** put(set | null, id): 1 when it reclaims. */
export class PutCommand implements fc.Command<Model, Real> {
  constructor(
    readonly set: number | null,
    readonly id: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const got = r.space.put(this.set, this.id);
    const rec = m.ids.get(this.id);
    let want: number;
    if (!rec) want = E.ENOENT;
    else if (this.set !== null && rec.set !== this.set) want = E.EACCES;
    else if (rec.refs === 1) {
      reclaim(m, this.id);
      want = 1;
    } else {
      rec.refs--;
      want = 0;
    }
    expect(got).toBe(want);
    expectSameState(m, r);
  }
  toString(): string {
    return `put(${showSet(this.set)}, ${this.id})`;
  }
}

export const putCommand = fc
  .tuple(fc.option(fc.nat(MAX_SETS - 1), { freq: 3 }), fc.nat(ID_MAX + 1))
  .map(([set, id]) => new PutCommand(set, id));
