/**
 * guestMdevClear: the VDCM drains each PASID programmed into the mdev (Drain PASID on its PF),
 * then clears the slot and gives its reference back, slot after slot; the work item keeps the
 * slot in WK_AUX and "drain posted" in WK_SUB. The VMM's thread killed right after a slot's
 * release, before the item moved on: the resumed item skips the released slot to the next
 * one, and must not take the previous slot's "drain posted" for it (releasing the next
 * PASID's slot undrained, its descriptors still queued on the shared WQ).
 *
 * The kill is made deterministically: the store that ends the first slot's release throws, as
 * `terminate()` stops a worker at a call; then the reaper runs as the threaded harness runs
 * it, and everything settles. Every slot released must have had its PASID drained first.
 */
import { describe, expect, it } from 'vitest';
import { pfField } from '../src/hw-model/device.js';
import {
  CMD_DRAIN_PASID,
  MD_SLOT_WORDS,
  MD_SLOTS,
  PF_CMD,
  PF_CMD_OPERAND,
  REF_NONE,
  REF_PUTTING,
  SL_PASID,
  SL_STATE,
  VM_STATE,
  VMS_OFF,
} from '../src/hw-model/hw-layout.js';
import { Platform } from '../src/hw-model/index.js';
import { vdcmQueueClear } from '../src/hw-model/vdcm.js';
import { mdevField, vmField } from '../src/hw-model/vm.js';
import { TWO_VMS } from './helpers/two-vms.js';
import { Killed, kernelUntilKilled, reapVm0, settleVm0 } from './helpers/vm-engines.js';

const slotWord = (s: number, f: number) => MD_SLOTS + s * MD_SLOT_WORDS + f;

describe("the VDCM's clearing of an mdev, its VMM killed after a slot's release", () => {
  it('drains the next slot before releasing it', () => {
    const p = Platform.create(TWO_VMS);
    const hw = p.context;
    const programmed: number[] = [];
    for (let i = 0; i < 2; i++) {
      const h = p.vcmdAlloc(0);
      expect(p.guestBindPasid(0, 0, h)).toBe(h);
      expect(p.guestProgramWq(0, 0, h)).toBe(h);
      programmed.push(h);
    }
    expect(vdcmQueueClear(hw, 0, 0)).toBe(0);
    const cmd = pfField(hw, 0, PF_CMD);
    const drained = new Set<number>();
    const undrained: number[] = [];
    let killed = false;
    const st = hw.st.bind(hw);
    hw.st = (w: number, v: number) => {
      // A Drain PASID is posted by publishing its op (the operand stored before).
      if (w === cmd && (v & 0xff) === CMD_DRAIN_PASID)
        drained.add(hw.ld(pfField(hw, 0, PF_CMD_OPERAND)));
      for (let s = 0; s < 2; s++) {
        if (w !== mdevField(hw, 0, slotWord(s, SL_STATE))) continue;
        const pasid = hw.ld(mdevField(hw, 0, slotWord(s, SL_PASID)));
        if (v === REF_PUTTING && !drained.has(pasid)) undrained.push(pasid);
        // The first release ends: the VMM's thread dies right after.
        if (v === REF_NONE && !killed) {
          killed = true;
          st(w, v);
          throw new Killed('killed');
        }
      }
      st(w, v);
    };
    kernelUntilKilled(p);
    expect(killed).toBe(true);
    // The reaper, as the threaded harness runs it: the VMM died.
    reapVm0(p, true);
    settleVm0(p);
    hw.st = st;
    expect(hw.ld(vmField(hw, 0, VM_STATE))).toBe(VMS_OFF);
    for (const h of programmed) expect(p.space.inspect(h).state).toBe('free');
    p.detach();
    expect(undrained).toEqual([]);
  });
});
