/**
 * RCU costs: read-side pair against the raw Atomics it is made of, and synchronize latency
 * with 0, 1 and 4 registered readers (idle, and busy reading).
 */
import { Worker } from 'node:worker_threads';
import { Rcu } from '../src/core/rcu/rcu.js';
import { workerModuleUrl } from '../src/workers/worker-url.js';
import { type BenchRow, consume, median, nsPerOp, percentile, printTable } from './harness.js';

const N = 5_000_000;

export interface RcuBenchResult {
  rows: BenchRow[];
}

/** The limits: what one Atomics.load and one load+compareExchange cost here, now. */
export function measureAtomicsLimits(): { load: number; loadCas: number; rawPair: number } {
  const w = new Int32Array(new SharedArrayBuffer(256));
  const load = nsPerOp((n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += Atomics.load(w, 3);
    consume(s);
  }, N);
  const loadCas = nsPerOp((n) => {
    for (let i = 0; i < n; i++) {
      const v = Atomics.load(w, 5);
      Atomics.compareExchange(w, 5, v, (v + 1) | 0);
    }
  }, N);
  // What the read-side pair must do at least: store a mark into the slot, exchange it for 0
  // and test the old value's WAIT bit.
  const rawPair = nsPerOp((n) => {
    for (let i = 0; i < n; i++) {
      Atomics.store(w, 32, (i << 1) | 1);
      if ((Atomics.exchange(w, 32, 0) & 0x40000000) !== 0) consume(1);
    }
  }, N);
  return { load, loadCas, rawPair };
}

function syncLatencies(rcu: Rcu, samples: number): { p50: number; p99: number } {
  const xs: number[] = [];
  for (let i = 0; i < 200; i++) rcu.synchronize();
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    rcu.synchronize();
    xs.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return { p50: median(xs), p99: percentile(xs, 99) };
}

async function withReaders<T>(rcu: Rcu, count: number, busy: boolean, body: () => T): Promise<T> {
  const ctrl = new Int32Array(new SharedArrayBuffer(64));
  const url = workerModuleUrl(import.meta.url, './rcu-reader-worker.js');
  const workers = Array.from(
    { length: count },
    () => new Worker(url, { workerData: { handle: rcu.handle, ctrl: ctrl.buffer, busy } }),
  );
  while (Atomics.load(ctrl, 1) < count) await new Promise((r) => setTimeout(r, 5));
  try {
    return body();
  } finally {
    Atomics.store(ctrl, 0, 1);
    Atomics.notify(ctrl, 0);
    await Promise.all(workers.map((w) => new Promise((r) => w.once('exit', r))));
  }
}

export async function benchRcu(): Promise<RcuBenchResult> {
  const { load, loadCas, rawPair } = measureAtomicsLimits();
  const rcu = Rcu.create({ maxThreads: 16 });
  rcu.registerThread();
  const pair = nsPerOp((n) => {
    for (let i = 0; i < n; i++) {
      rcu.readLock();
      rcu.readUnlock();
    }
  }, N);
  const mbRcu = Rcu.create({ maxThreads: 16, flavor: 'mb' });
  mbRcu.registerThread();
  const mbPair = nsPerOp((n) => {
    for (let i = 0; i < n; i++) {
      mbRcu.readLock();
      mbRcu.readUnlock();
    }
  }, N);
  mbRcu.unregisterThread();
  const nested = nsPerOp((n) => {
    rcu.readLock();
    for (let i = 0; i < n; i++) {
      rcu.readLock();
      rcu.readUnlock();
    }
    rcu.readUnlock();
  }, N);
  rcu.unregisterThread();
  const rows: BenchRow[] = [
    { name: 'Atomics.load', value: load, unit: 'ns', ratio: '(limit)' },
    { name: 'load + compareExchange', value: loadCas, unit: 'ns', ratio: '(limit)' },
    {
      name: 'raw pair (store + exchange)',
      value: rawPair,
      unit: 'ns',
      ratio: '(limit of the design)',
    },
    {
      name: 'readLock + readUnlock',
      value: pair,
      unit: 'ns',
      ratio: `${(pair / rawPair).toFixed(2)}x raw pair, ${(pair / loadCas).toFixed(2)}x load+CAS`,
      target: 'target <= 30 ns (C urcu-mb: 19.5-58 ns)',
    },
    {
      name: 'readLock + readUnlock, mb flavor',
      value: mbPair,
      unit: 'ns',
      ratio: `${(mbPair / pair).toFixed(2)}x the marks pair, ${(mbPair / loadCas).toFixed(2)}x load+CAS`,
    },
    {
      name: 'nested readLock + readUnlock',
      value: nested,
      unit: 'ns',
      ratio: `${(nested / rawPair).toFixed(2)}x raw pair`,
    },
  ];
  const configs: [number, boolean][] = [
    [0, false],
    [1, false],
    [4, false],
    [1, true],
    [4, true],
  ];
  for (const [count, busy] of configs) {
    const lat = await withReaders(rcu, count, busy, () => syncLatencies(rcu, busy ? 2000 : 20_000));
    const label = `synchronize, ${count} ${busy ? 'busy' : 'idle'} reader${count === 1 ? '' : 's'}`;
    rows.push({
      name: `${label} p50`,
      value: lat.p50,
      unit: 'us',
      target: busy ? '' : 'target <= 5 us (C urcu-mb: 0.15 us)',
    });
    rows.push({ name: `${label} p99`, value: lat.p99, unit: 'us' });
  }
  return { rows };
}

export async function main(): Promise<void> {
  const r = await benchRcu();
  printTable('RCU (one thread; synchronize from the main thread)', r.rows);
}
