/**
 * Worker entry for the multi-worker IOASID tests (test/ioasid_*_workers.test.ts): attaches a
 * space and runs the stress operations themselves (stress/ops/, the same definitions the
 * stress CPUs and the model test use) on a CpuView, whose shadow oracle checks ownership
 * ("no id live twice") and quotas online and reports into the shared check buffer; and it
 * logs every allocation and every reclaim, between two ticks of a shared clock, for the
 * offline interval checker (check-log.ts).
 *
 * Test-only: lives under test/, so nothing of it ships in dist/src (tests spawn the compiled
 * copy in dist/test through startTestWorker).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';
import { OpLog } from '../../src/workers/op-log.js';
import { Prng } from '../../src/workers/prng.js';
import { cpuOps } from '../../stress/cpu/cpu-ops.js';
import { CpuView } from '../../stress/cpu/cpu-view.js';
import { bindSpace, type StressSpace } from '../../stress/ops/op.js';
import { SpaceProbe } from '../../stress/space-probe.js';
import {
  EV_ALLOC,
  EV_FREE,
  type StressResult,
  type StressWorkerData,
} from './ioasid-stress-protocol.js';

/** The space, with every allocation and reclaim logged between two clock ticks. */
function logged(space: IoasidSpace, clock: Int32Array, log: number[]): StressSpace {
  const tick = () => Atomics.add(clock, 0, 1);
  return {
    ...bindSpace(space),
    alloc(set, min, max, data) {
      const t0 = tick();
      const id = space.alloc(set, min, max, data);
      const t1 = tick();
      if (id > 0) log.push(EV_ALLOC, id, t0, t1);
      return id;
    },
    free(set, id) {
      // The caller holds `id`: nobody else changes its references meanwhile.
      const last = space.inspect(id).refs === 1;
      const t0 = tick();
      const r = space.free(set, id);
      const t1 = tick();
      if (r === 0 && last) log.push(EV_FREE, id, t0, t1);
      return r;
    },
    put(set, id) {
      const t0 = tick();
      const r = space.put(set, id);
      const t1 = tick();
      if (r === 1) log.push(EV_FREE, id, t0, t1);
      return r;
    },
  };
}

function run(d: StressWorkerData): StressResult {
  const space = IoasidSpace.attach(d.handle);
  const rng = new Prng(d.seed, d.worker);
  const view = new CpuView(
    {
      complete: false,
      cpu: d.worker,
      generation: 0,
      rng,
      idMin: 1,
      idMax: space.maxId,
      maxSets: d.checkGeometry.maxSets,
      capacity: space.capacity(),
      cyclic: false,
      shared: d.sets,
      subRangeOneIn: 4,
      maxHeld: d.maxHold,
      scratchQuota: 1,
      getterSleepOneIn: 2 ** 30, // no sleeping lookups: they hold grace periods, and records run out
    },
    d.check,
    d.checkGeometry,
    new OpLog(d.run, d.runGeometry, d.worker),
    new SpaceProbe(space),
  );
  const log: number[] = [];
  const api = logged(space, new Int32Array(d.clock), log);
  const ops = cpuOps(api);
  const counts: Record<string, number> = {};
  const total = d.mix.reduce((a, w) => a + w, 0);
  for (let i = 0; i < d.ops; i++) {
    let pick = rng.below(total);
    let op = 0;
    while (pick >= d.mix[op]!) pick -= d.mix[op++]!;
    let r = ops[op]!.step(view);
    for (let hops = 0; r === undefined && hops < 4 && ops[op]!.fallback >= 0; hops++) {
      op = ops[op]!.fallback;
      r = ops[op]!.step(view);
    }
    if (r === undefined) continue;
    const key = `${ops[op]!.name}${r < 0 ? r : ''}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  view.releaseAll(api);
  space.detach();
  return { worker: d.worker, log: Int32Array.from(log), counts };
}

if (parentPort) {
  parentPort.postMessage(run(workerData as StressWorkerData));
}
