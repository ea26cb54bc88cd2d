/**
 * Property: for any VM workload (a VM scenario with random knobs: PASID width, vCPUs, guest
 * processes, vcmd register encoding, guest PASID mode, VM-exit latency, stutter, seed) the
 * model in deterministic mode violates no invariant, host or guest, and comes to rest after
 * its wind-down (every PASID of every VM reclaimed, no VMCS entry, WQCFG or bond naming one).
 * A failing case prints its shrunk workload and the replay command.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runDeterministic } from '../src/hw-model/index.js';
import { testSeed } from './helpers/seed.js';

const FILE = 'test/hw_model_random_vm_workloads_never_violate.test.ts';

const workload = fc.record({
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  scenario: fc.constantFrom('vm-swq', 'vm-spid', 'free-before-unbind', 'vm-crash'),
  pasidBits: fc.integer({ min: 6, max: 20 }),
  vcpusPerVm: fc.integer({ min: 1, max: 4 }),
  processesPerVm: fc.integer({ min: 1, max: 8 }),
  vcmdRev: fc.constantFrom('3.0', '3.3'),
  spid: fc.boolean(),
  vmExit: fc.integer({ min: 0, max: 6 }),
  stutter: fc.boolean(),
});

describe('random VM workloads', () => {
  it('never violate an invariant and always come to rest', () => {
    fc.assert(
      fc.property(workload, (w) => {
        const r = runDeterministic({
          scenario: w.scenario,
          seed: w.seed,
          seconds: 30,
          maxSteps: 8_000,
          faults: w.stutter ? ['stutter'] : [],
          profile: {
            pasidBits: w.pasidBits,
            vcpusPerVm: w.vcpusPerVm,
            processesPerVm: w.processesPerVm,
            vcmdRev: w.vcmdRev,
            ...(w.spid ? { guestPasidMode: 'spid' as const } : {}),
            latencies: { invalidation: 2, execution: 2, prqService: 4, vmExit: w.vmExit },
          },
        });
        if (r.firstViolation) console.log(r.firstViolation.message, '\nreplay:', r.replay);
        expect(r.verdict).toBe('pass');
        expect(r.leftBusy).toEqual([]);
        for (const v of r.vms) expect(v.pasidsLive, `VM ${v.vm}`).toBe(0);
      }),
      { seed: testSeed(FILE), numRuns: 12 },
    );
  });
});
