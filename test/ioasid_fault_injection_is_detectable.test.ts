/**
 * The stress harness's fault injection produces the failures its checks must catch, with
 * real workers: `reclaim-without-gp` recycles records under readers, which the rcutorture-
 * style check in find counts in `stats().recycledUnderReader`; `quota-check-then-act` lets
 * concurrent allocs take a set past its quota, which a worker sees in `setInfo().count`.
 * Each has a control run without the fault that must stay clean (the checks do not fire on
 * a correct allocator).
 */
import { describe, expect, it } from 'vitest';
import { type IoasidFault, IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import { testSeed } from './helpers/seed.js';
import { startTestWorker } from './helpers/workers.js';
import {
  FAULT_ALLOCS,
  FAULT_BUSY_NAPS,
  FAULT_MAX_COUNT,
  FAULT_NAPS,
  FAULT_STOP,
  FAULT_WORDS,
  type FaultWorkerData,
  type FaultWorkerResult,
} from './workers/ioasid-fault-protocol.js';

const FILE = 'test/ioasid_fault_injection_is_detectable.test.ts';

interface Run {
  space: IoasidSpace;
  results: FaultWorkerResult[];
  /** Getter naps (readers), busy ones among them, and allocs tried (churners, quota workers). */
  naps: number;
  busyNaps: number;
  allocs: number;
}

/**
 * Start `modes` workers on one set of `quota` in a small space with `fault`, stop them when
 * `done()` holds or once they did `enough()` work, and collect their results. Bounded by
 * work, not by time: a loaded machine may start a worker seconds late or run it seldom, and
 * a twin must get the same number of chances however slowly they come (the test's timeout is
 * the guard against a hang).
 */
async function run(
  fault: IoasidFault | undefined,
  modes: FaultWorkerData['mode'][],
  quota: number,
  done: (space: IoasidSpace, stop: Int32Array) => boolean,
  enough: (space: IoasidSpace, stop: Int32Array) => boolean,
): Promise<Run> {
  const seed = testSeed(FILE);
  const space = IoasidSpace.create({
    pasidBits: 4,
    maxSets: 2,
    maxIoasids: 64,
    maxThreads: 8,
    fault,
  });
  const set = space.setAlloc(null, quota, SetType.NULL);
  const stop = new SharedArrayBuffer(4 * FAULT_WORDS);
  const stop32 = new Int32Array(stop);
  const results = modes.map((mode, worker) => {
    const data: FaultWorkerData = { handle: space.handle, seed, worker, mode, set, quota, stop };
    const w = startTestWorker('ioasid-fault-worker', data);
    return new Promise<FaultWorkerResult>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
  });
  while (!done(space, stop32) && !enough(space, stop32))
    await new Promise((r) => setTimeout(r, 10));
  Atomics.store(stop32, FAULT_STOP, 1);
  const naps = Atomics.load(stop32, FAULT_NAPS);
  const busyNaps = Atomics.load(stop32, FAULT_BUSY_NAPS);
  const allocs = Atomics.load(stop32, FAULT_ALLOCS);
  return { space, results: await Promise.all(results), naps, busyNaps, allocs };
}

/**
 * Busy getter naps (a churner allocated during the nap) a recycled-under-reader twin may
 * take to be caught, and the busy naps its control must take clean: each is a window in
 * which a broken grace period shows (a twin was caught after 1 to 9 busy naps at load 12-20).
 */
const RECYCLE_NAPS = 200;
/**
 * Allocs a quota-check-then-act twin may take to be caught: two allocs must pass the check in
 * the same few instructions, which took 450 to 900,000 allocs at load 12-20.
 */
const QUOTA_TWIN_ALLOCS = 10_000_000;
/** Allocs its control must take clean (at least: it also waits for 1000 -EDQUOT). */
const QUOTA_CONTROL_ALLOCS = 200_000;

describe('fault injection is detectable', () => {
  // Both recycle a record under a reader: at once (reclaim-without-gp), or when its thread
  // takes its retired batch back from its own ring before the grace period (own-ring-early).
  it.each([
    ['reclaim-without-gp', 'a getter sleeping in find sees its record recycled'],
    ['own-ring-early', "a getter sleeping in find sees its record come back from a CPU's own ring"],
  ] as const)('%s: %s', async (fault, _what) => {
    const { space, naps, busyNaps, allocs } = await run(
      fault,
      ['churn', 'churn', 'reader', 'reader'],
      15,
      (sp) => sp.stats().recycledUnderReader > 0,
      (_space, stop) => Atomics.load(stop, FAULT_BUSY_NAPS) >= RECYCLE_NAPS,
    );
    const seen = space.stats().recycledUnderReader;
    console.log(
      `${fault}: recycledUnderReader ${seen} after ${busyNaps} busy of ${naps} naps, ${allocs} allocs`,
    );
    expect(seen).toBeGreaterThan(0);
    space.detach();
  });

  it('control: with grace periods, the same load never recycles under a reader', async () => {
    const { space, results, naps, busyNaps } = await run(
      undefined,
      ['churn', 'churn', 'reader', 'reader'],
      15,
      () => false,
      (_space, stop) => Atomics.load(stop, FAULT_BUSY_NAPS) >= RECYCLE_NAPS,
    );
    const ops = results.map((r) => r.ops).join(', ');
    console.log(`ops per worker: ${ops}; ${busyNaps} busy of ${naps} getter naps`);
    expect(results.every((r) => r.ops > 0)).toBe(true);
    expect(busyNaps).toBeGreaterThanOrEqual(RECYCLE_NAPS); // as many windows as a twin may need
    expect(space.stats().recycledUnderReader).toBe(0);
    space.detach();
  });

  it('quota-check-then-act: concurrent allocs take a set past its quota', async () => {
    const quota = 2;
    const { space, results, allocs } = await run(
      'quota-check-then-act',
      ['quota', 'quota', 'quota', 'quota'],
      quota,
      (_space, stop) => Atomics.load(stop, FAULT_MAX_COUNT) > quota,
      (_space, stop) => Atomics.load(stop, FAULT_ALLOCS) >= QUOTA_TWIN_ALLOCS,
    );
    const seen = Math.max(...results.map((r) => r.maxCountSeen));
    console.log(`largest count a worker saw: ${seen} (quota ${quota}) after ${allocs} allocs`);
    expect(seen).toBeGreaterThan(quota);
    space.detach();
  });

  it('control: without the fault, no worker sees a count above the quota', async () => {
    const quota = 2;
    const { space, results, allocs } = await run(
      undefined,
      ['quota', 'quota', 'quota', 'quota'],
      quota,
      () => false,
      // Many allocs, and collisions on the quota among them.
      (sp, stop) =>
        Atomics.load(stop, FAULT_ALLOCS) >= QUOTA_CONTROL_ALLOCS && sp.stats().edquot >= 1000,
    );
    console.log(`${allocs} allocs, ${space.stats().edquot} refused -EDQUOT`);
    expect(Math.max(...results.map((r) => r.maxCountSeen))).toBeLessThanOrEqual(quota);
    expect(space.stats().edquot).toBeGreaterThan(0);
    space.detach();
  });
});
