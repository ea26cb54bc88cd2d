/**
 * One figure of the notifier bench (bench/notifier.ts), in a fresh isolate: the library as it
 * was before notifier chains ("today", imported from its build) against this library with `k`
 * subscribers on the set's chain, alloc+free pairs and find, in ABBA rounds (today, now, now,
 * today; the ratio of the sums), so that neither side is favoured by its place in the round.
 * Each subject gets its own function literals (new Function): closures of one literal share
 * type feedback, which would make the call sites polymorphic across the two libraries and
 * slow one of them down for reasons that have nothing to do with it.
 */

import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { IoasidSpace, NotifierPriority, SetType } from '../src/core/ioasid/ioasid-space.js';

/** workerData of a notifier bench worker. */
export interface NotifierBenchData {
  baselineEntry: string;
  k: number;
  rounds: number;
}

/** One worker's medians. */
export interface NotifierBenchResult {
  k: number;
  pair: number;
  find: number;
  todayPairNs: number;
  todayFindNs: number;
}

interface SpaceLike {
  setAlloc(token: number | null, quota: number, type: number): number;
  alloc(set: number, min: number, max: number, data?: number): number;
  free(set: number | null, id: number): number;
  find(set: number | null, id: number): number;
  readonly maxId: number;
}

type Bodies = { pair(n: number): void; find(n: number): number };

function bodies(space: SpaceLike): Bodies {
  const set = space.setAlloc(null, 0, SetType.NULL);
  const max = space.maxId;
  const id = space.alloc(set, 1, max, 1234);
  const make = new Function(
    's',
    'set',
    'max',
    'id',
    `return {
      pair(n) { for (let i = 0; i < n; i++) s.free(set, s.alloc(set, 1, max)); },
      find(n) { let x = 0; for (let i = 0; i < n; i++) x += s.find(set, id); return x; },
    };`,
  ) as (s: SpaceLike, set: number, max: number, id: number) => Bodies;
  return make(space, set, max, id);
}

function time(f: (n: number) => unknown, n: number): number {
  const t0 = process.hrtime.bigint();
  f(n);
  return Number(process.hrtime.bigint() - t0) / n;
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1]!;

async function run(d: NotifierBenchData): Promise<NotifierBenchResult> {
  const lib = (await import(pathToFileURL(d.baselineEntry).href)) as {
    IoasidSpace: { create(): SpaceLike };
  };
  const today = bodies(lib.IoasidSpace.create());
  const space = IoasidSpace.create({ notifyQueueDepth: 16_384 });
  const now = bodies(space);
  const subs = Array.from({ length: d.k }, (_, i) =>
    space.registerNotifier(0, i % 2 === 0 ? NotifierPriority.CPU : NotifierPriority.DEVICE),
  );
  // Untimed: the subscribers keep up (their reads are not the emitter's cost).
  const drain = () => {
    for (const sub of subs) while (space.readNotifications(sub, 4096).length > 0);
  };
  const out: NotifierBenchResult = { k: d.k, pair: 0, find: 0, todayPairNs: 0, todayFindNs: 0 };
  for (const [op, n] of [
    ['pair', 10_000],
    ['find', 40_000],
  ] as const) {
    today[op](n * 3);
    now[op](n * 3);
    drain();
    const ratios: number[] = [];
    const base: number[] = [];
    for (let r = 0; r < d.rounds; r++) {
      const a0 = time(today[op], n);
      const b0 = time(now[op], n);
      drain();
      const b1 = time(now[op], n);
      drain();
      const a1 = time(today[op], n);
      ratios.push((b0 + b1) / (a0 + a1));
      base.push((a0 + a1) / 2);
    }
    out[op] = median(ratios);
    if (op === 'pair') out.todayPairNs = median(base);
    else out.todayFindNs = median(base);
  }
  return out;
}

parentPort?.postMessage(await run(workerData as NotifierBenchData));
