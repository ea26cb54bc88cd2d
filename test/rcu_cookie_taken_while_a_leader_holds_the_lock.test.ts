/**
 * White-box: a grace period's holder of GP_LOCK stores its start (GP_SEQ step 1) before it
 * scans the reader slots, the idle fast path (rcu-grace-period.ts tryIdleGracePeriod)
 * included, and getState() reads GP_SEQ alone. So a cookie taken after that start store asks
 * for the grace period after the holder's, and a section entered after the holder's scan of
 * its slot is not outlived by its cookie. Each test plays the holder by hand, storing GP_LOCK
 * and GP_SEQ as its fast path does, at the moment that matters: after its scan found the
 * reader's slot idle. (Until layout version 7 the fast path stored no start and getState
 * loaded GP_LOCK instead, asking for c+2 while it was held at idle: a cookie that a later
 * synchronize() could leave unmet, test/rcu_cookie_taken_before_a_wait_is_met_after_it.)
 */
import { describe, expect, it } from 'vitest';
import { Rcu, type RcuFlavor } from '../src/core/rcu/rcu.js';
import {
  RCU_GP_LOCK_WORD,
  RCU_GP_SEQ_I64,
  RCU_SEQ_STEPS,
  RCU_STEP_SNAPSHOT,
} from '../src/core/rcu/rcu-layout.js';

/** A thread id no test thread has: the simulated holder's GP_LOCK token is this + 1. */
const HOLDER_THREAD = 9999;

describe('a cookie taken while GP_LOCK is held', () => {
  it.each([
    'marks',
    'mb',
  ] as const)('%s: is not met by the grace period the holder completes', (flavor: RcuFlavor) => {
    const rcu = Rcu.create({ flavor, maxThreads: 4 });
    const words = new Int32Array(rcu.handle.buffer);
    const seq = new BigInt64Array(rcu.handle.buffer);
    const reader = Rcu.attach(rcu.handle);
    reader.registerThread();
    const done = rcu.completedGracePeriods();
    expect(rcu.getState()).toBe(done + 1); // idle, lock free

    // The holder took GP_LOCK, stored its start and found the reader's slot idle...
    Atomics.store(words, RCU_GP_LOCK_WORD, HOLDER_THREAD + 1);
    Atomics.store(seq, RCU_GP_SEQ_I64, BigInt(done * RCU_SEQ_STEPS + RCU_STEP_SNAPSHOT));
    // ...then the reader enters and loads the pointer the updater is about to unpublish...
    reader.readLock();
    // ...the updater unpublishes it and takes a cookie...
    const cookie = rcu.getState();
    expect(cookie).toBe(done + 2);
    // ...and the holder completes its grace period and releases the lock.
    Atomics.store(seq, RCU_GP_SEQ_I64, BigInt((done + 1) * RCU_SEQ_STEPS));
    Atomics.store(words, RCU_GP_LOCK_WORD, 0);

    // The reader is still inside: the cookie must not be met, however often it is polled.
    for (let i = 0; i < 5; i++) expect(rcu.pollState(cookie)).toBe(false);
    expect(rcu.peekState(cookie)).toBe(false);
    reader.readUnlock();
    let polls = 0;
    while (!rcu.pollState(cookie)) expect(++polls).toBeLessThan(10);
    expect(rcu.completedGracePeriods()).toBeGreaterThanOrEqual(done + 2);
    reader.unregisterThread();
  });

  it('asks for one completion while GP_SEQ is idle, held or not, and two once the start is stored', () => {
    const rcu = Rcu.create({ maxThreads: 4 });
    const words = new Int32Array(rcu.handle.buffer);
    const seq = new BigInt64Array(rcu.handle.buffer);
    rcu.synchronize();
    const done = rcu.completedGracePeriods();
    // Held, not started: the holder's start store and scan follow this cookie's GP_SEQ load.
    Atomics.store(words, RCU_GP_LOCK_WORD, HOLDER_THREAD + 1);
    expect(rcu.getState()).toBe(done + 1);
    Atomics.store(seq, RCU_GP_SEQ_I64, BigInt(done * RCU_SEQ_STEPS + RCU_STEP_SNAPSHOT));
    expect(rcu.getState()).toBe(done + 2);
    expect(rcu.releaseDeadLeader(HOLDER_THREAD)).toBe(true); // as the recovery of a dead holder
    // The dead holder's grace period stays in flight (resumable): still two.
    expect(rcu.getState()).toBe(done + 2);
    rcu.synchronize(); // resumes it, then runs the next one
    expect(rcu.completedGracePeriods()).toBe(done + 2);
  });
});
