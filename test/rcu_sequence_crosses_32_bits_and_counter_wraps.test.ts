/**
 * White-box: GP_SEQ is read and written as two Int32 halves (rcu-gp-seq.ts), so its low half
 * wrapping into the high half must change nothing a caller sees; and the qsbr flavor's 30-bit
 * GP_CTR wraps every 2^29 grace periods, which must not let a grace period end early. Each
 * test starts an instance just before the boundary by storing GP_SEQ (and, for qsbr, GP_CTR)
 * before any thread uses it.
 */
import { describe, expect, it } from 'vitest';
import { Rcu, type RcuFlavor } from '../src/core/rcu/rcu.js';
import {
  RCU_GP_CTR_WORD,
  RCU_GP_SEQ_HI_WORD,
  RCU_GP_SEQ_I64,
  RCU_SEQ_STEPS,
  rcuQsbrCtr,
} from '../src/core/rcu/rcu-layout.js';

/** A fresh instance whose next grace period is number `completed + 1`. */
function startingAt(flavor: RcuFlavor, completed: number): Rcu {
  const rcu = Rcu.create({ flavor, maxThreads: 4 });
  const seq = new BigInt64Array(rcu.handle.buffer);
  Atomics.store(seq, RCU_GP_SEQ_I64, BigInt(completed * RCU_SEQ_STEPS));
  if (flavor === 'qsbr')
    Atomics.store(new Int32Array(rcu.handle.buffer), RCU_GP_CTR_WORD, rcuQsbrCtr(completed));
  return rcu;
}

describe('GP_SEQ across 2^32 and the qsbr counter across its wrap', () => {
  it.each([
    'marks',
    'mb',
    'qsbr',
  ] as const)('%s: completions and cookies count on exactly across the carry', (flavor) => {
    const first = 2 ** 30 - 3; // GP_SEQ = first * 4 < 2^32, three grace periods short
    const rcu = startingAt(flavor, first);
    const words = new Int32Array(rcu.handle.buffer);
    expect(Atomics.load(words, RCU_GP_SEQ_HI_WORD)).toBe(0);
    for (let i = 1; i <= 6; i++) {
      const cookie = rcu.getState();
      expect(cookie).toBe(first + i);
      expect(rcu.pollState(cookie)).toBe(true); // nobody registered: one poll completes it
      expect(rcu.completedGracePeriods()).toBe(first + i);
    }
    expect(Atomics.load(words, RCU_GP_SEQ_HI_WORD)).toBe(1);
    rcu.synchronize();
    expect(rcu.completedGracePeriods()).toBe(first + 7);
    expect(rcu.stats()).toMatchObject({ gracePeriods: first + 7, inProgress: false });
  });

  it('marks: a grace period in flight across the carry still waits for a reader', () => {
    const rcu = startingAt('marks', 2 ** 30 - 1);
    const reader = Rcu.attach(rcu.handle);
    reader.registerThread();
    reader.readLock();
    const cookie = rcu.getState(); // its grace period completes past 2^32
    for (let i = 0; i < 5; i++) expect(rcu.pollState(cookie)).toBe(false);
    expect(rcu.stats().inProgress).toBe(true);
    reader.readUnlock();
    expect(rcu.pollState(cookie)).toBe(true);
    expect(rcu.completedGracePeriods()).toBe(2 ** 30);
  });

  it('qsbr: across the 30-bit counter wrap, a grace period waits for the online thread that has not announced', () => {
    const wrapAt = 2 ** 29; // rcuQsbrCtr(2^29) == rcuQsbrCtr(0)
    const rcu = startingAt('qsbr', wrapAt - 2);
    const reader = Rcu.attach(rcu.handle);
    reader.registerThread(); // online, at rcuQsbrCtr(wrapAt - 2)
    for (let n = wrapAt - 1; n <= wrapAt + 2; n++) {
      const cookie = rcu.getState();
      expect(cookie).toBe(n);
      for (let i = 0; i < 3; i++) expect(rcu.pollState(cookie)).toBe(false);
      reader.quiescentState();
      expect(rcu.pollState(cookie)).toBe(true);
    }
    expect(rcuQsbrCtr(wrapAt)).toBe(rcuQsbrCtr(0));
    reader.threadOffline();
  });
});
