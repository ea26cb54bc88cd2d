/**
 * White-box: the idle fast path of a grace period (rcu-grace-period.ts tryIdleGracePeriod)
 * scans the reader slots while GP_SEQ still reads "idle"; only holding GP_LOCK says that a
 * grace period may be under way. So a cookie taken while another thread holds GP_LOCK must
 * ask for the grace period after the one that holder may be finishing, or a section entered
 * after the holder's scan of its slot would be outlived by its cookie. Each test plays the
 * holder by hand, storing GP_LOCK and GP_SEQ as its fast path would, at the moment that
 * matters: after its scan found the reader's slot idle.
 */
import { describe, expect, it } from 'vitest';
import { Rcu, type RcuFlavor } from '../src/core/rcu/rcu.js';
import { RCU_GP_LOCK_WORD, RCU_GP_SEQ_I64, RCU_SEQ_STEPS } from '../src/core/rcu/rcu-layout.js';

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

    // The holder took GP_LOCK and found the reader's slot idle (GP_SEQ still says idle)...
    Atomics.store(words, RCU_GP_LOCK_WORD, HOLDER_THREAD + 1);
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

  it('asks for two completions while held, one once the holder released and GP_SEQ is idle', () => {
    const rcu = Rcu.create({ maxThreads: 4 });
    const words = new Int32Array(rcu.handle.buffer);
    rcu.synchronize();
    const done = rcu.completedGracePeriods();
    Atomics.store(words, RCU_GP_LOCK_WORD, HOLDER_THREAD + 1);
    expect(rcu.getState()).toBe(done + 2);
    expect(rcu.releaseDeadLeader(HOLDER_THREAD)).toBe(true); // as the recovery of a dead holder
    expect(rcu.getState()).toBe(done + 1);
  });
});
