/**
 * Dead threads are recovered whatever the order of their `releaseThread` calls, and the
 * recovery of one never waits on something only another dead thread can release
 * (issue 8, defect 4, and the recovery half of defect 3).
 *
 * Two cases, each in both orders, with the kill-point harness (test/helpers/kill-points.ts):
 * - A dies holding the SPID lock (inside attachSpid); B dies in the middle of freeing an id
 *   that has a SPID, at each builtin call of that free. Formerly `releaseThread(B)` waited
 *   forever on A's lock when called first.
 * - A thread D dies holding state (mid-operation); a recoverer R dies inside
 *   `releaseThread(D)`, at each builtin call of it (the Rcu slot release included). Then
 *   `releaseThread(D)` and `releaseThread(R)`, in either order, must recover both.
 * A third order attaches a new thread between the two calls (it may land in a slot whose
 * recovery a dead thread still owns). After both calls the audit must find the space exact,
 * every lock free, no thread slot left mid-recovery, no Rcu slot of a dead thread claimed, and
 * two new threads must attach.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IoasidSpace } from '../src/core/ioasid/ioasid-space.js';
import {
  spaceHeaderGeometry,
  TS_RECOVERED,
  TS_STATE,
  threadSlotWord,
} from '../src/core/ioasid/space-layout.js';
import {
  audit,
  type Fixture,
  HangError,
  installKillPoints,
  OPS,
  runAlive,
  runInjectedAt,
  runKilledAt,
  setup,
  uninstallKillPoints,
} from './helpers/kill-points.js';

beforeAll(installKillPoints);
afterAll(uninstallKillPoints);

/**
 * The order of the two `releaseThread` calls; 'first-died-first, attach between' also attaches
 * a new thread between them, which may land in the first one's released Rcu slot while the
 * dead second one still owns its recovery.
 */
type Order = 'first-died-first' | 'first-died-last' | 'first-died-first, attach between';

/** Release `slots` in the given order, then audit; hangs and audit failures come back. */
function recoverAndAudit(main: IoasidSpace, slots: [number, number], order: Order): string[] {
  const bad: string[] = [];
  const live = [main];
  try {
    if (order === 'first-died-last') {
      runAlive(() => main.releaseThread(slots[1]));
      runAlive(() => main.releaseThread(slots[0]));
    } else {
      runAlive(() => main.releaseThread(slots[0]));
      if (order !== 'first-died-first') live.push(runAlive(() => IoasidSpace.attach(main.handle)));
      runAlive(() => main.releaseThread(slots[1]));
    }
    bad.push(...audit(main, live));
    const fresh = [0, 1].map(() => runAlive(() => IoasidSpace.attach(main.handle)));
    for (const s of [...fresh, ...live.slice(1)]) s.detach();
  } catch (e) {
    if (!(e instanceof HangError)) throw e;
    bad.push(`hangs (${e.message})`);
  }
  return bad;
}

/** A holds the SPID lock (killed inside attachSpid); B is killed at call k of a free. */
function spidLockCase(k: number, order: Order): { killed: boolean; bad: string[] } {
  const { main, victim: a, f } = setup();
  const b = IoasidSpace.attach(main.handle);
  const idB = b.alloc(f.a, 1, 31, 9);
  expect(b.attachSpid(idB, 77)).toBe(0);
  // A dies holding the SPID lock: killed at the first builtin call after taking it.
  expect(runKilledAt(2, () => a.attachSpid(f.idA, 44))).toBe(true);
  let killed = false;
  try {
    killed = runKilledAt(k, () => b.free(f.a, idB));
  } catch (e) {
    if (!(e instanceof HangError)) throw e;
    main.detach();
    return { killed: true, bad: [`B's free of an id with a SPID hangs on dead A's lock`] };
  }
  if (!killed) {
    main.detach();
    return { killed, bad: [] };
  }
  const bad = recoverAndAudit(main, [a.rcu.slot, b.rcu.slot], order);
  main.detach();
  return { killed, bad };
}

/** How D dies before R recovers it: op name and kill point (0 = idle). */
const D_DEATHS: Array<[string, number]> = [
  ['idle, holding a cache and a retire batch', 0],
  ['alloc', 9],
  ['free with SPID', 6],
  ['alloc/free churn (batches, refills, drains)', 40],
  ['attachSpid', 4],
  ['detachSpid', 8],
  ['setAlloc', 8],
];

/** D dies (op `death` at call k), R dies at call j of releaseThread(D). */
function deadRecovererCase(
  death: string,
  k: number,
  j: number,
  order: Order,
): { killed: boolean; bad: string[] } {
  const { main, victim: d, f } = setup();
  const r = IoasidSpace.attach(main.handle);
  if (k > 0) expect(runKilledAt(k, () => OPS[death]!(d, f as Fixture))).toBe(true);
  const killed = runKilledAt(j, () => r.releaseThread(d.rcu.slot));
  if (!killed) {
    r.detach();
    main.detach();
    return { killed, bad: [] };
  }
  // Order: D (the first to die) first, or R first.
  const bad = recoverAndAudit(main, [d.rcu.slot, r.rcu.slot], order);
  main.detach();
  return { killed, bad };
}

/**
 * Two live threads call releaseThread(D) at once: R's call is interrupted at its builtin call
 * k by main's (runInjectedAt). D is recovered once: one call recovers, the other returns 0
 * (main's, once R's claim is in: it leaves D to R), and the audit finds D's share back.
 */
function concurrentCase(death: string, dk: number, k: number): { killed: boolean; bad: string[] } {
  const { main, victim: d, f } = setup();
  const r = IoasidSpace.attach(main.handle);
  if (dk > 0) expect(runKilledAt(dk, () => OPS[death]!(d, f as Fixture))).toBe(true);
  let first = -1;
  let second = -1;
  const injected = runInjectedAt(
    k,
    () => {
      first = r.releaseThread(d.rcu.slot);
    },
    () => {
      second = main.releaseThread(d.rcu.slot);
    },
  );
  const bad: string[] = [];
  if (injected) {
    if (first > 0 && second > 0) bad.push(`both calls recovered: ${first} and ${second}`);
    bad.push(...audit(main, [main, r]));
  }
  r.detach();
  main.detach();
  return { killed: injected, bad };
}

/**
 * R died after releasing D's Rcu slot (RECOVERED set) but before leaving RECOVERING. While
 * main's releaseThread(R) resumes D, a new thread N attaches into D's free Rcu slot (at each
 * builtin call k of main's call), takes the slot over as RECOVERED allows, and allocates: both
 * must complete and leave the space exact.
 */
function takeoverCase(
  death: string,
  dk: number,
  j: number,
  k: number,
): { killed: boolean; bad: string[] } {
  const { main, victim: d, f } = setup();
  const r = IoasidSpace.attach(main.handle);
  if (dk > 0) expect(runKilledAt(dk, () => OPS[death]!(d, f as Fixture))).toBe(true);
  expect(runKilledAt(j, () => r.releaseThread(d.rcu.slot))).toBe(true);
  let n: IoasidSpace | undefined;
  const injected = runInjectedAt(
    k,
    () => main.releaseThread(r.rcu.slot),
    () => {
      n = IoasidSpace.attach(main.handle); // lands in D's released Rcu slot
      n.free(f.a, n.alloc(f.a, 1, 31));
      n.alloc(f.a, 1, 31);
    },
  );
  const live = n === undefined ? [main] : [main, n];
  const bad = injected ? audit(main, live) : [];
  if (n !== undefined) {
    n.freeAllInSet(f.a);
    n.detach();
  }
  main.detach();
  return { killed: injected, bad };
}

/** Kill points j of R's releaseThread(D) after which D is RECOVERED but still R's. */
function recoveredButNotLeft(death: string, dk: number): number[] {
  const js: number[] = [];
  for (let j = 1; j < 2000; j++) {
    const { main, victim: d, f } = setup();
    const r = IoasidSpace.attach(main.handle);
    if (dk > 0) expect(runKilledAt(dk, () => OPS[death]!(d, f as Fixture))).toBe(true);
    const killed = runKilledAt(j, () => r.releaseThread(d.rcu.slot));
    const i32 = new Int32Array(main.handle.buffer);
    const ts = threadSlotWord(spaceHeaderGeometry(i32), d.rcu.slot);
    const state = i32[ts + TS_STATE]!;
    if (killed && i32[ts + TS_RECOVERED] === 1 && (state & 3) === 2) js.push(j);
    main.detach();
    if (!killed) break;
  }
  return js;
}

const ORDERS: Order[] = ['first-died-first', 'first-died-last', 'first-died-first, attach between'];

/** Run `kase` at kill points 1, 2, ... until it completes unkilled; expect no failure. */
function everyKillPoint(who: string, kase: (k: number) => { killed: boolean; bad: string[] }) {
  const failures: string[] = [];
  let kills = 0;
  for (let k = 1; k < 2000; k++) {
    const { killed, bad } = kase(k);
    if (!killed) break;
    kills++;
    for (const b of bad) failures.push(`${who} killed at call ${k}: ${b}`);
  }
  if (failures.length > 0) console.log(`${failures.length} failures, e.g. ${failures[0]}`);
  expect(kills).toBeGreaterThan(5);
  expect(failures).toEqual([]);
}

describe('dead threads recover in any order', () => {
  for (const [death, dk] of D_DEATHS) {
    it(`D ${death}; R died between D's Rcu release and the end; an attach takes D over`, () => {
      const js = recoveredButNotLeft(death, dk);
      expect(js.length).toBeGreaterThan(0);
      for (const j of js) everyKillPoint('the resumer', (k) => takeoverCase(death, dk, j, k));
    });
  }

  for (const [death, k] of D_DEATHS) {
    it(`D ${death}; a second releaseThread(D) at every call of a first one leaves D to it`, () =>
      everyKillPoint('the first call', (j) => concurrentCase(death, k, j)));
  }

  for (const order of ORDERS) {
    it(`A dead holding the SPID lock, B killed at every call of a free with a SPID: ${order}`, () =>
      everyKillPoint('B', (k) => spidLockCase(k, order)));

    for (const [death, k] of D_DEATHS) {
      it(`D ${death}; R killed at every call of releaseThread(D): ${order}`, () =>
        everyKillPoint('R', (j) => deadRecovererCase(death, k, j, order)));
    }
  }
});
