/**
 * The qsbr flavor's contract: a grace period waits for every online thread's next quiescent
 * state (and reports a thread that never announces one as a stall), never for an offline
 * thread, and never for its own caller; pollState cannot count its caller as quiescent; the
 * read side does nothing unless the attachment is a debug one, which checks the rules.
 */
import { describe, expect, it } from 'vitest';
import { Rcu, type RcuError } from '../src/core/rcu/rcu.js';
import { exited, startTestWorker, until } from './helpers/workers.js';
import {
  AGENT_COUNT,
  AGENT_DONE,
  AGENT_INSIDE,
  AGENT_RELEASE,
  AGENT_SLOT,
  AGENT_WORDS,
  type AgentData,
} from './workers/rcu-agent-protocol.js';

function agent(rcu: Rcu, script: AgentData['script']) {
  const ctrl = new Int32Array(new SharedArrayBuffer(AGENT_WORDS * 4));
  const data: AgentData = { rcu: rcu.handle, ctrl: ctrl.buffer, script };
  const worker = startTestWorker('rcu-agent', data);
  return { ctrl, worker, done: exited(worker) };
}

function release(ctrl: Int32Array, value: number): void {
  Atomics.store(ctrl, AGENT_RELEASE, value);
  Atomics.notify(ctrl, AGENT_RELEASE);
}

function code(f: () => void): string | undefined {
  try {
    f();
  } catch (err) {
    return (err as RcuError).code;
  }
  return undefined;
}

describe('qsbr flavor', () => {
  it('a grace period waits, reporting stalls, for an online thread until it announces a quiescent state', async () => {
    const stalled: number[] = [];
    const rcu = Rcu.create(
      { flavor: 'qsbr', stallMs: 30 },
      { onStall: (slot) => stalled.push(slot) },
    );
    const idle = agent(rcu, 'online-idle');
    await until(() => Atomics.load(idle.ctrl, AGENT_INSIDE) === 1);
    const slot = Atomics.load(idle.ctrl, AGENT_SLOT);
    const syncer = agent(rcu, 'synchronize');
    await until(() => rcu.stats().stalls >= 2);
    expect(Atomics.load(syncer.ctrl, AGENT_DONE)).toBe(0);
    expect(rcu.stats().slots.find((s) => s.slot === slot)).toMatchObject({
      online: true,
      leaderWaiting: true, // the sleeping leader asked its next quiescent state to wake it
    });
    release(idle.ctrl, 1); // one quiescent state, still online afterwards
    await syncer.done;
    expect(Atomics.load(syncer.ctrl, AGENT_DONE)).toBe(1);
    expect(Atomics.load(idle.ctrl, AGENT_COUNT)).toBe(1);
    expect(rcu.stats().slots.find((s) => s.slot === slot)?.online).toBe(true);
    release(idle.ctrl, 2);
    await idle.done;
    expect(rcu.stats().slots.find((s) => s.slot === slot)?.online).toBe(false);
  });

  it('a dead online thread holds grace periods up only until releaseSlot', async () => {
    const rcu = Rcu.create({ flavor: 'qsbr', stallMs: 1000 }, { onStall: () => {} });
    const victim = agent(rcu, 'online-idle');
    await until(() => Atomics.load(victim.ctrl, AGENT_INSIDE) === 1);
    const slot = Atomics.load(victim.ctrl, AGENT_SLOT);
    await victim.worker.terminate();
    const cookie = rcu.getState();
    for (let i = 0; i < 10; i++) expect(rcu.pollState(cookie)).toBe(false);
    expect(rcu.releaseSlot(slot)).toBe(true);
    expect(rcu.pollState(cookie)).toBe(true);
  });

  it('synchronize and barrier from an online thread do not wait for it, and leave it online', () => {
    const rcu = Rcu.create({ flavor: 'qsbr' });
    rcu.registerThread();
    expect(rcu.online).toBe(true);
    const before = rcu.completedGracePeriods();
    rcu.synchronize();
    let ran = false;
    rcu.callRcu(() => {
      ran = true;
    });
    rcu.barrier();
    expect(ran).toBe(true);
    expect(rcu.online).toBe(true);
    expect(rcu.completedGracePeriods()).toBeGreaterThan(before);
  });

  it("pollState cannot count its caller's quiescent state: an online poller announces it", () => {
    const rcu = Rcu.create({ flavor: 'qsbr' });
    rcu.registerThread();
    const cookie = rcu.getState();
    for (let i = 0; i < 10; i++) expect(rcu.pollState(cookie)).toBe(false);
    rcu.quiescentState();
    expect(rcu.pollState(cookie)).toBe(true);
    // Offline, it is not waited for at all.
    rcu.threadOffline();
    const next = rcu.getState();
    expect(rcu.pollState(next)).toBe(true);
    rcu.threadOnline();
    expect(rcu.online).toBe(true);
  });

  it('the read side does nothing outside debug attachments, and checks the rules in them', () => {
    const rcu = Rcu.create({ flavor: 'qsbr' });
    rcu.readLock(); // unregistered: not checked outside debug attachments (liburcu alike)
    rcu.readUnlock();
    rcu.registerThread();
    rcu.readLock();
    expect(rcu.nesting).toBe(0); // not tracked
    rcu.readUnlock();

    const debug = Rcu.attach(rcu.handle, { debug: true });
    expect(code(() => debug.readLock())).toBe('ERR_RCU_NOT_REGISTERED');
    debug.registerThread();
    debug.readLock();
    debug.readLock();
    expect(debug.nesting).toBe(2);
    expect(code(() => debug.quiescentState())).toBe('ERR_RCU_IN_READ_SECTION');
    expect(code(() => debug.threadOffline())).toBe('ERR_RCU_IN_READ_SECTION');
    expect(code(() => debug.synchronize())).toBe('ERR_RCU_IN_READ_SECTION');
    debug.readUnlock();
    debug.readUnlock();
    expect(code(() => debug.readUnlock())).toBe('ERR_RCU_UNLOCK_WITHOUT_LOCK');
    debug.threadOffline();
    expect(code(() => debug.readLock())).toBe('ERR_RCU_OFFLINE');
    debug.threadOnline();
    debug.readLock();
    debug.readUnlock();
    rcu.threadOffline();
    debug.threadOffline();
  });

  it('the other flavors ignore the quiescent-state calls', () => {
    for (const flavor of ['marks', 'mb'] as const) {
      const rcu = Rcu.create({ flavor });
      rcu.registerThread();
      rcu.threadOffline();
      expect(rcu.online).toBe(true);
      rcu.quiescentState();
      rcu.threadOnline();
      rcu.synchronize();
    }
  });
});
