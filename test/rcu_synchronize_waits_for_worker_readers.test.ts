/**
 * synchronize() in one worker waits for a read-side section open in another worker, and only
 * for that; concurrent callers share grace periods.
 */
import { describe, expect, it } from 'vitest';
import { Rcu } from '../src/core/rcu/rcu.js';
import { exited, startTestWorker, until } from './helpers/workers.js';
import {
  AGENT_COUNT,
  AGENT_DONE,
  AGENT_INSIDE,
  AGENT_LEAVING,
  AGENT_RELEASE,
  AGENT_WORDS,
  type AgentData,
} from './workers/rcu-agent-protocol.js';

function agent(rcu: Rcu, script: AgentData['script'], count?: number) {
  const ctrl = new Int32Array(new SharedArrayBuffer(AGENT_WORDS * 4));
  const data: AgentData = { rcu: rcu.handle, ctrl: ctrl.buffer, script, count };
  const worker = startTestWorker('rcu-agent', data);
  return { ctrl, worker, done: exited(worker) };
}

describe.each([
  'marks',
  'mb',
  'qsbr',
] as const)('synchronize across worker threads, %s flavor', (flavor) => {
  it('does not return while a pre-existing reader in another worker is inside', async () => {
    const rcu = Rcu.create({ flavor });
    const holder = agent(rcu, 'hold');
    await until(() => Atomics.load(holder.ctrl, AGENT_INSIDE) === 1);
    const syncer = agent(rcu, 'synchronize');
    // Wait until the grace period is blocked on the holder and its leader went to sleep.
    await until(() => rcu.stats().inProgress && rcu.stats().sleeps > 0);
    expect(Atomics.load(syncer.ctrl, AGENT_DONE)).toBe(0);
    // Marks: before sleeping the leader marked the holder's section WAIT, and its leaving
    // exchange wakes it; qsbr: likewise, the exchange of its going offline. mb: the holder's
    // leaving store is followed by a GP_FUTEX load.
    expect(rcu.stats().slots.filter((s) => s.inSection)).toMatchObject([
      { leaderWaiting: flavor !== 'mb' },
    ]);
    Atomics.store(holder.ctrl, AGENT_RELEASE, 1);
    Atomics.notify(holder.ctrl, AGENT_RELEASE);
    await until(() => Atomics.load(syncer.ctrl, AGENT_DONE) === 1);
    // The holder announced it was leaving before it unlocked, so before synchronize returned.
    expect(Atomics.load(holder.ctrl, AGENT_LEAVING)).toBe(1);
    await Promise.all([holder.done, syncer.done]);
    expect(rcu.stats().wakeups).toBeGreaterThan(0);
  });

  it('shares one grace period between callers blocked on the same reader', async () => {
    const rcu = Rcu.create({ flavor });
    const holder = agent(rcu, 'hold');
    await until(() => Atomics.load(holder.ctrl, AGENT_INSIDE) === 1);
    const callers = Array.from({ length: 6 }, () => agent(rcu, 'synchronize'));
    await until(() => callers.every((c) => Atomics.load(c.ctrl, AGENT_INSIDE) === 1));
    await new Promise((r) => setTimeout(r, 100)); // let them reach their wait
    const before = rcu.stats().gracePeriods;
    Atomics.store(holder.ctrl, AGENT_RELEASE, 1);
    Atomics.notify(holder.ctrl, AGENT_RELEASE);
    await Promise.all([holder.done, ...callers.map((c) => c.done)]);
    // One grace period already in flight plus one more serves every caller that arrived
    // during it: without sharing, six callers would need six.
    expect(rcu.stats().gracePeriods - before).toBeLessThanOrEqual(3);
  });

  it('keeps many concurrent synchronize callers correct and finished', async () => {
    const rcu = Rcu.create({ flavor });
    const callers = Array.from({ length: 4 }, () => agent(rcu, 'synchronize-many', 300));
    await Promise.all(callers.map((c) => c.done));
    for (const c of callers) expect(Atomics.load(c.ctrl, AGENT_COUNT)).toBe(300);
    const s = rcu.stats();
    expect(s.inProgress).toBe(false);
    expect(s.gracePeriods).toBeGreaterThan(0);
    expect(s.gracePeriods).toBeLessThanOrEqual(4 * 300 * 2);
  });
});
