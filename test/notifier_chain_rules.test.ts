/**
 * Targeted rules of notifier chains that the model test cannot reach from one thread (they
 * need an entry that waits in the log, or a reader blocked in another thread): a subscriber
 * receives only the events emitted after it registered, even when they are distributed later;
 * a full log drops the event and the subscriber's next read starts with an overflow entry;
 * waitNotifications in another thread wakes when an event arrives, when the subscriber ahead
 * reads, and returns -ENOENT when its subscriber is unregistered.
 */
import { describe, expect, it } from 'vitest';
import { DLOCK_WORD } from '../src/core/ioasid/hooks-layout.js';
import { IoasidSpace, NotifierPriority, SetType } from '../src/core/ioasid/ioasid-space.js';
import { exited, startTestWorker, until } from './helpers/workers.js';

/** White-box: hold the distribution lock for a thread that is not there. */
function holdDistribution(space: IoasidSpace, hold: boolean): void {
  Atomics.store(new Int32Array(space.handle.hooks), DLOCK_WORD, hold ? 4000 : 0);
}

function setup(options = {}) {
  const space = IoasidSpace.create({ pasidBits: 8, maxSets: 4, maxIoasids: 64, ...options });
  const set = space.setAlloc(null, 20, SetType.NULL);
  return { space, set };
}

describe('notifier chain rules', () => {
  it('a subscriber gets only events emitted after it registered, even if distributed later', () => {
    const { space, set } = setup();
    const early = space.registerNotifier(set, NotifierPriority.CPU);
    holdDistribution(space, true);
    const a = space.alloc(set, 1, 200, 1); // emitted, not distributed
    holdDistribution(space, false);
    const late = space.registerNotifier(set, NotifierPriority.CPU);
    const b = space.alloc(set, 1, 200, 2);
    expect(space.readNotifications(early).map((n) => 'id' in n && n.id)).toEqual([a, b]);
    expect(space.readNotifications(late).map((n) => 'id' in n && n.id)).toEqual([b]);
  });

  it('a full log drops the event; the next read starts with the overflow entry', () => {
    const { space, set } = setup();
    const sub = space.registerNotifier(set, NotifierPriority.CPU);
    const id = space.alloc(set, 1, 200, 1);
    space.readNotifications(sub);
    holdDistribution(space, true);
    let emitted = 0;
    // BIND/UNBIND pairs until the log (4096 entries) is full, and one more.
    while (emitted <= 4096) {
      space.attachSpid(id, 7);
      space.detachSpid(id);
      emitted += 2;
    }
    holdDistribution(space, false);
    const first = space.readNotifications(sub, 1);
    expect(first).toEqual([{ event: 'overflow', lost: emitted - 4096 }]);
    // Read on: every event is either read, in seq order, or counted in an overflow entry.
    let read = 0;
    let lost = emitted - 4096;
    let last = 0;
    for (
      let got = space.readNotifications(sub);
      got.length > 0;
      got = space.readNotifications(sub)
    ) {
      for (const n of got) {
        if (n.event === 'overflow') lost += n.lost;
        else {
          expect(n.seq).toBeGreaterThan(last);
          last = n.seq;
          read++;
        }
      }
    }
    expect(read).toBeGreaterThan(0);
    expect(read + lost).toBe(emitted);
    expect(space.stats().notifierLost).toBe(lost);
  });

  it('a waiter in another thread wakes for an event, for the one ahead, and on unregister', async () => {
    const { space, set } = setup();
    const ahead = space.registerNotifier(set, NotifierPriority.CPU);
    const behind = space.registerNotifier(set, NotifierPriority.LAST);
    const wait = async (sub: number, act: () => void) => {
      const w = startTestWorker('notifier-waiter', { handle: space.handle, sub });
      const msgs: Array<{ ready?: boolean; n?: number; got?: unknown[] }> = [];
      w.on('message', (m) => msgs.push(m));
      const done = exited(w);
      await until(() => msgs.length > 0);
      act();
      await done; // hangs (and the test times out) if the waiter is never woken
      return msgs[1]!;
    };
    // An event arrives for `ahead`.
    const r1 = await wait(ahead, () => space.alloc(set, 1, 200, 5));
    expect(r1.n).toBe(1);
    // `behind` has that event but is gated until `ahead` reads it (ahead read it in the worker).
    const r2 = await wait(behind, () => {});
    expect(r2.n).toBe(1);
    // Gated: a new event; `behind` waits on `ahead`, which reads it here.
    space.alloc(set, 1, 200, 6);
    const r3 = await wait(behind, () => space.readNotifications(ahead));
    expect(r3.n).toBe(1);
    // Unregistered while waiting.
    const r4 = await wait(ahead, () => space.unregisterNotifier(ahead));
    expect(r4.n).toBe(-2);
  });

  it("a subscriber of a dead set never gets its reborn slot's events, even in the fix-up window", async () => {
    const { space, set } = setup();
    const old = space.registerNotifier(set, NotifierPriority.CPU);
    expect(space.setFree(set)).toBe(0); // dies; `old` is still attached to that incarnation
    const hk = new Int32Array(space.handle.hooks);
    holdDistribution(space, true);
    const w = startTestWorker('notifier-set-creator', { handle: space.handle });
    const done = exited(w);
    let reborn = -1;
    w.on('message', (m) => {
      reborn = m;
    });
    // The worker re-created the slot and sleeps on the lock (it set CONTENDED) before the fix-up.
    await until(
      () => space.setInfo(set) !== undefined && (Atomics.load(hk, DLOCK_WORD) & (1 << 30)) !== 0,
    );
    const id = space.alloc(set, 1, 200, 9); // an event of the new incarnation, in the log
    expect(id).toBeGreaterThan(0);
    holdDistribution(space, false);
    // This thread takes the lock first (the worker sleeps) and distributes before the fix-up.
    expect(space.readNotifications(old)).toEqual([]);
    await done;
    expect(reborn).toBe(set);
    expect(space.readNotifications(old)).toEqual([]);
  });

  it('a subscriber of a dead set stays detached through 256 rebirths of its slot', () => {
    const { space, set } = setup();
    const old = space.registerNotifier(set, NotifierPriority.CPU);
    for (let i = 0; i < 256; i++) {
      expect(space.setFree(set)).toBe(0);
      expect(space.setAlloc(null, 4, SetType.NULL)).toBe(set);
    }
    space.alloc(set, 1, 200, 9);
    expect(space.readNotifications(old)).toEqual([]);
  });

  it('unregistering a subscriber in the middle of a chain keeps those behind it gated', () => {
    const { space, set } = setup();
    const cpu = space.registerNotifier(set, NotifierPriority.CPU);
    const device = space.registerNotifier(set, NotifierPriority.DEVICE);
    const last = space.registerNotifier(set, NotifierPriority.LAST);
    const a = space.alloc(set, 1, 200, 1);
    space.readNotifications(device); // gated: CPU has not read it
    expect(space.unregisterNotifier(device)).toBe(0);
    // LAST was gated by DEVICE; now by CPU, which still has not read the event.
    expect(space.readNotifications(last)).toEqual([]);
    expect(space.readNotifications(cpu).map((n) => 'id' in n && n.id)).toEqual([a]);
    expect(space.readNotifications(last).map((n) => 'id' in n && n.id)).toEqual([a]);
  });
});
