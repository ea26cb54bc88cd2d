/**
 * Ids freed into per-thread magazines (src/core/ioasid/id-magazine.ts) are free ids for every
 * thread: 4 real workers each allocate and free some ids of a 30-id range, so each keeps them
 * in its magazine, and stay attached. While they do, nothing a user sees counts the cached
 * ids (set count, setForEachIoasid, inspect, available), and one other thread must still be
 * able to allocate all 30 ids (stealing the cached ones), with -ENOSPC exactly at the 31st.
 * After the workers detach, every id bit is clear again.
 *
 * Broken twin: the same scenario on a space with the `magazine-no-steal` fault, where an alloc
 * never takes another thread's cached ids, must be reported as an early -ENOSPC.
 */
import { describe, expect, it } from 'vitest';
import { magazineEntryId } from '../src/core/ioasid/id-magazine.js';
import { Errno, type IoasidFault, IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import {
  spaceHeaderGeometry,
  TS_MAG,
  TS_MAG_SIZE,
  threadSlotWord,
} from '../src/core/ioasid/space-layout.js';
import { Prng } from '../src/workers/prng.js';
import { testSeed } from './helpers/seed.js';
import { exited, startTestWorker } from './helpers/workers.js';
import type {
  MagazineWorkerData,
  MagazineWorkerReady,
} from './workers/ioasid-magazine-protocol.js';

const FILE = 'test/ioasid_cached_ids_are_free_for_every_thread_4_workers.test.ts';
const WORKERS = 4;
/** The range every alloc uses: [1, K] (id 31 stays out, so the set's quota is never the limit). */
const K = 30;

/** White-box (space-layout.ts TS_MAG): the ids cached in thread slot `slot`'s magazine. */
function cachedIds(space: IoasidSpace, slot: number): number[] {
  const i32 = new Int32Array(space.handle.buffer);
  const ts = threadSlotWord(spaceHeaderGeometry(i32), slot);
  const out: number[] = [];
  for (let j = 0; j < TS_MAG_SIZE; j++) {
    const e = Atomics.load(i32, ts + TS_MAG + j);
    if (e > 0) out.push(magazineEntryId(spaceHeaderGeometry(i32), e)); // less its quota charge
  }
  return out;
}

async function scenario(seed: number, fault?: IoasidFault): Promise<string[]> {
  const prng = new Prng(seed);
  const space = IoasidSpace.create({
    pasidBits: 5,
    maxSets: 4,
    maxIoasids: 64,
    maxThreads: 8,
    fault,
  });
  const set = space.setAlloc(null, 31, SetType.NULL);
  expect(set).toBeGreaterThanOrEqual(0);
  const ctl = new Int32Array(new SharedArrayBuffer(4));
  // 1 to 7 ids each: at most 28 of the 30, so every worker's allocs succeed.
  const counts = Array.from({ length: WORKERS }, () => 1 + (prng.nextU32() % 7));
  const workers = counts.map((count) =>
    startTestWorker('ioasid-magazine-worker', {
      handle: space.handle,
      set,
      hi: K,
      count,
      ctl: ctl.buffer as SharedArrayBuffer,
    } satisfies MagazineWorkerData),
  );
  const ends = workers.map((w) => exited(w));
  const ready = await Promise.all(
    workers.map((w) => new Promise<MagazineWorkerReady>((r) => w.once('message', r))),
  );
  const bad: string[] = [];
  // Every worker caches exactly the ids it freed.
  for (const [w, r] of ready.entries()) {
    if (r.ids.some((id) => id <= 0)) bad.push(`worker ${w}: alloc failed: ${r.ids}`);
    const cached = cachedIds(space, r.slot).sort((a, b) => a - b);
    const freed = [...r.ids].sort((a, b) => a - b);
    if (cached.join() !== freed.join())
      bad.push(`worker ${w}: caches [${cached}], freed [${freed}]`);
  }
  // Nothing a user sees counts a cached id.
  if (space.setInfo(set)?.count !== 0) bad.push(`set count ${space.setInfo(set)?.count}`);
  if (space.setForEachIoasid(set, () => {}) !== 0) bad.push('setForEachIoasid visits ids');
  for (let id = 1; id <= K; id++)
    if (space.inspect(id).state !== 'free') bad.push(`id ${id} is ${space.inspect(id).state}`);
  if (space.available() !== space.capacity() - 31) bad.push(`available ${space.available()}`);
  // One thread takes every id of the range, then -ENOSPC.
  const got: number[] = [];
  for (let n = 1; n <= K; n++) {
    const id = space.alloc(set, 1, K);
    if (id < 0) {
      const cached = ready.reduce((c, r) => c + cachedIds(space, r.slot).length, 0);
      bad.push(`-ENOSPC at alloc ${n} of ${K} with ${cached} ids in other threads' magazines`);
      break;
    }
    got.push(id);
  }
  if (got.length === K) {
    const all = [...got].sort((a, b) => a - b);
    if (all.some((id, i) => id !== i + 1)) bad.push(`ids taken: ${all}`);
    const after = space.alloc(set, 1, K);
    if (after !== -Errno.ENOSPC) bad.push(`alloc ${K + 1} returned ${after}, not -ENOSPC`);
  }
  for (const id of got) space.free(set, id);
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
  await Promise.all(ends);
  // Detached workers gave their magazines back: the main thread gets 1..K lowest first.
  space.freeAllInSet(set);
  for (let id = 1; id <= K; id++) {
    const x = space.alloc(set, 1, K);
    if (x !== id) {
      bad.push(`after detach: alloc returned ${x}, want ${id}`);
      break;
    }
  }
  space.freeAllInSet(set);
  space.setFree(set);
  space.detach();
  return bad;
}

describe('ids cached in magazines are free for every thread (4 workers)', () => {
  it('one thread allocates the whole range while 4 others cache ids; -ENOSPC only then', async () => {
    const seed = testSeed(FILE);
    expect(await scenario(seed)).toEqual([]);
  }, 60_000);

  it('broken twin: without stealing, the early -ENOSPC is reported', async () => {
    const seed = testSeed(FILE);
    const bad = await scenario(seed, 'magazine-no-steal');
    console.log(`twin: ${bad.join('; ')}`);
    expect(bad.some((b) => b.startsWith('-ENOSPC at alloc'))).toBe(true);
  }, 60_000);
});
