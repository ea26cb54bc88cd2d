/**
 * A VM destroyed (a crash in vm-crash, or vmDestroy) while one of its vCPUs is inside a guest
 * ENQCMD, between the CPU's translation through the VMCS and the descriptor's acceptance: the
 * VMM frees none of the VM's PASIDs until every vCPU is out of the guest, and only the vCPU's
 * own thread takes it out, between instructions. So the submission is accepted while its host
 * PASID is still Allocated (INV-8) and the FREE comes after it. The interleaving is made
 * deterministic by running the destroy from inside the vCPU's event append (the point where,
 * on threads, the VMM's thread overtook the guest's: INV-8 "accepted as pasid h, which is
 * free-pending", vm-crash with stutter).
 */
import { describe, expect, it } from 'vitest';
import { ModelChecker } from '../src/hw-model/checker/checker.js';
import { deviceStep } from '../src/hw-model/device.js';
import { Ev, EventReader, type LogEvent } from '../src/hw-model/event-log.js';
import {
  VC_STATE,
  VCS_IN_GUEST,
  VM_STATE,
  VMS_BOOTING,
  VMS_OFF,
  VMS_RUNNING,
} from '../src/hw-model/hw-layout.js';
import { HwErrno, Platform } from '../src/hw-model/index.js';
import { processInvQueue } from '../src/hw-model/inv-queue.js';
import { prqService } from '../src/hw-model/prq.js';
import { vcpuStep } from '../src/hw-model/vcpu.js';
import { vcpuField, vmField } from '../src/hw-model/vm.js';
import { vmDestroyDone, vmDestroyStart, vmsStep } from '../src/hw-model/vm-ops.js';
import { TWO_VMS } from './helpers/two-vms.js';

/** Step the VMs, the IOMMU and the device (what the threads would do) until `done`. */
function driveUntil(p: Platform, done: () => boolean): boolean {
  const hw = p.context;
  for (let i = 0; i < 100_000 && !done(); i++) {
    vmsStep(hw);
    processInvQueue(hw, 64);
    deviceStep(hw, 0);
    prqService(hw, 16);
  }
  return done();
}

describe('a VM destroyed while a vCPU is inside an ENQCMD', () => {
  it('the submission is accepted with its PASID still allocated; the FREE comes once every vCPU is out', () => {
    const p = Platform.create(TWO_VMS);
    const hw = p.context;
    const checker = new ModelChecker(hw, { consume: false });
    const reader = new EventReader(hw.logI32);
    const events: LogEvent[] = [];
    const h = p.vcmdAlloc(0);
    expect(p.guestBindPasid(0, 0, h)).toBe(h);
    expect(p.guestEnqcmd(0, 1, 0, h)).toBe(0);

    // The VMM destroys the VM from inside vCPU 1's append of its translated submission.
    const log = hw.log;
    const emit = log.emit.bind(log);
    let destroyed = -1;
    log.emit = (kind, pasid, gen, pf, a, b, c) => {
      if (kind === Ev.GUEST_SUBMIT && destroyed < 0) destroyed = vmDestroyStart(hw, 0, true);
      emit(kind, pasid, gen, pf, a, b, c);
    };
    try {
      expect(p.guestEnqcmd(0, 1, 0, h)).toBe(0);
    } finally {
      log.emit = emit;
    }
    expect(destroyed).toBe(0);
    // Still Allocated: the VMM waits for vCPU 1, in the guest until its thread's next exit.
    expect(p.space.inspect(h).state).not.toBe('free-pending');
    expect(hw.ld(vcpuField(hw, 0, 1, VC_STATE))).toBe(VCS_IN_GUEST);
    expect(vmDestroyDone(hw, 0)).toBe(false);

    // The vCPUs' exits take them out; then the records go and the teardown runs.
    const off = () => hw.ld(vmField(hw, 0, VM_STATE)) === VMS_OFF;
    expect(driveUntil(p, () => off() || vmDestroyDone(hw, 0))).toBe(true);
    expect(p.space.inspect(h).state).toBe('free');
    // No instruction runs on a vCPU out of the guest.
    expect(p.guestEnqcmd(0, 0, 0, h)).toBe(-HwErrno.ESRCH);

    reader.read((e) => events.push({ ...e }));
    const at = (kind: number) => events.findIndex((e) => e.kind === kind && e.pasid === h);
    const submits = events.filter((e) => e.kind === Ev.GUEST_SUBMIT && e.pasid === h);
    expect(submits).toHaveLength(2);
    expect(events.indexOf(submits[1]!)).toBeLessThan(at(Ev.FREE_CALL));
    for (const e of events) checker.onEvent({ ...e });
    checker.end(true);
    expect(checker.first?.message).toBeUndefined();
    expect(checker.counts().find((x) => x.id === 'INV-8')!.checks).toBeGreaterThan(0);
    p.detach();
  });

  it('a vCPU stepped while its VM boots stays in the guest (the boot put it there)', () => {
    const p = Platform.create(TWO_VMS);
    const hw = p.context;
    const h = p.vcmdAlloc(0);
    expect(p.vmDestroy(0)).toBe(0);
    // The VMM's boot is between its reset of the vCPUs (in the guest) and RUNNING.
    expect(p.vmBoot(0)).toBeGreaterThanOrEqual(0);
    hw.st(vmField(hw, 0, VM_STATE), VMS_BOOTING);
    for (let c = 0; c < 2; c++) vcpuStep(hw, 0, c);
    hw.st(vmField(hw, 0, VM_STATE), VMS_RUNNING);
    for (let c = 0; c < 2; c++) expect(hw.ld(vcpuField(hw, 0, c, VC_STATE))).toBe(VCS_IN_GUEST);
    expect(p.guestEnqcmd(0, 0, 0, h)).toBe(72); // an instruction runs (no valid entry: exit)
    p.detach();
  });

  it('a dying VM binds nothing (its PASIDs may be freed already): ESRCH, nothing changes', () => {
    const p = Platform.create(TWO_VMS);
    const hw = p.context;
    const h = p.vcmdAlloc(0);
    expect(vmDestroyStart(hw, 0, true)).toBe(0);
    const before = new Uint8Array(p.handle.hw).slice();
    expect(p.guestBindPasid(0, 0, h)).toBe(-HwErrno.ESRCH);
    expect(Buffer.compare(Buffer.from(new Uint8Array(p.handle.hw)), Buffer.from(before))).toBe(0);
    p.detach();
  });
});
