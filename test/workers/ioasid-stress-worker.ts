/**
 * Worker entry for the multi-worker IOASID tests (test/ioasid_*_workers.test.ts): attaches a
 * space, runs a seeded random mix of alloc/free/get/put/find on its sets, checks ownership and
 * quota online, and posts back an event log for the offline checkers.
 *
 * Test-only: lives under test/, so nothing of it ships in dist/src (tests spawn the compiled
 * copy in dist/test through startTestWorker).
 *
 * Online checks, each sound (no false alarm on a correct allocator):
 * - ownership: `owner[id]` is CAS'd 0 -> worker+1 after alloc returns and cleared before free
 *   is called; a failed CAS means the previous owner had not started freeing, i.e. the id was
 *   handed out twice;
 * - quota: `holders[set]` is incremented after alloc returns and decremented before free, so
 *   it never exceeds the set's live count; above the quota is a violation;
 * - data: `find` on an id this worker holds must return this allocation's unique data, also
 *   from inside a getter.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';
import { Prng } from '../../src/workers/prng.js';
import {
  EV_ALLOC,
  EV_FREE,
  type StressResult,
  type StressWorkerData,
} from './ioasid-stress-protocol.js';

const CLOCK = 0;
const OWNER0 = 1;

function run(d: StressWorkerData): StressResult {
  const space = IoasidSpace.attach(d.handle);
  const sh = new Int32Array(d.shared);
  const HOLD0 = OWNER0 + d.maxId + 1;
  const prng = new Prng(d.seed, d.worker);
  const next = () => prng.nextU32();
  const violations: string[] = [];
  const counts: Record<string, number> = {};
  const bump = (k: string) => {
    counts[k] = (counts[k] ?? 0) + 1;
  };
  const log: number[] = [];
  const heldId: number[] = [];
  const heldSet: number[] = [];
  const heldData: number[] = [];
  const me = d.worker + 1;
  let seq = 0;

  const doFree = (k: number) => {
    const id = heldId[k]!;
    const set = heldSet[k]!;
    heldId[k] = heldId[heldId.length - 1]!;
    heldSet[k] = heldSet[heldSet.length - 1]!;
    heldData[k] = heldData[heldData.length - 1]!;
    heldId.pop();
    heldSet.pop();
    heldData.pop();
    // Cleared before free: after free the id may be someone else's at once.
    if (Atomics.compareExchange(sh, OWNER0 + id, me, 0) !== me)
      violations.push(`owner of ${id} changed under worker ${me}`);
    Atomics.sub(sh, HOLD0 + set, 1);
    const t0 = Atomics.add(sh, CLOCK, 1);
    const rc = next() % 4 === 0 ? space.put(set, id) : space.free(set, id);
    const t1 = Atomics.add(sh, CLOCK, 1);
    if (rc !== 0 && rc !== 1)
      violations.push(`free/put(${set}, ${id}) of a held id returned ${rc}`);
    log.push(EV_FREE, id, t0, t1);
  };

  for (let i = 0; i < d.ops; i++) {
    const r = next() % 100;
    if (r < 45 && heldId.length < d.maxHold) {
      const k = next() % d.sets.length;
      const set = d.sets[k]!;
      const data = ((d.worker << 24) | (++seq & 0xffffff)) & 0x7fffffff;
      const lo = 1 + (next() % 4 === 0 ? next() % d.maxId : 0);
      const t0 = Atomics.add(sh, CLOCK, 1);
      const id = space.alloc(set, lo, d.maxId, data);
      const t1 = Atomics.add(sh, CLOCK, 1);
      if (id < 0) {
        bump(`alloc${id}`);
        continue;
      }
      bump('alloc');
      log.push(EV_ALLOC, id, t0, t1);
      const prev = Atomics.compareExchange(sh, OWNER0 + id, 0, me);
      if (prev !== 0)
        violations.push(`id ${id} handed to worker ${me} while worker ${prev} held it`);
      const h = Atomics.add(sh, HOLD0 + set, 1) + 1;
      if (h > d.quotas[k]!) violations.push(`set ${set} has ${h} holders > quota ${d.quotas[k]}`);
      heldId.push(id);
      heldSet.push(set);
      heldData.push(data);
    } else if (r < 80 && heldId.length > 0) {
      doFree(next() % heldId.length);
      bump('free');
    } else if (r < 92 && heldId.length > 0) {
      const k = next() % heldId.length;
      const got =
        next() % 2 === 0
          ? space.find(heldSet[k]!, heldId[k]!)
          : space.find(null, heldId[k]!, (x) => x === heldData[k]);
      if (got !== heldData[k])
        violations.push(`find(${heldId[k]}) returned ${got}, want ${heldData[k]}`);
      bump('find');
    } else if (r < 96 && heldId.length > 0) {
      const k = next() % heldId.length;
      const g = space.get(heldSet[k]!, heldId[k]!);
      const p = space.put(null, heldId[k]!);
      if (g !== 0 || p !== 0) violations.push(`get/put on held ${heldId[k]} returned ${g}/${p}`);
      bump('getput');
    } else {
      // A foreign id: any answer but a crash is fine; the data, if any, must be well-formed.
      const v = space.find(null, 1 + (next() % d.maxId));
      if (v < -122) violations.push(`find of a foreign id returned ${v}`);
      bump('findForeign');
    }
  }
  while (heldId.length > 0) doFree(heldId.length - 1);
  space.detach();
  return { worker: d.worker, violations, log: Int32Array.from(log), counts };
}

if (parentPort) {
  parentPort.postMessage(run(workerData as StressWorkerData));
}
