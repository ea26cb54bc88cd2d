/**
 * Kills of a VM's guest (vCPU) thread and of the VMMs' thread, on real worker threads (faults
 * kill-vcpu, kill-vmm): each kill destroys the VM(s) the thread served as a crash
 * (vm-recovery.ts), the VMM (alive or replaced) boots them again, and the run goes on. After the fact, with the
 * platform at rest: the run passes (INV-16 included: nothing left anywhere), every host
 * PASID was reclaimed (the destroyed VMs' with the rest), no VMCS entry is valid and no WQCFG
 * names a PASID, and each guest kernel's space holds no id.
 */
import { describe, expect, it } from 'vitest';
import { IoasidSpace } from '../src/core/ioasid/ioasid-space.js';
import {
  VE_CUR,
  VE_VALID,
  VMCS_ENTRY_WORDS,
  VMCS_LEAF_ENTRIES,
  WQ_PASID,
} from '../src/hw-model/hw-layout.js';
import type { ModelFault, ModelRunResult, Platform } from '../src/hw-model/index.js';
import { runThreaded } from '../src/workers/hw-fleet.js';
import { testSeed } from './helpers/seed.js';

const FILE = 'test/hw_model_vm_thread_kills_leak_nothing.test.ts';
/** Safety nets only, never asserted: a stuck run is interrupted, then the case times out. */
const RUN_LIMIT_MS = 240_000;
const CASE_TIMEOUT_MS = 300_000;

/** What the platform at rest still names (every list empty when nothing leaked). */
interface Leftovers {
  livePasids: number[];
  validVmcsEntries: string[];
  wqcfgPasids: string[];
  guestIds: string[];
}

function leftovers(p: Platform): Leftovers {
  const hw = p.context;
  const out: Leftovers = { livePasids: [], validVmcsEntries: [], wqcfgPasids: [], guestIds: [] };
  for (let id = 1; id <= p.space.maxId; id++)
    if (p.space.inspect(id).state !== 'free') out.livePasids.push(id);
  hw.g.vm.forEach((v, vm) => {
    const words = VMCS_ENTRY_WORDS * VMCS_LEAF_ENTRIES * hw.g.shape.vm.vmcsLeaves;
    for (let w = 0; w < words; w += VMCS_ENTRY_WORDS) {
      const cur = hw.ld(v.vmcsLeafBase + w + VE_CUR);
      if (cur & VE_VALID) out.validVmcsEntries.push(`VM ${vm}: ${cur & ~VE_VALID}`);
    }
    const gs = IoasidSpace.attach(p.handle.guests[vm]!);
    gs.setForEachIoasid(0, (id) => out.guestIds.push(`VM ${vm}: ${id}`));
    gs.detach();
  });
  hw.g.pf.forEach((pf, i) => {
    pf.wqCfg.forEach((cfg, w) => {
      const pasid = hw.ld(cfg + WQ_PASID);
      if (pasid !== 0) out.wqcfgPasids.push(`pf${i} wq${w}: ${pasid}`);
    });
  });
  return out;
}

async function killRun(scenario: string, seed: number, faults: ModelFault[]) {
  let left: Leftovers | undefined;
  const r = await runThreaded({
    scenario,
    seed,
    seconds: 2,
    faults,
    // Bounded by work, not time: a VM that spent the 2 s in destroys gets going after them.
    untilEveryVmWorked: true,
    // A run must end, even one that never gets there: the signal interrupts it (the verdict
    // then fails the case) well before the case's own timeout.
    signal: AbortSignal.timeout(RUN_LIMIT_MS),
    atEnd: (p) => {
      left = leftovers(p);
    },
  });
  return { r, left: left! };
}

function passesAtRest(r: ModelRunResult, left: Leftovers): void {
  if (r.firstViolation)
    console.log(r.firstViolation.message, '\n', r.firstViolation.trace.join('\n'), r.replay);
  expect(r.interrupted).toBeNull();
  expect(r.verdict).toBe('pass');
  expect(r.leftBusy).toEqual([]);
  const inv16 = r.invariants.find((i) => i.id === 'INV-16')!;
  expect(inv16.checks).toBeGreaterThan(0);
  expect(inv16.violations).toBe(0);
  expect(left).toEqual({ livePasids: [], validVmcsEntries: [], wqcfgPasids: [], guestIds: [] });
}

describe('kills of guest (vCPU) and VMM threads leave nothing behind', () => {
  const seed = testSeed(FILE);

  it.each([
    ['vm-swq', 'kill-vcpu'],
    ['vm-spid', 'kill-vcpu'],
    ['vm-crash', 'kill-vcpu'],
    ['free-before-unbind', 'kill-vcpu'],
    ['vm-swq', 'kill-vmm'],
    ['vm-spid', 'kill-vmm'],
    ['vm-crash', 'kill-vmm'],
    ['free-before-unbind', 'kill-vmm'],
  ] as const)(
    '%s with %s: every killed VM destroyed, and at rest nothing leaked',
    async (scenario, fault) => {
      const { r, left } = await killRun(scenario, seed, [fault, 'stutter']);
      passesAtRest(r, left);
      expect(r.kills).toBeGreaterThan(0);
      // A kill destroys the VM(s) the thread served (unless already dying or off).
      expect(r.vms.reduce((n, v) => n + v.destroys, 0)).toBeGreaterThan(0);
      // The VMs came back and worked after their destroys: when the busy part ended (bounded by
      // work: it ran on without kills until they had), each had submitted in its current life.
      expect(r.vms.length).toBe(2);
      for (const v of r.vms) expect(v.submissions, `VM ${v.vm}`).toBeGreaterThan(0);
      expect(r.vmsIdleAtBusyEnd, JSON.stringify(r.vms)).toBe(0);
    },
    CASE_TIMEOUT_MS,
  );
});
