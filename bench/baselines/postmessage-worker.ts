/**
 * Worker for the postMessage baseline: awaits one request at a time to the main thread's
 * allocator (alloc+free pairs, or finds) in a timed loop. The loop is async, so the stop word
 * is checked after every operation; the check costs nothing next to a message round trip.
 */
import { type MessagePort, workerData } from 'node:worker_threads';
import {
  arriveAndWait,
  nowNs,
  report,
  stopRequested,
  threadCpuNs,
  workerCtrl,
} from '../parallel.js';
import { PostMessageAllocatorClient } from './postmessage-allocator.js';

interface PostMessageWorkerData {
  workload: 'pair' | 'find';
  port: MessagePort;
  set: number;
  idMax: number;
  ids: number[];
}

const WARMUP = 300;

const d = workerData as PostMessageWorkerData;
const client = new PostMessageAllocatorClient(d.port);
let i = 0;

/** One operation; returns 1 if it failed unexpectedly. */
async function op(): Promise<number> {
  if (d.workload === 'pair') {
    const id = await client.alloc(d.set, 1, d.idMax);
    return id < 0 || (await client.free(d.set, id)) !== 0 ? 1 : 0;
  }
  return (await client.find(d.set, d.ids[i++ % d.ids.length]!)) <= 0 ? 1 : 0;
}

const ctrl = workerCtrl();
let fails = 0;
for (let w = 0; w < WARMUP; w++) fails += await op();
arriveAndWait(ctrl);
const [cpu0, runq0] = threadCpuNs();
const t0 = nowNs();
let ops = 0;
while (!stopRequested(ctrl)) {
  fails += await op();
  ops++;
}
const t1 = nowNs();
const [cpu1, runq1] = threadCpuNs();
report({ ops, t0, t1, fails, cpuNs: cpu1 - cpu0, runqNs: runq1 - runq0 });
client.close();
