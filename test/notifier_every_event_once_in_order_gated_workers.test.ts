/**
 * Real worker threads: 4 subscribers on one set's chain at the four priorities (registered in
 * shuffled order) plus one on the global chain, each reading in its own thread (the CPU one
 * slowly), while 3 emitter threads alloc, bind, unbind, free and put ids of that set and of
 * another. Every subscriber gets every event of its chains exactly once, in seq order, never
 * before the subscribers ahead of it; a FREE has one seq on both chains; each emitter's events
 * keep its program order. Broken twins: a space without gating (fault `notify-no-gating`) is
 * caught as `gating`; corrupted streams are caught as `missing`, `duplicate`, `order`,
 * `foreign`, `seq-mismatch` and `program-order`.
 */
import { describe, expect, it } from 'vitest';
import {
  type IoasidFault,
  IoasidSpace,
  NotifierPriority,
  SetType,
} from '../src/core/ioasid/ioasid-space.js';
import { testSeed } from './helpers/seed.js';
import { exited, startTestWorker, until } from './helpers/workers.js';
import {
  CTL_READ0,
  CTL_STOP,
  checkStreams,
  type EmitterData,
  type Expected,
  type Read,
  type SubscriberData,
  type SubscriberSpec,
} from './workers/notifier-streams.js';

const FILE = 'test/notifier_every_event_once_in_order_gated_workers.test.ts';
const EMITTERS = 3;
const ITERATIONS = 300;

interface RunResult {
  emitted: Expected[][];
  specs: SubscriberSpec[];
  reads: Read[][];
  stats: ReturnType<IoasidSpace['stats']>;
}

function collect<T>(worker: ReturnType<typeof startTestWorker>): Promise<T> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

async function runOnce(seed: number, fault?: IoasidFault): Promise<RunResult> {
  const space = IoasidSpace.create({
    pasidBits: 12,
    maxSets: 4,
    maxIoasids: 2048,
    maxThreads: 16,
    maxSubscribers: 8,
    notifyQueueDepth: 4096,
    fault,
  });
  const watched = space.setAlloc(null, 1000, SetType.NULL);
  const other = space.setAlloc(null, 1000, SetType.NULL);
  // Registration order differs from priority order (LAST first, CPU last).
  const prios = [
    NotifierPriority.LAST,
    NotifierPriority.DEVICE,
    NotifierPriority.IOMMU,
    NotifierPriority.CPU,
  ];
  const specs: SubscriberSpec[] = [];
  const subs: number[] = [];
  for (const prio of prios) {
    subs.push(space.registerNotifier(watched, prio));
    specs.push({ chain: watched, prio, order: specs.length });
  }
  subs.push(space.registerNotifier(null, NotifierPriority.IOMMU));
  specs.push({ chain: 'global', prio: NotifierPriority.IOMMU, order: specs.length });
  expect(subs.every((s) => s >= 0)).toBe(true);

  const control = new SharedArrayBuffer(64);
  const ctl = new Int32Array(control);
  const readers = subs.map((sub, index) =>
    startTestWorker('notifier-subscriber', {
      handle: space.handle,
      control,
      index,
      sub,
      seed,
      pauseMs: specs[index]!.prio === NotifierPriority.CPU ? 2 : 0,
    } satisfies SubscriberData),
  );
  const readsP = readers.map((w) => collect<Read[]>(w));
  const readersExit = readers.map(exited);
  const emitters = Array.from({ length: EMITTERS }, (_, worker) =>
    startTestWorker('notifier-emitter', {
      handle: space.handle,
      control,
      worker,
      seed,
      iterations: ITERATIONS,
      sets: [watched, other],
      maxId: space.maxId,
    } satisfies EmitterData),
  );
  const emittersExit = emitters.map(exited);
  const emitted = await Promise.all(emitters.map((w) => collect<Expected[]>(w)));
  await Promise.all(emittersExit);
  // Wait (on the event loop) until each subscriber read what its chain was owed, then stop.
  const owed = specs.map(
    (s) =>
      emitted.flat().filter((e) => (s.chain === 'global' ? e.event === 2 : e.set === s.chain))
        .length,
  );
  await until(() => owed.every((n, k) => Atomics.load(ctl, CTL_READ0 + k) >= n), 60_000).catch(
    () => undefined, // the checker reports what is missing
  );
  Atomics.store(ctl, CTL_STOP, 1);
  const reads = await Promise.all(readsP);
  await Promise.all(readersExit);
  const stats = space.stats();
  for (const sub of subs) expect(space.unregisterNotifier(sub)).toBe(0);
  space.detach();
  return { emitted, specs, reads, stats };
}

describe('notifier streams across threads', () => {
  it('4 priorities + global: every event once, in seq order, gated, one seq per FREE', async () => {
    const seed = testSeed(FILE);
    const r = await runOnce(seed);
    const v = checkStreams(r.emitted, r.specs, r.reads);
    expect(v.slice(0, 10)).toEqual([]);
    expect(r.stats.notifierLost).toBe(0);
    // The run did what it claims: events of every kind reached every subscriber of the set.
    for (const k of [0, 1, 2, 3])
      for (const ev of [1, 2, 3, 4]) expect(r.reads[k]!.some((x) => x.event === ev)).toBe(true);
    expect(r.reads[4]!.length).toBeGreaterThan(0);

    // Broken twins of the stream checks, on this run's own data.
    const names = (reads: Read[][], emitted = r.emitted) =>
      new Set(checkStreams(emitted, r.specs, reads).map((x) => x.name));
    const copy = () => r.reads.map((rs) => rs.map((x) => ({ ...x })));
    const dropped = copy();
    dropped[1]!.splice(5, 1);
    expect(names(dropped)).toContain('missing');
    const doubled = copy();
    doubled[2]!.splice(5, 0, { ...doubled[2]![5]! });
    expect(names(doubled)).toContain('duplicate');
    const swapped = copy();
    [swapped[3]![4], swapped[3]![5]] = [swapped[3]![5]!, swapped[3]![4]!];
    expect(names(swapped)).toContain('order');
    const changed = copy();
    changed[0]![3]!.data = 0x7ffffff0;
    expect(names(changed)).toContain('foreign');
    const reseq = copy();
    // A FREE of the watched set, which its subscribers saw with the real seq.
    reseq[4]!.find((x) => x.set === r.specs[0]!.chain)!.seq += 100000;
    expect(names(reseq)).toContain('seq-mismatch');
    const reordered = r.emitted.map((es) => es.slice().reverse());
    expect(names(r.reads, reordered)).toContain('program-order');
  });

  it('broken twin: without gating, a subscriber reads before the one ahead of it', async () => {
    const seed = testSeed(FILE);
    const r = await runOnce(seed, 'notify-no-gating');
    const v = checkStreams(r.emitted, r.specs, r.reads);
    expect(v.map((x) => x.name)).toContain('gating');
    // Only gating is broken: everything else still holds.
    expect(v.filter((x) => x.name !== 'gating')).toEqual([]);
  });
});
