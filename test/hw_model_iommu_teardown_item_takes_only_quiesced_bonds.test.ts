/**
 * The IOMMU driver's teardown work item of (PASID, generation) walks the bonds of the VMM
 * record of that generation, one at a time, and looks again after each bond it finished. In
 * spid mode the record outlives its last unbind (the VMM frees the host PASID only once the
 * teardown is over), so a guest may bind the same guest PASID again, on the same record and
 * generation, as soon as the bond is free; if the VMM's thread stops right there (killed, or
 * its kernel step's budget used up), the new bond can be unbound (or its record freed by the
 * VM's destroy) before the old item looks again. The old item must not take the new bond:
 * KVM's epoch wait (P0) and the VDCM's drain (P1) of it are queued behind it. Seen on threads
 * as INV-6 "pf0 pasid 10 gen 102 reached P2 before P0" (vm-spid, --fault kill-vmm).
 *
 * The kill is made deterministically: the store that frees the old bond (its CLAIM 0, its
 * last) throws, as `terminate()` stops a worker at a call; the guest's thread, alive, binds
 * and unbinds again; then the reaper runs as the threaded harness runs it.
 */
import { describe, expect, it } from 'vitest';
import { bf } from '../src/hw-model/bonds.js';
import { ModelChecker } from '../src/hw-model/checker/checker.js';
import { guestBind, guestUnbind } from '../src/hw-model/guest-iommu.js';
import type { HwContext } from '../src/hw-model/hw-context.js';
import { B_CLAIM, B_STATE, BS_FREE, VM_STATE, VMS_OFF, WK_AUX } from '../src/hw-model/hw-layout.js';
import { Platform } from '../src/hw-model/index.js';
import { vcpuStep } from '../src/hw-model/vcpu.js';
import { recordBond, recordOfGpasid, vmField } from '../src/hw-model/vm.js';
import { vmMarkDying } from '../src/hw-model/vm-ops.js';
import { workHead } from '../src/hw-model/work-ring.js';
import { TWO_VMS } from './helpers/two-vms.js';
import { Killed, kernelUntilKilled, reapVm0, settleVm0 } from './helpers/vm-engines.js';

const G = 101;

/** What the guest does with its thread while the VMM's is gone. */
const AFTERWARDS = [
  {
    name: 'binds the guest PASID again and unbinds it',
    guest: (p: Platform) => expect(guestUnbind(p.context, 0, 0, G)).toBe(0),
  },
  {
    // The reaper's first step marks the VM dying; the guest's threads take their vCPUs out
    // before its last (the records freed once they are out): the FREE path's items are
    // queued behind the old one before the replaced VMM's thread runs it.
    name: 'binds the guest PASID again, the destroy frees its record',
    guest: (p: Platform) => {
      expect(vmMarkDying(p.context, 0, true)).toBe(true);
      for (let c = 0; c < p.context.g.shape.vm.vcpus; c++) vcpuStep(p.context, 0, c);
    },
  },
];

/**
 * Where the VMM's thread dies, right after the store: the one that frees the old bond (its
 * CLAIM 0, the last; the item still names the bond, whose slot the bind then claims again), or
 * the one by which the item lets go of the freed bond (it then looks for more bonds).
 */
const KILLED_AT = [
  {
    name: 'as it frees the bond',
    at: (hw: HwContext, b: number, w: number, v: number) => w === bf(hw, b, B_CLAIM) && v === 0,
  },
  {
    name: 'as its item lets go of the freed bond',
    at: (hw: HwContext, b: number, w: number, v: number) =>
      v === 0 && hw.ld(bf(hw, b, B_STATE)) === BS_FREE && w === (workHead(hw, 0)?.w ?? -1) + WK_AUX,
  },
];

const CASES = KILLED_AT.flatMap((k) =>
  AFTERWARDS.map((a) => [k.name, a.name, k.at, a.guest] as const),
);

describe("the IOMMU driver's teardown item of a spid record's generation", () => {
  it.each(CASES)('the VMM killed %s, the guest %s: no P2 before P0', (_k, _a, at, guest) => {
    const p = Platform.create({ ...TWO_VMS, guestPasidMode: 'spid' });
    const hw = p.context;
    const checker = new ModelChecker(hw, {});
    const h = p.guestBindPasid(0, 0, G);
    expect(h).toBeGreaterThan(0);
    const r = recordOfGpasid(hw, 0, G);
    const b = recordBond(hw, 0, r, 0);
    expect(guestUnbind(hw, 0, 0, G)).toBe(0);
    // The VMM's thread runs the VM's kernel until it dies at the kill point.
    const st = hw.st.bind(hw);
    hw.st = (w: number, v: number) => {
      if (at(hw, b, w, v)) {
        hw.st = st;
        st(w, v);
        throw new Killed('killed');
      }
      st(w, v);
    };
    const died = kernelUntilKilled(p);
    hw.st = st;
    expect(died).toBe(true);
    expect(hw.ld(bf(hw, b, B_STATE))).toBe(BS_FREE);
    // The guest's thread lives on: the same guest PASID, record and generation, a new bond.
    expect(guestBind(hw, 0, 0, G)).toBe(h);
    expect(recordOfGpasid(hw, 0, G)).toBe(r);
    guest(p);
    // The reaper, as the threaded harness runs it: the VMM died.
    reapVm0(p, true);
    settleVm0(p);
    expect(hw.ld(vmField(hw, 0, VM_STATE))).toBe(VMS_OFF);
    checker.consume();
    if (!checker.first) checker.end();
    const first = checker.first ? `${checker.first.id}: ${checker.first.message}` : 'none';
    checker.close();
    expect(p.space.inspect(h).state).toBe('free');
    p.detach();
    expect(first).toBe('none');
  });
});
