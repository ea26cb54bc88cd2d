/**
 * A thread that takes a parked id back out of a magazine (id-magazine.ts magazineTakeBack:
 * an -EDQUOT that reclaims its set's parked charges, setFree's sweep, detach, a free into a
 * PENDING set's entry) and is killed at any call of it must not make `releaseThread` release
 * an id bit that is no longer its to release. The kill-point sweeps release the victim at once;
 * here another thread allocates every free id between the kill and `releaseThread`, as live
 * threads do while a killed worker's recovery waits for its 'exit' (src/workers/hw-fleet.ts).
 * After the recovery no id it holds may be handed out again.
 *
 * The bug this pins (INV-2 "ALLOC returned pasid 8 to mm B while it is allocated for mm A" in
 * a threaded exhaustion run under kill-cpu): magazineReturnSteps released the bit, then loaded
 * the fault word (a call, hence a kill point) before recording the release, so a thread killed
 * there left TS_MAG_RETURNING, and its recovery released the bit again, after another thread
 * had claimed and published that id.
 *
 * The same window is then added to every operation of the kill-point sweeps
 * (test/helpers/kill-points.ts OPS), so that a release redone by a recovery on any other path
 * is caught too (the sweeps' own audit runs with nobody acting between kill and recovery, so
 * a second release of a still-free bit passes it).
 *
 * Broken twin: the state that kill left, made by hand (TS_MAG_RETURNING recorded after the
 * release), is reported as "handed out twice".
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import {
  spaceHeaderGeometry,
  TS_ID,
  TS_MAG_RETURNING,
  TS_OP,
  TS_SET,
  threadSlotWord,
} from '../src/core/ioasid/space-layout.js';
import {
  audit,
  installKillPoints,
  OPS as KILL_POINT_OPS,
  PREP as KILL_POINT_PREP,
  setup as killPointSetup,
  runAlive,
  runKilledAt,
  uninstallKillPoints,
} from './helpers/kill-points.js';

// JS function entries are kill points too (space-core.ts "Kill points").
vi.mock('../src/core/ioasid/id-magazine.js', async (orig) => {
  const { killableModule } = await import('./helpers/kill-countdown.js');
  return killableModule(await orig<object>());
});
vi.mock('../src/core/ioasid/pasid-bitmap.js', async (orig) => {
  const { killableModule } = await import('./helpers/kill-countdown.js');
  return killableModule(await orig<object>());
});
vi.mock('../src/core/ioasid/sets.js', async (orig) => {
  const { killableModule } = await import('./helpers/kill-countdown.js');
  return killableModule(await orig<object>());
});
vi.mock('../src/core/ioasid/capacity.js', async (orig) => {
  const { killableModule } = await import('./helpers/kill-countdown.js');
  return killableModule(await orig<object>());
});
vi.mock('../src/core/ioasid/records.js', async (orig) => {
  const { killableModule } = await import('./helpers/kill-countdown.js');
  return killableModule(await orig<object>());
});
vi.mock('../src/core/ioasid/spid.js', async (orig) => {
  const { killableModule } = await import('./helpers/kill-countdown.js');
  return killableModule(await orig<object>());
});

beforeAll(installKillPoints);
afterAll(uninstallKillPoints);

/** A space, a victim attachment with one id parked (with its charge of set `s`, quota 1). */
function setup() {
  const main = IoasidSpace.create({ pasidBits: 5, maxSets: 8, maxIoasids: 64, maxThreads: 4 });
  const victim = IoasidSpace.attach(main.handle);
  const s = main.setAlloc(null, 1, SetType.NULL);
  const parked = victim.alloc(s, 1, 31);
  expect(victim.free(s, parked)).toBe(0); // into the victim's magazine, with s's charge
  // Filled in by a prep (`pending`, `pendingId`) and by otherSet (`other`, `room`).
  return { main, victim, s, parked, pending: -1, pendingId: 0, other: -1, room: 0 };
}

/** Another thread's set, with the capacity left (after `prep`): it allocates in the window. */
function otherSet(x: Fixture): void {
  x.room = x.main.available();
  x.other = x.main.setAlloc(null, x.room, SetType.NULL);
}
type Fixture = ReturnType<typeof setup>;
/** What the other thread uses: the main attachment, its set and that set's quota. */
type Other = Pick<Fixture, 'main' | 'other' | 'room'>;

/** Operations that take a parked id back out of a magazine, by name. */
const OPS: Record<string, { prep?: (x: Fixture) => void; op: (x: Fixture) => unknown }> = {
  // Set s is at its quota with its only charge parked: -EDQUOT takes it back, then allocs.
  'alloc at the quota takes the parked charge back': {
    op: (x) => x.victim.alloc(x.s, x.parked + 1, 31),
  },
  'setFree sweeps the parked charge back': { op: (x) => x.victim.setFree(x.s) },
  'detach returns the magazine': { op: (x) => x.victim.detach() },
  // A PENDING set: the free parks its id, sees PENDING and takes the entry back.
  'free into a PENDING set takes its entry back': {
    prep: (x) => {
      x.pending = x.main.setAlloc(null, 2, SetType.NULL);
      x.pendingId = x.victim.alloc(x.pending, 1, 31);
      expect(x.main.setFree(x.pending)).toBe(-16); // -EBUSY: PENDING with a live id
    },
    op: (x) => x.victim.free(x.pending, x.pendingId),
  },
};

/**
 * Another thread allocates every id it can, lowest first, but for one unit of its quota (the
 * check after the recovery allocates with it): the ids it holds when the victim is recovered.
 */
function takeEverything(x: Other): Set<number> {
  const held = new Set<number>();
  while (held.size < x.room - 1) {
    const id = runAlive(() => x.main.alloc(x.other, 1, 31));
    if (id < 0) break;
    held.add(id);
  }
  return held;
}

/**
 * After the recovery: ids handed out again while `held` still holds them (each named), then,
 * if none, the kill audit (bits, maps, magazines, counts, slots).
 */
function afterRecovery(x: Other, held: Set<number>): string[] {
  const bad: string[] = [];
  for (;;) {
    const id = runAlive(() => x.main.alloc(x.other, 1, 31));
    if (id < 0) break;
    if (held.has(id)) bad.push(`id ${id} handed out twice (still held by the other thread)`);
  }
  return bad.length > 0 ? bad : audit(x.main);
}

/** One run of a sweep: the other thread's side, the victim's slot, the op to kill, the end. */
interface Trial {
  other: Other;
  slot: number;
  op: () => unknown;
  detach: () => void;
}

/**
 * Kill `trial()`'s op at call 1, 2, ... until a run is not killed; between each kill and the
 * recovery the other thread takes every free id. @returns the failures, named by kill point
 */
function sweepWithWindow(trial: () => Trial): string[] {
  const failures: string[] = [];
  let kills = 0;
  for (let k = 1; k < 3000; k++) {
    const t = trial();
    if (!runKilledAt(k, t.op)) break;
    kills++;
    const held = takeEverything(t.other);
    runAlive(() => t.other.main.releaseThread(t.slot));
    for (const b of afterRecovery(t.other, held)) failures.push(`killed at call ${k}: ${b}`);
    t.detach();
  }
  expect(kills).toBeGreaterThan(0);
  return failures;
}

describe('a magazine take-back killed at any call frees no id another thread holds', () => {
  for (const [name, { prep, op }] of Object.entries(OPS)) {
    it(name, () => {
      const failures = sweepWithWindow(() => {
        const x = setup();
        prep?.(x);
        otherSet(x);
        return {
          other: x,
          slot: x.victim.rcu.slot,
          op: () => op(x),
          detach: () => x.main.detach(),
        };
      });
      expect(failures.slice(0, 5)).toEqual([]);
    });
  }

  it('broken twin: a take-back recorded as not released yet after its release is reported', () => {
    const x = setup();
    otherSet(x);
    const slot = x.victim.rcu.slot;
    // The victim takes its parked id back (released to the bitmap) ...
    expect(runAlive(() => x.victim.setFree(x.s))).toBe(0);
    // ... and, by hand, its slot says the release has not happened (what the kill left).
    const i32 = new Int32Array(x.main.handle.buffer);
    const ts = threadSlotWord(spaceHeaderGeometry(i32), slot);
    i32[ts + TS_ID] = x.parked;
    i32[ts + TS_SET] = -1;
    i32[ts + TS_OP] = TS_MAG_RETURNING;
    const held = takeEverything(x);
    expect(held.has(x.parked)).toBe(true);
    runAlive(() => x.main.releaseThread(slot));
    expect(afterRecovery(x, held)).toContain(
      `id ${x.parked} handed out twice (still held by the other thread)`,
    );
  });
});

/** Capacity the kill-point ops may still need (setAlloc 2, reserveCapacity 3 or 4). */
const OPS_ROOM = 4;

describe('every kill-point op, with another thread taking free ids before the recovery', () => {
  for (const [name, op] of Object.entries(KILL_POINT_OPS)) {
    it(name, () => {
      const failures = sweepWithWindow(() => {
        const { main, victim, f } = killPointSetup();
        KILL_POINT_PREP[name]?.(main, f);
        const room = main.available() - OPS_ROOM;
        const other: Other = { main, other: main.setAlloc(null, room, SetType.NULL), room };
        return {
          other,
          slot: victim.rcu.slot,
          op: () => op(victim, f),
          detach: () => main.detach(),
        };
      });
      expect(failures.slice(0, 5)).toEqual([]);
    });
  }
});
