/**
 * Worker of test/notifier_chain_rules.test.ts: creates a NULL set (setAlloc) and posts its id.
 * The test holds the distribution lock meanwhile, so this thread publishes the set and then
 * blocks where setAlloc fixes up the chains (detaches the subscribers of the slot's last life).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type IoasidHandle, IoasidSpace, SetType } from '../../src/core/ioasid/ioasid-space.js';

const d = workerData as { handle: IoasidHandle };
const space = IoasidSpace.attach(d.handle);
const set = space.setAlloc(null, 4, SetType.NULL);
space.detach();
parentPort?.postMessage(set);
