/**
 * `Rcu.create` and `Rcu.attach` refuse malformed options with RcuError ERR_RCU_BAD_ARGUMENT,
 * at once, never with a TypeError or later out of `synchronize` (issue 8, defect 8):
 * `{ fault: null }`, a `null` second argument, fault modes that are Object.prototype names
 * ('toString', '__proto__'), `onStall: 5`.
 */
import { describe, expect, it } from 'vitest';
import { Rcu, type RcuOptions } from '../src/core/rcu/rcu.js';

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return String(
      (e as { code?: unknown }).code ?? `${(e as Error).name}: ${(e as Error).message}`,
    );
  }
  return 'accepted';
}

const BAD = 'ERR_RCU_BAD_ARGUMENT';
const opts = (o: unknown) => o as Partial<RcuOptions>;

describe('Rcu options are validated where they are given', () => {
  const cases: Array<[string, () => unknown]> = [
    ['create({ fault: null })', () => Rcu.create(opts({ fault: null }))],
    ['create({ fault: 5 })', () => Rcu.create(opts({ fault: 5 }))],
    [
      "create({ fault: { mode: 'toString' } })",
      () => Rcu.create(opts({ fault: { mode: 'toString' } })),
    ],
    [
      "create({ fault: { mode: '__proto__' } })",
      () => Rcu.create(opts({ fault: { mode: '__proto__' } })),
    ],
    [
      "create({ fault: { mode: 'skip-gp', arg: 3 } })",
      () => Rcu.create(opts({ fault: { mode: 'skip-gp', arg: 3 } })),
    ],
    ['create(null)', () => Rcu.create(null as unknown as Partial<RcuOptions>)],
    ["create('x')", () => Rcu.create('x' as unknown as Partial<RcuOptions>)],
    ['create({}, null)', () => Rcu.create({}, null as unknown as object)],
    ['create({}, { onStall: 5 })', () => Rcu.create({}, { onStall: 5 as unknown as () => void })],
    [
      'attach(handle, { onStall: 5 })',
      () => Rcu.attach(Rcu.create().handle, { onStall: 5 as unknown as () => void }),
    ],
    ['attach(handle, null)', () => Rcu.attach(Rcu.create().handle, null as unknown as object)],
  ];
  for (const [name, f] of cases) {
    it(`${name} throws ${BAD}`, () => {
      expect(code(f)).toBe(BAD);
    });
  }

  it('broken twin: well-formed options are accepted', () => {
    const r = Rcu.create({ fault: { mode: 'skip-nth', arg: 3 } }, { onStall: () => {} });
    expect(code(() => Rcu.attach(r.handle, { onStall: () => {} }))).toBe('accepted');
    expect(code(() => Rcu.create({}, {}))).toBe('accepted');
  });
});
