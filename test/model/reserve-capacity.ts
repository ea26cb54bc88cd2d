import fc from 'fast-check';
import { expect } from 'vitest';
import { E, expectSameState, type Model, type Real } from './model.js';

/** reserveCapacity(n), n in 0..4. */
export class ReserveCapacityCommand implements fc.Command<Model, Real> {
  constructor(readonly n: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const got = r.space.reserveCapacity(this.n);
    const take = this.n === 0 ? m.available : this.n;
    let want = E.ENOSPC;
    if (take > 0 && take <= m.available) {
      m.available -= take;
      m.reserved += take;
      want = take;
    }
    expect(got).toBe(want);
    expectSameState(m, r);
  }
  toString(): string {
    return `reserveCapacity(${this.n})`;
  }
}

export const reserveCapacityCommand = fc.nat(4).map((n) => new ReserveCapacityCommand(n));
