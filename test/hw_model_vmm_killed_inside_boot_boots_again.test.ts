/**
 * Issue 12, kill-vmm: a VMM thread killed inside bootVm leaves its VM BOOTING (the instance
 * counted, KVM's subscription on the new token made, maybe the set too), and nothing else
 * ever moves a VM out of BOOTING: the VM never ran, nor submitted, again (seed 1234, vm-swq
 * with kill-vmm: VM 0 at the end in state 4 = BOOTING, its vCPUs offline, nothing queued).
 * The VMM's thread, replaced, finishes the half boot (vm.ts vmBootFinish): the same instance,
 * the set the dead VMM made if it made one.
 * Deterministic: the dead VMM's half boot is replayed by hand, then a fresh VmmActor steps.
 */
import { describe, expect, it } from 'vitest';
import { SetType } from '../src/core/ioasid/ioasid-space.js';
import { VmmActor } from '../src/hw-model/actors/vmm-actor.js';
import {
  H_VM_QUOTA,
  VM_INSTANCE,
  VM_SET,
  VM_STATE,
  VMS_BOOTING,
  VMS_OFF,
  VMS_RUNNING,
  vmToken,
} from '../src/hw-model/hw-layout.js';
import { Platform } from '../src/hw-model/index.js';
import { ModelRng } from '../src/hw-model/rng.js';
import { vmField } from '../src/hw-model/vm.js';
import { TWO_VMS } from './helpers/two-vms.js';

/** Where in bootVm the VMM died: after the instance count, the KVM subscription, the set. */
const CUT_AFTER = ['instance', 'subscription', 'set'] as const;
const STEPS = 8;

describe('a VMM killed inside a boot', () => {
  it.each(CUT_AFTER)('cut after its %s: the VMM thread finishes the boot', (cut) => {
    const p = Platform.create(TWO_VMS);
    const hw = p.context;
    expect(p.vmDestroy(0, true)).toBe(0);
    expect(hw.ld(vmField(hw, 0, VM_STATE))).toBe(VMS_OFF);
    // The dead VMM's half of vm.ts vmBoot.
    const state = vmField(hw, 0, VM_STATE);
    expect(Atomics.compareExchange(hw.i32, state, VMS_OFF, VMS_BOOTING)).toBe(VMS_OFF);
    const instance = Atomics.add(hw.i32, vmField(hw, 0, VM_INSTANCE), 1) + 1;
    const token = vmToken(0, instance);
    if (cut !== 'instance') hw.vmChains.subscribeMm(0, token);
    if (cut === 'set')
      expect(hw.space.setAlloc(token, hw.ld(H_VM_QUOTA), SetType.MM)).toBeGreaterThanOrEqual(0);

    const vmm = new VmmActor(hw, 0, 1, { oneIn: 0, atBound: 0 });
    const rng = new ModelRng(1);
    for (let i = 0; i < STEPS && hw.ld(state) !== VMS_RUNNING; i++) vmm.step(rng);
    expect(hw.ld(state)).toBe(VMS_RUNNING);
    // Booted as the instance the dead VMM took, with the set it made (or one made now).
    expect(hw.ld(vmField(hw, 0, VM_INSTANCE))).toBe(instance);
    expect(hw.space.findMmSet(token)).toBe(hw.ld(vmField(hw, 0, VM_SET)));
    // And the VM works: a vcmd PASID, bound, submitted with.
    const h = p.vcmdAlloc(0);
    expect(p.guestBindPasid(0, 0, h)).toBe(h);
    expect(p.guestEnqcmd(0, 0, 0, h)).toBeGreaterThanOrEqual(0);
    p.detach();
  });
});
