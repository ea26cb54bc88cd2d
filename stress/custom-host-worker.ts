/**
 * The hypervisor thread of `--custom-allocator` runs: answers the members' mailboxes of the
 * host whose buffer it is given (stress/custom-host.ts) until the harness stops it, then posts
 * how many requests it answered.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CustomHost } from './custom-host.js';

parentPort?.postMessage(new CustomHost(workerData as SharedArrayBuffer).serve());
