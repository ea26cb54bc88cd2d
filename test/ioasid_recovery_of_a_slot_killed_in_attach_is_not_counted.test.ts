/**
 * THREADS_RECOVERED counts threads, not Rcu slots. A thread D that dies inside `attach()`
 * after registering its Rcu slot but before claiming its thread slot leaves only the Rcu
 * slot; `releaseThread(D)` frees it and counts nothing (RECOVERED = RCU_ONLY). Formerly, when
 * the recoverer R also died between its claim of D's slot and that RECOVERED store, R's own
 * recoverer finished D's recovery assuming D had a thread, and counted it: one too many.
 *
 * Deterministic, with the kill-point harness: D killed at every builtin call of its attach
 * that leaves the Rcu slot registered and the thread slot unclaimed; R killed at every builtin
 * call of `releaseThread(D)`; then main releases R and D. Wanted: exactly one recovery counted
 * (R's), and nothing leaked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IoasidSpace } from '../src/core/ioasid/ioasid-space.js';
import {
  spaceHeaderGeometry,
  TS_RECOVERED,
  TS_RECOVERING,
  TS_STATE,
  TS_STATE_MASK,
  TS_UNUSED,
  threadSlotWord,
} from '../src/core/ioasid/space-layout.js';
import {
  audit,
  installKillPoints,
  runAlive,
  runKilledAt,
  setup,
  uninstallKillPoints,
} from './helpers/kill-points.js';

beforeAll(installKillPoints);
afterAll(uninstallKillPoints);

/** A space with only its creating attachment (setup's victim detached). */
function space(): IoasidSpace {
  const { main, victim } = setup(false);
  runAlive(() => victim.detach());
  return main;
}

/**
 * A space where a thread D was killed at builtin call `k` of its `attach()`.
 * @returns the space and D's Rcu slot (learnt from a probe attach that leaves it free again),
 *   or null when the attach completed before call `k`
 */
function diedInAttach(k: number): { m: IoasidSpace; d: number } | null {
  const m = space();
  const probe = runAlive(() => IoasidSpace.attach(m.handle));
  const d = probe.rcu.slot;
  probe.detach();
  if (runKilledAt(k, () => IoasidSpace.attach(m.handle))) return { m, d };
  m.detach();
  return null;
}

/** The thread-slot STATE of Rcu slot `slot`'s thread. */
function stateOf(main: IoasidSpace, slot: number): { state: number; recovered: number } {
  const i32 = new Int32Array(main.handle.buffer);
  const ts = threadSlotWord(spaceHeaderGeometry(i32), slot);
  return {
    state: Atomics.load(i32, ts + TS_STATE) & TS_STATE_MASK,
    recovered: Atomics.load(i32, ts + TS_RECOVERED),
  };
}

describe('the recovery of a thread that died inside attach()', () => {
  it('is never counted in THREADS_RECOVERED, even when its recoverer dies mid-way', () => {
    const failures: string[] = [];
    let deaths = 0;
    let windows = 0;
    for (let k = 1; k < 200; k++) {
      const died = diedInAttach(k);
      if (!died) break;
      const { m: main, d } = died;
      // Only the Rcu slot registered, the thread slot not claimed: the case this test is for.
      const registered = main.rcu.stats().slots.some((s) => s.slot === d);
      const onlyRcuSlot = registered && stateOf(main, d).state === TS_UNUSED;
      main.rcu.releaseSlot(d);
      main.detach();
      if (!onlyRcuSlot) continue;
      deaths++;
      for (let j = 1; j < 2000; j++) {
        // A fresh copy of this death per j.
        const { m, d: slotD } = diedInAttach(k)!;
        const r = runAlive(() => IoasidSpace.attach(m.handle));
        const before = m.stats().threadsRecovered;
        if (!runKilledAt(j, () => r.releaseThread(slotD))) {
          m.detach();
          break;
        }
        const s = stateOf(m, slotD);
        if (s.state === TS_RECOVERING && s.recovered === 0) windows++;
        runAlive(() => {
          m.releaseThread(r.rcu.slot);
          m.releaseThread(slotD);
        });
        const counted = m.stats().threadsRecovered - before;
        if (counted !== 1)
          failures.push(`D killed at ${k}, R at ${j}: ${counted} recoveries counted, want 1 (R)`);
        if (m.rcu.stats().slots.length !== 1)
          failures.push(
            `D killed at ${k}, R at ${j}: ${m.rcu.stats().slots.length} Rcu slots held`,
          );
        for (const b of audit(m, [m])) failures.push(`D killed at ${k}, R at ${j}: ${b}`);
        m.detach();
      }
    }
    console.log(`${deaths} kill points of D inside attach, ${windows} of R before RECOVERED`);
    expect(deaths).toBeGreaterThan(0);
    expect(windows).toBeGreaterThan(0);
    expect(failures).toEqual([]);
  });
});
