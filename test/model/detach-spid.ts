import fc from 'fast-check';
import { expect } from 'vitest';
import { E, expectSameState, ID_MAX, type Model, type Real } from './model.js';

/** detachSpid(id). */
export class DetachSpidCommand implements fc.Command<Model, Real> {
  constructor(readonly id: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const got = r.space.detachSpid(this.id);
    const rec = m.ids.get(this.id);
    let want = E.ENOENT;
    if (rec && rec.spid !== null) {
      rec.spid = null;
      want = 0;
    }
    expect(got).toBe(want);
    expectSameState(m, r);
  }
  toString(): string {
    return `detachSpid(${this.id})`;
  }
}

export const detachSpidCommand = fc.nat(ID_MAX + 1).map((id) => new DetachSpidCommand(id));
