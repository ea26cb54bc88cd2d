import fc from 'fast-check';
import { expect } from 'vitest';
import { E, expectSameState, MAX_SETS, type Model, type Real } from './model.js';

/** setAlloc(token, quota, type): tokens from a pool of 3 (or null), quotas 0..6, types 0..3. */
export class SetAllocCommand implements fc.Command<Model, Real> {
  constructor(
    readonly token: number | null,
    readonly quota: number,
    readonly type: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const got = r.space.setAlloc(this.token, this.quota, this.type as 1 | 2);
    expect(got).toBe(this.expected(m));
    expectSameState(m, r);
  }
  /** Computes the model's answer and applies it. */
  private expected(m: Model): number {
    const { token, quota, type } = this;
    if (type !== 1 && type !== 2) return E.EINVAL;
    if ((type === 2) !== (token !== null)) return E.EINVAL;
    for (const s of m.sets.values())
      if (type === 2 && s.type === 2 && s.token === token) return E.EEXIST;
    let set = 0;
    while (set < MAX_SETS && m.sets.has(set)) set++;
    if (set === MAX_SETS) return E.ENOSPC;
    const take = quota === 0 ? m.available : quota;
    if (take === 0 || take > m.available) return E.ENOSPC;
    m.available -= take;
    m.sets.set(set, { type, token, quota: take, count: 0, pending: false });
    return set;
  }
  toString(): string {
    return `setAlloc(${this.token}, ${this.quota}, ${this.type})`;
  }
}

export const setAllocCommand = fc
  .tuple(
    fc.option(fc.nat(2), { freq: 2 }),
    fc.nat(6),
    fc.oneof(fc.constantFrom(1, 2), fc.constantFrom(1, 2), fc.nat(3)),
  )
  .map(([token, quota, type]) => new SetAllocCommand(token, quota, type));
