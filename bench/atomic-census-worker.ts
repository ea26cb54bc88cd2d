/**
 * Worker for bench/atomic-census.ts: runs alloc+free pairs on one set with every `Atomics`
 * method wrapped in a counter, and reports per operation how many atomic operations of each
 * kind it made, how many compareExchanges failed, and which 64-byte lines of which buffer it
 * wrote with atomics (stores, exchanges, successful or failed CASes, RMWs).
 *
 * The wrappers replace properties of the global `Atomics` of this worker only (every call
 * in src/ looks `Atomics.x` up at the call), so nothing here changes the code measured; they
 * make it slower, so this counts, it does not time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type IoasidHandle, IoasidSpace } from '../src/core/ioasid/ioasid-space.js';

/** workerData of a census worker: the space, its set, how many pairs, and the start barrier. */
export interface CensusWorkerData {
  handle: IoasidHandle;
  set: number;
  /** pairs counted (after as many uncounted ones) */
  pairs: number;
  /**
   * [0] workers ready (Atomics.add), [1] start (0 -> 1, stored and notified by the main
   * thread), [2] workers done counting (Atomics.add)
   */
  start: SharedArrayBuffer;
  /** workers in this census run */
  cpus: number;
}

/** What one census worker reports. */
export interface CensusReport {
  pairs: number;
  /** atomic operations per alloc+free pair, by Atomics method */
  perPair: Record<string, number>;
  /** compareExchanges that failed (returned another value), per pair */
  casFailsPerPair: number;
  /** lines written with atomics: `${buffer}:${line}` -> writes */
  lines: Record<string, number>;
  /** lines read with Atomics.load: `${buffer}:${line}` -> loads (plain reads are not seen) */
  reads: Record<string, number>;
  /** hrtime ns at the start and end of the counted pairs */
  t0: number;
  t1: number;
}

type AnyTA = Int32Array<SharedArrayBuffer> | BigInt64Array<SharedArrayBuffer>;
const WRITES = new Set(['store', 'compareExchange', 'exchange', 'add', 'sub', 'and', 'or', 'xor']);
const counts: Record<string, number> = {};
const lines = new Map<string, number>();
const reads = new Map<string, number>();
const buffers = new Map<ArrayBufferLike, string>();
let casFails = 0;
let counting = false;

function bufferName(b: ArrayBufferLike): string {
  let n = buffers.get(b);
  if (n === undefined) {
    n = `buffer${buffers.size}`;
    buffers.set(b, n);
  }
  return n;
}

function wrap(name: string): void {
  const a = Atomics as unknown as Record<string, (...args: unknown[]) => unknown>;
  const orig = a[name]!;
  a[name] = (...args: unknown[]) => {
    const r = orig.apply(Atomics, args);
    if (counting) {
      counts[name] = (counts[name] ?? 0) + 1;
      if (name === 'compareExchange' && r !== args[2]) casFails++;
      const into = WRITES.has(name) ? lines : name === 'load' ? reads : undefined;
      if (into) {
        const ta = args[0] as AnyTA;
        const line = (ta.byteOffset + (args[1] as number) * ta.BYTES_PER_ELEMENT) >> 6;
        const key = `${bufferName(ta.buffer)}:${line}`;
        into.set(key, (into.get(key) ?? 0) + 1);
      }
    }
    return r;
  };
}

const d = workerData as CensusWorkerData;
const space = IoasidSpace.attach(d.handle);
// Name the two buffers of the space before counting, so keys read 'space:' and 'rcu:'.
buffers.set(d.handle.buffer, 'space');
buffers.set(d.handle.rcu.buffer, 'rcu');
const load = Atomics.load;
for (const m of Object.getOwnPropertyNames(Atomics))
  if (typeof (Atomics as unknown as Record<string, unknown>)[m] === 'function') wrap(m);

const max = space.maxId;
const start = new Int32Array(d.start);
const DONE = 2;
/** Pairs until `n`, or (counted) until another worker has finished its own: see below. */
const run = (n: number, untilOneDone: boolean): number => {
  for (let i = 0; i < n; i++) {
    // The unwrapped load: this check is the census's, not the allocator's.
    if (untilOneDone && load(start, DONE) !== 0) return i;
    const id = space.alloc(d.set, 1, max);
    if (id < 0) space.flushRecords();
    else space.free(d.set, id);
  }
  return n;
};
run(d.pairs, false); // uncounted: caches and hints warm, as in the timed bench
// Workers of one census count their pairs only while all of them run: the first to finish
// ends everyone's count. Otherwise the ids a finished worker leaves behind (its magazine goes
// back to the bitmap at detach) draw the others onto its lines, and lines written by both
// CPUs at different times would read as shared.
Atomics.add(start, 0, 1);
Atomics.wait(start, 1, 0);
const t0 = Number(process.hrtime.bigint());
counting = true;
const done = Math.max(1, run(d.pairs, true));
counting = false;
const t1 = Number(process.hrtime.bigint());
Atomics.add(start, DONE, 1);
// Nobody detaches (returning its magazine) before every worker has stopped counting.
while (Atomics.load(start, DONE) < d.cpus) Atomics.wait(start, DONE, Atomics.load(start, DONE), 5);
const perPair: Record<string, number> = {};
for (const [k, v] of Object.entries(counts)) perPair[k] = v / done;
space.detach();
parentPort!.postMessage({
  pairs: done,
  perPair,
  casFailsPerPair: casFails / done,
  lines: Object.fromEntries(lines),
  reads: Object.fromEntries(reads),
  t0,
  t1,
} satisfies CensusReport);
