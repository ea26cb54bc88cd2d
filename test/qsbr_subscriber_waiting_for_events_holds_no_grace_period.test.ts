/**
 * Real worker threads, qsbr flavor: a subscriber thread blocked in `waitNotifications` (no
 * timeout, on a chain with no events yet) must not hold up grace periods. The wait takes an
 * online caller offline, as `synchronize` does; before that, the subscriber sat online in
 * Atomics.wait, every grace period waited for its next quiescent state, and a stress run's
 * end-of-run `flushRecords` could wait forever. The grace period here is polled on the event
 * loop, so a hang is a failed test (the vitest timeout), never a wall-clock assertion.
 */
import { describe, expect, it } from 'vitest';
import { IoasidSpace, NotifierPriority, SetType } from '../src/core/ioasid/ioasid-space.js';
import { exited, startTestWorker } from './helpers/workers.js';

describe('qsbr: a subscriber waiting for events', () => {
  it('does not hold up a grace period while it waits', async () => {
    const space = IoasidSpace.create({ rcuFlavor: 'qsbr', pasidBits: 8, maxIoasids: 64 });
    const set = space.setAlloc(null, 8, SetType.NULL);
    const sub = space.registerNotifier(set, NotifierPriority.CPU);
    const w = startTestWorker('notifier-waiter', { handle: space.handle, sub });
    const done = exited(w);
    const msgs: Array<{ ready?: boolean; n?: number }> = [];
    w.on('message', (m) => msgs.push(m));
    // The waiter attached (online, as every qsbr thread is) and is about to wait, or waits.
    while (!msgs.some((m) => m.ready)) await new Promise((r) => setTimeout(r, 1));
    // A grace period that starts now must end while the waiter still waits (no event yet).
    const cookie = space.rcu.getState();
    for (;;) {
      space.rcu.quiescentState(); // this thread's own part (it drives the grace period)
      if (space.rcu.pollState(cookie)) break;
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(
      msgs.some((m) => m.n !== undefined),
      'the waiter saw no event yet',
    ).toBe(false);
    // An event ends the wait: the waiter comes back online, reads it and detaches.
    expect(space.alloc(set, 1, space.maxId)).toBeGreaterThan(0);
    await done;
    expect(msgs.find((m) => m.n !== undefined)?.n).toBe(1);
  }, 60_000);
});
