/**
 * A thread killed inside `attach()` while it recovers the slot it inherited leaves nothing
 * stuck: the slot is recovered by `releaseThread` of that slot, or by the next thread that
 * attaches into it, and no later `attach()` waits forever (issue 8, defect 3).
 *
 * A victim holding state dies (killed mid-operation, or idle); the user releases only its Rcu
 * slot (`rcu.releaseSlot`), so the next `attach()` lands in that slot and recovers the dead
 * thread's share itself. That recovering attach is killed at each builtin call it makes
 * (test/helpers/kill-points.ts). Then, in one order, `releaseThread(slot)` must finish the job;
 * in the other, the slot's Rcu slot is released again and a third `attach()` must finish it
 * and return. Either way the audit must find the space exact and nothing left claimed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IoasidSpace } from '../src/core/ioasid/ioasid-space.js';
import {
  audit,
  HangError,
  installKillPoints,
  OPS,
  runAlive,
  runKilledAt,
  setup,
  uninstallKillPoints,
} from './helpers/kill-points.js';

beforeAll(installKillPoints);
afterAll(uninstallKillPoints);

/** How the victim dies before its slot is inherited: op name and kill point (0 = idle). */
const DEATHS: Array<[string, number]> = [
  ['idle, holding a cache and a retire batch', 0],
  ['alloc', 9],
  ['free with SPID', 6],
  ['alloc/free churn (batches, refills, drains)', 40],
  ['attachSpid', 4],
  ['detachSpid', 8],
];

type Finish = (main: IoasidSpace, slot: number) => IoasidSpace[];

const FINISHES: Record<string, Finish> = {
  'releaseThread(slot)': (main, slot) => {
    runAlive(() => main.releaseThread(slot));
    return [main];
  },
  'a third attach() into the slot': (main, slot) => {
    main.rcu.releaseSlot(slot);
    const third = runAlive(() => IoasidSpace.attach(main.handle));
    expect(third.rcu.slot).toBe(slot);
    return [main, third];
  },
};

function sweep(death: string, k: number, finish: Finish): { failures: string[]; kills: number } {
  const failures: string[] = [];
  let kills = 0;
  for (let j = 1; j < 2000; j++) {
    const { main, victim, f } = setup();
    const slot = victim.rcu.slot;
    if (k > 0) expect(runKilledAt(k, () => OPS[death]!(victim, f))).toBe(true);
    main.rcu.releaseSlot(slot); // the dead victim's Rcu slot only: its space share stays
    let heir: IoasidSpace | undefined;
    const inherit = () => {
      heir = IoasidSpace.attach(main.handle);
    };
    if (!runKilledAt(j, inherit)) {
      // The recovering attach completed: nothing left to sweep.
      expect(heir!.rcu.slot).toBe(slot);
      heir!.detach();
      main.detach();
      break;
    }
    kills++;
    const where = `${death}, heir killed at call ${j}`;
    try {
      const live = finish(main, slot);
      for (const b of audit(main, live)) failures.push(`${where}: ${b}`);
      for (const s of live) if (s !== main) s.detach();
    } catch (e) {
      if (!(e instanceof HangError)) throw e;
      failures.push(`${where}: hangs (${e.message})`);
    }
    main.detach();
  }
  return { failures, kills };
}

describe('a thread killed while attach() recovers its inherited slot leaves nothing stuck', () => {
  for (const [death, k] of DEATHS) {
    for (const [how, finish] of Object.entries(FINISHES)) {
      it(`victim ${death}; the heir's recovery killed at every call; then ${how}`, () => {
        const { failures, kills } = sweep(death, k, finish);
        if (failures.length > 0) console.log(`${failures.length} failures, e.g. ${failures[0]}`);
        expect(kills).toBeGreaterThan(5);
        expect(failures).toEqual([]);
      });
    }
  }
});
