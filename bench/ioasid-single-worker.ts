/**
 * Worker for bench/ioasid.ts: the single-CPU figures, measured in a worker thread as every
 * multi-CPU figure of the scaling bench is (the main thread is not special: measured side by
 * side, the two agree within noise, but one place of measurement removes the question).
 */
import { parentPort } from 'node:worker_threads';
import { IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import { consume } from './harness.js';

/** Interleaved rounds per figure. */
const ROUNDS = 31;

/** One figure's median ns per operation and its median ratio to the baseline. */
export interface SingleCpuRow {
  name: string;
  ns: number;
  ratio: number;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** ns per iteration of one timed call of `body(n)`. */
function time(body: (n: number) => void, n: number): number {
  const t0 = process.hrtime.bigint();
  body(n);
  return Number(process.hrtime.bigint() - t0) / n;
}

interface Figure {
  name: string;
  body: (n: number) => void;
  /** Iterations per round (a few ms). */
  n: number;
}

/**
 * Per figure: median ns and median ratio to the baseline, over interleaved rounds: each round
 * times the baseline, every figure, and the baseline again, and divides each figure by the
 * lower of the two baselines around it (the one least disturbed).
 */
function measureInterleaved(base: Figure, figures: Figure[]): SingleCpuRow[] {
  for (const f of [base, ...figures]) for (let k = 0; k < 10; k++) f.body(f.n); // warm-up
  const ns = figures.map(() => [] as number[]);
  const ratios = figures.map(() => [] as number[]);
  const baseNs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let before = time(base.body, base.n);
    figures.forEach((f, i) => {
      const t = time(f.body, f.n);
      const after = time(base.body, base.n);
      const b = Math.min(before, after);
      baseNs.push(b);
      ns[i]!.push(t);
      ratios[i]!.push(t / b);
      before = after;
    });
  }
  return [
    { name: base.name, ns: median(baseNs), ratio: 1 },
    ...figures.map((f, i) => ({ name: f.name, ns: median(ns[i]!), ratio: median(ratios[i]!) })),
  ];
}

const word = new Int32Array(new SharedArrayBuffer(64));
const space = IoasidSpace.create();
const set = space.setAlloc(null, 0, SetType.NULL);
const max = space.maxId;
const id = space.alloc(set, 1, max, 1234);
space.attachSpid(id, 77);
const rcu = space.rcu;
const rows = measureInterleaved(
  {
    name: 'Atomics.load + compareExchange (baseline)',
    n: 200_000,
    body: (n) => {
      for (let i = 0; i < n; i++) {
        const v = Atomics.load(word, 0);
        Atomics.compareExchange(word, 0, v, v + 1);
      }
    },
  },
  [
    {
      name: 'alloc + free pair, 1 CPU',
      n: 20_000,
      body: (n) => {
        for (let i = 0; i < n; i++) space.free(set, space.alloc(set, 1, max));
      },
    },
    {
      name: 'find, 1 CPU',
      n: 50_000,
      body: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += space.find(set, id);
        consume(s);
      },
    },
    {
      name: 'findBySpid, 1 CPU',
      n: 50_000,
      body: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += space.findBySpid(set, 77, false);
        consume(s);
      },
    },
    {
      name: '  reference: rcu.readLock + readUnlock',
      n: 50_000,
      body: (n) => {
        for (let i = 0; i < n; i++) {
          rcu.readLock();
          rcu.readUnlock();
        }
      },
    },
  ],
);
const byteLength = space.byteLength; // default options
space.detach();
parentPort?.postMessage({ rows, byteLength });
