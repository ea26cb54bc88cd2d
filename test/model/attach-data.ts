import fc from 'fast-check';
import { expect } from 'vitest';
import { E, expectSameState, ID_MAX, type Model, type Real } from './model.js';

/** attachData(id, data) with data 0..5 (0 is refused). */
export class AttachDataCommand implements fc.Command<Model, Real> {
  constructor(
    readonly id: number,
    readonly data: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const got = r.space.attachData(this.id, this.data);
    const rec = m.ids.get(this.id);
    let want = 0;
    if (this.data < 1) want = E.EINVAL;
    else if (!rec) want = E.ENOENT;
    else if (rec.data !== 0) want = E.EBUSY;
    else rec.data = this.data;
    expect(got).toBe(want);
    expectSameState(m, r);
  }
  toString(): string {
    return `attachData(${this.id}, ${this.data})`;
  }
}

export const attachDataCommand = fc
  .tuple(fc.nat(ID_MAX + 1), fc.nat(5))
  .map(([id, data]) => new AttachDataCommand(id, data));
