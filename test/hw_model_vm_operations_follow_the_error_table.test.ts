/**
 * The VM operations of `Platform` (§7.4 "Guest (VT-d, vcmd)") against the error table of §7.7:
 * vcmd in both register encodings, the guest's and the VMM's refusals, EACCES for a PASID of
 * another VM, EBUSY for a second bind, exit 72 with no descriptor, the refcount walk of b.3
 * (1 -> 4 -> 0), free before unbind (the consumers tear down in notifier order, the stale
 * unbind gets ENOENT), and vmDestroy reclaiming every PASID of the VM with nothing naming it.
 * The guest kernel's own space switches to the vcmd allocator only with no default ids live.
 */
import { describe, expect, it } from 'vitest';
import { bf } from '../src/hw-model/bonds.js';
import { Ev, EventReader, type LogEvent } from '../src/hw-model/event-log.js';
import { guestUnbind, IOMMU_RESCANNED } from '../src/hw-model/guest-iommu.js';
import { GuestKernel } from '../src/hw-model/guest-space.js';
import {
  B_STATE,
  BS_FREE,
  REF_HELD,
  VE_CUR,
  VE_VALID,
  VM_OLD_SUB_IOMMU,
  VM_OLD_SUB_KVM,
  VM_OLD_SUB_VDCM,
  VM_RESCAN,
  VM_SUB_IOMMU,
  VM_SUB_KVM,
  VM_SUB_VDCM,
  VP_GEN,
  VP_IOMMU_REF,
  VP_PASID,
  VP_STATE,
  VPS_FREED,
  WORK_IOMMU_TEARDOWN,
  WORK_VDCM_CLEAR,
} from '../src/hw-model/hw-layout.js';
import { HwErrno, HwModelError, Platform, type Profile } from '../src/hw-model/index.js';
import { entryPresent } from '../src/hw-model/pasid-table.js';
import { TD_DONE } from '../src/hw-model/teardown.js';
import { decodeVcmd, decodeVcrsp, encodeVcmd, encodeVcrsp } from '../src/hw-model/vcmd-regs.js';
import { vdcmStep } from '../src/hw-model/vdcm.js';
import { recordOfPasid, vmField, vpField } from '../src/hw-model/vm.js';
import { vmmFree } from '../src/hw-model/vm-pasids.js';
import { vmcsEntry } from '../src/hw-model/vmcs.js';
import { workDone, workHead, workQueue } from '../src/hw-model/work-ring.js';
import { TWO_VMS } from './helpers/two-vms.js';

/** A platform whose log is read from its first event (the log keeps events for a reader). */
function withLog(profile: Partial<Profile>): { p: Platform; events: () => LogEvent[] } {
  const p = Platform.create(profile);
  const reader = new EventReader(p.context.logI32);
  const out: LogEvent[] = [];
  return {
    p,
    events: () => {
      reader.read((e) => out.push({ ...e }));
      return out;
    },
  };
}

/** The phases logged for generation `gen` of `pasid`, in log order. */
function phasesOf(log: LogEvent[], pasid: number, gen: number): number[] {
  return log
    .filter((x) => x.kind === Ev.PHASE && x.pasid === pasid && x.gen === gen)
    .map((x) => x.a);
}

describe('vcmd', () => {
  it.each(['3.0', '3.3'] as const)('VT-d %s encoding: registers round-trip', (rev) => {
    const r = rev === '3.3' ? 1 : 0;
    for (const pasid of [1, 0x1234, 0xfffff]) {
      const [lo, hi] = encodeVcmd(r, 2, pasid);
      expect(decodeVcmd(r, lo, hi)).toEqual({ op: 2, operand: pasid });
      const [a, b] = encodeVcrsp(r, false, r === 1 ? 16 : 2, pasid);
      expect(decodeVcrsp(r, a, b)).toEqual({ ip: false, sc: r === 1 ? 16 : 2, result: pasid });
    }
    // 3.0: operand in bits 27:8 of one word; 3.3: bits 35:16, across the qword's halves.
    expect(encodeVcmd(r, 2, 0xfffff)).toEqual(r === 1 ? [0xffff0002 | 0, 0xf] : [0xfffff02, 0]);
  });

  it.each([
    '3.0',
    '3.3',
  ] as const)('VT-d %s: alloc gives a PASID of the VM set; exhaustion is ENOSPC; a Free of another VM value is refused and changes nothing', (vcmdRev) => {
    const p = Platform.create({ ...TWO_VMS, vcmdRev });
    const mine: number[] = [];
    for (;;) {
      const h = p.vcmdAlloc(0);
      if (h < 0) {
        expect(h).toBe(-HwErrno.ENOSPC); // SC = no PASID: the VM's quota
        break;
      }
      expect(p.space.inspect(h).state).toBe('idle');
      mine.push(h);
    }
    expect(mine.length).toBe(8);
    const other = p.vcmdAlloc(1);
    expect(other).toBeGreaterThan(0);
    const before = p.space.inspect(other);
    expect(p.vcmdFree(0, other)).toBe(-HwErrno.EINVAL); // SC = invalid PASID
    expect(p.space.inspect(other)).toEqual(before);
    for (const h of mine) expect(p.vcmdFree(0, h)).toBe(0);
    for (const h of mine) expect(p.space.inspect(h).state).toBe('free');
    p.detach();
  });

  it('spid mode: the vIOMMU does not allocate (VCCAP.PAS = 0): ENODEV', () => {
    const p = Platform.create({ ...TWO_VMS, guestPasidMode: 'spid' });
    expect(p.vcmdAlloc(0)).toBe(-HwErrno.ENODEV);
    p.detach();
  });
});

describe('guest bind, program, ENQCMD, unbind', () => {
  it('the refcount walk of b.3: 1 -> 2 (IOMMU) -> 3 (KVM) -> 4 (VDCM) -> ... -> 0', () => {
    const { p, events } = withLog(TWO_VMS);
    const refs = (h: number) => p.space.inspect(h).refs;
    const h = p.vcmdAlloc(0);
    expect(refs(h)).toBe(1);
    expect(p.guestBindPasid(0, 0, h)).toBe(h);
    expect(refs(h)).toBe(3); // the IOMMU driver's, then KVM's on BIND
    const e = vmcsEntry(p.context, 0, h);
    expect(p.context.ld(e + VE_CUR)).toBe(VE_VALID | h | 0);
    expect(p.guestProgramWq(0, 0, h)).toBe(h);
    expect(refs(h)).toBe(4); // the VDCM's FIND_BY_SPID
    expect(p.guestEnqcmd(0, 1, 0, h)).toBe(0);
    expect(p.guestMdevClear(0, 0)).toBe(0);
    expect(refs(h)).toBe(3);
    expect(p.guestUnbindPasid(0, 0, h)).toBe(0);
    expect(refs(h)).toBe(1); // KVM's put on UNBIND, the IOMMU driver's after P7
    expect(p.guestEnqcmd(0, 0, 0, h)).toBe(72); // no valid entry: VM exit 72
    expect(p.vcmdFree(0, h)).toBe(0);
    expect(p.space.inspect(h).state).toBe('free');
    // Phases P0 (KVM) < P1 (VDCM) < P2..P7 (IOMMU) in the log.
    const phases = events()
      .filter((x) => x.kind === Ev.PHASE && x.pasid === h)
      .map((x) => x.a);
    expect(phases).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    p.detach();
  });

  it('EACCES for a PASID of another VM, EBUSY for a second bind, ENOENT for an unbound one, EINVAL for another VM mdev; nothing changes', () => {
    const p = Platform.create(TWO_VMS);
    const h0 = p.vcmdAlloc(0);
    const h1 = p.vcmdAlloc(1);
    expect(p.guestBindPasid(1, 1, h1)).toBe(h1);
    const before = new Uint8Array(p.handle.hw).slice();
    expect(p.guestBindPasid(0, 0, h1)).toBe(-HwErrno.EACCES);
    expect(p.guestBindPasid(1, 1, h1)).toBe(-HwErrno.EBUSY);
    expect(p.guestUnbindPasid(0, 0, h0)).toBe(-HwErrno.ENOENT);
    expect(p.guestBindPasid(0, 1, h0)).toBe(-HwErrno.EINVAL);
    expect(p.guestProgramWq(0, 0, h0)).toBe(-HwErrno.ENOENT); // no SPID h0 yet
    expect(Buffer.compare(Buffer.from(new Uint8Array(p.handle.hw)), Buffer.from(before))).toBe(0);
    expect(p.guestEnqcmd(0, 0, 0, h1)).toBe(72); // VM 0's VMCS has no entry for it
    expect(() => p.guestBindPasid(2, 0, 1)).toThrow(HwModelError);
    expect(() => p.guestEnqcmd(0, 5, 0, 1)).toThrow(HwModelError);
    p.detach();
  });

  it('a guest refuses to free a bound PASID; a misbehaving one frees it: KVM, VDCM, IOMMU tear it down in that order, the stale unbind is ENOENT', () => {
    const { p, events } = withLog(TWO_VMS);
    const h = p.vcmdAlloc(0);
    p.guestBindPasid(0, 0, h);
    p.guestProgramWq(0, 0, h);
    expect(p.vcmdFree(0, h)).toBe(-HwErrno.EBUSY);
    expect(p.vcmdFree(0, h, 0, false)).toBe(0);
    expect(p.space.inspect(h).state).toBe('free');
    expect(entryPresent(p.context, 0, h)).toBe(false);
    const log = events().filter((x) => x.pasid === h);
    const notify = log.filter((x) => x.kind === Ev.NOTIFY && x.b === 2).map((x) => x.a);
    expect(notify).toEqual([0, 1, 2]); // FREE to KVM, VDCM, IOMMU in chain order
    const order = log.filter((x) => x.kind === Ev.PHASE).map((x) => x.a);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(p.guestUnbindPasid(0, 0, h)).toBe(-HwErrno.ENOENT);
    p.detach();
  });

  it("a value reused while its previous generation's record is still FREED: the new generation's teardown is P0 (KVM), P1 (VDCM), P2..P7 (IOMMU)", () => {
    const { p, events } = withLog(TWO_VMS);
    const hw = p.context;
    const d = p.vcmdAlloc(0); // record 0
    const h = p.vcmdAlloc(0); // record 1
    expect(p.vcmdFree(0, d)).toBe(0); // record 0 free again
    const r = recordOfPasid(hw, 0, h);
    expect(r).toBe(1);
    // Record 0 as an earlier generation of h whose teardown is between the reclaim and the
    // record's release (a small PASID space reuses values that fast): FREED, its ref held.
    const gen = hw.ld(vpField(hw, 0, r, VP_GEN));
    hw.st(vpField(hw, 0, 0, VP_PASID), h);
    hw.st(vpField(hw, 0, 0, VP_GEN), gen - 1);
    hw.st(vpField(hw, 0, 0, VP_IOMMU_REF), REF_HELD);
    hw.st(vpField(hw, 0, 0, VP_STATE), VPS_FREED);
    expect(p.guestBindPasid(0, 0, h)).toBe(h);
    // The guest unbinds, then frees before the consumers' UNBIND work ran (the actor's order).
    expect(guestUnbind(hw, 0, 0, h)).toBe(0);
    vmmFree(hw, 0, r);
    expect(recordOfPasid(hw, 0, h)).toBe(r); // the latest generation's record
    expect(p.guestMdevClear(0, 0)).toBe(0); // runs the queued work to the end
    expect(phasesOf(events(), h, gen)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(p.space.inspect(h).state).toBe('free');
    p.detach();
  });

  it("a VMM killed inside its consumers' retire (both words naming the current subscriber): after the retry no poll reads an unregistered subscriber", () => {
    const p = Platform.create(TWO_VMS);
    const hw = p.context;
    const words = [
      [VM_SUB_KVM, VM_OLD_SUB_KVM],
      [VM_SUB_VDCM, VM_OLD_SUB_VDCM],
      [VM_SUB_IOMMU, VM_OLD_SUB_IOMMU],
    ] as const;
    // Killed between copying each current subscriber to the old word and clearing it.
    for (const [cur, old] of words) hw.st(vmField(hw, 0, old), hw.ld(vmField(hw, 0, cur)));
    hw.vmChains.retire(0); // the retry unregisters them (as the previous instance's)
    expect(() => hw.vmChains.poll(0, () => {})).not.toThrow();
    for (const [cur, old] of words) {
      expect(hw.ld(vmField(hw, 0, cur))).toBe(-1);
      expect(hw.ld(vmField(hw, 0, old))).toBe(-1);
    }
    p.detach();
  });

  it("events lost (a queue overflow, a VMM killed holding them): the consumers' rescan tears down every freed PASID in chain order", () => {
    const { p, events } = withLog(TWO_VMS);
    const hw = p.context;
    const h = p.vcmdAlloc(0);
    expect(p.guestBindPasid(0, 0, h)).toBe(h);
    expect(p.guestProgramWq(0, 0, h)).toBe(h);
    const r = recordOfPasid(hw, 0, h);
    const gen = hw.ld(vpField(hw, 0, r, VP_GEN));
    vmmFree(hw, 0, r); // free before unbind: FREE to KVM, the VDCM and the IOMMU driver
    while (hw.vmChains.poll(0, () => {}) > 0); // ... read and lost
    hw.st(vmField(hw, 0, VM_RESCAN), 1);
    expect(p.guestMdevClear(0, 0)).toBe(0); // drives the VM's kernel until it is idle
    expect(phasesOf(events(), h, gen)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(p.space.inspect(h).state).toBe('free');
    p.detach();
  });

  it("a rescan's teardown takes a live bond only once the VDCM quiesced it: the VMM freed the record between the rescan's VDCM and IOMMU items", () => {
    const { p, events } = withLog(TWO_VMS);
    const hw = p.context;
    const h = p.vcmdAlloc(0);
    expect(p.guestBindPasid(0, 0, h)).toBe(h);
    const r = recordOfPasid(hw, 0, h);
    const gen = hw.ld(vpField(hw, 0, r, VP_GEN));
    // A rescan's pair for the live record (a VMM's recovery queued them for every record).
    workQueue(hw, 0, WORK_VDCM_CLEAR, h, gen, -1);
    workQueue(hw, 0, WORK_IOMMU_TEARDOWN, h, gen, IOMMU_RESCANNED);
    const head = workHead(hw, 0)!;
    expect(vdcmStep(hw, 0, head.w)).toBe(TD_DONE); // the record is live: nothing to quiesce
    workDone(hw, 0, head.pos);
    vmmFree(hw, 0, r); // the VMM frees it now: its FREE's own items come after
    expect(p.guestMdevClear(0, 0)).toBe(0);
    expect(phasesOf(events(), h, gen)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(p.space.inspect(h).state).toBe('free');
    p.detach();
  });

  it('spid mode: both VMs use guest PASID 101 for different host PASIDs', () => {
    const p = Platform.create({ ...TWO_VMS, guestPasidMode: 'spid' });
    const a = p.guestBindPasid(0, 0, 101);
    const b = p.guestBindPasid(1, 1, 101);
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
    expect(a).not.toBe(b);
    expect(p.space.inspect(a).spid).toBe(101);
    expect(p.space.inspect(b).spid).toBe(101);
    expect(p.guestEnqcmd(0, 0, 0, 101)).toBe(0);
    expect(p.guestEnqcmd(1, 0, 1, 101)).toBe(0);
    expect(p.guestUnbindPasid(0, 0, 101)).toBe(0);
    expect(p.space.inspect(a).state).toBe('free'); // the VMM's host PASID goes with the last unbind
    expect(p.space.inspect(b).state).toBe('active'); // VM 1 still bound (IOMMU, KVM)
    p.detach();
  });
});

describe('vmDestroy', () => {
  it('every PASID of the VM goes through the FREE path and is reclaimed; nothing names it; the other VM is untouched; the VM boots again', () => {
    const p = Platform.create(TWO_VMS);
    const hs = [p.vcmdAlloc(0), p.vcmdAlloc(0), p.vcmdAlloc(0)];
    for (const h of hs.slice(0, 2)) {
      p.guestBindPasid(0, 0, h);
      p.guestProgramWq(0, 0, h);
    }
    const other = p.vcmdAlloc(1);
    p.guestBindPasid(1, 1, other);
    expect(p.vmDestroy(0)).toBe(0);
    for (const h of hs) {
      expect(p.space.inspect(h).state).toBe('free');
      expect(entryPresent(p.context, 0, h)).toBe(false);
    }
    for (let b = 0; b < p.context.g.shape.bonds; b++) {
      const st = p.context.ld(bf(p.context, b, B_STATE));
      if (st !== BS_FREE) expect(p.context.ld(bf(p.context, b, 3))).toBe(other);
    }
    expect(p.guestEnqcmd(1, 0, 1, other)).toBe(0);
    expect(p.vmDestroy(0)).toBe(-HwErrno.ESRCH);
    expect(p.vmBoot(0)).toBeGreaterThanOrEqual(0);
    expect(p.vcmdAlloc(0)).toBeGreaterThan(0);
    p.detach();
  });
});

describe('the guest kernel space', () => {
  it('switches to the vcmd allocator only with no default id live (EAGAIN), then allocates host PASIDs of its VM set', () => {
    const p = Platform.create(TWO_VMS);
    const gk = GuestKernel.attach(p, 0);
    const early = gk.alloc();
    expect(early).toBeGreaterThan(0);
    expect(gk.enableVcmd()).toBe(-HwErrno.EAGAIN);
    expect(gk.free(early)).toBe(0);
    expect(gk.enableVcmd()).toBe(0);
    expect(gk.space.activeAllocator()).toBe('vcmd');
    const h = gk.alloc();
    expect(h).toBeGreaterThan(0);
    expect(p.space.inspect(h).state).toBe('idle'); // the host PASID, in VM 0's set
    expect(p.guestBindPasid(0, 0, h)).toBe(h);
    expect(p.guestUnbindPasid(0, 0, h)).toBe(0);
    expect(gk.free(h)).toBe(0);
    expect(p.space.inspect(h).state).toBe('free');
    gk.detach();
    p.detach();
  });
});
