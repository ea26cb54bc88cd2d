/**
 * Regression test for "467 records in limbo" (ioasid_killed_worker_leaks_nothing on a loaded
 * CI machine). A thread that dies holding GP_LOCK before its grace period started (GP_SEQ still
 * idle: the idle fast path of rcu-grace-period.ts, or a marks grace period before its start
 * store) leaves GP_SEQ at "completed c, idle". Until its `releaseThread`, every getState()
 * returns c + 2 (a cookie taken while GP_LOCK is held must wait for the grace period after
 * the holder's), so every batch the other threads retire meanwhile is sealed with c + 2. After
 * the release, one `synchronize()` completes only c + 1: a `flushRecords` that waited one grace
 * period left all those batches in limbo, although the space was quiet.
 *
 * The victim is "killed" at every builtin call of its own `flushRecords` (test/helpers/
 * kill-points.ts), the other thread retires records while the victim is dead, releases it and
 * flushes: limbo must be empty and every record free, whatever the kill point.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpSeqLoad, seqStep } from '../src/core/rcu/rcu-gp-seq.js';
import { RCU_GP_LOCK_WORD, rcuLockOwner } from '../src/core/rcu/rcu-layout.js';
import {
  installKillPoints,
  MAX_IOASIDS,
  runAlive,
  runKilledAt,
  setup,
  uninstallKillPoints,
} from './helpers/kill-points.js';

beforeAll(installKillPoints);
afterAll(uninstallKillPoints);

/** Alloc+free pairs the survivor runs while the victim lies dead: several sealed batches. */
const CHURN = 24;

describe('flushRecords after a dead grace-period leader', () => {
  it('empties limbo whatever builtin call of flushRecords the victim died at', () => {
    const failures: string[] = [];
    let kills = 0;
    let deadIdleLeaders = 0;
    for (let k = 1; k < 2000; k++) {
      const { main, victim, f } = setup(true);
      const slot = victim.rcu.slot;
      if (!runKilledAt(k, () => victim.flushRecords())) {
        victim.detach();
        main.detach();
        break;
      }
      kills++;
      const rcuWords = new Int32Array(main.handle.rcu.buffer);
      const heldIdle =
        rcuLockOwner(Atomics.load(rcuWords, RCU_GP_LOCK_WORD)) !== 0 &&
        seqStep(gpSeqLoad(rcuWords)) === 0;
      if (heldIdle) deadIdleLeaders++;
      const done = main.rcu.completedGracePeriods();
      runAlive(() => {
        // Retire records while the victim is dead (each free may seal a batch).
        for (let i = 0; i < CHURN; i++) main.free(f.a, main.alloc(f.a, 1, 31));
        main.releaseThread(slot);
        main.flushRecords();
      });
      const st = main.stats();
      const where = `killed at call ${k}${heldIdle ? ' (held GP_LOCK, GP_SEQ idle)' : ''}`;
      if (st.limboRecords !== 0)
        failures.push(
          `${where}: ${st.limboRecords} records in limbo after flushRecords ` +
            `(completed ${done} -> ${main.rcu.completedGracePeriods()})`,
        );
      if (st.freeRecords + st.liveRecords !== MAX_IOASIDS)
        failures.push(`${where}: ${st.freeRecords} free records, ${st.liveRecords} live`);
      main.detach();
    }
    console.log(`${kills} kill points, ${deadIdleLeaders} with GP_LOCK held and GP_SEQ idle`);
    expect(deadIdleLeaders).toBeGreaterThan(0); // the sweep reaches the case that matters
    expect(failures).toEqual([]);
  });
});
