/**
 * THREADS_RECOVERED counts each recovery exactly once, by whoever ends it. A recoverer R of a
 * dead thread D releases D's Rcu slot, sets RECOVERED, then leaves RECOVERING with a CAS; in
 * between, an `attach()` that got D's released Rcu slot may leave RECOVERING for it
 * (thread-recovery.ts claimThreadSlot), and R's CAS fails. Formerly neither counted D (the
 * threaded ioasid_killed_worker_leaks_nothing could see threadsRecovered one short).
 *
 * Deterministic, with the kill-point harness: R is killed inside `releaseThread(D)` at every
 * builtin call after which D is RECOVERED but still R's (the window), a new thread attaches
 * into D's slot and finishes it, then R is released: two dead threads, two recoveries counted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IoasidSpace } from '../src/core/ioasid/ioasid-space.js';
import {
  spaceHeaderGeometry,
  TS_RECOVERED,
  TS_RECOVERING,
  TS_STATE,
  TS_STATE_MASK,
  threadSlotWord,
} from '../src/core/ioasid/space-layout.js';
import {
  audit,
  type Fixture,
  installKillPoints,
  OPS,
  runAlive,
  runKilledAt,
  setup,
  uninstallKillPoints,
} from './helpers/kill-points.js';

beforeAll(installKillPoints);
afterAll(uninstallKillPoints);

describe('a recovery finished by an attach into its slot', () => {
  it('is counted once in THREADS_RECOVERED', () => {
    const failures: string[] = [];
    let windows = 0;
    for (let j = 1; j < 2000; j++) {
      const { main, victim: d, f } = setup();
      const r = IoasidSpace.attach(main.handle);
      // D dies mid-free (holding records and a magazine), then R dies recovering it.
      expect(runKilledAt(3, () => OPS.free!(d, f as Fixture))).toBe(true);
      const before = main.stats().threadsRecovered;
      const killed = runKilledAt(j, () => r.releaseThread(d.rcu.slot));
      if (!killed) {
        main.detach();
        break;
      }
      const i32 = new Int32Array(main.handle.buffer);
      const ts = threadSlotWord(spaceHeaderGeometry(i32), d.rcu.slot);
      const inWindow =
        Atomics.load(i32, ts + TS_RECOVERED) !== 0 &&
        (Atomics.load(i32, ts + TS_STATE) & TS_STATE_MASK) === TS_RECOVERING;
      if (!inWindow) {
        main.detach();
        continue;
      }
      windows++;
      runAlive(() => {
        const spare = IoasidSpace.attach(main.handle);
        if (spare.rcu.slot !== d.rcu.slot)
          failures.push(`call ${j}: the spare got Rcu slot ${spare.rcu.slot}, not ${d.rcu.slot}`);
        main.releaseThread(r.rcu.slot);
        const counted = main.stats().threadsRecovered - before;
        if (counted !== 2) failures.push(`call ${j}: ${counted} recoveries counted, want 2 (D, R)`);
        for (const b of audit(main, [main, spare])) failures.push(`call ${j}: ${b}`);
        spare.detach();
      });
      main.detach();
    }
    console.log(`${windows} kill points of R between D's RECOVERED and its final CAS`);
    expect(windows).toBeGreaterThan(0);
    expect(failures).toEqual([]);
  });
});
