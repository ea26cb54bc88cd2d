/**
 * 4 real workers share three sets with small quotas, so -EDQUOT happens constantly. No set's
 * holder count ever exceeds its quota (checked online by every worker after each alloc), a
 * monitor on the main thread samples every set's count and the capacity sum meanwhile, and
 * all quota goes back to available() when the sets are freed.
 */
import { describe, expect, it } from 'vitest';
import { IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import { testSeed } from './helpers/seed.js';
import { runStress } from './workers/run-stress.js';

const FILE = 'test/ioasid_quota_never_exceeded_4_workers.test.ts';

describe('quota never exceeded with 4 workers', () => {
  it('set counts stay <= quota and quotas sum <= capacity, under constant -EDQUOT', async () => {
    const seed = testSeed(FILE);
    const space = IoasidSpace.create({ pasidBits: 5, maxSets: 4, maxIoasids: 64, maxThreads: 8 });
    const quotas = [3, 5, 7];
    const sets = quotas.map((q, i) =>
      space.setAlloc(i === 1 ? 1234 : null, q, i === 1 ? SetType.MM : SetType.NULL),
    );
    expect(sets).toEqual([0, 1, 2]);
    expect(space.available()).toBe(31 - 15);
    let samples = 0;
    const bad: string[] = [];
    const monitor = setInterval(() => {
      let sum = space.available();
      sets.forEach((set, k) => {
        const info = space.setInfo(set)!;
        sum += info.quota;
        if (info.count > quotas[k]!)
          bad.push(`set ${set} count ${info.count} > quota ${quotas[k]}`);
      });
      if (sum !== space.capacity()) bad.push(`quotas + available = ${sum} != capacity`);
      samples++;
    }, 1);
    const { results, violations } = await runStress(space, {
      workers: 4,
      seed,
      ops: 60_000,
      maxHold: 6,
      sets,
      quotas,
    });
    clearInterval(monitor);
    for (const r of results) console.log(`worker ${r.worker}:`, JSON.stringify(r.counts));
    console.log(`monitor samples: ${samples}`);
    expect(violations).toEqual([]);
    expect(bad).toEqual([]);
    expect(results.some((r) => (r.counts['alloc-122'] ?? 0) > 0)).toBe(true);
    for (const set of sets) expect(space.setFree(set)).toBe(0);
    expect(space.available()).toBe(31);
    space.detach();
  });

  it('broken twin: the online quota check fires when the quota it is given is too small', async () => {
    const seed = testSeed(FILE);
    const space = IoasidSpace.create({ pasidBits: 5, maxSets: 4, maxIoasids: 64, maxThreads: 8 });
    const set = space.setAlloc(null, 6, SetType.NULL);
    const { violations } = await runStress(space, {
      workers: 4,
      seed,
      ops: 5_000,
      maxHold: 6,
      sets: [set],
      quotas: [2], // the shadow oracle believes the quota is 2
    });
    expect(violations.map((v) => v.kind)).toContain('quota-exceeded');
    space.detach();
  });
});
