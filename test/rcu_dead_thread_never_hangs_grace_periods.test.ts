/**
 * A worker terminated inside a read-side section, or while leading a grace period, stalls
 * grace periods (reported, counted) only until releaseSlot() frees its slot.
 */
import { describe, expect, it } from 'vitest';
import { Rcu } from '../src/core/rcu/rcu.js';
import { exited, startTestWorker, until } from './helpers/workers.js';
import {
  AGENT_DONE,
  AGENT_INSIDE,
  AGENT_RELEASE,
  AGENT_SLOT,
  AGENT_WORDS,
  type AgentData,
} from './workers/rcu-agent-protocol.js';

function agent(rcu: Rcu, script: AgentData['script']) {
  const ctrl = new Int32Array(new SharedArrayBuffer(AGENT_WORDS * 4));
  const worker = startTestWorker('rcu-agent', { rcu: rcu.handle, ctrl: ctrl.buffer, script });
  return { ctrl, worker, done: exited(worker) };
}

describe.each([
  'marks',
  'mb',
  'qsbr',
] as const)('dead threads and grace periods, %s flavor', (flavor) => {
  it('a reader killed mid-section stalls grace periods until its slot is released', async () => {
    const stalls: number[] = [];
    const rcu = Rcu.create({ stallMs: 30, flavor }, { onStall: (slot) => stalls.push(slot) });
    const victim = agent(rcu, 'hold');
    await until(() => Atomics.load(victim.ctrl, AGENT_INSIDE) === 1);
    const slot = Atomics.load(victim.ctrl, AGENT_SLOT);
    await victim.worker.terminate();
    expect(rcu.stats().slots.find((s) => s.slot === slot)?.inSection).toBe(true);
    const syncer = agent(rcu, 'synchronize');
    // The stall is reported (by the worker leading the grace period) and it keeps waiting.
    await until(() => rcu.stats().stalls >= 2);
    expect(Atomics.load(syncer.ctrl, AGENT_DONE)).toBe(0);
    expect(rcu.releaseSlot(slot)).toBe(true);
    await syncer.done;
    expect(Atomics.load(syncer.ctrl, AGENT_DONE)).toBe(1);
    expect(rcu.stats().slots.some((s) => s.slot === slot)).toBe(false);
    expect(rcu.stats().released).toBe(1);
  });

  it('a grace-period leader killed mid-grace-period does not hang the next caller', async () => {
    const rcu = Rcu.create({ stallMs: 1000, flavor });
    const holder = agent(rcu, 'hold');
    await until(() => Atomics.load(holder.ctrl, AGENT_INSIDE) === 1);
    const leader = agent(rcu, 'register-synchronize');
    await until(() => rcu.stats().inProgress && rcu.stats().sleeps > 0);
    const leaderSlot = Atomics.load(leader.ctrl, AGENT_SLOT);
    await leader.worker.terminate(); // dies holding GP_LOCK, grace period half done
    Atomics.store(holder.ctrl, AGENT_RELEASE, 1);
    Atomics.notify(holder.ctrl, AGENT_RELEASE);
    await holder.done;
    expect(rcu.releaseSlot(leaderSlot)).toBe(true); // also frees the dead leader's GP_LOCK
    const next = agent(rcu, 'synchronize');
    await next.done;
    expect(Atomics.load(next.ctrl, AGENT_DONE)).toBe(1);
    expect(rcu.stats().inProgress).toBe(false);
  });

  it('an unregistered leader killed mid-grace-period is reported, then released by thread id', async () => {
    const rcu = Rcu.create({ stallMs: 30, flavor });
    const holder = agent(rcu, 'hold');
    await until(() => Atomics.load(holder.ctrl, AGENT_INSIDE) === 1);
    const leader = agent(rcu, 'synchronize'); // no reader slot: releaseSlot cannot free it
    await until(() => rcu.stats().inProgress && rcu.stats().sleeps > 0);
    const deadId = leader.worker.threadId;
    await leader.worker.terminate();
    Atomics.store(holder.ctrl, AGENT_RELEASE, 1);
    Atomics.notify(holder.ctrl, AGENT_RELEASE);
    await holder.done;
    const stallsBefore = rcu.stats().stalls; // the leader's own reports about the holder
    const next = agent(rcu, 'synchronize');
    // No reader holds anything up now: the stalls counted are the waiting caller's reports of
    // the silent leader (slot -1; its warning names releaseDeadLeader), and it waits on.
    await until(() => rcu.stats().stalls >= stallsBefore + 2);
    expect(Atomics.load(next.ctrl, AGENT_DONE)).toBe(0);
    expect(rcu.releaseDeadLeader(deadId + 1)).toBe(false); // not the holder: nothing changes
    expect(rcu.releaseDeadLeader(deadId)).toBe(true);
    await next.done;
    expect(Atomics.load(next.ctrl, AGENT_DONE)).toBe(1);
    expect(rcu.stats().inProgress).toBe(false);
  });
});
