/**
 * 4 real workers share one set whose quota is the whole (tiny) space: ids run out and are
 * reused constantly. The workers run the stress operations (stress/ops/) on the CPUs' own
 * view, so every result is checked against the same contract as in a stress run. No id is
 * ever handed out twice while live (the shadow oracle's ownership CAS online, and the offline
 * interval checker), find returns each allocation's own data, and nothing leaks.
 */
import { describe, expect, it } from 'vitest';
import { IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import { testSeed } from './helpers/seed.js';
import { checkNoOverlap, corruptWithDuplicate } from './workers/check-log.js';
import { runStress } from './workers/run-stress.js';

const FILE = 'test/ioasid_no_duplicate_ids_4_workers.test.ts';

describe('no duplicate ids with 4 workers', () => {
  for (const policy of ['lowest', 'cyclic'] as const) {
    it(`policy ${policy}: every id is live in at most one allocation at a time`, async () => {
      const seed = testSeed(FILE);
      const space = IoasidSpace.create({
        pasidBits: 5,
        maxSets: 4,
        maxIoasids: 64,
        maxThreads: 8,
        policy,
      });
      const set = space.setAlloc(null, 0, SetType.NULL);
      expect(set).toBe(0);
      const startRecords = space.stats().freeRecords;
      const { results, violations } = await runStress(space, {
        workers: 4,
        seed,
        ops: 60_000,
        maxHold: 10, // 4 x 10 > 31 ids: -ENOSPC all the time
        sets: [set],
        quotas: [31],
      });
      const logs = results.map((r) => r.log);
      for (const r of results) console.log(`worker ${r.worker}:`, JSON.stringify(r.counts));
      expect(violations).toEqual([]);
      expect(checkNoOverlap(logs)).toEqual([]);
      // Exhaustion really happened.
      expect(results.some((r) => (r.counts['alloc-28'] ?? 0) > 0)).toBe(true);
      // Broken twin: the same checker must see a duplicated allocation.
      expect(checkNoOverlap(corruptWithDuplicate(logs)).length).toBeGreaterThan(0);
      // Nothing leaks.
      expect(space.setInfo(set)?.count).toBe(0);
      expect(space.setFree(set)).toBe(0);
      expect(space.available()).toBe(space.capacity());
      space.flushRecords();
      const st = space.stats();
      expect(st.liveRecords).toBe(0);
      expect(st.limboRecords).toBe(0);
      expect(st.freeRecords).toBe(startRecords);
      space.detach();
    });
  }
});
