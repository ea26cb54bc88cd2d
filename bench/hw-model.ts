/**
 * Hardware-model bench: end-to-end ENQCMD submissions per second (accepted by a shared WQ,
 * then translated by the IOMMU and executed by the device engines: the WQ's threshold makes
 * the CPUs wait for the devices, so the accepted rate is the executed rate) and bind+unbind
 * pairs per second (bind lifetime, so each pair allocates and frees the PASID in the core and
 * runs a whole teardown P0..P7 through the engines), at 1, 2 and 4 CPU workers, each with the
 * checker thread reading the event log and without it (no consumer: events are not written).
 * The checker's cost is the ratio of the two, measured in the same run.
 *
 * Every configuration runs on a fresh platform: one process per CPU worker, bound to one of
 * the two DSA PFs (pid % 2), its pages mapped (ENQCMD: no page faults), engines on their own
 * workers (IOMMU engine, a device engine per PF, the PRQ thread with the driver workqueue),
 * engine latencies 0.
 */
import { Worker } from 'node:worker_threads';
import { WORD_BYTES } from '../src/core/cache-line.js';
import type { ActorSet } from '../src/hw-model/actors/fleet.js';
import { MM_PAGES, mmWord } from '../src/hw-model/hw-layout.js';
import { dsaPf, MODEL_SCENARIOS, Platform, type Profile } from '../src/hw-model/index.js';
import { mmOfProcess } from '../src/hw-model/mm.js';
import type { HwWorkerData } from '../src/workers/hw-actor-worker.js';
import type { HwCheckerData } from '../src/workers/hw-checker-worker.js';
import {
  F_CHECKER_READY,
  F_END_REQ,
  F_STATE,
  FS_STOP,
  fleetWords,
  W_STATUS,
  WS_RUNNING,
  workerSlot,
} from '../src/workers/hw-fleet-layout.js';
import { workerModuleUrl } from '../src/workers/worker-url.js';
import { printTable } from './harness.js';
import { medianOf, runParallel } from './parallel.js';

/** One measured figure. */
export interface HwBenchRow {
  workload: 'enqcmd' | 'bind-unbind';
  cpus: number;
  checker: boolean;
  opsPerSec: number;
  samples: number[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function profileFor(workload: HwBenchRow['workload'], cpus: number): Partial<Profile> {
  return {
    processes: Math.max(2, cpus),
    threadsPerProcess: 1,
    pfs: [dsaPf('dsa0'), dsaPf('dsa1')],
    pagesPerMm: 64,
    pasidLifetime: workload === 'bind-unbind' ? 'bind' : 'mm',
    latencies: { invalidation: 0, execution: 0, prqService: 0, vmExit: 0 },
  };
}

/** Start the engine workers (and the checker); returns a stop function. */
async function startEngines(platform: Platform, checker: boolean): Promise<() => Promise<void>> {
  const npf = platform.context.g.pf.length;
  const sets: ActorSet[] = [
    { pids: [], iommu: true, devices: [], prq: false, workqueue: false },
    ...Array.from({ length: npf }, (_, pf) => ({
      pids: [],
      iommu: false,
      devices: [pf],
      prq: false,
      workqueue: false,
    })),
    { pids: [], iommu: false, devices: [], prq: true, workqueue: true },
  ];
  const control = new SharedArrayBuffer(fleetWords(sets.length) * WORD_BYTES);
  const ctl = new Int32Array(control);
  const scenario = { ...MODEL_SCENARIOS['host-sva']!, profile: platform.profile };
  const workers = sets.map((set, index) => {
    const data: HwWorkerData = {
      platform: platform.handle,
      control,
      index,
      set,
      scenario,
      seed: 1,
      generation: 0,
    };
    return new Worker(workerModuleUrl(import.meta.url, '../src/workers/hw-actor-worker.js'), {
      workerData: data,
    });
  });
  let checkerWorker: Worker | undefined;
  if (checker) {
    const data: HwCheckerData = {
      platform: platform.handle,
      control,
      replay: 'bench',
      livenessBound: undefined,
    };
    checkerWorker = new Worker(
      workerModuleUrl(import.meta.url, '../src/workers/hw-checker-worker.js'),
      { workerData: data },
    );
    while (Atomics.load(ctl, F_CHECKER_READY) !== 1) await sleep(1);
  }
  while (!sets.every((_, i) => Atomics.load(ctl, workerSlot(i) + W_STATUS) === WS_RUNNING))
    await sleep(1);
  return async () => {
    Atomics.store(ctl, F_STATE, FS_STOP);
    Atomics.notify(ctl, F_STATE);
    await Promise.all(workers.map((w) => new Promise((r) => w.once('exit', r))));
    if (checkerWorker) {
      const done = new Promise((r) => checkerWorker!.once('message', r));
      Atomics.store(ctl, F_END_REQ, 2);
      await done;
      await checkerWorker.terminate();
    }
  };
}

async function measureOne(
  workload: HwBenchRow['workload'],
  cpus: number,
  checker: boolean,
  ms: number,
): Promise<number> {
  const platform = Platform.create(profileFor(workload, cpus));
  const hw = platform.context;
  const stop = await startEngines(platform, checker);
  for (let pid = 0; pid < cpus; pid++) {
    platform.spawn(pid);
    if (workload === 'enqcmd') {
      platform.bindSva(pid % 2, pid);
      platform.mapPortal(pid % 2, pid, 0);
      const rec = mmOfProcess(hw, pid);
      for (let w = 0; w < 2; w++) Atomics.store(hw.i32, mmWord(hw.g, rec) + MM_PAGES + w, -1);
    }
  }
  const url = workerModuleUrl(import.meta.url, './hw-model-worker.js');
  const run = await runParallel(url, cpus, ms, (i) => ({
    workerData: {
      platform: platform.handle,
      mode: workload === 'enqcmd' ? 'enq' : 'bind',
      pid: i,
      pf: i % 2,
    },
  }));
  await stop();
  platform.detach();
  return run.hung ? 0 : run.opsPerSec;
}

/** Measure every figure; configurations interleave within each repetition. */
export async function measureHwModel(o: {
  cpus: number[];
  ms: number;
  reps: number;
  log: (s: string) => void;
}): Promise<HwBenchRow[]> {
  const rows: HwBenchRow[] = [];
  for (const workload of ['enqcmd', 'bind-unbind'] as const)
    for (const cpus of o.cpus)
      for (const checker of [false, true])
        rows.push({ workload, cpus, checker, opsPerSec: 0, samples: [] });
  for (let rep = 0; rep < o.reps; rep++)
    for (const r of rows) {
      o.log(
        `  hw-model ${r.workload} ${r.cpus} CPU${r.cpus > 1 ? 's' : ''} checker ${r.checker ? 'on' : 'off'} (${rep + 1}/${o.reps})`,
      );
      r.samples.push(await measureOne(r.workload, r.cpus, r.checker, o.ms));
    }
  for (const r of rows) {
    const m = medianOf(
      r.samples.map((opsPerSec) => ({
        cpus: r.cpus,
        ops: 0,
        wallNs: 0,
        opsPerSec,
        fails: 0,
        gpWaits: 0,
        cpuNs: Number.NaN,
        opsPerCpuSec: Number.NaN,
        busy: Number.NaN,
        runqWait: Number.NaN,
        casNs: Number.NaN,
        opCas: Number.NaN,
        processBusy: Number.NaN,
        machineBusy: Number.NaN,
        steal: Number.NaN,
        hung: opsPerSec === 0,
      })),
    );
    r.opsPerSec = m.opsPerSec;
  }
  return rows;
}

/** Print the table: each checker-on figure with its ratio to the same loop checker-off. */
export function printHwModel(rows: HwBenchRow[]): void {
  const off = (r: HwBenchRow) =>
    rows.find((x) => x.workload === r.workload && x.cpus === r.cpus && !x.checker)!;
  printTable(
    'Hardware model (ratios measured in this run; the machine may be loaded)',
    rows.map((r) => ({
      name: `${r.workload} ${r.cpus} CPU${r.cpus > 1 ? 's' : ' '} checker ${r.checker ? 'on ' : 'off'}`,
      value: r.opsPerSec,
      unit: r.workload === 'enqcmd' ? 'subm/s' : 'pairs/s',
      ratio: r.checker
        ? `${(r.opsPerSec / Math.max(1, off(r).opsPerSec)).toFixed(2)}x checker off`
        : '',
    })),
  );
}
