/**
 * Issue 12, kill-vmm: a VMM thread killed inside a boot right after a consumer's notifier
 * registration returned, before the store of its id (the window the kill sweep used to
 * exempt), leaked that subscriber: its replaced thread, finishing the boot, registered a
 * second one, and the first, unread, held up every consumer behind it on the VM's chain (a
 * FREE never reached the VDCM and the IOMMU driver: the destroy never finished). Now the
 * resumed boot adopts it by its owner tag (vm-chain.ts, the core's findNotifier): the chain
 * has exactly one subscriber of that owner, and the VM binds, submits and is destroyed with
 * nothing left. The twin with the adoption disabled (the finds answer -ENOENT) shows both
 * faults, so this test can fail.
 * Deterministic: the kill is an exception thrown at the store of the consumer's word (as
 * `terminate()` stops a worker at a call), the reaper runs as the harness runs it, then a
 * fresh VmmActor steps.
 */
import { describe, expect, it } from 'vitest';
import {
  hooksHeaderGeometry,
  S_ID,
  S_KIND,
  S_OWNER,
  S_SET,
  S_TOKEN,
  SUBK_MM,
  SUBK_SET,
  subWord,
} from '../src/core/ioasid/hooks-layout.js';
import { Errno } from '../src/core/ioasid/ioasid-space.js';
import { VmmActor } from '../src/hw-model/actors/vmm-actor.js';
import {
  VM_SET,
  VM_STATE,
  VM_SUB_IOMMU,
  VM_SUB_KVM,
  VM_SUB_VDCM,
  VM_TOKEN,
  VMS_BOOTING,
  VMS_OFF,
  VMS_RUNNING,
} from '../src/hw-model/hw-layout.js';
import { Platform } from '../src/hw-model/index.js';
import { ModelRng } from '../src/hw-model/rng.js';
import { vmField } from '../src/hw-model/vm.js';
import { IOMMU, KVM, OWNER_TAG, VDCM } from '../src/hw-model/vm-chain.js';
import { bootVm } from '../src/hw-model/vm-ops.js';
import { TWO_VMS } from './helpers/two-vms.js';
import { Killed, reapVm0 } from './helpers/vm-engines.js';

const CONSUMERS = [
  ['KVM', KVM, VM_SUB_KVM],
  ['VDCM', VDCM, VM_SUB_VDCM],
  ['IOMMU driver', IOMMU, VM_SUB_IOMMU],
] as const;
const STEPS = 8;

/**
 * Registered subscribers of VM 0's current chains tagged `owner`: KVM's on the VM's token
 * (MM), the others on its set (a retired twin of the last instance is detached from the set,
 * its incarnation being dead, so it is not counted).
 */
function subscribersOf(p: Platform, consumer: number): number[] {
  const hw = p.context;
  const hk = new Int32Array(p.space.handle.hooks);
  const hg = hooksHeaderGeometry(hk);
  const token = hw.ld(vmField(hw, 0, VM_TOKEN));
  const set = hw.ld(vmField(hw, 0, VM_SET));
  const out: number[] = [];
  for (let slot = 0; slot < hg.maxSubs; slot++) {
    const s = subWord(hg, slot);
    const id = Atomics.load(hk, s + S_ID);
    if (id < 0 || Atomics.load(hk, s + S_OWNER) !== OWNER_TAG[consumer]) continue;
    const kind = Atomics.load(hk, s + S_KIND);
    if (
      consumer === KVM
        ? kind === SUBK_MM && Atomics.load(hk, s + S_TOKEN) === token
        : kind === SUBK_SET && Atomics.load(hk, s + S_SET) === set
    )
      out.push(id);
  }
  return out;
}

/**
 * VM 0 destroyed, then booted by a VMM killed at the store of `consumer`'s subscriber id;
 * reaped; its replaced VMM steps until the VM runs.
 */
function killedAfterRegistration(word: number, adopt: boolean): Platform {
  const p = Platform.create(TWO_VMS);
  const hw = p.context;
  expect(p.vmDestroy(0, true)).toBe(0);
  expect(hw.ld(vmField(hw, 0, VM_STATE))).toBe(VMS_OFF);
  if (!adopt) {
    // The broken twin: a resumed boot cannot find what it registered.
    const space = hw.space as unknown as Record<string, (...a: unknown[]) => number>;
    space.findNotifier = () => -Errno.ENOENT;
    space.findNotifierMm = () => -Errno.ENOENT;
  }
  const target = vmField(hw, 0, word);
  const st = hw.st.bind(hw);
  hw.st = (w: number, v: number) => {
    if (w === target) throw new Killed('killed after the registration returned');
    st(w, v);
  };
  expect(() => bootVm(hw, 0)).toThrow(Killed);
  hw.st = st;
  expect(hw.ld(vmField(hw, 0, VM_STATE))).toBe(VMS_BOOTING);
  expect(hw.ld(target)).toBe(-1);
  reapVm0(p, true);
  const vmm = new VmmActor(hw, 0, 1, { oneIn: 0, atBound: 0 });
  const rng = new ModelRng(1);
  for (let i = 0; i < STEPS && hw.ld(vmField(hw, 0, VM_STATE)) !== VMS_RUNNING; i++) vmm.step(rng);
  expect(hw.ld(vmField(hw, 0, VM_STATE))).toBe(VMS_RUNNING);
  return p;
}

/** The VM works through its consumers, then its destroy (a FREE down the chain) finishes. */
function bindSubmitDestroy(p: Platform): { destroy: number; left: string[] } {
  const hw = p.context;
  const h = p.vcmdAlloc(0);
  expect(p.guestBindPasid(0, 0, h)).toBe(h);
  expect(p.guestProgramWq(0, 0, h)).toBe(h);
  expect(p.guestEnqcmd(0, 0, 0, h)).toBeGreaterThanOrEqual(0);
  const destroy = p.vmDestroy(0, true);
  const left: string[] = [];
  if (hw.ld(vmField(hw, 0, VM_STATE)) !== VMS_OFF) left.push('VM 0 not off');
  const s = p.space.inspect(h);
  if (s.state !== 'free') left.push(`pasid ${h} ${s.state} refs ${s.refs}`);
  return { destroy, left };
}

describe('a VMM killed between a registration and the store of its id', () => {
  it.each(CONSUMERS)('%s: the resumed boot adopts it; the chain is not held up', (_n, c, word) => {
    const p = killedAfterRegistration(word, true);
    const hw = p.context;
    const subs = subscribersOf(p, c);
    expect(subs).toEqual([hw.ld(vmField(hw, 0, word))]);
    expect(bindSubmitDestroy(p)).toEqual({ destroy: 0, left: [] });
    p.detach();
  });

  it.each(
    CONSUMERS,
  )('%s, adoption disabled: two subscribers, the destroy held up', (_n, c, word) => {
    const p = killedAfterRegistration(word, false);
    const hw = p.context;
    const subs = subscribersOf(p, c);
    expect(subs).toHaveLength(2);
    expect(subs).toContain(hw.ld(vmField(hw, 0, word)));
    const { destroy, left } = bindSubmitDestroy(p);
    expect(destroy).toBeLessThan(0);
    expect(left).toContain('VM 0 not off');
    p.detach();
  });
});
