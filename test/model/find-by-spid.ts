import fc from 'fast-check';
import { expect } from 'vitest';
import { E, expectSameState, MAX_SETS, type Model, type Real } from './model.js';

/** findBySpid(set, spid, get). */
export class FindBySpidCommand implements fc.Command<Model, Real> {
  constructor(
    readonly set: number,
    readonly spid: number,
    readonly get: boolean,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const got = r.space.findBySpid(this.set, this.spid, this.get);
    let want = E.ENOENT;
    for (const [id, rec] of m.ids) {
      if (rec.set !== this.set || rec.spid !== this.spid) continue;
      if (!this.get) want = id;
      else if (rec.pending) want = E.EBUSY;
      else {
        rec.refs++;
        want = id;
      }
    }
    expect(got).toBe(want);
    expectSameState(m, r);
  }
  toString(): string {
    return `findBySpid(${this.set}, ${this.spid}, ${this.get})`;
  }
}

export const findBySpidCommand = fc
  .tuple(fc.nat(MAX_SETS), fc.nat(2), fc.boolean())
  .map(([set, spid, get]) => new FindBySpidCommand(set, spid, get));
