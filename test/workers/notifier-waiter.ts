/**
 * Worker of test/notifier_chain_rules.test.ts: waits (no timeout) on a subscriber, then reads
 * what it may, and posts back the wait's result and the records.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type IoasidHandle, IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';

const d = workerData as { handle: IoasidHandle; sub: number };
const space = IoasidSpace.attach(d.handle);
parentPort?.postMessage({ ready: true });
const n = space.waitNotifications(d.sub, Number.POSITIVE_INFINITY);
const got = n > 0 ? space.readNotifications(d.sub) : [];
space.detach();
parentPort?.postMessage({ n, got });
