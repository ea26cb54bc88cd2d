/**
 * Property: for any host workload (random profile knobs, process mix, fault injection and
 * seed) the model in deterministic mode violates no invariant and comes to rest after its
 * wind-down. A failing case prints its shrunk workload and the replay command.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dsaPf, nicPf, runDeterministic } from '../src/hw-model/index.js';
import { testSeed } from './helpers/seed.js';

const FILE = 'test/hw_model_random_host_workloads_never_violate.test.ts';

const workload = fc.record({
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  scenario: fc.constantFrom('host-sva', 'exhaustion', 'pri-storm'),
  pasidBits: fc.integer({ min: 3, max: 20 }),
  processes: fc.integer({ min: 1, max: 20 }),
  threadsPerProcess: fc.integer({ min: 1, max: 3 }),
  prqEntries: fc.constantFrom(2, 4, 16, 128),
  qiLength: fc.constantFrom(16, 64, 256),
  pasidLifetime: fc.constantFrom('mm', 'bind'),
  stopMarker: fc.boolean(),
  cachingMode: fc.boolean(),
  narrowNic: fc.boolean(),
  prqService: fc.integer({ min: 0, max: 8 }),
  mix: fc.record({
    bind: fc.integer({ min: 1, max: 20 }),
    submit: fc.integer({ min: 0, max: 60 }),
    touch: fc.integer({ min: 0, max: 10 }),
    unbind: fc.integer({ min: 0, max: 10 }),
    exit: fc.integer({ min: 0, max: 10 }),
    openDwq: fc.integer({ min: 0, max: 5 }),
  }),
  faults: fc.subarray(['kill-cpu', 'stutter'] as const),
});

describe('random host workloads', () => {
  it('never violate an invariant and always come to rest', () => {
    fc.assert(
      fc.property(workload, (w) => {
        const r = runDeterministic({
          scenario: w.scenario,
          seed: w.seed,
          seconds: 30,
          maxSteps: 8_000,
          faults: [...w.faults],
          mix: w.mix,
          profile: {
            pasidBits: w.pasidBits,
            processes: w.processes,
            threadsPerProcess: w.threadsPerProcess,
            prqEntries: w.prqEntries,
            qiLength: w.qiLength,
            pasidLifetime: w.pasidLifetime,
            stopMarker: w.stopMarker,
            cachingMode: w.cachingMode,
            svaQuota: 0,
            latencies: { invalidation: 2, execution: 2, prqService: w.prqService, vmExit: 2 },
            pfs: [
              dsaPf('dsa0'),
              w.narrowNic ? { ...nicPf('nic0'), maxPasidWidth: 3 } : nicPf('nic0'),
            ],
          },
        });
        if (r.firstViolation)
          console.log(r.firstViolation.message, '\n', r.firstViolation.trace.join('\n'));
        expect(r.firstViolation?.message).toBeUndefined();
        expect(r.leftBusy).toEqual([]);
      }),
      { seed: testSeed(FILE), numRuns: 40 },
    );
  });
});
