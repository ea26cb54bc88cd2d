/**
 * The quota paths of alloc and free, killed at every call they make, JS function entries
 * included: a terminated worker also stops at the entry of a JS function V8 did not inline
 * (space-core.ts "Kill points"), which the builtin-only sweeps (ioasid_kill_at_any_builtin_call,
 * hooks_kill_at_any_builtin_call) cannot reach. Here every function the engine calls in
 * sets.ts, capacity.ts, pasid-bitmap.ts and id-magazine.ts (the quota unit, capacity, id-bit
 * and magazine steps) is a
 * kill point too (test/helpers/kill-points.ts killableModule), on the default path, the hooked
 * path (a subscriber exists) and the custom allocator path. After `releaseThread` the space must
 * be exact: every set's count equals its ids, quotas + available == capacity.
 *
 * This is the deterministic form of the -EDQUOT leak of ioasid_killed_worker_leaks_nothing: a
 * worker killed at the entry of a call made between taking a quota unit and recording it.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type IoasidSpace, NotifierPriority, SetType } from '../src/core/ioasid/ioasid-space.js';
import { inThreadProvider } from './helpers/in-thread-provider.js';
import {
  audit,
  installKillPoints,
  OPS,
  PREP,
  runKilledAt,
  setup,
  uninstallKillPoints,
} from './helpers/kill-points.js';

vi.mock('../src/core/ioasid/sets.js', async (orig) => {
  const { killableModule } = await import('./helpers/kill-countdown.js');
  return killableModule(await orig<object>());
});
vi.mock('../src/core/ioasid/capacity.js', async (orig) => {
  const { killableModule } = await import('./helpers/kill-countdown.js');
  return killableModule(await orig<object>());
});
vi.mock('../src/core/ioasid/id-magazine.js', async (orig) => {
  const { killableModule } = await import('./helpers/kill-countdown.js');
  return killableModule(await orig<object>());
});
vi.mock('../src/core/ioasid/pasid-bitmap.js', async (orig) => {
  const { killableModule } = await import('./helpers/kill-countdown.js');
  return killableModule(await orig<object>());
});

beforeAll(installKillPoints);
afterAll(uninstallKillPoints);

type Fixture = ReturnType<typeof setup>;

/** Kill `op` at every call it makes (after `prep`), release the victim, audit. */
function sweep(prep: (x: Fixture) => void, op: (x: Fixture) => unknown, label: string) {
  const failures: string[] = [];
  let kills = 0;
  for (let k = 1; k < 3000; k++) {
    const x = setup();
    prep(x);
    const slot = x.victim.rcu.slot;
    if (!runKilledAt(k, () => op(x))) {
      x.victim.detach();
      x.main.detach();
      break;
    }
    kills++;
    x.main.releaseThread(slot);
    for (const b of audit(x.main)) failures.push(`${label}, killed at call ${k}: ${b}`);
    x.main.detach();
  }
  return { failures, kills };
}

/** The default path's quota steps: fast (guess right) and slow (stale guess) alloc, rollbacks, frees. */
const DEFAULT_OPS = [
  'alloc',
  'alloc, stale count guess',
  'alloc, stale bitmap guess (scan)',
  'alloc, quota full',
  'alloc, range full',
  "alloc, steals from another thread's magazine",
  'free',
  'free, magazine full (overflow to the bitmap)',
  'free last id of a pending set',
  'alloc/free churn (batches, refills, drains)',
  'alloc, quota full but for a parked charge (taken back)',
  "alloc takes an id parked with another set's charge (released)",
  'setFree with only parked ids (takes their charges back)',
];

/** A subscriber on the set: alloc and free take the hooked path. */
function hook(x: Fixture): void {
  x.main.registerNotifier(x.f.a, NotifierPriority.CPU);
}

/** Quota exactness alone: every live set's count equals its live ids, and quotas + available
 * == capacity (a custom group's provider state is hooks_kill_at_any_builtin_call's audit). */
function quotaAudit(space: IoasidSpace): string[] {
  const bad: string[] = [];
  const ids = new Map<number, number>();
  for (let id = 1; id <= space.maxId; id++) {
    const st = space.inspect(id);
    if (st.state !== 'free') ids.set(st.set!, (ids.get(st.set!) ?? 0) + 1);
  }
  let quotas = 0;
  for (let set = 0; set < space.maxSets; set++) {
    const info = space.setInfo(set);
    if (!info) continue;
    quotas += info.quota;
    if (info.count !== (ids.get(set) ?? 0))
      bad.push(`set ${set}: count ${info.count}, ids ${ids.get(set) ?? 0}`);
  }
  if (quotas + space.available() !== space.capacity())
    bad.push(`quotas ${quotas} + available ${space.available()} != ${space.capacity()}`);
  return bad;
}

/** A custom allocator group with a member in each attachment (a provider in this thread), a
 * set, and one custom id the victim holds. */
function customSetup() {
  const x = setup(false);
  const { make } = inThreadProvider();
  expect(x.main.registerAllocator(make())).toBe(0);
  expect(x.victim.registerAllocator(make())).toBe(0);
  const S = x.main.setAlloc(null, 10, SetType.NULL);
  const c1 = x.victim.alloc(S, 1, 31, 1);
  expect(c1).toBeGreaterThan(0);
  return { ...x, S, c1 };
}

describe('alloc and free killed at any call, JS function entries included', () => {
  for (const name of DEFAULT_OPS) {
    it(`default path: ${name}`, () => {
      const { failures, kills } = sweep(
        (x) => PREP[name]?.(x.main, x.f),
        (x) => OPS[name]!(x.victim, x.f),
        name,
      );
      expect(kills).toBeGreaterThan(0);
      expect(failures.slice(0, 5)).toEqual([]);
    });
  }
  for (const name of [
    'alloc',
    'alloc, stale count guess',
    'alloc, quota full',
    'free',
    'alloc, quota full but for a parked charge (taken back)',
  ]) {
    it(`hooked path (a subscriber on the set): ${name}`, () => {
      const { failures, kills } = sweep(
        (x) => {
          hook(x);
          PREP[name]?.(x.main, x.f);
        },
        (x) => OPS[name]!(x.victim, x.f),
        `hooked ${name}`,
      );
      expect(kills).toBeGreaterThan(0);
      expect(failures.slice(0, 5)).toEqual([]);
    });
  }

  const customOps: Record<string, (c: ReturnType<typeof customSetup>) => unknown> = {
    'custom alloc': (c) => c.victim.alloc(c.S, 1, 31, 5),
    'custom reclaim (free of the last reference)': (c) => c.victim.free(c.S, c.c1),
  };
  for (const [name, op] of Object.entries(customOps)) {
    it(`custom allocator path: ${name}`, () => {
      const failures: string[] = [];
      let kills = 0;
      for (let k = 1; k < 3000; k++) {
        const c = customSetup();
        const slot = c.victim.rcu.slot;
        if (!runKilledAt(k, () => op(c))) break;
        kills++;
        c.main.releaseThread(slot);
        for (const b of quotaAudit(c.main)) failures.push(`${name}, killed at call ${k}: ${b}`);
      }
      expect(kills).toBeGreaterThan(0);
      expect(failures.slice(0, 5)).toEqual([]);
    });
  }
});
