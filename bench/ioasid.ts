/**
 * IOASID bench: single-CPU alloc+free pair, find and findBySpid as ns/op and as a ratio to
 * one Atomics.load + Atomics.compareExchange measured in the same run; alloc+free pairs on
 * two CPUs (worker_threads) on disjoint sets and on one shared set; byteLength of a space with
 * the default options.
 *
 * Each single-CPU figure is the median of RUNS timed runs after a warm-up. Run alone with
 * `node dist/bench/ioasid.js` (after `npm run build`), or through `npm run bench`.
 */
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { IoasidSpace, SetType } from '../src/core/ioasid.js';

const RUNS = 7;
const N = 200_000;

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Median ns per iteration of `body(n)` over RUNS runs, after one warm-up run. */
function measure(body: (n: number) => void, n = N): number {
  body(n);
  const out: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = process.hrtime.bigint();
    body(n);
    out.push(Number(process.hrtime.bigint() - t0) / n);
  }
  return median(out);
}

let sink = 0;

async function twoCpus(shared: boolean): Promise<number> {
  const space = IoasidSpace.create({ maxThreads: 8 });
  const a = space.setAlloc(null, shared ? 0 : 1000, SetType.NULL);
  const b = shared ? a : space.setAlloc(null, 1000, SetType.NULL);
  const sync = new SharedArrayBuffer(8);
  const s32 = new Int32Array(sync);
  const n = 300_000;
  const url = new URL('./ioasid-worker.js', import.meta.url);
  const results = [a, b].map(
    (set) =>
      new Promise<{ ns: number; fails: number }>((resolve, reject) => {
        const w = new Worker(url, { workerData: { handle: space.handle, set, n, sync } });
        w.once('message', resolve);
        w.once('error', reject);
      }),
  );
  while (Atomics.load(s32, 0) < 2) Atomics.wait(s32, 0, Atomics.load(s32, 0), 100);
  Atomics.store(s32, 1, 1);
  Atomics.notify(s32, 1);
  const r = await Promise.all(results);
  space.detach();
  if (r.some((x) => x.fails > 0))
    throw new Error(`alloc failed in a bench worker: ${JSON.stringify(r)}`);
  return Math.max(...r.map((x) => x.ns / n));
}

/** Print the IOASID bench table. */
export async function main(): Promise<void> {
  const word = new Int32Array(new SharedArrayBuffer(64));
  const base = measure((n) => {
    for (let i = 0; i < n; i++) {
      const v = Atomics.load(word, 0);
      Atomics.compareExchange(word, 0, v, v + 1);
    }
  }, 2_000_000);

  const space = IoasidSpace.create();
  const set = space.setAlloc(null, 0, SetType.NULL);
  const max = space.maxId;
  const pair = measure((n) => {
    for (let i = 0; i < n; i++) space.free(set, space.alloc(set, 1, max));
  });
  const id = space.alloc(set, 1, max, 1234);
  space.attachSpid(id, 77);
  const find = measure((n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += space.find(set, id);
    sink += s;
  }, 1_000_000);
  const bySpid = measure((n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += space.findBySpid(set, 77, false);
    sink += s;
  }, 1_000_000);
  const bytes = space.byteLength;
  space.detach();

  const disjoint = await twoCpus(false);
  const sharedSet = await twoCpus(true);

  const row = (name: string, ns: number) =>
    `${name.padEnd(44)} ${ns.toFixed(1).padStart(9)} ${(ns / base).toFixed(1).padStart(8)}x`;
  const lines = [
    `${'IOASID (median of 7 runs after warm-up)'.padEnd(44)} ${'ns/op'.padStart(9)} ${'vs L+CAS'.padStart(9)}`,
    row('Atomics.load + compareExchange (baseline)', base),
    row('alloc + free pair, 1 CPU (target <= 10x)', pair),
    row('find, 1 CPU (target <= 3x)', find),
    row('findBySpid, 1 CPU', bySpid),
    row('alloc + free pair, 2 CPUs, disjoint sets', disjoint),
    row('alloc + free pair, 2 CPUs, one shared set', sharedSet),
    `${'byteLength, default options (target <= 8 MiB)'.padEnd(44)} ${String(bytes).padStart(9)} bytes = ${(bytes / 2 ** 20).toFixed(2)} MiB`,
  ];
  console.log(lines.join('\n'));
  if (sink === 0.5) console.log(''); // keep `sink` observable
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
