/**
 * A VMM killed inside a boot after the boot stored its token (VM_TOKEN, right after VM_BOOT
 * is logged) and before the VM is RUNNING: the replaced VMM's thread finishes the boot
 * (vm-ops.ts finishBootVm), which used to log VM_BOOT a second time for the same boot (the
 * checker took the two as one). Now the resumed boot sees VM_TOKEN is its token and skips it.
 * Deterministic: the kill is the store of RUNNING throwing before it lands.
 */
import { describe, expect, it } from 'vitest';
import { Ev, EventReader, type LogEvent } from '../src/hw-model/event-log.js';
import { VM_STATE, VM_TOKEN, VMS_BOOTING, VMS_RUNNING } from '../src/hw-model/hw-layout.js';
import { Platform } from '../src/hw-model/index.js';
import { vmField } from '../src/hw-model/vm.js';
import { bootVm, finishBootVm } from '../src/hw-model/vm-ops.js';
import { TWO_VMS } from './helpers/two-vms.js';

class Killed extends Error {}

describe('a boot resumed after its VMM died before RUNNING', () => {
  it('logs VM_BOOT once for the boot, and the VM works', () => {
    const p = Platform.create(TWO_VMS);
    const hw = p.context;
    expect(p.vmDestroy(0, true)).toBe(0);
    const reader = new EventReader(hw.logI32);
    reader.read(() => {});
    const state = vmField(hw, 0, VM_STATE);
    const st = hw.st.bind(hw);
    hw.st = (w: number, v: number) => {
      if (w === state && v === VMS_RUNNING) throw new Killed('VMM killed before RUNNING');
      st(w, v);
    };
    expect(() => bootVm(hw, 0)).toThrow(Killed);
    hw.st = st;
    expect(hw.ld(state)).toBe(VMS_BOOTING);
    const token = hw.ld(vmField(hw, 0, VM_TOKEN));
    expect(finishBootVm(hw, 0)).toBeGreaterThanOrEqual(0);
    expect(hw.ld(state)).toBe(VMS_RUNNING);
    expect(hw.ld(vmField(hw, 0, VM_TOKEN))).toBe(token);
    const events: LogEvent[] = [];
    reader.read((e) => events.push({ ...e }));
    const boots = events.filter((e) => e.kind === Ev.VM_BOOT && e.a === 0 && e.c === token);
    expect(boots).toHaveLength(1);
    const h = p.vcmdAlloc(0);
    expect(p.guestBindPasid(0, 0, h)).toBe(h);
    expect(p.guestEnqcmd(0, 0, 0, h)).toBeGreaterThanOrEqual(0);
    p.detach();
  });
});
