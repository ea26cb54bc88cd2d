/**
 * Emitter thread of the notifier tests: a seeded loop of alloc, get, attachSpid, detachSpid,
 * free and put on ids it owns (so it knows exactly which events its operations raise: ALLOC
 * on alloc; BIND/UNBIND on attach/detach; FREE only when free leaves a reference, i.e. after a
 * get). Posts back those events in program order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';
import { Prng } from '../../src/workers/prng.js';
import { CTL_EMITTERS_DONE, type EmitterData, type Expected } from './notifier-streams.js';

const NONE = 0xffffffff;

function run(d: EmitterData): Expected[] {
  const space = IoasidSpace.attach(d.handle);
  const ctl = new Int32Array(d.control);
  const prng = new Prng(d.seed, 100 + d.worker);
  const out: Expected[] = [];
  for (let i = 0; i < d.iterations; i++) {
    const set = d.sets[prng.below(d.sets.length)]!;
    const data = ((d.worker + 1) << 20) | i; // unique: tells events of reused ids apart
    const id = space.alloc(set, 1, d.maxId, data);
    if (id <= 0) throw new Error(`emitter ${d.worker}: alloc ${id}`);
    out.push({ event: 1, id, spid: NONE, set, data });
    let spid = -1;
    if (prng.oneIn(2)) {
      spid = (d.worker << 20) | i;
      if (space.attachSpid(id, spid) !== 0) throw new Error('attachSpid');
      out.push({ event: 3, id, spid, set, data });
      if (prng.oneIn(2)) {
        if (space.detachSpid(id) !== 0) throw new Error('detachSpid');
        out.push({ event: 4, id, spid, set, data });
        spid = -1;
      }
    }
    const held = prng.oneIn(2);
    if (held && space.get(set, id) !== 0) throw new Error('get');
    if (space.free(set, id) !== 0) throw new Error('free');
    if (held) {
      out.push({ event: 2, id, spid: spid < 0 ? NONE : spid, set, data });
      if (space.put(set, id) !== 1) throw new Error('put');
    }
  }
  space.detach();
  Atomics.add(ctl, CTL_EMITTERS_DONE, 1);
  return out;
}

parentPort?.postMessage(run(workerData as EmitterData));
