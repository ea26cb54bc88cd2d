/**
 * Subscriber thread of the notifier tests: waits for and reads its subscriber's events until
 * told to stop, timing each read call with the shared logical clock (before and after), and
 * pausing between reads when asked to (a slow subscriber holds those behind it back). Posts
 * back what it read.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';
import { Prng } from '../../src/workers/prng.js';
import {
  CTL_CLOCK,
  CTL_READ0,
  CTL_STOP,
  type Read,
  type SubscriberData,
} from './notifier-streams.js';

function run(d: SubscriberData): Read[] {
  const space = IoasidSpace.attach(d.handle);
  const ctl = new Int32Array(d.control);
  const prng = new Prng(d.seed, 200 + d.index);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const out: Read[] = [];
  for (;;) {
    const stop = Atomics.load(ctl, CTL_STOP) !== 0;
    const n = space.waitNotifications(d.sub, 20);
    if (n < 0) throw new Error(`subscriber ${d.index}: wait ${n}`);
    if (n === 0 && stop) break;
    // At most a few per call, so that slow and fast readers interleave finely.
    const t0 = Atomics.add(ctl, CTL_CLOCK, 1);
    const got = space.readNotifications(d.sub, 1 + prng.below(4));
    const t1 = Atomics.add(ctl, CTL_CLOCK, 1);
    for (const r of got) {
      if (r.event === 'overflow') throw new Error(`subscriber ${d.index}: overflow ${r.lost}`);
      out.push({ ...r, t0, t1 });
    }
    Atomics.add(ctl, CTL_READ0 + d.index, got.length);
    if (d.pauseMs > 0) Atomics.wait(nap, 0, 0, d.pauseMs * prng.below(3));
  }
  space.detach();
  return out;
}

parentPort?.postMessage(run(workerData as SubscriberData));
