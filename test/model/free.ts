import fc from 'fast-check';
import { expect } from 'vitest';
import {
  expectSameState,
  ID_MAX,
  MAX_SETS,
  type Model,
  modelFree,
  type Real,
  showSet,
} from './model.js';

/** free(set | null, id) for ids 0..ID_MAX + 1. */
export class FreeCommand implements fc.Command<Model, Real> {
  constructor(
    readonly set: number | null,
    readonly id: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const got = r.space.free(this.set, this.id);
    expect(got).toBe(modelFree(m, this.set, this.id));
    expectSameState(m, r);
  }
  toString(): string {
    return `free(${showSet(this.set)}, ${this.id})`;
  }
}

export const freeCommand = fc
  .tuple(fc.option(fc.nat(MAX_SETS - 1), { freq: 6 }), fc.nat(ID_MAX + 1))
  .map(([set, id]) => new FreeCommand(set, id));
