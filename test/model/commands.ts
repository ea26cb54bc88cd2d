/**
 * The commands of the model-based test: one per stress operation (stress/ops/, run through
 * `perform` against the model's complete view, which predicts every result exactly), plus
 * the calls no CPU makes (reserveCapacity, cancelCapacity, setForEachIoasid). Arguments are
 * arbitrary, bad ones included, and taken modulo the model's sizes rather than filtered.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { Errno } from '../../src/core/ioasid/errno.js';
import { INVALID_IOASID } from '../../src/core/ioasid/ioasid-space.js';
import type { AllocCall } from '../../stress/ops/alloc.js';
import type { AttachDataCall } from '../../stress/ops/attach-data.js';
import type { AttachSpidCall } from '../../stress/ops/attach-spid.js';
import type { DetachDataCall } from '../../stress/ops/detach-data.js';
import type { DetachSpidCall } from '../../stress/ops/detach-spid.js';
import type { FindCall, Getter } from '../../stress/ops/find.js';
import type { FindBySpidCall } from '../../stress/ops/find-by-spid.js';
import type { FreeCall } from '../../stress/ops/free.js';
import type { FreeAllInSetCall } from '../../stress/ops/free-all-in-set.js';
import type { GetCall } from '../../stress/ops/get.js';
import { type OpName, opIndex, opNamed, STRESS_OPS } from '../../stress/ops/index.js';
import { perform, type StressOp } from '../../stress/ops/op.js';
import type { PutCall } from '../../stress/ops/put.js';
import type { ReallocUnderReaderCall } from '../../stress/ops/realloc-under-reader.js';
import type { SetAllocCall } from '../../stress/ops/set-alloc.js';
import type { SetFreeCall } from '../../stress/ops/set-free.js';
import { showResult } from '../../stress/ops/view.js';
import { expectSameState, ID_MAX, MAX_SETS, type ModelView, type Real } from './model.js';

const setOrNull = (freq: number) => fc.option(fc.nat(MAX_SETS - 1), { freq });
const anyId = fc.nat(ID_MAX + 1);

/** Arguments of each stress operation, bad ones included: a new op without one fails to compile. */
export const CALLS = {
  alloc: fc
    .tuple(
      fc.nat(MAX_SETS),
      fc.nat(ID_MAX + 1),
      fc.integer({ min: -1, max: ID_MAX + 1 }),
      fc.nat(1000),
    )
    .map(([set, min, span, data]): AllocCall => ({ set, min, max: min + span, data })),
  free: fc.tuple(setOrNull(6), anyId).map(([set, id]): FreeCall => ({ set, id })),
  get: fc.tuple(setOrNull(3), anyId).map(([set, id]): GetCall => ({ set, id })),
  put: fc.tuple(setOrNull(3), anyId).map(([set, id]): PutCall => ({ set, id })),
  find: fc
    .tuple(setOrNull(3), anyId, fc.constantFrom<Getter>('none', 'accept', 'refuse', 'sleep'))
    .map(([set, id, getter]): FindCall => ({ set, id, getter, seen: -1, recycled: 0 })),
  findBySpid: fc
    .tuple(fc.nat(MAX_SETS), fc.nat(2), fc.boolean())
    .map(([set, spid, get]): FindBySpidCall => ({ set, spid, get })),
  attachSpid: fc
    .tuple(anyId, fc.oneof(fc.nat(2), fc.constant(INVALID_IOASID)))
    .map(([id, spid]): AttachSpidCall => ({ id, spid })),
  detachSpid: anyId.map((id): DetachSpidCall => ({ id })),
  attachData: fc.tuple(anyId, fc.nat(5)).map(([id, data]): AttachDataCall => ({ id, data })),
  detachData: anyId.map((id): DetachDataCall => ({ id })),
  setAlloc: fc
    .tuple(
      fc.option(fc.nat(2), { freq: 2 }),
      fc.nat(6),
      fc.oneof(fc.constantFrom(1, 2), fc.constantFrom(1, 2), fc.nat(3)),
    )
    .map(([token, quota, type]): SetAllocCall => ({ token, quota, type })),
  setFree: fc.nat(MAX_SETS).map((set): SetFreeCall => ({ set })),
  freeAllInSet: fc.nat(MAX_SETS).map((set): FreeAllInSetCall => ({ set })),
  reallocUnderReader: fc.tuple(setOrNull(6), anyId, fc.nat(5)).map(
    ([set, id, data]): ReallocUnderReaderCall => ({
      set,
      id,
      data,
      seen: -1,
      freed: null,
      got: null,
      recycled: 0,
    }),
  ),
} satisfies Record<OpName, fc.Arbitrary<unknown>>;

/**
 * One stress operation, run through `perform` on the model's view (a broken contract throws
 * ContractBreach). Before the view changes, the op's check must also reject results next to
 * the real one: a check that accepts anything cannot fail.
 */
export class OpCommand implements fc.Command<ModelView, Real> {
  constructor(
    readonly op: StressOp<unknown>,
    readonly call: unknown,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: ModelView, r: Real): void {
    const c = structuredClone(this.call); // find records what its getter saw in its call
    const op = this.op;
    m.onResult = (result) => {
      for (const wrong of [result + 1, result - 1, result === -Errno.EINVAL ? 0 : -Errno.EINVAL])
        expect(
          op.check(m, c, wrong),
          `${op.show(c)}: its check accepts ${showResult(wrong)} as well as ${showResult(result)}`,
        ).toBeDefined();
    };
    try {
      perform(op, opIndex(op.name), r.space, m, c);
    } finally {
      m.onResult = undefined;
    }
    expectSameState(m, r);
    for (const n of m.getterNesting.splice(0)) expect(n, 'RCU nesting inside a getter').toBe(1);
  }
  toString(): string {
    return this.op.show(this.call);
  }
}

/** reserveCapacity(n), n in 0..4 (0: everything available). No CPU reserves capacity. */
export class ReserveCapacityCommand implements fc.Command<ModelView, Real> {
  constructor(readonly n: number) {}
  check(): boolean {
    return true;
  }
  run(m: ModelView, r: Real): void {
    const got = r.space.reserveCapacity(this.n);
    const take = this.n === 0 ? m.available : this.n;
    let want = -Errno.ENOSPC;
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

/** cancelCapacity(n): n taken modulo (reserved + 2), so sometimes more than this thread reserved (-EINVAL). */
export class CancelCapacityCommand implements fc.Command<ModelView, Real> {
  constructor(readonly seed: number) {}
  check(): boolean {
    return true;
  }
  run(m: ModelView, r: Real): void {
    const n = this.seed % (m.reserved + 2);
    const got = r.space.cancelCapacity(n);
    let want = -Errno.EINVAL;
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

/** setForEachIoasid(set): the ids of the set, lowest first. */
export class SetForEachCommand implements fc.Command<ModelView, Real> {
  constructor(readonly set: number) {}
  check(): boolean {
    return true;
  }
  run(m: ModelView, r: Real): void {
    const seen: number[] = [];
    const visited = r.space.setForEachIoasid(this.set, (id) => seen.push(id));
    if (!m.sets.has(this.set)) expect(visited).toBe(-Errno.EINVAL);
    else {
      const ids = m.heldIn(this.set).map((h) => h.id);
      expect(seen).toEqual(ids);
      expect(visited).toBe(ids.length);
    }
  }
  toString(): string {
    return `setForEachIoasid(${this.set})`;
  }
}

const opCommand = (name: OpName, weight: number) =>
  Array.from({ length: weight }, () =>
    (CALLS[name] as fc.Arbitrary<unknown>).map((call) => new OpCommand(opNamed(name), call)),
  );

/** How often each stress operation is drawn (allocs and set creation more, to fill the space). */
const WEIGHT: Partial<Record<OpName, number>> = { alloc: 3, free: 2, setAlloc: 2 };

/** Every command of the model-based test. */
export const allCommands = [
  ...STRESS_OPS.flatMap((op) => opCommand(op.name, WEIGHT[op.name] ?? 1)),
  fc.nat(4).map((n) => new ReserveCapacityCommand(n)),
  fc.nat(20).map((seed) => new CancelCapacityCommand(seed)),
  fc.nat(MAX_SETS).map((set) => new SetForEachCommand(set)),
];
