/**
 * rcutorture's "cookie check 2" as a contract: a cookie taken before a wait (synchronize,
 * callRcu + barrier) is met once the wait returns. Cookies must therefore never decrease over
 * time: a wait that starts later asks for at least as many completions as an earlier
 * getState() did.
 *
 * White-box: each case plays another thread holding GP_LOCK with GP_SEQ idle by hand, storing
 * GP_LOCK as that thread would: a leader between its completion store and its release, a
 * barrier() whose cookie was already met, or a leader killed there (freed by the recovery,
 * releaseDeadLeader). The CI failure this pins (torture, marks flavor, oversubscribed with
 * kills: "1 grace-period cookie checks failed") needed a writer to take its cookie in that
 * window and then win GP_LOCK for its own wait before anyone started a grace period.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rcu, type RcuFlavor } from '../src/core/rcu/rcu.js';
import { RCU_GP_LOCK_WORD } from '../src/core/rcu/rcu-layout.js';
import { installKillPoints, runInjectedAt, uninstallKillPoints } from './helpers/kill-points.js';

/** A thread id no test thread has: the simulated holder's GP_LOCK token is this + 1. */
const HOLDER_THREAD = 9999;

const FLAVORS = ['marks', 'mb', 'qsbr'] as const;

/** A fresh Rcu, idle, with one grace period behind it, and its shared words. */
function idleRcu(flavor: RcuFlavor): { rcu: Rcu; words: Int32Array<SharedArrayBuffer> } {
  const rcu = Rcu.create({ flavor, maxThreads: 4 });
  rcu.synchronize();
  return { rcu, words: new Int32Array(rcu.handle.buffer) };
}

describe('a cookie taken before a wait is met when the wait returns', () => {
  it.each(FLAVORS)('%s: synchronize() after a holder released an idle GP_LOCK', (flavor) => {
    const { rcu, words } = idleRcu(flavor);
    const done = rcu.completedGracePeriods();
    // Another thread holds GP_LOCK, GP_SEQ idle (it just completed, or found its cookie met).
    Atomics.store(words, RCU_GP_LOCK_WORD, HOLDER_THREAD + 1);
    const cookie = rcu.getState();
    // It releases without starting another grace period.
    Atomics.store(words, RCU_GP_LOCK_WORD, 0);
    expect(rcu.completedGracePeriods()).toBe(done);
    rcu.synchronize();
    const completed = rcu.completedGracePeriods();
    expect(rcu.peekState(cookie), `cookie ${cookie}, completed ${completed}`).toBe(true);
  });

  it.each(
    FLAVORS,
  )('%s: callRcu() + barrier() after a holder released an idle GP_LOCK', (flavor) => {
    const { rcu, words } = idleRcu(flavor);
    Atomics.store(words, RCU_GP_LOCK_WORD, HOLDER_THREAD + 1);
    const cookie = rcu.getState();
    Atomics.store(words, RCU_GP_LOCK_WORD, 0);
    let ran = false;
    rcu.callRcu(() => {
      ran = true;
    });
    rcu.barrier();
    expect(ran).toBe(true);
    expect(rcu.peekState(cookie)).toBe(true);
  });

  it.each(FLAVORS)('%s: synchronize() after a dead idle holder was recovered', (flavor) => {
    const { rcu, words } = idleRcu(flavor);
    Atomics.store(words, RCU_GP_LOCK_WORD, HOLDER_THREAD + 1);
    const cookie = rcu.getState();
    expect(rcu.releaseDeadLeader(HOLDER_THREAD)).toBe(true);
    rcu.synchronize();
    expect(rcu.peekState(cookie)).toBe(true);
  });

  it.each(FLAVORS)('%s: cookies never decrease while GP_LOCK changes hands', (flavor) => {
    const { rcu, words } = idleRcu(flavor);
    const first = rcu.getState();
    Atomics.store(words, RCU_GP_LOCK_WORD, HOLDER_THREAD + 1);
    const whileHeld = rcu.getState();
    Atomics.store(words, RCU_GP_LOCK_WORD, 0);
    const afterRelease = rcu.getState();
    expect(whileHeld).toBeGreaterThanOrEqual(first);
    expect(afterRelease).toBeGreaterThanOrEqual(whileHeld);
  });
});

/**
 * The other half of the contract, on the real code: a cookie taken inside a section is not met
 * while the section lasts, wherever in a grace period's steps the section began. The reader
 * enters and takes its cookie at every builtin call of a leader's non-blocking grace period
 * (pollState: it cannot wait for the reader, which shares the test's thread). Catches an idle
 * fast path without its start store: entered after that path's scan of its slot, the reader
 * would take c+1 from an idle GP_SEQ and see the path complete it.
 */
describe('a cookie taken inside a section, wherever a grace period is', () => {
  beforeAll(installKillPoints);
  afterAll(uninstallKillPoints);

  it.each(FLAVORS)('%s: is not met while the section lasts', (flavor) => {
    const failures: string[] = [];
    let points = 0;
    for (let k = 1; k < 200; k++) {
      const { rcu } = idleRcu(flavor);
      const reader = Rcu.attach(rcu.handle);
      reader.registerThread();
      const target = rcu.getState();
      let cookie = -1;
      const injected = runInjectedAt(
        k,
        () => rcu.pollState(target),
        () => {
          reader.readLock();
          cookie = reader.getState();
        },
      );
      if (!injected) {
        reader.unregisterThread();
        break;
      }
      points++;
      if (reader.peekState(cookie))
        failures.push(`entered at call ${k}: cookie ${cookie} met inside the section`);
      reader.readUnlock();
      reader.quiescentState();
      reader.unregisterThread();
    }
    expect(points).toBeGreaterThan(3);
    expect(failures).toEqual([]);
  });
});
