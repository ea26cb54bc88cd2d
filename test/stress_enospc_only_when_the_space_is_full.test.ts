/**
 * Ids cached in a thread's magazine count against nothing a user can see (issue 13): an
 * alloc over the whole id range says -ENOSPC only if every id was taken at some instant of
 * the call. The stress CPUs check it against the id ghost (stress/check/check-layout.ts,
 * IDS_TAKEN and IDS_GIVEN_BACK), soundly while other CPUs free meanwhile; the space's
 * 'magazine-no-steal' fault, an alloc that never takes another thread's cached ids, is the
 * check's broken twin and must be reported by name. A correct run of the same tiny space,
 * with kills, stays clean.
 */
import { describe, expect, it } from 'vitest';
import { runStress } from '../stress/run-stress.js';
import { SCENARIOS } from '../stress/scenarios.js';
import { testSeed } from './helpers/seed.js';

const FILE = 'test/stress_enospc_only_when_the_space_is_full.test.ts';
const storm = { ...SCENARIOS['quota-storm']!, scenario: 'quota-storm', seconds: 2 };

describe('-ENOSPC only when the space was full', () => {
  const seed = testSeed(FILE);

  it("reports the magazine-no-steal twin's -ENOSPC by name, as a bad alloc result", async () => {
    const report = await runStress({ ...storm, seed, broken: 'magazine-no-steal' });
    expect(report.broken).toMatchObject({ twin: 'magazine-no-steal', trips: 'bad-result' });
    expect(report.broken?.caught).toBe(true);
    const first = report.invariants.find((i) => i.kind === 'bad-result')?.first;
    expect(first?.op).toBe('alloc');
    expect(first?.why).toMatch(
      /returned -ENOSPC: the 31 ids of \[1, 31\] were never all taken during the call: at most \d+ were/,
    );
  });

  it('stays clean in a correct run of the same space, with CPUs killed mid-operation', async () => {
    const report = await runStress({
      ...storm,
      seed,
      faults: ['kill-cpu', 'stutter'],
      broken: undefined,
    });
    expect(report.invariants.filter((i) => !i.ok)).toEqual([]);
  });
});
