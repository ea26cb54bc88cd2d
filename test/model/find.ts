import fc from 'fast-check';
import { expect } from 'vitest';
import { E, ID_MAX, MAX_SETS, type Model, type Real, showSet } from './model.js';

/** find(set | null, id [, getter that accepts or refuses]). */
export class FindCommand implements fc.Command<Model, Real> {
  constructor(
    readonly set: number | null,
    readonly id: number,
    readonly getter: 'none' | 'accept' | 'refuse',
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    let seen = -1;
    const g = this.getter;
    const got =
      g === 'none'
        ? r.space.find(this.set, this.id)
        : r.space.find(this.set, this.id, (d) => {
            seen = d;
            // The getter runs inside the read-side section.
            expect(r.space.rcu.nesting).toBe(1);
            return g === 'accept';
          });
    const rec = m.ids.get(this.id);
    let want: number;
    if (!rec) want = E.ENOENT;
    else if (this.set !== null && rec.set !== this.set) want = E.EACCES;
    else want = g === 'refuse' ? E.EAGAIN : rec.data;
    expect(got).toBe(want);
    if (g !== 'none' && rec && want !== E.EACCES) expect(seen).toBe(rec.data);
    expect(r.space.rcu.nesting).toBe(0);
  }
  toString(): string {
    return `find(${showSet(this.set)}, ${this.id}, ${this.getter})`;
  }
}

export const findCommand = fc
  .tuple(
    fc.option(fc.nat(MAX_SETS - 1), { freq: 3 }),
    fc.nat(ID_MAX + 1),
    fc.constantFrom('none', 'accept', 'refuse'),
  )
  .map(([set, id, g]) => new FindCommand(set, id, g as 'none' | 'accept' | 'refuse'));
