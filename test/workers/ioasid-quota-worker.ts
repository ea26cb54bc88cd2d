/**
 * Worker for test/ioasid_quota_with_magazines_2_workers.test.ts: attaches, allocates and frees
 * `warm` ids (they park in its magazine, keeping their quota charges), reports, waits for the
 * start, then allocates in [lo, hi] until -EDQUOT and reports the ids it holds; it stays
 * attached, holding them, until the test lets it detach.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Errno, IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';
import type { QuotaWorkerData, QuotaWorkerMessage } from './ioasid-quota-protocol.js';

const d = workerData as QuotaWorkerData;
const space = IoasidSpace.attach(d.handle);
const ctl = new Int32Array(d.ctl);
const warmed: number[] = [];
for (let i = 0; i < d.warm; i++) warmed.push(space.alloc(d.set, 1, d.warmHi));
for (const id of warmed) if (id > 0) space.free(d.set, id);
parentPort?.postMessage({
  phase: 'warm',
  slot: space.rcu.slot,
  warmed,
} satisfies QuotaWorkerMessage);
while (Atomics.load(ctl, 0) === 0) Atomics.wait(ctl, 0, 0);
const ids: number[] = [];
const errors: number[] = [];
for (;;) {
  const id = space.alloc(d.set, d.lo, d.hi);
  if (id === -Errno.EDQUOT) break;
  if (id < 0) {
    errors.push(id);
    if (errors.length > 100) break;
  } else ids.push(id);
}
parentPort?.postMessage({ phase: 'done', ids, errors } satisfies QuotaWorkerMessage);
while (Atomics.load(ctl, 1) === 0) Atomics.wait(ctl, 1, 0);
space.detach();
