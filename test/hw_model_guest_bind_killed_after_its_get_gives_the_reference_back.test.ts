/**
 * A guest's thread killed inside a guest bind (the VMM's trapped bind_gpasid runs on it)
 * after the IOMMU driver took its reference on the PASID and before it claimed a bond: the
 * reaper gives that reference back (no bond holds it, so no teardown ever would), and the
 * VM's destroy then reclaims the PASID and releases its record. Seen on threads under load
 * as INV-16 "did not come to rest: VM n PASID records" (a record FREED, IOMMU reference
 * HELD, no bond, the PASID free-pending for good). The kill is simulated deterministically:
 * the store that publishes the reference as HELD throws right after it is made.
 */
import { describe, expect, it } from 'vitest';
import { ModelChecker } from '../src/hw-model/checker/checker.js';
import { Ev, EventReader, type LogEvent } from '../src/hw-model/event-log.js';
import {
  REF_HELD,
  REF_NONE,
  VM_VMM_LOCK,
  VP_IOMMU_REF,
  VP_STATE,
  VPS_FREE,
} from '../src/hw-model/hw-layout.js';
import { Platform } from '../src/hw-model/index.js';
import { lockTake } from '../src/hw-model/owner-lock.js';
import { recordOfPasid, vmField, vpField } from '../src/hw-model/vm.js';
import { reapVms } from '../src/hw-model/vm-recovery.js';
import { TWO_VMS } from './helpers/two-vms.js';

class Killed extends Error {}

describe('a guest bind killed between the driver get and its bond', () => {
  it('the reaper gives the reference back; the destroy reclaims the PASID and the record', () => {
    const p = Platform.create(TWO_VMS);
    const hw = p.context;
    const reader = new EventReader(hw.logI32);
    const h = p.vcmdAlloc(0);
    const r = recordOfPasid(hw, 0, h);
    const refWord = vpField(hw, 0, r, VP_IOMMU_REF);
    const st = hw.st.bind(hw);
    hw.st = (w: number, v: number) => {
      st(w, v);
      if (w === refWord && v === REF_HELD) throw new Killed('killed after the get');
    };
    expect(() => p.guestBindPasid(0, 0, h)).toThrow(Killed);
    hw.st = st;
    expect(hw.ld(refWord)).toBe(REF_HELD);
    // The dead thread held the VM's VMM lock (its trap): its tag is this thread's.
    lockTake(hw.i32, vmField(hw, 0, VM_VMM_LOCK), hw.tag);
    expect(reapVms(hw, [0], hw.tag, false)).toBe(1);
    expect(hw.ld(refWord)).toBe(REF_NONE);
    expect(p.space.inspect(h).state).toBe('free');
    expect(hw.ld(vpField(hw, 0, r, VP_STATE))).toBe(VPS_FREE);
    const events: LogEvent[] = [];
    reader.read((e) => events.push({ ...e }));
    expect(events.filter((e) => e.kind === Ev.PUT && e.pasid === h)).toHaveLength(1);
    const c = new ModelChecker(hw, { consume: false });
    for (const e of events) c.onEvent({ ...e });
    expect(c.first?.message).toBeUndefined();
    p.detach();
  });
});
