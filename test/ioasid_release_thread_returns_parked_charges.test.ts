/**
 * A worker dies (worker.terminate()) holding ids parked in its magazine with their quota
 * charges (id-magazine.ts). Before releaseThread the set counts none of them as ids; after it
 * the dead magazine is empty and the set's whole quota is available again: the main thread
 * allocates exactly q ids, then -EDQUOT. Checks, by name: `count-is-live` (setInfo count 0
 * while the charges are parked), `magazine-emptied` (no entry left in the dead slot),
 * `quota-fully-available-after-release` (q allocs succeed, the next is -EDQUOT).
 *
 * Broken twin: `magazine-forget-charge`, whose recovery gives the ids back but not their
 * charges, must be reported by `quota-fully-available-after-release`.
 */
import { describe, expect, it } from 'vitest';
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

const FILE = 'test/ioasid_release_thread_returns_parked_charges.test.ts';

async function scenario(seed: number, fault?: IoasidFault): Promise<string[]> {
  const prng = new Prng(seed);
  const space = IoasidSpace.create({
    pasidBits: 5,
    maxSets: 4,
    maxIoasids: 64,
    maxThreads: 4,
    fault,
  });
  const q = 8 + (prng.nextU32() % 8);
  const parked = 1 + (prng.nextU32() % 8); // at most the magazine's 8 entries
  const set = space.setAlloc(null, q, SetType.NULL);
  const ctl = new Int32Array(new SharedArrayBuffer(4));
  const worker = startTestWorker('ioasid-magazine-worker', {
    handle: space.handle,
    set,
    hi: 31,
    count: parked,
    ctl: ctl.buffer as SharedArrayBuffer,
  } satisfies MagazineWorkerData);
  const end = exited(worker);
  const ready = await new Promise<MagazineWorkerReady>((r) => worker.once('message', r));
  await worker.terminate(); // dies attached, its magazine full of charged ids
  await end;
  const bad: string[] = [];
  console.log(`q=${q} parked=${parked} ids=${ready.ids}`);
  const count = space.setInfo(set)?.count;
  if (count !== 0) bad.push(`count-is-live: setInfo count ${count} with only parked ids`);
  space.releaseThread(ready.slot);
  const i32 = new Int32Array(space.handle.buffer);
  const ts = threadSlotWord(spaceHeaderGeometry(i32), ready.slot);
  for (let j = 0; j < TS_MAG_SIZE; j++)
    if (Atomics.load(i32, ts + TS_MAG + j) !== 0) bad.push(`magazine-emptied: entry ${j} left`);
  const got: number[] = [];
  for (let n = 0; n <= q; n++) {
    const id = space.alloc(set, 1, 31);
    if (id < 0) {
      if (n !== q || id !== -Errno.EDQUOT)
        bad.push(`quota-fully-available-after-release: alloc ${n + 1} of quota ${q} -> ${id}`);
      break;
    }
    got.push(id);
  }
  if (got.length > q) bad.push(`quota-fully-available-after-release: ${got.length} ids > ${q}`);
  for (const id of got) space.free(set, id);
  space.setFree(set);
  space.detach();
  return bad;
}

describe('releaseThread returns a dead thread parked ids and their quota charges', () => {
  it('the quota is fully available after releaseThread', async () => {
    const seed = testSeed(FILE);
    for (let round = 0; round < 3; round++) expect(await scenario(seed + round)).toEqual([]);
  }, 60_000);

  it('broken twin: magazine-forget-charge is reported by quota-fully-available-after-release', async () => {
    const seed = testSeed(FILE);
    const bad = await scenario(seed, 'magazine-forget-charge');
    console.log(`twin: ${bad.join('; ')}`);
    expect(bad.some((b) => b.startsWith('quota-fully-available-after-release:'))).toBe(true);
  }, 60_000);
});
