import fc from 'fast-check';
import { expect } from 'vitest';
import { INVALID_IOASID } from '../../src/core/ioasid/ioasid-space.js';
import { E, expectSameState, ID_MAX, type Model, type Real } from './model.js';

/** attachSpid(id, spid) with spids from a pool of 3, or INVALID_IOASID. */
export class AttachSpidCommand implements fc.Command<Model, Real> {
  constructor(
    readonly id: number,
    readonly spid: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const got = r.space.attachSpid(this.id, this.spid);
    const rec = m.ids.get(this.id);
    let want = 0;
    if (this.spid === INVALID_IOASID) want = E.EINVAL;
    else if (!rec) want = E.ENOENT;
    else if ([...m.ids.values()].some((o) => o.set === rec.set && o.spid === this.spid))
      want = E.EINVAL;
    else rec.spid = this.spid;
    expect(got).toBe(want);
    expectSameState(m, r);
  }
  toString(): string {
    return `attachSpid(${this.id}, ${this.spid})`;
  }
}

export const attachSpidCommand = fc
  .tuple(fc.nat(ID_MAX + 1), fc.oneof(fc.nat(2), fc.constant(INVALID_IOASID)))
  .map(([id, spid]) => new AttachSpidCommand(id, spid));
