/**
 * The charge-in-flight window with real worker_threads: WORKERS workers share one set of a
 * small quota, with magazines on (their freed ids park with their quota charges, and allocs
 * take parked charges back, their own and each other's), and hammer alloc/free in random id
 * ranges. Then each worker in turn, the others waiting outside any call, allocates alone until
 * the quota refuses it (its solo phase): those refusals are always judged, so the checks below
 * do not hang on the racing phase having had a quiet moment, which a loaded machine may not
 * give. The deterministic companion is ioasid_quota_waits_for_a_charge_in_flight (one thread,
 * paused at every builtin call); this one runs the real interleavings.
 *
 * Checks, by name, after the fact (the ghost words: test/workers/ioasid-charge-race-protocol.ts):
 * - `quota-exceeded`: the ids held never exceed the quota (HELD, bumped after each alloc,
 *   is at most the true live count);
 * - `edquot-with-room`: an alloc that ran while every other worker was idle (no call of theirs,
 *   detach included, began or ended during it) got -EDQUOT with fewer live ids than the quota.
 *   No charge was in flight then, so neither documented window applies: that -EDQUOT is
 *   wrong. Other -EDQUOTs fall in a window or not, which only timing could tell: they are
 *   counted and printed;
 * - `unexpected-errors`: every other alloc and every free succeeded;
 * - `count-back-to-zero`: once the workers freed everything and detached, the set's COUNT is 0;
 * - `no-lost-charge`: the main thread then allocates exactly the quota in the set;
 * - `audit`: the kill audit (test/helpers/kill-points.ts) finds the space exact;
 * - `set-free`: setFree destroys the set and all capacity is available again.
 *
 * Broken twins: `magazine-forget-charge` (a parked id taken back keeps, i.e. loses, its charge)
 * must be reported by `count-back-to-zero`, `no-lost-charge` and `edquot-with-room` (the
 * lost charges refuse allocs of a set with no live id); `quota-check-then-act` (the V4-era
 * plain check of COUNT) by `quota-exceeded`.
 */
import { describe, expect, it } from 'vitest';
import { Errno, type IoasidFault, IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import { Prng } from '../src/workers/prng.js';
import { audit, MAX_IOASIDS } from './helpers/kill-points.js';
import { testSeed } from './helpers/seed.js';
import { exited, startTestWorker } from './helpers/workers.js';
import {
  type ChargeRaceMessage,
  type ChargeRaceResult,
  type ChargeRaceWorkerData,
  GHOST_GO,
  GHOST_WORDS,
} from './workers/ioasid-charge-race-protocol.js';

const FILE = 'test/ioasid_quota_charge_in_flight_real_workers.test.ts';
const WORKERS = 3;
const OPS = 4000;
const PASID_BITS = 6;
const ID_HI = 2 ** PASID_BITS - 1;

interface Outcome {
  bad: string[];
  totals: {
    allocs: number;
    edquot: number;
    enomem: number;
    quietEdquot: number;
    /** Workers whose solo phase met a refusal (each alone, so each refusal is judged). */
    soloRefused: number;
  };
}

async function scenario(seed: number, fault?: IoasidFault): Promise<Outcome> {
  const prng = new Prng(seed);
  const space = IoasidSpace.create({
    pasidBits: PASID_BITS,
    maxSets: 4,
    maxIoasids: MAX_IOASIDS, // the audit's record pool
    maxThreads: WORKERS + 2,
    fault,
  });
  const quota = 3 + prng.below(3);
  const set = space.setAlloc(null, quota, SetType.NULL);
  const ghostBuffer = new SharedArrayBuffer(GHOST_WORDS * 4);
  const ghost = new Int32Array(ghostBuffer);
  const workers = Array.from({ length: WORKERS }, (_, w) =>
    startTestWorker('ioasid-charge-race-worker', {
      handle: space.handle,
      set,
      quota,
      seed: (seed + 7919 * (w + 1)) | 0,
      ops: OPS,
      // Above the quota: even a worker that runs alone meets it (and gets a judged -EDQUOT).
      maxHold: quota + 1,
      narrowLo: 32,
      hi: ID_HI,
      workers: WORKERS,
      index: w,
      ghost: ghostBuffer,
    } satisfies ChargeRaceWorkerData),
  );
  const ends = workers.map((w) => exited(w));
  const results = workers.map(
    (w) =>
      new Promise<ChargeRaceResult>((resolve) =>
        w.on('message', (m: ChargeRaceMessage) => m !== 'ready' && resolve(m)),
      ),
  );
  // GO once all are attached: a worker started late would otherwise run its ops alone.
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
  Atomics.store(ghost, GHOST_GO, 1);
  Atomics.notify(ghost, GHOST_GO);
  const rs = await Promise.all(results);
  await Promise.all(ends);

  const bad: string[] = [];
  const totals = { allocs: 0, edquot: 0, enomem: 0, quietEdquot: 0, soloRefused: 0 };
  for (const [w, r] of rs.entries()) {
    totals.allocs += r.allocs;
    totals.edquot += r.edquot;
    totals.enomem += r.enomem;
    totals.quietEdquot += r.quietEdquot;
    if (r.soloHeld >= 0) totals.soloRefused++;
    if (r.quotaExceeded.length > 0)
      bad.push(`quota-exceeded: worker ${w}: ${r.quotaExceeded.slice(0, 3).join(', ')}`);
    if (r.edquotWithRoom.length > 0)
      bad.push(
        `edquot-with-room: worker ${w}: ${r.edquotWithRoom.length} -EDQUOT with every other worker idle, e.g. ${r.edquotWithRoom[0]}`,
      );
    if (r.errors.length > 0)
      bad.push(`unexpected-errors: worker ${w}: ${r.errors.slice(0, 3).join(', ')}`);
    if (r.allocs !== r.frees)
      bad.push(`unexpected-errors: worker ${w}: ${r.allocs} allocs, ${r.frees} frees`);
  }
  const count = space.setInfo(set)?.count;
  if (count !== 0) bad.push(`count-back-to-zero: COUNT ${count} with every worker detached`);
  space.flushRecords(); // every record the workers retired back in the pool: no -ENOMEM
  const ids: number[] = [];
  for (;;) {
    const id = space.alloc(set, 1, ID_HI);
    if (id < 0) {
      if (id !== -Errno.EDQUOT) bad.push(`unexpected-errors: main alloc ${id}`);
      break;
    }
    ids.push(id);
  }
  if (ids.length !== quota)
    bad.push(`no-lost-charge: the main thread allocates ${ids.length} ids, quota ${quota}`);
  for (const id of ids) space.free(set, id);
  for (const b of audit(space)) bad.push(`audit: ${b}`);
  const freed = space.setFree(set);
  if (freed !== 0 || space.available() !== space.capacity())
    bad.push(`set-free: setFree ${freed}, available ${space.available()} of ${space.capacity()}`);
  console.log(
    `quota=${quota} fault=${fault ?? 'none'} allocs=${totals.allocs} edquot=${totals.edquot} ` +
      `enomem=${totals.enomem} ` +
      `judged (every other worker idle)=${totals.quietEdquot} solo refused=${totals.soloRefused}`,
  );
  space.detach();
  return { bad, totals };
}

describe('quota with a charge in flight: real workers on one set, magazines on', () => {
  it('never exceeds the quota, never refuses with room while the others are idle, loses no charge', async () => {
    const seed = testSeed(FILE);
    for (let round = 0; round < 3; round++) {
      const { bad, totals } = await scenario(seed + round);
      expect(bad).toEqual([]);
      // The run did what it is for: allocs that met the quota, and every worker's solo phase
      // ended on a judged refusal (so edquot-with-room had something to judge).
      expect(totals.edquot).toBeGreaterThan(0);
      expect(totals.soloRefused).toBe(WORKERS);
      expect(totals.quietEdquot).toBeGreaterThanOrEqual(WORKERS);
    }
  }, 180_000);

  it('broken twin: magazine-forget-charge is reported by count-back-to-zero, no-lost-charge and edquot-with-room', async () => {
    const seed = testSeed(FILE);
    const { bad } = await scenario(seed, 'magazine-forget-charge');
    console.log(`twin: ${bad.join('; ')}`);
    expect(bad.some((b) => b.startsWith('count-back-to-zero:'))).toBe(true);
    expect(bad.some((b) => b.startsWith('no-lost-charge:'))).toBe(true);
    // The lost charges shrink the quota while the workers run: judged -EDQUOTs with room.
    expect(bad.some((b) => b.startsWith('edquot-with-room:'))).toBe(true);
  }, 120_000);

  it('broken twin: quota-check-then-act is reported by quota-exceeded', async () => {
    // Its race needs two allocs between one's check and its add: about one run in two shows
    // it, so rounds go on (seed + round) until one does; 20 missed rounds is a failure.
    const seed = testSeed(FILE);
    let bad: string[] = [];
    let round = 0;
    for (; round < 20 && !bad.some((b) => b.startsWith('quota-exceeded:')); round++)
      ({ bad } = await scenario(seed + round, 'quota-check-then-act'));
    console.log(`twin, round ${round}: ${bad.join('; ')}`);
    expect(bad.some((b) => b.startsWith('quota-exceeded:'))).toBe(true);
  }, 300_000);
});
