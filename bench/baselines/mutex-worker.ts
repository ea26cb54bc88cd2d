/**
 * Worker for the mutex baseline: attaches the shared `MutexAllocator` and runs alloc+free
 * pairs or finds on it in a timed loop, exactly like bench/scaling-worker.ts does on the
 * project's `IoasidSpace`.
 */
import { workerData } from 'node:worker_threads';
import { consume } from '../harness.js';
import { timedLoop } from '../timed-loop.js';
import { MutexAllocator } from './mutex-allocator.js';

interface MutexWorkerData {
  workload: 'pair' | 'find';
  buffer: SharedArrayBuffer;
  set: number;
  ids: number[];
}

const d = workerData as MutexWorkerData;
const a = new MutexAllocator(d.buffer);
const set = d.set;
const max = a.idMax;

function pair(n: number): number {
  let fails = 0;
  for (let i = 0; i < n; i++) {
    const id = a.alloc(set, 1, max);
    if (id < 0 || a.free(set, id) !== 0) fails++;
  }
  return fails;
}

const ids = Int32Array.from(d.ids);
const mask = ids.length - 1;
function find(n: number): number {
  let s = 0;
  let fails = 0;
  for (let i = 0; i < n; i++) {
    const data = a.find(set, ids[i & mask]!);
    if (data <= 0) fails++;
    s += data;
  }
  consume(s);
  return fails;
}

if (d.workload === 'pair') timedLoop(256, 100_000, pair);
else timedLoop(1024, 100_000, find);
