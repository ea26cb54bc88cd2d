import fc from 'fast-check';
import { expect } from 'vitest';
import { E, expectSameState, type Model, type Real } from './model.js';

/** cancelCapacity(n): n taken modulo (reserved + 2), so sometimes more than was reserved. */
export class CancelCapacityCommand implements fc.Command<Model, Real> {
  constructor(readonly seed: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const n = this.seed % (m.reserved + 2);
    const got = r.space.cancelCapacity(n);
    let want = E.EINVAL;
    if (n <= m.reserved) {
      m.available += n;
      m.reserved = Math.max(0, m.reserved - n);
      want = m.available;
    }
    expect(got).toBe(want);
    expectSameState(m, r);
  }
  toString(): string {
    return `cancelCapacity(seed ${this.seed})`;
  }
}

export const cancelCapacityCommand = fc.nat(20).map((seed) => new CancelCapacityCommand(seed));
