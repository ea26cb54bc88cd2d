/**
 * Worker for test/ioasid_cached_ids_are_free_for_every_thread_4_workers.test.ts: attaches,
 * allocates `count` ids of the set in [1, hi], frees them (they go to its magazine), reports,
 * and stays attached, holding its magazine, until the test lets it detach.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';
import type { MagazineWorkerData, MagazineWorkerReady } from './ioasid-magazine-protocol.js';

const d = workerData as MagazineWorkerData;
const space = IoasidSpace.attach(d.handle);
const ctl = new Int32Array(d.ctl);
const ids: number[] = [];
for (let i = 0; i < d.count; i++) ids.push(space.alloc(d.set, 1, d.hi));
for (const id of ids) if (id > 0) space.free(d.set, id);
parentPort?.postMessage({ slot: space.rcu.slot, ids } satisfies MagazineWorkerReady);
while (Atomics.load(ctl, 0) === 0) Atomics.wait(ctl, 0, 0);
space.detach();
