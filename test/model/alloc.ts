import fc from 'fast-check';
import { expect } from 'vitest';
import { E, expectSameState, ID_MAX, MAX_SETS, type Model, type Real } from './model.js';

/** alloc(set, min, max, data); ranges sometimes empty, reversed or past the space. */
export class AllocCommand implements fc.Command<Model, Real> {
  constructor(
    readonly set: number,
    readonly min: number,
    readonly max: number,
    readonly data: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const got = r.space.alloc(this.set, this.min, this.max, this.data);
    expect(got).toBe(this.expected(m));
    expectSameState(m, r);
  }
  private expected(m: Model): number {
    const { set, min, max, data } = this;
    if (set < 0 || set >= MAX_SETS || min < 0 || max < min || min > ID_MAX || max < 1)
      return E.EINVAL;
    if (data < 0) return E.EINVAL;
    const s = m.sets.get(set);
    if (!s || s.pending) return E.EINVAL;
    if (s.count >= s.quota) return E.EDQUOT;
    const lo = Math.max(min, 1);
    const hi = Math.min(max, ID_MAX);
    const free = (id: number) => !m.ids.has(id);
    let id = -1;
    if (m.cyclic) {
      const from = m.next > lo && m.next <= hi ? m.next : lo;
      for (let i = from; i <= hi && id < 0; i++) if (free(i)) id = i;
      for (let i = lo; i < from && id < 0; i++) if (free(i)) id = i;
    } else {
      for (let i = lo; i <= hi && id < 0; i++) if (free(i)) id = i;
    }
    if (id < 0) return E.ENOSPC;
    m.next = id + 1;
    s.count++;
    m.ids.set(id, { set, refs: 1, pending: false, data, spid: null });
    return id;
  }
  toString(): string {
    return `alloc(${this.set}, ${this.min}, ${this.max}, ${this.data})`;
  }
}

export const allocCommand = fc
  .tuple(
    fc.nat(MAX_SETS),
    fc.nat(ID_MAX + 1),
    fc.integer({ min: -1, max: ID_MAX + 1 }),
    fc.nat(1000),
  )
  .map(([set, min, span, data]) => new AllocCommand(set, min, min + span, data));
