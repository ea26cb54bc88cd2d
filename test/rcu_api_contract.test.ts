import { describe, expect, it } from 'vitest';
import { Rcu, RcuError, type RcuHandle, resolveRcuOptions } from '../src/core/rcu/rcu.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RcuError);
    return (err as RcuError).code;
  }
  return undefined;
}

describe('Rcu API contract (main thread)', () => {
  it('hands out distinct slots and refuses when none is left', () => {
    const rcu = Rcu.create({ maxThreads: 3 });
    const others = [Rcu.attach(rcu.handle), Rcu.attach(rcu.handle)];
    const slots = [rcu.registerThread(), ...others.map((r) => r.registerThread())];
    expect(new Set(slots).size).toBe(3);
    expect(code(() => Rcu.attach(rcu.handle).registerThread())).toBe('ERR_RCU_NO_SLOT');
    expect(code(() => rcu.registerThread())).toBe('ERR_RCU_ALREADY_REGISTERED');
    others[0]!.unregisterThread();
    expect(Rcu.attach(rcu.handle).registerThread()).toBe(slots[1]);
  });

  it('works through a structured clone of the handle', () => {
    const rcu = Rcu.create();
    const clone = structuredClone(rcu.handle);
    const r = Rcu.attach(clone);
    const slot = r.registerThread();
    r.readLock();
    expect(rcu.stats().slots.find((s) => s.slot === slot)?.inSection).toBe(true);
    r.readUnlock();
  });

  it('reports misuse with stable codes and leaves state unchanged', () => {
    const rcu = Rcu.create();
    expect(code(() => rcu.readLock())).toBe('ERR_RCU_NOT_REGISTERED');
    rcu.registerThread();
    expect(code(() => rcu.readUnlock())).toBe('ERR_RCU_UNLOCK_WITHOUT_LOCK');
    rcu.readLock();
    rcu.readLock();
    expect(rcu.nesting).toBe(2);
    expect(rcu.stats().slots[0]?.inSection).toBe(true);
    const before = rcu.stats();
    expect(code(() => rcu.synchronize())).toBe('ERR_RCU_IN_READ_SECTION');
    rcu.callRcu(() => {});
    expect(code(() => rcu.barrier())).toBe('ERR_RCU_IN_READ_SECTION');
    expect(code(() => rcu.unregisterThread())).toBe('ERR_RCU_IN_READ_SECTION');
    expect(rcu.nesting).toBe(2);
    expect(rcu.stats().gracePeriods).toBe(before.gracePeriods);
    rcu.readUnlock();
    rcu.readUnlock();
    expect(rcu.stats().slots[0]?.inSection).toBe(false);
    rcu.barrier();
    rcu.unregisterThread();
    expect(code(() => rcu.readLock())).toBe('ERR_RCU_NOT_REGISTERED');
  });

  it('refuses bad handles and handles of another layout version', () => {
    const rcu = Rcu.create();
    expect(code(() => Rcu.attach(null as unknown as RcuHandle))).toBe('ERR_RCU_BAD_HANDLE');
    expect(code(() => Rcu.attach({} as RcuHandle))).toBe('ERR_RCU_BAD_HANDLE');
    expect(code(() => Rcu.attach({ ...rcu.handle, version: 99 }))).toBe('ERR_RCU_LAYOUT_VERSION');
    const foreign = { ...rcu.handle, buffer: new SharedArrayBuffer(4096) };
    expect(code(() => Rcu.attach(foreign))).toBe('ERR_RCU_BAD_HANDLE');
    const notShared = {
      ...rcu.handle,
      buffer: new ArrayBuffer(4096) as unknown as SharedArrayBuffer,
    };
    expect(code(() => Rcu.attach(notShared))).toBe('ERR_RCU_BAD_HANDLE');
  });

  it('validates options and arguments, naming them', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, 5000])
      expect(code(() => resolveRcuOptions({ maxThreads: bad }))).toBe('ERR_RCU_BAD_ARGUMENT');
    expect(code(() => resolveRcuOptions({ stallMs: 0 }))).toBe('ERR_RCU_BAD_ARGUMENT');
    expect(() => resolveRcuOptions({ maxThreads: 0 })).toThrow(/maxThreads/);
    expect(() => resolveRcuOptions({ flavor: 'signal' as never })).toThrow(/flavor/);
    expect(() => resolveRcuOptions({ fault: { mode: 'early-qs' } })).toThrow(/early-qs/);
    expect(code(() => Rcu.create({}, { debug: 1 as never }))).toBe('ERR_RCU_BAD_ARGUMENT');
    // The flavor is in the buffer's header: every attached thread runs the creator's.
    const mb = Rcu.create({ flavor: 'mb' });
    expect(mb.stats().flavor).toBe('mb');
    expect(Rcu.attach(structuredClone(mb.handle)).stats().flavor).toBe('mb');
    expect(Rcu.create().stats().flavor).toBe('marks');
    expect(Rcu.attach(Rcu.create({ flavor: 'qsbr' }).handle).stats().flavor).toBe('qsbr');
    const rcu = Rcu.create({ maxThreads: 2 });
    // Further ahead than any getState() could return: refused, not polled for ever.
    const ahead = rcu.getState() + 2;
    for (const bad of [-1, 0.5, Number.NaN, 2 ** 60, ahead])
      expect(code(() => rcu.pollState(bad))).toBe('ERR_RCU_BAD_ARGUMENT');
    expect(rcu.completedGracePeriods()).toBe(0);
    expect(code(() => rcu.releaseSlot(2))).toBe('ERR_RCU_BAD_ARGUMENT');
    for (const bad of [-1, 0.5, Number.NaN])
      expect(code(() => rcu.releaseDeadLeader(bad))).toBe('ERR_RCU_BAD_ARGUMENT');
    expect(code(() => rcu.callRcu(42 as unknown as () => void))).toBe('ERR_RCU_BAD_ARGUMENT');
  });

  it('pollState stays false while a reader that predates the cookie is inside, then a poll loop finishes alone', () => {
    const rcu = Rcu.create();
    const reader = Rcu.attach(rcu.handle);
    reader.registerThread();
    reader.readLock();
    const cookie = rcu.getState();
    for (let i = 0; i < 100; i++) expect(rcu.pollState(cookie)).toBe(false);
    expect(rcu.peekState(cookie)).toBe(false);
    reader.readUnlock();
    let polls = 0;
    while (!rcu.pollState(cookie)) polls++;
    expect(polls).toBeLessThan(3);
    expect(rcu.peekState(cookie)).toBe(true);
  });

  it('a cookie taken inside a section is not satisfied before that section ends', () => {
    const rcu = Rcu.create();
    rcu.registerThread();
    rcu.readLock();
    const cookie = rcu.getState();
    for (let i = 0; i < 10; i++) expect(rcu.pollState(cookie)).toBe(false);
    rcu.readUnlock();
    rcu.synchronize();
    expect(rcu.peekState(cookie)).toBe(true);
  });

  it('runs callRcu callbacks in order, after a grace period, from barrier() or the timer', async () => {
    const rcu = Rcu.create();
    const reader = Rcu.attach(rcu.handle);
    reader.registerThread();
    const ran: number[] = [];
    reader.readLock();
    rcu.callRcu(() => ran.push(1));
    rcu.callRcu(() => ran.push(2));
    expect(rcu.runCallbacks()).toBe(0);
    await new Promise((r) => setTimeout(r, 20));
    expect(ran).toEqual([]);
    reader.readUnlock();
    rcu.barrier();
    expect(ran).toEqual([1, 2]);
    rcu.callRcu(() => ran.push(3));
    await new Promise<void>((resolve) => rcu.callRcu(resolve));
    expect(ran).toEqual([1, 2, 3]);
    expect(rcu.pendingCallbacks).toBe(0);
  });

  it('releaseSlot frees a dead reader so grace periods end, and is idempotent', () => {
    const rcu = Rcu.create({ maxThreads: 4 });
    rcu.registerThread();
    const dead = Rcu.attach(rcu.handle);
    const slot = dead.registerThread();
    dead.readLock(); // and never unlocks: the thread "died" here
    const cookie = rcu.getState();
    expect(rcu.pollState(cookie)).toBe(false);
    expect(rcu.releaseSlot(slot)).toBe(true);
    expect(rcu.pollState(cookie)).toBe(true);
    expect(rcu.releaseSlot(slot)).toBe(false);
    expect(code(() => rcu.releaseSlot(rcu.slot))).toBe('ERR_RCU_BAD_ARGUMENT');
    expect(rcu.stats().released).toBe(1);
  });

  it('thousands of grace periods leave no grace period in flight and clean slots', () => {
    const rcu = Rcu.create();
    rcu.registerThread();
    for (let i = 0; i < 5000; i++) {
      rcu.readLock();
      rcu.readUnlock();
      rcu.synchronize();
    }
    const s = rcu.stats();
    expect(s.gracePeriods).toBe(5000);
    expect(s.inProgress).toBe(false);
    expect(s.slots[0]).toMatchObject({ inSection: false, leaderWaiting: false });
  });
});
