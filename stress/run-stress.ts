/**
 * One stress run: create the space and its shared sets, start the CPUs (fleet.ts) and the
 * checker thread, steer them (steering.ts: epochs, stutter, kills), then stop, verify
 * (verify-at-end.ts) and return the report. Never throws for a broken allocator: the
 * report's verdict says it.
 *
 * ```ts
 * const report = await runStress({ ...SCENARIOS.default, scenario: 'default', seed: 1 },
 *   { signal: AbortSignal.timeout(5000) });
 * ```
 *
 * ## Developer notes
 * The main thread only steers, samples and finally verifies; it takes no part in the run, so
 * a hang in the allocator shows up as a CPU that never stops (reported) rather than a frozen
 * harness. Killed CPUs are recovered at once (`releaseThread`), wherever they died; their ids
 * stay live until the end. A run with a broken twin ends as soon as the violation the twin
 * must trip was reported online, and one whose twin is caught online goes on past --seconds
 * until it is (broken-twins.ts `twinRunSeconds`). An aborted run (`signal`: SIGINT and the like) stops the
 * CPUs the ordinary way, verifies, and reports what it saw with `interrupted` set.
 */
import { Worker } from 'node:worker_threads';
import { IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import { Prng } from '../src/workers/prng.js';
import {
  RUN_EPOCH,
  RUN_STATE,
  runWords,
  STATE_PAUSE,
  STATE_RUN,
  STATE_STOP,
  TIMELINE_SLOTS,
} from '../src/workers/run-layout.js';
import { workerModuleUrl } from '../src/workers/worker-url.js';
import { brokenTwin, twinRunSeconds } from './broken-twins.js';
import { checkWords, shadowSetBase } from './check/check-layout.js';
import type { CheckerStats } from './check/checker.js';
import type { CheckerData } from './check/checker-worker.js';
import { VIOLATION_KINDS } from './check/invariants.js';
import { firstViolation, readViolations, wallMs } from './check/violations.js';
import {
  checkConfig,
  geometriesFor,
  KILL_EVERY_MS,
  SCRATCH_QUOTA,
  type StressConfig,
  spaceOptionsFor,
} from './config.js';
import { CustomHost } from './custom-host.js';
import {
  type RunEvent,
  type RunFacts,
  readCpuCounters,
  readSubscriptionFacts,
  type Sample,
  sample,
} from './facts.js';
import { Fleet } from './fleet.js';
import { registerSubscriptions, type Subscription } from './notify/subscriptions.js';
import { buildStressReport, type StressReport } from './report.js';
import { SpaceProbe } from './space-probe.js';
import { steer } from './steering.js';
import { verifyAtEnd } from './verify-at-end.js';

export { checkConfig, type StressConfig, spaceOptionsFor } from './config.js';
export type { RunEvent, RunFacts, Sample } from './facts.js';

/** How a caller follows and ends a run. */
export interface StressHooks {
  /** Called once per progress tick (about 4 per second). */
  onProgress?: ((s: Sample, facts: { kills: number; stutters: number }) => void) | undefined;
  /** Ends the run early, with a partial report; its reason (a signal name) is reported. */
  signal?: AbortSignal | undefined;
}

const MONITOR_MS = 50;
const CHECKER_INTERVAL_MS = 5;
const STOP_TIMEOUT_MS = 30_000;

/**
 * Run one stress scenario.
 *
 * @param config - the scenario, made concrete
 * @param hooks - progress and abort
 *
 * Context: main thread; takes about `config.seconds`, plus the end-of-run verification.
 * @returns the report; throws RangeError only for a configuration checkConfig rejects
 */
export async function runStress(
  config: StressConfig,
  hooks: StressHooks = {},
): Promise<StressReport> {
  const problems = checkConfig(config);
  if (problems.length > 0) throw new RangeError(`bad stress configuration: ${problems.join('; ')}`);
  const twin = brokenTwin(config.broken);
  const g = geometriesFor(config);
  const space = IoasidSpace.create(spaceOptionsFor(config));
  const runBuf = new SharedArrayBuffer(runWords(g.run) * 4);
  const checkBuf = new SharedArrayBuffer(checkWords(g.check) * 4);
  const run = new Int32Array(runBuf);
  const check = new Int32Array(checkBuf);
  const rng = new Prng(config.seed, 7);
  const sets: number[] = [];
  for (let i = 0; i < config.sets; i++) {
    const set = space.setAlloc(null, config.quota, SetType.NULL);
    if (set < 0) throw new Error(`could not create shared set ${i}: ${set}`);
    sets.push(set);
    Atomics.store(check, shadowSetBase(g.check, set) + 1, config.quota);
  }
  // Before any id exists: the subscriptions then get every event of their chains, and the
  // custom group (the harness's own member keeps it registered) may become active.
  const subscriptions: Subscription[] =
    config.subscribers > 0 ? registerSubscriptions(space, sets, config.subscribers) : [];
  // Mailboxes 0 .. cpus - 1 are the CPUs', the last one the harness's (custom-host.ts).
  const host = config.customAllocator
    ? CustomHost.create(config.pasidBits, config.cpus + 1)
    : undefined;
  const hypervisor = host && startHypervisor(host);
  const hostOps = host?.ops(config.cpus);
  if (hostOps) {
    const r = space.registerAllocator(hostOps);
    if (r !== 0) throw new Error(`registerAllocator of the custom host returned ${r}`);
  }
  const freeRecords0 = space.stats().freeRecords;
  // qsbr: this thread awaits from here on; offline until the end-of-run verification.
  space.rcu.threadOffline();
  const epochMs = Math.max(100, Math.ceil((config.seconds * 1000) / TIMELINE_SLOTS));
  const probe = new SpaceProbe(space);
  const firstReader = config.cpus - config.subscribers;
  const fleet = new Fleet(space, probe, runBuf, checkBuf, g.run, (cpu, generation) => ({
    seed: (config.seed + generation * 7919) | 0,
    generation,
    mix: config.mix,
    sets,
    idMin: 1,
    idMax: 2 ** config.pasidBits - 1,
    maxSets: g.check.maxSets,
    maxHeld: config.maxHeld,
    scratchQuota: SCRATCH_QUOTA,
    getterSleepOneIn: 256,
    check: checkBuf,
    checkGeometry: g.check,
    broken: config.broken,
    role: cpu >= firstReader ? 'subscriber' : 'ops',
    subscriptions,
    reader: cpu - firstReader,
    // The first tasks take generations 0 .. cpus - 1 (fleet.ts startAll).
    replacement: generation >= config.cpus,
    customHost: host?.buffer,
  }));
  const checkerData: CheckerData = {
    space: space.handle,
    run: runBuf,
    runGeometry: g.run,
    check: checkBuf,
    checkGeometry: g.check,
    intervalMs: CHECKER_INTERVAL_MS,
    runningCpus: fleet.running.buffer,
  };
  const checkerWorker = new Worker(workerModuleUrl(import.meta.url, './check/checker-worker.js'), {
    workerData: checkerData,
  });
  const checkerDone = new Promise<CheckerStats | undefined>((resolve) => {
    checkerWorker.once('message', resolve);
    checkerWorker.once('error', () => resolve(undefined));
    checkerWorker.once('exit', () => resolve(undefined));
  });

  Atomics.store(run, RUN_STATE, STATE_RUN);
  fleet.startAll();
  // The run's clock starts once every CPU works (fleet.ts `started`).
  await fleet.started(hooks.signal);
  const startWallMs = wallMs();
  const samples: Sample[] = [];
  /** When each epoch ended (seconds since the start): a late wake-up makes one longer. */
  const epochEnds: number[] = [];
  const events: RunEvent[] = [];
  const tripKind = twin ? VIOLATION_KINDS.indexOf(twin.trips) : -1;
  let stutterCount = 0;
  const steered = await steer({
    seconds: twinRunSeconds(twin, config.seconds),
    monitorMs: MONITOR_MS,
    signal: hooks.signal,
    every: [
      {
        periodMs: epochMs,
        run(t) {
          Atomics.add(run, RUN_EPOCH, 1);
          epochEnds.push(t);
          samples.push(sample(run, check, g.run, space, t));
        },
      },
      {
        periodMs: 250,
        run(t) {
          hooks.onProgress?.(sample(run, check, g.run, space, t), {
            kills: fleet.deaths.kills,
            stutters: stutterCount,
          });
        },
      },
    ],
    stutter: config.faults.includes('stutter')
      ? {
          firstAfterMs: 1500,
          nextAfterMs: () => 1500 + rng.below(1000),
          lengthMs: () => 200 + rng.below(200),
          minLeftMs: 400,
          pause(t) {
            Atomics.store(run, RUN_STATE, STATE_PAUSE);
            events.push({ t, kind: 'stutter' });
            stutterCount++;
          },
          resume(t) {
            Atomics.store(run, RUN_STATE, STATE_RUN);
            Atomics.notify(run, RUN_STATE);
            const last = events.findLast((e) => e.kind === 'stutter');
            if (last) last.until = t;
          },
        }
      : undefined,
    kill: config.faults.includes('kill-cpu')
      ? {
          firstAfterMs: KILL_EVERY_MS + rng.below(600),
          nextAfterMs: () => KILL_EVERY_MS + rng.below(800),
          minLeftMs: 500,
          // Made whatever the load: the first kill (an op CPU's) and, with subscriber CPUs,
          // the second (a subscriber's), so such a run always kills both kinds.
          atLeast: config.subscribers > 0 ? 2 : 1,
          async kill(t) {
            // With subscriber CPUs, every third kill (the second first) is one of them.
            const reader = config.subscribers > 0 && fleet.deaths.kills % 3 === 1;
            const cpu = reader
              ? firstReader + rng.below(config.subscribers)
              : rng.below(firstReader);
            const e = await fleet.kill(cpu, rng, t);
            if (e) events.push(e);
            return e !== undefined;
          },
        }
      : undefined,
    stopWhen: () =>
      fleet.problems.length > 0 || (tripKind >= 0 && readViolations(check)[tripKind]!.count > 0),
  });
  const elapsedSeconds = steered.elapsedSeconds;
  samples.push(sample(run, check, g.run, space, elapsedSeconds));
  // The last timeline slot also takes whatever comes after it: it is never complete.
  epochEnds.length = Math.min(epochEnds.length, TIMELINE_SLOTS - 1);

  // Stop: CPUs give back what they hold and return; then the checker's final pass.
  Atomics.store(run, RUN_STATE, STATE_STOP);
  Atomics.notify(run, RUN_STATE);
  const stopped = await fleet.stopped(STOP_TIMEOUT_MS);
  const checkerStats = await checkerDone;
  await checkerWorker.terminate();

  space.rcu.threadOnline();
  const recoveredIds = stopped
    ? verifyAtEnd({
        space,
        probe,
        run: runBuf,
        runGeometry: g.run,
        check,
        checkGeometry: g.check,
        sets,
        freeRecords0,
        deaths: fleet.deaths,
        problems: fleet.problems,
        subscriptions,
        host: host && hostOps && { host, ops: hostOps },
      })
    : 0;
  await hypervisor?.stop();
  const violations = readViolations(check);
  const facts: RunFacts = {
    config,
    events,
    elapsedSeconds,
    epochMs,
    epochEnds,
    samples,
    ...readCpuCounters(run, g.run, epochEnds.length),
    violations,
    firstViolation: firstViolation(violations),
    startWallMs,
    checker: checkerStats,
    gracePeriods: space.rcu.completedGracePeriods(),
    rcuStalls: space.rcu.stats().stalls,
    kills: fleet.deaths.kills,
    killSites: fleet.killSites,
    stutters: steered.stutters,
    recoveredIds,
    deadHeldBound: fleet.deaths.heldBound,
    problems: fleet.problems,
    spaceStats: space.stats(),
    // The space's byteLength counts its RCU buffer already.
    byteLength: space.byteLength,
    interrupted: steered.interrupted,
    subscriptions: readSubscriptionFacts(check, g.check, subscriptions, firstReader),
    hostRequests: host?.served() ?? 0,
  };
  await fleet.destroy();
  return buildStressReport(facts);
}

/**
 * Start the hypervisor thread of a custom host (stress/custom-host-worker.ts).
 *
 * @param host - the host whose mailboxes it answers
 *
 * Context: main thread, before any member calls.
 * @returns how to stop it (after the last member's last call); until then it does not keep
 *   the process alive by itself (a run that throws leaves no thread behind to wait for)
 */
function startHypervisor(host: CustomHost): { stop(): Promise<void> } {
  const worker = new Worker(workerModuleUrl(import.meta.url, './custom-host-worker.js'), {
    workerData: host.buffer,
  });
  worker.unref();
  const exited = new Promise<void>((resolve) => {
    worker.once('error', () => resolve());
    worker.once('exit', () => resolve());
  });
  return {
    async stop() {
      worker.ref(); // the process waits for its exit now
      host.stop();
      await exited;
    },
  };
}
