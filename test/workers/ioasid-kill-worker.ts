/**
 * Worker for test/ioasid_killed_worker_leaks_nothing.test.ts: attaches a space, posts its Rcu
 * slot, waits for the test's go (NB_GO), then runs a tight seeded loop of alloc/free/
 * setAlloc/setFree/attachSpid/detachSpid/find/findBySpid until the test terminates it,
 * posting a message once it ran NB_RUN_OPS iterations. Whatever it was doing when killed must be
 * recovered by the space itself (releaseThread); the ids it held are found by the test
 * through its sets (freeAllInSet) or its notebook.
 *
 * No get/put: a reference held by a dead thread is, by contract, not recoverable.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { IoasidSpace, SetType } from '../../src/core/ioasid/ioasid-space.js';
import { Prng } from '../../src/workers/prng.js';
import {
  type KillWorkerData,
  type KillWorkerReached,
  type KillWorkerReady,
  NB_GO,
  NB_OWN_SET,
  NB_RUN_OPS,
  NB_SHARED,
} from './ioasid-kill-protocol.js';

const d = workerData as KillWorkerData;
const space = IoasidSpace.attach(d.handle);
const nb = new Int32Array(d.notebook);
parentPort?.postMessage({ slot: space.rcu.slot } satisfies KillWorkerReady);
// Started ahead of its turn: hold nothing and run nothing until the test says go.
while (Atomics.load(nb, NB_GO) === 0) Atomics.wait(nb, NB_GO, 0);
const runOps = Atomics.load(nb, NB_RUN_OPS);
let ops = 0;

const prng = new Prng(d.seed, d.incarnation);
const next = (): number => prng.nextU32();

const maxId = space.maxId;
const heldId: number[] = [];
const heldSet: number[] = [];
let ownSet = -1;
let tokens = 0;

/** Give back held id k (shared ones leave the notebook first). */
function freeHeld(k: number): void {
  const id = heldId[k]!;
  const set = heldSet[k]!;
  for (let j = 0; j < NB_SHARED; j++) {
    if (Atomics.load(nb, 1 + 2 * j) === id) Atomics.store(nb, 1 + 2 * j, 0);
  }
  heldId[k] = heldId[heldId.length - 1]!;
  heldSet[k] = heldSet[heldSet.length - 1]!;
  heldId.pop();
  heldSet.pop();
  space.free(set, id);
}

function allocIn(set: number, shared: boolean): void {
  const lo = 1 + (next() % 4 === 0 ? next() % maxId : 0);
  const id = space.alloc(set, lo, maxId, next() & 0xffff);
  if (id <= 0) return;
  heldId.push(id);
  heldSet.push(set);
  if (!shared) return;
  for (let j = 0; j < NB_SHARED; j++) {
    if (Atomics.load(nb, 1 + 2 * j) !== 0) continue;
    Atomics.store(nb, 2 + 2 * j, set);
    Atomics.store(nb, 1 + 2 * j, id);
    return;
  }
}

for (;;) {
  if (++ops === runOps) parentPort?.postMessage({ reached: ops } satisfies KillWorkerReached);
  const r = next() % 100;
  if (r < 40 && heldId.length < 12) {
    const k = next() % 8;
    if (k === 0 && ownSet >= 0) allocIn(ownSet, false);
    else if (k === 1) {
      let empty = 0;
      for (let j = 0; j < NB_SHARED; j++) if (Atomics.load(nb, 1 + 2 * j) === 0) empty++;
      if (empty > 0) allocIn(d.sharedSets[next() % d.sharedSets.length]!, true);
    } else allocIn(d.privateSet, false);
  } else if (r < 72 && heldId.length > 0) {
    freeHeld(next() % heldId.length);
  } else if (d.noLocks && (r < 84 || r >= 93)) {
    space.find(d.privateSet, 1 + (next() % maxId)); // instead of the lock-taking operations
  } else if (r < 80 && heldId.length > 0) {
    space.attachSpid(heldId[next() % heldId.length]!, next() % 64);
  } else if (r < 84 && heldId.length > 0) {
    space.detachSpid(heldId[next() % heldId.length]!);
  } else if (r < 88) {
    space.findBySpid(d.privateSet, next() % 64, false);
  } else if (r < 93) {
    const id = 1 + (next() % maxId);
    if (next() % 2 === 0) space.find(null, id);
    else space.find(null, id, (x) => x >= 0);
  } else if (r < 96 && ownSet < 0) {
    const set = space.setAlloc(d.incarnation * 100 + tokens++, 1 + (next() % 4), SetType.MM);
    if (set >= 0) {
      ownSet = set;
      Atomics.store(nb, NB_OWN_SET, set + 1);
    }
  } else if (ownSet >= 0) {
    const set = ownSet;
    ownSet = -1;
    Atomics.store(nb, NB_OWN_SET, 0);
    for (let k = heldId.length - 1; k >= 0; k--) if (heldSet[k] === set) freeHeld(k);
    space.setFree(set);
  }
}
