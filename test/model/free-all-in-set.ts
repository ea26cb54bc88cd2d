import fc from 'fast-check';
import { expect } from 'vitest';
import { E, expectSameState, MAX_SETS, type Model, modelFree, type Real } from './model.js';

/** freeAllInSet(set) and setForEachIoasid(set) (the ids visited, in order). */
export class FreeAllInSetCommand implements fc.Command<Model, Real> {
  constructor(readonly set: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const seen: number[] = [];
    const visited = r.space.setForEachIoasid(this.set, (id) => seen.push(id));
    const got = r.space.freeAllInSet(this.set);
    if (!m.sets.has(this.set)) {
      expect([visited, got]).toEqual([E.EINVAL, E.EINVAL]);
    } else {
      const ids = [...m.ids].filter(([, rec]) => rec.set === this.set).map(([id]) => id);
      ids.sort((a, b) => a - b);
      expect(seen).toEqual(ids);
      expect(visited).toBe(ids.length);
      let n = 0;
      for (const id of ids) if (modelFree(m, this.set, id) === 0) n++;
      expect(got).toBe(n);
    }
    expectSameState(m, r);
  }
  toString(): string {
    return `freeAllInSet(${this.set})`;
  }
}

export const freeAllInSetCommand = fc.nat(MAX_SETS).map((set) => new FreeAllInSetCommand(set));
