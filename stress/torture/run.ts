/**
 * The RCU torture run: writers, readers and fake writers in real worker_threads hammer one
 * Rcu while the harness injects faults (stutter, kills of readers mid-section and of fake
 * writers while they lead a grace period, oversubscription), then
 * reads the histograms and decides SUCCESS or FAILURE, as the kernel's rcutorture does.
 *
 * ## Developer notes
 * The main thread only steers and watches: it never takes part in grace periods, so a
 * stuck grace period shows up as a writer stall instead of hanging the harness. Readers are
 * started one by one, reader 0 first, so that reader 0 owns RCU slot 0: the 'ignore-reader'
 * broken mode ignores slot 0 and must be caught through reader 0's histograms.
 */
import { Worker } from 'node:worker_threads';
import { Rcu, type RcuFaultMode, type RcuFlavor } from '../../src/core/rcu/rcu.js';
import { Prng } from '../../src/workers/prng.js';
import { untilStarted } from '../../src/workers/start-wait.js';
import { workerModuleUrl } from '../../src/workers/worker-url.js';
import { type Environment, environment } from '../environment.js';
import { steer } from '../steering.js';
import { withTimeout } from '../timers.js';
import {
  CTRL_PAUSE,
  CTRL_STOP,
  F_OPS,
  F_SLOT,
  fakeBase,
  HIST,
  R_BATCH,
  R_COOKIE_ERR,
  R_GENERR,
  R_MBERR,
  R_NESTED,
  R_PIPE,
  R_READS,
  R_SLEEPS,
  R_SLOT,
  readerBase,
  type TortureGeometry,
  tortureWords,
  W_CIRC,
  W_COOKIE_ERR,
  W_COOKIE_WAIT_ERR,
  W_CURRENT,
  W_METHOD,
  W_TFLE,
  W_VERSION,
  WAIT_METHODS,
  writerBase,
} from './torture-layout.js';
import type { TortureRole, TortureWorkerData } from './worker.js';

/** Deliberately broken variants; a run with one of them must end in FAILURE. */
export const BROKEN_MODES = [
  'skip-gp',
  'skip-nth',
  'ignore-reader',
  'lose-snapshot',
  'early-qs',
  'short-wait',
  'early-recycle',
] as const;

/**
 * Why `broken` cannot run with `flavor`, or undefined when it can: 'early-qs' breaks the qsbr
 * flavor's quiescent-state announcements, which the other flavors do not have.
 */
export function brokenModeProblem(
  broken: BrokenMode | null,
  flavor: RcuFlavor,
): string | undefined {
  if (broken === 'early-qs' && flavor !== 'qsbr')
    return "--broken early-qs breaks the qsbr flavor's quiescent states: use it with --flavor qsbr";
  return undefined;
}
export type BrokenMode = (typeof BROKEN_MODES)[number];

export interface TortureConfig {
  seconds: number;
  readers: number;
  writers: number;
  fakeWriters: number;
  seed: number;
  broken: BrokenMode | null;
  /** The RCU flavor under test. */
  flavor: RcuFlavor;
  /** Kill a random reader (trying to catch it mid-section) this often; 0 = never. */
  killEveryMs: number;
  /** Kills made however loaded the machine is (after the run's time if need be). */
  minKills: number;
  /**
   * Grace periods the run completes however loaded the machine is: it goes on past its time
   * (at most `maxExtraSeconds`) until this many completed.
   */
  minGracePeriods: number;
  /**
   * Records the writers publish however loaded the machine is: like `minGracePeriods`, the
   * run goes on past its time until this many were published. A broken twin is caught by a
   * reader overlapping a write, so its runs are bounded by writes, not by time (8 writes in
   * 8 s at load 30 missed 'early-recycle').
   */
  minWrites: number;
  /**
   * How long past its time the run may go on for work still owed (`minGracePeriods`,
   * `minWrites`); null = its time again. A run that ends owing work fails with a "too little
   * work" line, never passes.
   */
  maxExtraSeconds: number | null;
  /** Pause every thread this often, for stutterForMs; 0 = never. */
  stutterEveryMs: number;
  stutterForMs: number;
  /** A writer that publishes nothing for this long (outside stutter) is a stall. */
  writerStallMs: number;
  /** For skip-nth: skip every Nth grace period. */
  skipNth: number;
  /** Progress lines (one a second); none if absent. */
  onProgress?: ((line: string) => void) | undefined;
  /** Ends the run early, with a partial report; its reason (a signal name) is reported. */
  signal?: AbortSignal | undefined;
}

export const TORTURE_DEFAULTS: Readonly<Omit<TortureConfig, 'seed' | 'onProgress' | 'signal'>> =
  Object.freeze({
    seconds: 10,
    readers: 4,
    writers: 1,
    fakeWriters: 2,
    broken: null,
    flavor: 'marks',
    killEveryMs: 1000,
    minKills: 1,
    minGracePeriods: 0,
    minWrites: 0,
    maxExtraSeconds: null,
    stutterEveryMs: 4000,
    stutterForMs: 300,
    writerStallMs: 5000,
    skipNth: 8,
  });

/** The torture report's schema version (fields are only added within a version). */
export const TORTURE_REPORT_SCHEMA_VERSION = 1;

export interface TortureReport {
  schemaVersion: typeof TORTURE_REPORT_SCHEMA_VERSION;
  environment: Environment;
  config: Omit<TortureConfig, 'onProgress' | 'signal'>;
  verdict: 'SUCCESS' | 'FAILURE';
  /** Set when a signal (or an abort) ended the run early: the report covers what ran. */
  interrupted: { signal: string; atSeconds: number } | null;
  /** Why it failed (empty on success). */
  failures: string[];
  /**
   * Set when the run ended (at its safety cap) owing work it was asked for, with nothing else
   * wrong: it failed because it cannot be judged. A broken twin's run with this set was not
   * caught.
   */
  workShortfall: string | null;
  readerPipe: number[];
  readerBatch: number[];
  freeBlockCirculation: number[];
  reads: number;
  writes: number;
  gracePeriods: number;
  gracePeriodsPerSecond: number;
  waitsByMethod: Record<(typeof WAIT_METHODS)[number], number>;
  fakeWriterOps: number;
  mbErrors: number;
  generationErrors: number;
  cookieErrors: number;
  /**
   * The same, by check: a grace period that began after a reader entered ended while it was
   * inside (readers); a cookie taken inside the writer's own section was satisfied there; a
   * cookie from before a wait was not satisfied after it returned (writers).
   */
  cookieErrorsByCheck: {
    endedInsideReader: number;
    satisfiedInsideWriter: number;
    unsatisfiedAfterWait: number;
  };
  freeListEmpty: number;
  nestedSections: number;
  sleepsInSection: number;
  kills: number;
  killsInSection: number;
  /** Fake writers killed while holding GP_LOCK: their grace period is resumed by others. */
  killsLeading: number;
  stutters: number;
  writerStalls: number;
  rcuStalls: number;
  rcuSleeps: number;
  elapsedSeconds: number;
}

const WORKER_URL = workerModuleUrl(import.meta.url, './worker.js');
const MONITOR_MS = 100;

/** Run one torture test to completion and report it. Never throws for a failing RCU. */
export async function runTorture(config: TortureConfig): Promise<TortureReport> {
  const g: TortureGeometry = {
    writers: config.writers,
    readers: config.readers,
    fakeWriters: config.fakeWriters,
  };
  const faultMode: RcuFaultMode | null =
    config.broken === 'early-recycle' || config.broken === null ? null : config.broken;
  const rcu = Rcu.create(
    {
      maxThreads: g.readers + g.writers + g.fakeWriters + 4,
      stallMs: 2000,
      flavor: config.flavor,
      fault: faultMode
        ? { mode: faultMode, arg: faultMode === 'skip-nth' ? config.skipNth : 0 }
        : undefined,
    },
    { onStall: () => {} },
  );
  const buffer = new SharedArrayBuffer(tortureWords(g) * 4);
  const words = new Int32Array(buffer);
  for (let w = 0; w < g.writers; w++) Atomics.store(words, writerBase(w) + W_CURRENT, -1);
  const rng = new Prng(config.seed, 1);
  const failures: string[] = [];
  const live = new Map<string, Worker>();
  const exits: Promise<void>[] = [];
  let kills = 0;
  let killsInSection = 0;
  let killsLeading = 0;
  let stopping = false;

  /** Workers that said they run (their ready message), by key. */
  const ready = new Set<Worker>();
  /** Workers that crashed or exited (before or after they said they run). */
  const gone = new Set<Worker>();
  const spawn = (role: TortureRole, index: number, generation: number): Worker => {
    const wd: TortureWorkerData = {
      role,
      index,
      seed: (config.seed + generation * 7919) | 0,
      rcu: rcu.handle,
      buffer,
      geometry: g,
      earlyRecycle: config.broken === 'early-recycle',
    };
    const worker = new Worker(WORKER_URL, { workerData: wd });
    const key = `${role}#${index}`;
    live.set(key, worker);
    worker.on('error', (err) => {
      gone.add(worker);
      failures.push(`${key} crashed: ${err.message}`);
    });
    exits.push(
      new Promise((resolve) =>
        worker.on('exit', () => {
          gone.add(worker);
          if (live.get(key) === worker) live.delete(key);
          resolve();
        }),
      ),
    );
    worker.once('message', () => ready.add(worker));
    return worker;
  };
  /** Wait until `workers` run (start-wait.ts); one that never starts fails the run. */
  const started = async (...workers: Worker[]): Promise<void> => {
    const problem = await untilStarted({
      count: workers.length,
      started: (i) => ready.has(workers[i]!),
      // One of them died first (its crash is in `failures`; a bare exit is the stop's).
      failed: () => workers.some((w) => gone.has(w)),
      signal: config.signal,
      name: (i) => `torture thread ${workers[i]!.threadId}`,
    });
    if (problem) failures.push(problem);
  };

  /**
   * Kill a reader, preferably inside a read-side section, or (one kill in three) a fake
   * writer, preferably while it holds GP_LOCK mid-grace-period; release its slot (which also
   * frees a GP_LOCK it held, so another thread resumes its grace period); replace it.
   */
  const killOne = async (): Promise<boolean> => {
    const role = g.fakeWriters > 0 && rng.below(3) === 0 ? 'fake-writer' : 'reader';
    const index = rng.below(role === 'reader' ? g.readers : g.fakeWriters);
    const victim = live.get(`${role}#${index}`);
    // Not yet running: its slot word still names its predecessor's slot.
    if (!victim || !ready.has(victim)) return false;
    const slot =
      role === 'reader'
        ? Atomics.load(words, readerBase(g, index) + R_SLOT)
        : Atomics.load(words, fakeBase(g, index) + F_SLOT);
    // Read before the kill: an exited Worker's threadId is -1.
    const victimThreadId = victim.threadId;
    const inPosition =
      role === 'reader'
        ? () => slotInSection(rcu, slot)
        : () => rcu.stats().leaderThreadId === victimThreadId;
    const deadline = performance.now() + 20;
    while (performance.now() < deadline && !inPosition());
    const exited = new Promise((resolve) => victim.once('exit', resolve));
    await victim.terminate();
    await exited;
    kills++;
    if (role === 'reader' && slotInSection(rcu, slot)) killsInSection++;
    if (role === 'fake-writer' && rcu.stats().leaderThreadId === victimThreadId) killsLeading++;
    rcu.releaseSlot(slot);
    if (!stopping) await started(spawn(role, index, kills));
    return true;
  };

  // Reader 0 first so that it owns slot 0 (see Developer notes); the rest in parallel. The
  // run's clock (steer) starts once they all run.
  await started(spawn('reader', 0, 0));
  const starts: Worker[] = [];
  for (let r = 1; r < g.readers; r++) starts.push(spawn('reader', r, 0));
  for (let w = 0; w < g.writers; w++) starts.push(spawn('writer', w, 0));
  for (let f = 0; f < g.fakeWriters; f++) starts.push(spawn('fake-writer', f, 0));
  await started(...starts);

  let writerStalls = 0;
  const lastVersion = new Array<number>(g.writers).fill(-1);
  const lastChange = new Array<number>(g.writers).fill(performance.now());
  const stalled = new Array<boolean>(g.writers).fill(false);
  const steered = await steer({
    seconds: config.seconds,
    monitorMs: MONITOR_MS,
    signal: config.signal,
    every: config.onProgress
      ? [
          {
            periodMs: 1000,
            run: (t) => config.onProgress?.(progressLine(words, g, rcu, t)),
          },
        ]
      : [],
    stutter:
      config.stutterEveryMs > 0
        ? {
            firstAfterMs: config.stutterEveryMs,
            nextAfterMs: () => config.stutterEveryMs,
            lengthMs: () => config.stutterForMs,
            minLeftMs: config.stutterForMs,
            pause: () => Atomics.store(words, CTRL_PAUSE, 1),
            resume() {
              Atomics.store(words, CTRL_PAUSE, 0);
              Atomics.notify(words, CTRL_PAUSE);
              lastChange.fill(performance.now());
            },
          }
        : undefined,
    kill:
      config.killEveryMs > 0
        ? {
            firstAfterMs: config.killEveryMs,
            nextAfterMs: () => config.killEveryMs,
            minLeftMs: 0,
            atLeast: config.minKills,
            kill: killOne,
          }
        : undefined,
    tick(now, stuttering) {
      if (stuttering) return;
      for (let w = 0; w < g.writers; w++) {
        const v = Atomics.load(words, writerBase(w) + W_VERSION);
        if (v !== lastVersion[w]) {
          lastVersion[w] = v;
          lastChange[w] = now;
        } else if (!stalled[w] && now - lastChange[w]! > config.writerStallMs) {
          stalled[w] = true;
          writerStalls++;
          failures.push(`writer ${w} stalled: no record published for ${config.writerStallMs} ms`);
        }
      }
    },
    // Stop early once a reader or a writer check has seen a broken grace period: the verdict
    // cannot change.
    stopWhen: () => failures.length > 0 || checksSawBreakage(words, g),
    extendWhile: () => workOwed(words, g, rcu, config) !== null,
    maxExtraSeconds: config.maxExtraSeconds ?? config.seconds,
  });

  stopping = true;
  const { elapsedSeconds, stutters, interrupted } = steered;
  Atomics.store(words, CTRL_PAUSE, 0);
  Atomics.store(words, CTRL_STOP, 1);
  Atomics.notify(words, CTRL_PAUSE);
  const stopped = await withTimeout(Promise.all(exits), 15_000);
  if (!stopped) {
    failures.push(`threads did not stop within 15 s: ${[...live.keys()].join(', ')}`);
    await Promise.all([...live.values()].map((w) => w.terminate()));
  }
  // Owed work is judged only when nothing else decided the run: a caught breakage stops it
  // early on purpose, and an interrupted run is partial anyway.
  const owed = workOwed(words, g, rcu, config);
  const workShortfall =
    owed !== null && !interrupted && failures.length === 0 && !checksSawBreakage(words, g)
      ? `too little work: ${owed} after ${elapsedSeconds.toFixed(1)} s (a loaded machine? the safety cap is ${config.maxExtraSeconds ?? config.seconds} s past the run's time)`
      : null;
  if (workShortfall) failures.push(workShortfall);
  return buildReport(config, words, g, rcu, failures, interrupted, workShortfall, {
    kills,
    killsInSection,
    killsLeading,
    stutters,
    writerStalls,
    elapsedSeconds,
  });
}

/** What the run still owes of the work it was asked for ("N of M writes"), or null. */
function workOwed(
  words: Int32Array,
  g: TortureGeometry,
  rcu: Rcu,
  config: TortureConfig,
): string | null {
  const owed: string[] = [];
  const gps = rcu.stats().gracePeriods;
  if (gps < config.minGracePeriods) owed.push(`${gps} of ${config.minGracePeriods} grace periods`);
  const writes = totalWrites(words, g);
  if (writes < config.minWrites) owed.push(`${writes} of ${config.minWrites} writes`);
  return owed.length > 0 ? owed.join(', ') : null;
}

function totalWrites(words: Int32Array, g: TortureGeometry): number {
  return sumOver(
    words,
    Array.from({ length: g.writers }, (_, w) => writerBase(w)),
    W_VERSION,
  );
}

/** A reader's check, or a writer's cookie check, counted an error. */
function checksSawBreakage(words: Int32Array, g: TortureGeometry): boolean {
  const readers = Array.from({ length: g.readers }, (_, r) => readerBase(g, r));
  const writers = Array.from({ length: g.writers }, (_, w) => writerBase(w));
  const late = (offset: number): number =>
    histogram(words, readers, offset)
      .slice(2)
      .reduce((a, b) => a + b, 0);
  return (
    late(R_PIPE) + late(R_BATCH) > 0 ||
    sumOver(words, readers, R_MBERR) +
      sumOver(words, readers, R_GENERR) +
      sumOver(words, readers, R_COOKIE_ERR) +
      sumOver(words, writers, W_COOKIE_ERR) +
      sumOver(words, writers, W_COOKIE_WAIT_ERR) >
      0
  );
}

function withoutHooks(config: TortureConfig): Omit<TortureConfig, 'onProgress' | 'signal'> {
  const { onProgress: _, signal: __, ...rest } = config;
  return rest;
}

function slotInSection(rcu: Rcu, slot: number): boolean {
  return rcu.stats().slots.find((s) => s.slot === slot)?.inSection ?? false;
}

function sumOver(words: Int32Array, bases: number[], offset: number): number {
  let s = 0;
  for (const b of bases) s += Atomics.load(words, b + offset);
  return s;
}

function histogram(words: Int32Array, bases: number[], offset: number): number[] {
  return Array.from({ length: HIST }, (_, i) => sumOver(words, bases, offset + i));
}

function progressLine(words: Int32Array, g: TortureGeometry, rcu: Rcu, t: number): string {
  const readers = Array.from({ length: g.readers }, (_, r) => readerBase(g, r));
  const writers = Array.from({ length: g.writers }, (_, w) => writerBase(w));
  const pipe = histogram(words, readers, R_PIPE);
  return (
    `t=${t.toFixed(1)}s reads=${sumOver(words, readers, R_READS)} ` +
    `writes=${sumOver(words, writers, W_VERSION)} gps=${rcu.completedGracePeriods()} ` +
    `pipe=[${pipe.join(' ')}]`
  );
}

function buildReport(
  config: TortureConfig,
  words: Int32Array,
  g: TortureGeometry,
  rcu: Rcu,
  failures: string[],
  interrupted: string | undefined,
  workShortfall: string | null,
  run: Pick<
    TortureReport,
    'kills' | 'killsInSection' | 'killsLeading' | 'stutters' | 'writerStalls' | 'elapsedSeconds'
  >,
): TortureReport {
  const readers = Array.from({ length: g.readers }, (_, r) => readerBase(g, r));
  const writers = Array.from({ length: g.writers }, (_, w) => writerBase(w));
  const fakes = Array.from({ length: g.fakeWriters }, (_, f) => fakeBase(g, f));
  const readerPipe = histogram(words, readers, R_PIPE);
  const readerBatch = histogram(words, readers, R_BATCH);
  const stats = rcu.stats();
  const waitsByMethod = Object.fromEntries(
    WAIT_METHODS.map((m, i) => [m, sumOver(words, writers, W_METHOD + i)]),
  ) as TortureReport['waitsByMethod'];
  const report: TortureReport = {
    schemaVersion: TORTURE_REPORT_SCHEMA_VERSION,
    environment: environment(),
    config: withoutHooks(config),
    verdict: 'SUCCESS',
    interrupted: interrupted
      ? { signal: interrupted, atSeconds: Math.round(run.elapsedSeconds * 1000) / 1000 }
      : null,
    failures: [...failures],
    workShortfall,
    readerPipe,
    readerBatch,
    freeBlockCirculation: histogram(words, writers, W_CIRC),
    reads: sumOver(words, readers, R_READS),
    writes: totalWrites(words, g),
    gracePeriods: stats.gracePeriods,
    gracePeriodsPerSecond: Math.round(stats.gracePeriods / run.elapsedSeconds),
    waitsByMethod,
    fakeWriterOps: sumOver(words, fakes, F_OPS),
    mbErrors: sumOver(words, readers, R_MBERR),
    generationErrors: sumOver(words, readers, R_GENERR),
    cookieErrors:
      sumOver(words, readers, R_COOKIE_ERR) +
      sumOver(words, writers, W_COOKIE_ERR) +
      sumOver(words, writers, W_COOKIE_WAIT_ERR),
    cookieErrorsByCheck: {
      endedInsideReader: sumOver(words, readers, R_COOKIE_ERR),
      satisfiedInsideWriter: sumOver(words, writers, W_COOKIE_ERR),
      unsatisfiedAfterWait: sumOver(words, writers, W_COOKIE_WAIT_ERR),
    },
    freeListEmpty: sumOver(words, writers, W_TFLE),
    nestedSections: sumOver(words, readers, R_NESTED),
    sleepsInSection: sumOver(words, readers, R_SLEEPS),
    rcuStalls: stats.stalls,
    rcuSleeps: stats.sleeps,
    ...run,
  };
  const f = report.failures;
  const late = (h: number[]): number => h.slice(2).reduce((a, b) => a + b, 0);
  if (late(readerPipe) > 0)
    f.push(`Reader Pipe has ${late(readerPipe)} reads at age >= 2: too-short grace period`);
  if (late(readerBatch) > 0)
    f.push(`Reader Batch has ${late(readerBatch)} reads spanning >= 2 grace periods`);
  if (report.mbErrors > 0) f.push(`${report.mbErrors} reads of a poisoned (freed) record`);
  if (report.generationErrors > 0)
    f.push(`${report.generationErrors} records recycled or torn under a reader`);
  if (report.cookieErrors > 0) {
    const by = report.cookieErrorsByCheck;
    const which = [
      [by.endedInsideReader, 'a grace period ended inside a reader'],
      [by.satisfiedInsideWriter, "satisfied inside the writer's own section"],
      [by.unsatisfiedAfterWait, 'not satisfied after a wait'],
    ]
      .filter(([n]) => (n as number) > 0)
      .map(([n, what]) => `${what}: ${n}`)
      .join('; ');
    f.push(`${report.cookieErrors} grace-period cookie checks failed (${which})`);
  }
  if ((report.reads === 0 || report.gracePeriods === 0 || report.writes === 0) && !interrupted)
    f.push('no progress: a run that reads or writes nothing proves nothing');
  report.verdict = f.length === 0 ? 'SUCCESS' : 'FAILURE';
  return report;
}

/** The report as rcutorture-style text lines. */
export function formatTortureReport(r: TortureReport): string {
  const c = r.config;
  const lines = [
    `ioasid RCU torture: ${r.elapsedSeconds.toFixed(1)} s, readers=${c.readers} writers=${c.writers} ` +
      `fake-writers=${c.fakeWriters} flavor=${c.flavor} broken=${c.broken ?? 'none'} seed=${c.seed}`,
    `Reader Pipe:  ${r.readerPipe.join(' ')}`,
    `Reader Batch: ${r.readerBatch.join(' ')}`,
    `Free-Block Circulation: ${r.freeBlockCirculation.join(' ')}`,
    `reads=${r.reads} writes=${r.writes} gps=${r.gracePeriods} (${r.gracePeriodsPerSecond}/s) ` +
      `waits=${Object.entries(r.waitsByMethod)
        .map(([k, v]) => `${k}:${v}`)
        .join(',')} fake-writer-ops=${r.fakeWriterOps}`,
    `rtmbe=${r.mbErrors} generr=${r.generationErrors} cookie=${r.cookieErrors} tfle=${r.freeListEmpty} ` +
      `nested=${r.nestedSections} sleeps-in-section=${r.sleepsInSection} kills=${r.kills} ` +
      `(in-section ${r.killsInSection}, leading ${r.killsLeading}) stutters=${r.stutters} writer-stalls=${r.writerStalls} ` +
      `rcu-stalls=${r.rcuStalls} gp-sleeps=${r.rcuSleeps}`,
  ];
  for (const f of r.failures) lines.push(`!!! ${f}`);
  if (r.interrupted)
    lines.push(
      `INTERRUPTED by ${r.interrupted.signal} after ${r.interrupted.atSeconds.toFixed(1)} s: a partial run (replay with --seed ${c.seed})`,
    );
  lines.push(
    `VERDICT: ${r.verdict}${r.interrupted ? ` (interrupted by ${r.interrupted.signal}: a partial run)` : ''}`,
  );
  return lines.join('\n');
}
