/**
 * Worker for bench/scaling.ts: one workload of this project (or a limit: the control loop,
 * load+CAS) in a timed loop. The header of bench/scaling.ts says what one operation is.
 */
import { workerData } from 'node:worker_threads';
import { Errno, type IoasidHandle, IoasidSpace } from '../src/core/ioasid/ioasid-space.js';
import { consume } from './harness.js';
import type { ScalingWorkload } from './scaling.js';
import { timedLoop } from './timed-loop.js';

interface ScalingWorkerData {
  workload: ScalingWorkload;
  /** this worker's index: its padded word for cas-own */
  index: number;
  /** cas-*: the words */
  words?: SharedArrayBuffer;
  /** the others: the space, the set and (find) ids to look up */
  handle?: IoasidHandle;
  set?: number;
  ids?: number[];
}

const d = workerData as ScalingWorkerData;
/** Ints per 64-byte line: each worker's cas-own word sits on its own line. */
const LINE = 16;

/** The control loop: dependent ALU steps on a local, touching no memory. */
function computeLoop(seed: number): (n: number) => number {
  let x = seed | 1;
  return (n) => {
    for (let i = 0; i < n; i++)
      for (let k = 0; k < 32; k++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x = Math.imul(x ^ (x << 5), 0x2545f491);
      }
    consume(x);
    return 0;
  };
}

function casLoop(words: Int32Array<SharedArrayBuffer>, at: number): (n: number) => number {
  // A CAS-loop increment; on a shared word a failed CAS retries (the operation is the
  // increment that succeeds), on an own word it never fails.
  return (n) => {
    for (let i = 0; i < n; i++) {
      let v = Atomics.load(words, at);
      for (;;) {
        const seen = Atomics.compareExchange(words, at, v, (v + 1) | 0);
        if (seen === v) break;
        v = seen;
      }
    }
    return 0;
  };
}

/**
 * Allocations that found no free record. The record pool recycles through grace periods, and
 * a grace period waits for a reader inside a section: with two threads allocating 5 M/s each,
 * a reader preempted inside its section for ~10 ms (a loaded machine) leaves the pool empty,
 * and alloc returns -ENOMEM, which is correct (it never blocks). What a caller does then, the
 * bench does: wait for a grace period (flushRecords) and try again; it counts the waits.
 */
let gpWaits = 0;

function allocOrWait(space: IoasidSpace, set: number, max: number): number {
  let id = space.alloc(set, 1, max);
  if (id === -Errno.ENOMEM) {
    gpWaits++;
    space.flushRecords();
    id = space.alloc(set, 1, max);
  }
  return id;
}

function spaceLoop(space: IoasidSpace): [chunk: number, body: (n: number) => number] {
  const set = d.set!;
  const max = space.maxId;
  const rcu = space.rcu;
  switch (d.workload) {
    case 'pair':
      return [
        256,
        (n) => {
          let fails = 0;
          for (let i = 0; i < n; i++) {
            const id = allocOrWait(space, set, max);
            if (id < 0 || space.free(set, id) !== 0) fails++;
          }
          return fails;
        },
      ];
    case 'find': {
      const ids = Int32Array.from(d.ids!);
      const mask = ids.length - 1;
      return [
        1024,
        (n) => {
          let s = 0;
          let fails = 0;
          for (let i = 0; i < n; i++) {
            const data = space.find(set, ids[i & mask]!);
            if (data <= 0) fails++; // every id is live and has data > 0
            s += data;
          }
          consume(s);
          return fails;
        },
      ];
    }
    case 'rcu-pair':
      return [
        1024,
        (n) => {
          for (let i = 0; i < n; i++) {
            rcu.readLock();
            rcu.readUnlock();
          }
          return 0;
        },
      ];
    case 'synchronize':
      return [
        16,
        (n) => {
          for (let i = 0; i < n; i++) rcu.synchronize();
          return 0;
        },
      ];
    default:
      throw new Error(`scaling-worker: unknown workload ${d.workload}`);
  }
}

if (d.workload === 'compute') {
  timedLoop(1024, 200_000, computeLoop(0x9e3779b9 + d.index));
} else if (d.workload === 'cas-own' || d.workload === 'cas-shared') {
  const words = new Int32Array(d.words!);
  timedLoop(1024, 200_000, casLoop(words, d.workload === 'cas-own' ? LINE * (d.index + 1) : 0));
} else {
  const space = IoasidSpace.attach(d.handle!);
  const [chunk, body] = spaceLoop(space);
  // A long warm-up: V8 optimizes on background threads, which take CPU from the other
  // workers of a run if that happens inside the timed window. 200,000 operations (~25 ms)
  // left the pair rows' workers at busy 1.78-1.86 of 2 CPUs while the process used 1.98
  // (top -H: V8's platform threads at ~8% each); 2,000,000 (~250 ms) gives 1.93-2.00.
  // The same warm-up for every space row keeps them comparable.
  timedLoop(chunk, d.workload === 'synchronize' ? 2_000 : 2_000_000, body, () => gpWaits);
  space.detach();
}
