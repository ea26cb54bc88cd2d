import fc from 'fast-check';
import { expect } from 'vitest';
import { E, expectSameState, ID_MAX, type Model, type Real } from './model.js';

/** detachData(id): clears and waits a grace period (single thread: returns promptly). */
export class DetachDataCommand implements fc.Command<Model, Real> {
  constructor(readonly id: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const got = r.space.detachData(this.id);
    const rec = m.ids.get(this.id);
    if (rec) rec.data = 0;
    expect(got).toBe(rec ? 0 : E.ENOENT);
    expectSameState(m, r);
  }
  toString(): string {
    return `detachData(${this.id})`;
  }
}

export const detachDataCommand = fc.nat(ID_MAX + 1).map((id) => new DetachDataCommand(id));
