/**
 * The subscriber role of a stress CPU (`--subscribers N`): instead of operations, it reads the
 * notifier subscriptions dealt to it (stress/notify/subscriptions.ts), in turn, each read
 * checked as it is made (stress/notify/stream-check.ts), until the harness stops it.
 *
 * ## Developer notes
 * It reads a random 1..MAX_READ entries per call, so that fast and slow readers interleave
 * finely, and after one round in 32 it naps up to half a millisecond: a subscriber that lags
 * holds back the ones behind it on its chain, which is what gating must survive, and what
 * gives the gating check an idle subscriber ahead to look at. About every few seconds it stalls
 * for a third of a second or more: the run's queues are deep enough (config.ts) that readers
 * keep up otherwise, and a stall is what overflows them (and those gated behind), so the
 * overflow entries and the checks' accounting of drops are exercised. With nothing to read it waits
 * (`waitNotifications`) on one of its subscriptions for a few milliseconds. It parks in a
 * stutter like an op CPU, so the checker's quiescent checks see every CPU parked.
 */
import type { IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';
import { parkWhilePaused } from '../../src/workers/cpu-loop.js';
import type { CpuTask } from '../../src/workers/cpu-task.js';
import { Prng } from '../../src/workers/prng.js';
import { cpuBase, RUN_STATE, STATE_PAUSE, STATE_STOP } from '../../src/workers/run-layout.js';
import { brokenTwin } from '../broken-twins.js';
import { reportViolation } from '../check/violations.js';
import { type ReaderEnv, StreamReader, type SubscriberApi } from '../notify/stream-check.js';
import { MAX_READ } from '../notify/verify-events.js';
import { SpaceProbe } from '../space-probe.js';
import type { StressCpuPlan } from './cpu-worker.js';

/** How long a subscriber CPU with nothing to read waits on one of its subscriptions. */
const WAIT_MS = 5;
/** One round in this many ends in a stall of STALL_MS .. 2 * STALL_MS (module notes). */
const STALL_ONE_IN = 8192;
const STALL_MS = 300;

/**
 * Read this CPU's subscriptions until the harness stops it.
 *
 * @param task - the run buffer and the plan (role 'subscriber')
 * @param space - this thread's attachment of the space
 *
 * Context: a pool worker thread; blocks for the whole run.
 * @returns how many entries it read
 */
export function runSubscriberCpu(task: CpuTask<StressCpuPlan>, space: IoasidSpace): number {
  const p = task.plan;
  const w = new Int32Array(p.check);
  const rng = new Prng(p.seed, task.cpu);
  const probe = new SpaceProbe(space);
  const twin = brokenTwin(p.broken);
  const api: SubscriberApi = twin?.subscriberDouble
    ? twin.subscriberDouble(space, new Prng(p.seed, 1000 + task.cpu), p.subscriptions)
    : space;
  const env: ReaderEnv = {
    w,
    g: p.checkGeometry,
    subs: p.subscriptions,
    probe,
    report: (kind, _s, id, set, detail, why) =>
      reportViolation(w, { kind, op: null, cpu: task.cpu, id, set, detail, why, foundBy: 'cpu' }),
  };
  // A replacement continues streams its killed predecessor may have read a batch of unchecked.
  const readers = p.subscriptions
    .filter((s) => s.reader === p.reader)
    .map((s) => new StreamReader(env, s, !p.replacement));
  const run = new Int32Array(task.run);
  const base = cpuBase(task.geometry, task.cpu);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  let events = 0;
  // It reads nothing under RCU, and blocks (waits, naps, stalls): offline for the whole loop,
  // so that a qsbr grace period never waits for it (runCpuTask brought it online).
  space.rcu.threadOffline();
  for (;;) {
    const state = Atomics.load(run, RUN_STATE);
    if (state === STATE_STOP) break;
    if (state === STATE_PAUSE || readers.length === 0) {
      if (state === STATE_PAUSE) parkWhilePaused(run, base);
      else Atomics.wait(run, RUN_STATE, state, 50);
      continue;
    }
    let n = 0;
    for (const r of readers) n += r.read(api, 1 + rng.below(MAX_READ));
    events += n;
    if (n === 0) api.waitNotifications(readers[rng.below(readers.length)]!.s.sub, WAIT_MS);
    else if (rng.oneIn(STALL_ONE_IN)) Atomics.wait(nap, 0, 0, STALL_MS + rng.below(STALL_MS));
    else if (rng.oneIn(32)) Atomics.wait(nap, 0, 0, rng.below(500) / 1000);
  }
  space.rcu.threadOnline();
  return events;
}
