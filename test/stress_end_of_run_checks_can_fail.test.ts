/**
 * Every check of the end-of-run verification (stress/verify-at-end.ts) can fail: each runs
 * once against a double of the space (or of its probe, or of the shadow oracle) that breaks
 * exactly the thing it checks, and must report a `leak` (or the kind it owns) naming it; the
 * same end with nothing broken reports nothing. One thread, no CPUs: the state a run leaves
 * is made by hand (a "killed" CPU's ids in a shared set, its shadow claims).
 */
import { describe, expect, it } from 'vitest';
import { SetType, IoasidSpace as Space } from '../src/core/ioasid/ioasid-space.js';
import { runWords } from '../src/workers/run-layout.js';
import {
  type CheckGeometry,
  checkWords,
  shadowOwnerBase,
  shadowSetBase,
} from '../stress/check/check-layout.js';
import { readViolations } from '../stress/check/violations.js';
import type { Deaths } from '../stress/fleet.js';
import { N_OPS } from '../stress/ops/index.js';
import { SpaceProbe } from '../stress/space-probe.js';
import { type EndOfRun, verifyAtEnd } from '../stress/verify-at-end.js';
import { spaceDouble } from './helpers/space-double.js';

const PASID_BITS = 6;
const cg: CheckGeometry = { cpus: 2, pasidBits: PASID_BITS, maxSets: 8 };

/**
 * The end of a run: two shared sets; CPU 1 was "killed" once holding two ids of set 0 (its
 * shadow claims left on them), its thread slot recovered as the fleet would.
 */
function endOfRun(): EndOfRun {
  const space = Space.create({ pasidBits: PASID_BITS, maxSets: 8, maxIoasids: 256, maxThreads: 8 });
  const check = new Int32Array(new SharedArrayBuffer(checkWords(cg) * 4));
  const sets = [space.setAlloc(null, 8, SetType.NULL), space.setAlloc(null, 8, SetType.NULL)];
  for (const set of sets) Atomics.store(check, shadowSetBase(cg, set) + 1, 8);
  const freeRecords0 = space.stats().freeRecords;
  for (let i = 0; i < 2; i++) {
    const id = space.alloc(sets[0]!, 1, 63, 7);
    Atomics.store(check, shadowOwnerBase(cg) + id, 2); // CPU 1's claim
    Atomics.add(check, shadowSetBase(cg, sets[0]!), 1);
  }
  const deaths: Deaths = {
    kills: 0,
    heldBound: 3, // two ids, plus an alloc in flight
    cpus: new Set([1]),
    scratchSets: new Set(),
    diedCreating: 0,
  };
  return {
    space,
    probe: new SpaceProbe(space),
    run: new SharedArrayBuffer(runWords({ cpus: 2, nOps: N_OPS }) * 4),
    runGeometry: { cpus: 2, nOps: N_OPS },
    check,
    checkGeometry: cg,
    sets,
    freeRecords0,
    deaths,
    problems: [],
  };
}

type Breakage = (e: EndOfRun) => EndOfRun;

const BREAKAGES: [string, RegExp, Breakage][] = [
  [
    'a kill not recovered',
    /1 CPUs killed, 0 thread slots recovered/,
    (e) => ({ ...e, deaths: { ...e.deaths, kills: 1, heldBound: e.deaths.heldBound } }),
  ],
  [
    'a lock left held',
    /locks held with every CPU idle/,
    (e) => {
      const real = e.probe;
      const probe = Object.create(real) as SpaceProbe;
      probe.leftovers = () => ({ ...real.leftovers(), spidLockOwner: 3 });
      return { ...e, probe };
    },
  ],
  [
    'shadow counts apart from the claims',
    /shadow live counts differ from the shadow claims by 5/,
    (e) => {
      Atomics.add(e.check, shadowSetBase(cg, e.sets[1]!), 5);
      return e;
    },
  ],
  [
    'more ids left than killed CPUs held',
    /3 ids still live after the CPUs returned theirs \(killed CPUs could hold at most 3\)|4 ids still live .*at most 3\); the first is id \d+ in set 0/,
    (e) => {
      e.space.alloc(e.sets[0]!, 1, 63, 9);
      e.space.alloc(e.sets[0]!, 1, 63, 9);
      return e;
    },
  ],
  [
    'a set nobody owned',
    /1 sets left that no killed CPU owned, but only 0 died inside setAlloc \(the first is set 2\)/,
    (e) => {
      e.space.setAlloc(null, 16, SetType.NULL);
      return e;
    },
  ],
  [
    'a set that is neither shared nor scratch',
    /set 2 is neither shared nor a scratch set \(quota 3\)/,
    (e) => {
      e.space.setAlloc(null, 3, SetType.NULL);
      return { ...e, deaths: { ...e.deaths, scratchSets: new Set([2]) } };
    },
  ],
  [
    'ids freeAllInSet finds once every reference was dropped',
    /freeAllInSet\(0\) found 2 ids after every reference was dropped/,
    (e) => {
      const real = e.space;
      const freeAllInSet = (set: number) => (set === e.sets[0] ? 2 : real.freeAllInSet(set));
      return { ...e, space: spaceDouble(real, { freeAllInSet }) };
    },
  ],
  [
    "a dead CPU's scratch set that cannot be freed",
    /setFree\(2\) of a killed CPU's empty scratch set returned -16/,
    (e) => {
      const real = e.space;
      real.setAlloc(null, 16, SetType.NULL); // set 2: the dead CPU's scratch set
      const setFree = (set: number) => (set === 2 ? -16 : real.setFree(set));
      return {
        ...e,
        deaths: { ...e.deaths, scratchSets: new Set([2]) },
        space: spaceDouble(real, { setFree }),
      };
    },
  ],
  [
    'a set count left after freeAllInSet',
    /set 1 counts 1 ids after freeAllInSet/,
    (e) => {
      const real = e.space;
      const setInfo = (set: number) => {
        const info = real.setInfo(set);
        return set === e.sets[1] && info ? { ...info, count: 1 } : info;
      };
      return { ...e, space: spaceDouble(real, { setInfo }) };
    },
  ],
  [
    'a shared set that cannot be freed',
    /setFree\(0\) returned -16 on an empty set/,
    (e) => {
      const real = e.space;
      const setFree = (set: number) => (set === e.sets[0] ? -16 : real.setFree(set));
      return { ...e, space: spaceDouble(real, { setFree }) };
    },
  ],
  [
    'capacity not given back',
    /available 62 != capacity 63 with no set left/,
    (e) => ({ ...e, space: spaceDouble(e.space, { available: () => e.space.available() - 1 }) }),
  ],
  [
    'a record not freed after a grace period',
    /free records after a grace period/,
    (e) => ({
      ...e,
      space: spaceDouble(e.space, {
        stats: () => ({ ...e.space.stats(), freeRecords: e.space.stats().freeRecords - 1 }),
      }),
    }),
  ],
  [
    'an id left live',
    /id 63 is idle after everything was freed/,
    (e) => {
      const real = e.space;
      const inspect = (id: number) =>
        id === 63 ? { ...real.inspect(id), state: 'idle', set: 1, refs: 1 } : real.inspect(id);
      return { ...e, space: spaceDouble(real, { inspect }) };
    },
  ],
  [
    'a SPID binding left',
    /2 SPID bindings left after every id was freed/,
    (e) => {
      const real = e.probe;
      const probe = Object.create(real) as SpaceProbe;
      probe.leftovers = () => ({ ...real.leftovers(), spidEntries: 2 });
      return { ...e, probe };
    },
  ],
  [
    'a shadow claim of a CPU never killed',
    /shadow claim on id \d+ by CPU 1, not a killed CPU's id recovered at the end/,
    (e) => ({ ...e, deaths: { ...e.deaths, cpus: new Set() } }),
  ],
];

describe('end-of-run verification', () => {
  it('reports nothing for a correct end, and recovers what the killed CPU left', () => {
    const e = endOfRun();
    expect(verifyAtEnd(e)).toBe(2);
    expect(e.problems).toEqual([]);
    expect(readViolations(e.check).filter((t) => t.count > 0)).toEqual([]);
  });

  it.each(BREAKAGES)('reports %s', (_name, message, breakIt) => {
    const e = breakIt(endOfRun());
    verifyAtEnd(e);
    console.log(e.problems.join('\n'));
    expect(e.problems.join('\n')).toMatch(message);
    const leak = readViolations(e.check).find((t) => t.kind === 'leak')!;
    expect(leak.count).toBeGreaterThan(0);
    expect(leak.byFinder['end-of-run']).toBe(leak.count);
    expect(leak.first?.why).not.toBe('');
  });

  it('names a record recycled under a reader that no CPU named', () => {
    const e = endOfRun();
    const real = e.space;
    const space = spaceDouble(real, { stats: () => ({ ...real.stats(), recycledUnderReader: 3 }) });
    verifyAtEnd({ ...e, space });
    const t = readViolations(e.check).find((x) => x.kind === 'record-recycled-under-reader')!;
    expect(t.count).toBe(1);
    expect(t.first).toMatchObject({ foundBy: 'end-of-run', detail: 3, cpu: null });
  });

  it('checks capacity exactly (the checker, once more)', () => {
    const e = endOfRun();
    e.space.reserveCapacity(1);
    verifyAtEnd(e);
    const t = readViolations(e.check).find((x) => x.kind === 'capacity-accounting')!;
    expect(t.count).toBeGreaterThan(0);
    expect(t.first?.why).toMatch(/quotas add up to 16/);
  });
});
