/**
 * IOASID bench: single-CPU alloc+free pair, find and findBySpid as ns/op and as a ratio to
 * one Atomics.load + Atomics.compareExchange measured in the same run; alloc+free pairs on
 * two CPUs (worker_threads) on disjoint sets and on one shared set, on disjoint sets that also
 * allocate from disjoint halves of the id space (what is left when the two CPUs do not both
 * want the lowest free id: policy `lowest` makes them fight over one bitmap word), and, as
 * the limit, on two separate spaces that share nothing; byteLength of a space with the
 * default options.
 *
 * The machines are shared and noisy, so single-CPU figures are measured in ROUNDS short
 * interleaved rounds: each round times the baseline, every figure, and the baseline again,
 * and divides each figure by the lower of the two baselines around it (the one least
 * disturbed). The table reports the median ns and the median of those per-round ratios,
 * which moves far less than a ratio of two separately taken medians. The RCU read side
 * (readLock + readUnlock, owned by rcu.ts) is shown as a reference row: `find` is that plus
 * the map and data loads.
 *
 * Run alone with `node dist/bench/ioasid.js` (after `npm run build`), or through
 * `npm run bench`.
 */
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';

const ROUNDS = 31;

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

/** Per figure: median ns and median ratio to the baseline, over interleaved rounds. */
function measureInterleaved(
  base: Figure,
  figures: Figure[],
): Array<{ name: string; ns: number; ratio: number }> {
  for (const f of [base, ...figures]) f.body(f.n * 4); // warm-up: optimized code everywhere
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

let sink = 0;

/**
 * How two CPUs share: one set; disjoint sets; disjoint sets and disjoint halves of the id
 * space; or two separate spaces, which share no word at all (the machine's own limit: two
 * threads of this code on two vCPUs, which may be SMT siblings).
 */
type TwoCpuMode = 'one-set' | 'disjoint-sets' | 'split-ids' | 'separate-spaces';

async function twoCpus(mode: TwoCpuMode): Promise<number> {
  const spaces = [IoasidSpace.create({ maxThreads: 8 })];
  if (mode === 'separate-spaces') spaces.push(IoasidSpace.create({ maxThreads: 8 }));
  const space = (k: number) => spaces[Math.min(k, spaces.length - 1)]!;
  const a = space(0).setAlloc(null, mode === 'one-set' ? 0 : 1000, SetType.NULL);
  const b = mode === 'one-set' ? a : space(1).setAlloc(null, 1000, SetType.NULL);
  const max = space(0).maxId;
  const half = max >>> 1;
  const ranges =
    mode === 'split-ids'
      ? [
          [1, half],
          [half + 1, max],
        ]
      : [
          [1, max],
          [1, max],
        ];
  const sync = new SharedArrayBuffer(8);
  const s32 = new Int32Array(sync);
  const n = 300_000;
  const url = new URL('./ioasid-worker.js', import.meta.url);
  const results = [a, b].map(
    (set, k) =>
      new Promise<{ ns: number; fails: number }>((resolve, reject) => {
        const [min, max] = ranges[k]!;
        const workerData = { handle: space(k).handle, set, min, max, n, sync };
        const w = new Worker(url, { workerData });
        w.once('message', resolve);
        w.once('error', reject);
      }),
  );
  while (Atomics.load(s32, 0) < 2) Atomics.wait(s32, 0, Atomics.load(s32, 0), 100);
  Atomics.store(s32, 1, 1);
  Atomics.notify(s32, 1);
  const r = await Promise.all(results);
  for (const sp of spaces) sp.detach();
  if (r.some((x) => x.fails > 0))
    throw new Error(`alloc failed in a bench worker: ${JSON.stringify(r)}`);
  return Math.max(...r.map((x) => x.ns / n));
}

/** Print the IOASID bench table. */
export async function main(): Promise<void> {
  const word = new Int32Array(new SharedArrayBuffer(64));
  const baseline: Figure = {
    name: 'Atomics.load + compareExchange (baseline)',
    n: 200_000,
    body: (n) => {
      for (let i = 0; i < n; i++) {
        const v = Atomics.load(word, 0);
        Atomics.compareExchange(word, 0, v, v + 1);
      }
    },
  };

  const space = IoasidSpace.create();
  const set = space.setAlloc(null, 0, SetType.NULL);
  const max = space.maxId;
  const id = space.alloc(set, 1, max, 1234);
  space.attachSpid(id, 77);
  const rcu = space.rcu;
  const rows = measureInterleaved(baseline, [
    {
      name: 'alloc + free pair, 1 CPU (target <= 10x)',
      n: 20_000,
      body: (n) => {
        for (let i = 0; i < n; i++) space.free(set, space.alloc(set, 1, max));
      },
    },
    {
      name: 'find, 1 CPU (target <= 3x)',
      n: 50_000,
      body: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += space.find(set, id);
        sink += s;
      },
    },
    {
      name: 'findBySpid, 1 CPU',
      n: 50_000,
      body: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += space.findBySpid(set, 77, false);
        sink += s;
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
  ]);
  const bytes = space.byteLength; // default options
  space.detach();

  // Two-CPU figures: median of 5 interleaved runs each (one run is ~0.1 s: noise dominates).
  const modes: TwoCpuMode[] = ['disjoint-sets', 'one-set', 'split-ids', 'separate-spaces'];
  const two = modes.map(() => [] as number[]);
  for (let r = 0; r < 5; r++) for (const [i, m] of modes.entries()) two[i]!.push(await twoCpus(m));
  const [disjoint, sharedSet, splitIds, separate] = two.map(median) as [
    number,
    number,
    number,
    number,
  ];

  const row = (name: string, ns: number, ratio: number) =>
    `${name.padEnd(44)} ${ns.toFixed(1).padStart(9)} ${ratio.toFixed(1).padStart(8)}x`;
  const base = rows[0]!.ns;
  const lines = [
    `${`IOASID (median of ${ROUNDS} interleaved rounds)`.padEnd(44)} ${'ns/op'.padStart(9)} ${'vs L+CAS'.padStart(9)}`,
    ...rows.map((r) => row(r.name, r.ns, r.ratio)),
    row('alloc + free pair, 2 CPUs, disjoint sets', disjoint, disjoint / base),
    row('alloc + free pair, 2 CPUs, one shared set', sharedSet, sharedSet / base),
    row('  the same, disjoint sets and id ranges', splitIds, splitIds / base),
    row('  limit: 2 CPUs on two separate spaces', separate, separate / base),
    `${'byteLength, default options (target <= 8 MiB)'.padEnd(44)} ${String(bytes).padStart(9)} bytes = ${(bytes / 2 ** 20).toFixed(2)} MiB`,
  ];
  console.log(lines.join('\n'));
  if (sink === 0.5) console.log(''); // keep `sink` observable
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
