/**
 * Every host operation of the hardware model against the error table of iommu-hw-model.md
 * §7.7: each failing call returns the listed error and leaves the hardware buffer's bytes
 * exactly as they were (a byte snapshot before and after); each listed non-error outcome
 * (the #GP fix-up, ZF = 1, a fault record, PFO, PRO, an Invalid response) does what the
 * table says. Misuse throws HwModelError with a stable code.
 */
import { describe, expect, it } from 'vitest';
import { bf } from '../src/hw-model/bonds.js';
import { DriverWorkqueue } from '../src/hw-model/driver-workqueue.js';
import { Ev, EventReader, type LogEvent } from '../src/hw-model/event-log.js';
import { CoreFreeChain, subscribeDriver } from '../src/hw-model/free-notifier.js';
import {
  B_STATE,
  BS_LIVE,
  E_CTRL,
  EC_PGTT_SHIFT,
  EC_PRESENT,
  FLT_PFO,
  FLT_STATUS,
  PRQ_PRS,
  PRS_PRO,
  SWERR_VALID,
  TH_ACTIVATED,
  TH_MSR,
  threadWord,
} from '../src/hw-model/hw-layout.js';
import {
  CompletionStatus,
  dsaPf,
  FaultReason,
  HwErrno,
  HwModelError,
  nicPf,
  Platform,
  type Profile,
  TR_NOT_MAPPED,
  ZF_ACCEPTED,
  ZF_RETRY,
} from '../src/hw-model/index.js';
import { handleFree, mmExit } from '../src/hw-model/iommu-driver.js';
import { entryOf } from '../src/hw-model/pasid-table.js';

const SMALL: Partial<Profile> = {
  pasidBits: 8,
  processes: 4,
  threadsPerProcess: 2,
  pfs: [dsaPf('dsa0'), { ...nicPf('nic0'), maxPasidWidth: 4 }],
};

function snapshot(p: Platform): Uint8Array {
  return new Uint8Array(p.handle.hw).slice();
}

/** `fn` must return `want` and leave the hardware buffer byte for byte as it was. */
function unchanged(p: Platform, want: number, fn: () => number): void {
  const before = snapshot(p);
  expect(fn()).toBe(want);
  expect(Buffer.compare(Buffer.from(snapshot(p)), Buffer.from(before))).toBe(0);
}

function bound(profile: Partial<Profile> = SMALL) {
  const p = Platform.create(profile);
  expect(p.spawn(0)).toBeGreaterThan(0);
  const pasid = p.bindSva(0, 0);
  expect(pasid).toBeGreaterThan(0);
  return { p, pasid };
}

describe('bindSva', () => {
  it('binds, refcounts a second bind of the same (pf, mm), and reuses the mm PASID on another PF', () => {
    const { p, pasid } = bound();
    expect(p.bindSva(0, 0)).toBe(pasid);
    expect(p.space.inspect(pasid)).toMatchObject({ state: 'active', refs: 2 });
    expect(p.unbindSva(0, 0)).toBe(0); // one reference of two: nothing torn down
    expect(p.translate(0, pasid, 0)).toBe(TR_NOT_MAPPED); // still present (page unmapped)
  });

  it('no live process: ESRCH, nothing changes', () => {
    const p = Platform.create(SMALL);
    unchanged(p, -HwErrno.ESRCH, () => p.bindSva(0, 1));
  });

  it("host SVA bind where the mm's PASID does not fit the device: EOVERFLOW, nothing changes", () => {
    // PASIDs 1..16 reserved: the first mm gets 17, too wide for the 4-bit NIC.
    const reserved = [0, ...Array.from({ length: 16 }, (_, i) => i + 1)];
    const p = Platform.create({ ...SMALL, reserved });
    p.spawn(0);
    expect(p.bindSva(0, 0)).toBe(17);
    unchanged(p, -HwErrno.EOVERFLOW, () => p.bindSva(1, 0));
  });

  it('range exhausted (a 2-bit device): ENOSPC; quota reached: EDQUOT; the alloc made by the failing call is undone', () => {
    const narrow = { ...SMALL, pfs: [{ ...nicPf('nic'), maxPasidWidth: 2 }] };
    const p = Platform.create(narrow);
    for (let pid = 0; pid < 4; pid++) p.spawn(pid);
    expect([p.bindSva(0, 0), p.bindSva(0, 1), p.bindSva(0, 2)]).toEqual([1, 2, 3]);
    unchanged(p, -HwErrno.ENOSPC, () => p.bindSva(0, 3));
    const q = Platform.create({ ...SMALL, svaQuota: 1 });
    q.spawn(0);
    q.spawn(1);
    expect(q.bindSva(0, 0)).toBe(1);
    unchanged(q, -HwErrno.EDQUOT, () => q.bindSva(0, 1));
    expect(q.space.inspect(2).state).toBe('free');
  });

  it('no PASID-table leaf left: ENOMEM, the PASID it allocated is freed again', () => {
    // 2..63 reserved: the first mm gets 1 (directory entry 0), the second 64 (entry 1).
    const reserved = [0, ...Array.from({ length: 62 }, (_, i) => i + 2)];
    const p = Platform.create({ ...SMALL, reserved, leavesPerPf: 1 });
    p.spawn(0);
    p.spawn(1);
    expect(p.bindSva(0, 0)).toBe(1);
    unchanged(p, -HwErrno.ENOMEM, () => p.bindSva(0, 1));
    expect(p.space.inspect(64).state).toBe('free');
  });

  it('a bind of a bond being torn down: EBUSY', () => {
    const { p } = bound();
    const hw = p.context;
    for (let b = 0; b < hw.g.shape.bonds; b++)
      if (hw.ld(bf(hw, b, B_STATE)) === BS_LIVE) hw.st(bf(hw, b, B_STATE), 3);
    unchanged(p, -HwErrno.EBUSY, () => p.bindSva(0, 0));
  });
});

describe('enqcmd / enqcmds / movdir64b', () => {
  it('MSR invalid, the mm has a PASID, thread not activated: #GP fixed up, MSR written, ENQCMD accepted', () => {
    const { p, pasid } = bound();
    expect(p.mapPortal(0, 0, 0)).toBe(0);
    const tw = threadWord(p.context.g, 0);
    expect(p.context.ld(tw + TH_MSR)).toBe(0);
    expect(p.enqcmd(0, 0, 0, 1)).toBe(ZF_ACCEPTED);
    expect(p.context.ld(tw + TH_MSR) & 0xfffff).toBe(pasid);
    expect(p.context.ld(tw + TH_ACTIVATED)).toBe(1);
    expect(p.counters().gpFixups).toBe(1);
    expect(p.enqcmd(0, 0, 0, 1)).toBe(ZF_ACCEPTED);
    expect(p.counters().gpFixups).toBe(1);
  });

  it('MSR invalid and the mm has no PASID, or the thread already activated: #GP delivered, nothing changes', () => {
    const p = Platform.create(SMALL);
    p.spawn(0);
    unchanged(p, -HwErrno.EFAULT, () => p.enqcmd(0, 0, 0));
    const { p: q } = bound();
    const tw = threadWord(q.context.g, 1);
    q.context.st(tw + TH_ACTIVATED, 1);
    unchanged(q, -HwErrno.EFAULT, () => q.enqcmd(1, 0, 0));
  });

  it('ENQCMD to a full SWQ, above its threshold, to a DWQ, or through an unmapped portal: ZF = 1, nothing changes', () => {
    const wqs = [
      { mode: 'shared' as const, size: 4, threshold: 2 },
      { mode: 'dedicated' as const, size: 4 },
    ];
    const { p } = bound({ ...SMALL, pfs: [{ ...dsaPf('d'), wqs }] });
    expect(p.enqcmd(0, 0, 0)).toBe(ZF_RETRY); // portal not mapped (the #GP fix-up happened first)
    p.mapPortal(0, 0, 0);
    expect(p.enqcmd(0, 0, 0)).toBe(ZF_ACCEPTED);
    expect(p.enqcmd(0, 0, 0)).toBe(ZF_ACCEPTED);
    unchanged(p, ZF_RETRY, () => p.enqcmd(0, 0, 0)); // threshold 2 reached
    unchanged(p, ZF_RETRY, () => p.enqcmd(0, 0, 1)); // not a shared WQ
    unchanged(p, ZF_RETRY, () => p.enqcmds(0, 1, 5, false));
    expect(p.counters().zfRetries).toBe(4);
  });

  it('MOVDIR64B through an unmapped portal faults on the CPU (EFAULT, nothing changes); into a full DWQ it is dropped and SWERR latched', () => {
    const wqs = [{ mode: 'dedicated' as const, size: 2 }];
    const { p } = bound({ ...SMALL, pfs: [{ ...dsaPf('d'), wqs }] });
    unchanged(p, -HwErrno.EFAULT, () => p.movdir64b(0, 0, 0));
    expect(p.openDwq(0, 0)).toBe(0);
    expect(p.movdir64b(0, 0, 0)).toBe(0);
    expect(p.movdir64b(0, 0, 0)).toBe(0);
    expect(p.readSwerr(0)).toBe(0);
    expect(p.movdir64b(0, 0, 0)).toBe(0); // dropped
    expect(p.readSwerr(0) & SWERR_VALID).toBe(SWERR_VALID);
  });
});

describe('translate and the device', () => {
  it('directory entry absent: SPD.2 recorded; table entry absent: SPT.2; FPD suppresses the record', () => {
    const { p, pasid } = bound();
    expect(p.translate(1, 7, 0, 0)).toBe(-FaultReason.SPD2);
    expect(p.translate(0, pasid + 1, 0, 0)).toBe(-FaultReason.SPT2);
    expect(p.counters().faultSpd2).toBe(1);
    expect(p.counters().faultSpt2).toBe(1);
    expect(p.mmExit(0)).toBe(0); // exception path: entry cleared with FPD
    expect(p.translate(0, pasid, 0, 0)).toBe(-FaultReason.SPT2);
    expect(p.counters().faultsSuppressed).toBe(1);
  });

  it('entry present with an invalid PGTT: SPT.4', () => {
    const { p, pasid } = bound();
    const e = entryOf(p.context, 0, pasid);
    p.context.st(e + E_CTRL, EC_PRESENT | (5 << EC_PGTT_SHIFT));
    expect(p.translate(0, pasid, 0)).toBe(-FaultReason.SPT4);
  });

  it('fault log full: PFO set, further faults lost until the records are serviced', () => {
    const p = Platform.create({ ...SMALL, faultRecords: 2 });
    for (let i = 0; i < 3; i++) p.translate(0, 9, 0, 0);
    expect(p.context.ld(FLT_STATUS) & FLT_PFO).toBe(FLT_PFO);
    expect(p.counters().faultsLost).toBe(1);
    p.prqService();
    expect(p.context.ld(FLT_STATUS) & FLT_PFO).toBe(0);
  });

  it('a descriptor whose PASID is not present: DMA blocked, SWERR with the PASID, completion status 0x1a', () => {
    const { p, pasid } = bound();
    p.mapPortal(0, 0, 0);
    p.enqcmd(0, 0, 0, 0);
    p.context.st(entryOf(p.context, 0, pasid) + E_CTRL, 0);
    p.execute(0);
    expect(p.readSwerr(0) & SWERR_VALID).toBe(SWERR_VALID);
    expect(p.counters().executionsFaulted).toBe(1);
    void CompletionStatus.TRANSLATION_FAULT;
  });

  it('an unmapped page with ATS + PRI: page request, response Success, retry completes', () => {
    const { p } = bound();
    p.mapPortal(0, 0, 0);
    p.enqcmd(0, 0, 0, 3, 1);
    p.execute(0);
    expect(p.counters().pageRequests).toBe(1);
    expect(p.prqService()).toBe(1);
    expect(p.processInvQueue()).toBe(1);
    p.execute(0);
    expect(p.counters()).toMatchObject({ responsesSuccess: 1, translationsOk: 1, executions: 1 });
  });

  it('PRQ full: PRO set, the IOMMU answers Success itself; a request for an unknown PASID is answered Invalid', () => {
    const { p } = bound({ ...SMALL, prqEntries: 2 });
    p.mapPortal(0, 0, 0);
    for (let i = 0; i < 3; i++) p.enqcmd(0, 0, 0, 10 + i, 1);
    p.execute(0, 3);
    expect(p.context.ld(PRQ_PRS) & PRS_PRO).toBe(PRS_PRO);
    expect(p.counters().pageRequestsOverflow).toBe(1);
    p.mmExit(0);
    expect(p.counters().responsesInvalid).toBeGreaterThan(0);
    expect(p.context.ld(PRQ_PRS) & PRS_PRO).toBe(0);
  });

  it('Drain / Abort PASID on a disabled device: 0x20, nothing changes; disable of a disabled WQ: 0x32; enable of a DWQ with an invalid PASID: 0x26', () => {
    const { p, pasid } = bound();
    p.setDeviceEnabled(0, false);
    unchanged(p, 0x20, () => p.drainPasid(0, pasid));
    unchanged(p, 0x20, () => p.abortPasid(0, pasid));
    p.setDeviceEnabled(0, true);
    expect(p.drainPasid(0, pasid)).toBe(0);
    expect(p.disableWq(0, 4)).toBe(0);
    unchanged(p, 0x32, () => p.disableWq(0, 4));
    const hw = p.context;
    hw.st(hw.g.pf[0]!.wqCfg[4]! + 5, 1); // WQCFG.pasid_en with WQCFG.pasid = 0
    unchanged(p, 0x26, () => p.enableWq(0, 4));
  });

  it('Abort PASID completes the queued descriptors of the PASID as aborted', () => {
    const { p, pasid } = bound();
    p.mapPortal(0, 0, 0);
    p.enqcmd(0, 0, 0, 1);
    p.enqcmd(0, 0, 0, 1);
    expect(p.abortPasid(0, pasid)).toBe(0);
    expect(p.counters().executionsAborted).toBe(2);
  });
});

describe('invalidation queue', () => {
  it('applies descriptors in order; a wait reports once everything before it is applied; a full queue refuses (EAGAIN, nothing changes)', () => {
    const p = Platform.create({ ...SMALL, qiLength: 16 });
    for (let i = 0; i < 15; i++)
      expect(p.queueInv({ type: 'iotlb', pasid: 3 })).toBeGreaterThanOrEqual(0);
    expect(p.queueInv({ type: 'wait', value: 42 })).toBeGreaterThanOrEqual(0);
    unchanged(p, -HwErrno.EAGAIN, () => p.queueInv({ type: 'pasid-cache', pasid: 3 }));
    expect(p.processInvQueue(15)).toBe(15);
    expect(p.invWaitStatus()).toBe(0);
    expect(p.processInvQueue()).toBe(1);
    expect(p.invWaitStatus()).toBe(42);
  });
});

describe('teardown', () => {
  it('unbind runs P0..P7 in order; unbind of a PF not bound: ENOENT; after exit: ESRCH; nothing changes', () => {
    const { p, pasid } = bound();
    const reader = new EventReader(p.context.logI32);
    expect(p.unbindSva(0, 0)).toBe(0);
    const phases: number[] = [];
    reader.read((e: LogEvent) => {
      if (e.kind === Ev.PHASE) phases.push(e.a);
    });
    expect(phases).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(p.translate(0, pasid, 0)).toBe(-FaultReason.SPT2);
    unchanged(p, -HwErrno.ENOENT, () => p.unbindSva(0, 0));
    expect(p.mmExit(0)).toBe(0);
    unchanged(p, -HwErrno.ESRCH, () => p.unbindSva(0, 0));
    unchanged(p, -HwErrno.ESRCH, () => p.mmExit(0));
    expect(p.space.inspect(pasid).state).toBe('free');
    reader.close();
  });

  it('exit with bonds (the exception path): P0 and P2 with FPD first, FREE notified, the PASID reclaimed after P7', () => {
    const { p, pasid } = bound();
    expect(p.bindSva(1, 0)).toBe(pasid);
    const reader = new EventReader(p.context.logI32);
    expect(p.mmExit(0)).toBe(0);
    const kinds: string[] = [];
    reader.read((e: LogEvent) => {
      if (e.kind === Ev.PHASE) kinds.push(`P${e.a}`);
      if (e.kind === Ev.NOTIFY_FREE) kinds.push('FREE');
      if (e.kind === Ev.PUT) kinds.push('PUT');
    });
    expect(kinds.slice(0, 4)).toEqual(['P0', 'P2', 'P0', 'P2']);
    expect(kinds).toContain('FREE');
    expect(kinds.at(-1)).toBe('PUT');
    expect(kinds.indexOf('FREE')).toBeLessThan(kinds.lastIndexOf('P7'));
    expect(p.space.inspect(pasid).state).toBe('free');
    reader.close();
  });
});

describe('misuse', () => {
  it('bad indices, profiles and handles throw HwModelError with a stable code and change nothing', () => {
    const p = Platform.create(SMALL);
    const before = snapshot(p);
    expect(() => p.bindSva(9, 0)).toThrow(HwModelError);
    expect(() => p.spawn(-1)).toThrow(expect.objectContaining({ code: 'ERR_HW_BAD_ARGUMENT' }));
    expect(() => p.enqcmd(0, 0, 0, 1e6)).toThrow(
      expect.objectContaining({ code: 'ERR_HW_BAD_ARGUMENT' }),
    );
    expect(() => p.queueInv({ type: 'bogus' } as never)).toThrow(HwModelError);
    expect(snapshot(p)).toEqual(before);
    expect(() => Platform.create({ pasidBits: 21 })).toThrow(
      expect.objectContaining({ code: 'ERR_HW_BAD_PROFILE' }),
    );
    expect(() => Platform.create({ arch: 'smmuv3' })).toThrow(
      expect.objectContaining({ code: 'ERR_HW_BAD_PROFILE' }),
    );
    expect(() => Platform.create({ qiLength: 100 })).toThrow(/power of two/);
    expect(() => Platform.attach({ kind: 'nope' } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_HW_BAD_HANDLE' }),
    );
    p.detach();
    expect(() => p.spawn(0)).toThrow(expect.objectContaining({ code: 'ERR_HW_DETACHED' }));
  });
});

describe('the FREE notification seam', () => {
  it("reads FREE (and an overflow as 'look for what was lost') from a core's global chain", () => {
    const calls: number[][] = [];
    const fake = {
      registerNotifier: (set: number | null, prio: number) =>
        set === null && prio === 2 ? 7 : -22,
      readNotifications: () => [
        { event: 'overflow' as const, lost: 2 },
        { event: 2, id: 5, data: 9 },
        { event: 1, id: 3, data: 0 },
      ],
    };
    expect(subscribeDriver(fake)).toBe(7);
    expect(subscribeDriver({})).toBe(-1);
    const chain = new CoreFreeChain(fake, 7);
    expect(chain.read((pasid, data) => calls.push([pasid, data]), 16)).toBe(3);
    expect(calls).toEqual([
      [-1, 0],
      [5, 9],
    ]);
  });

  it('after lost notifications the driver hands over every bond of an exited mm and the PASID is reclaimed', () => {
    const { p, pasid } = bound();
    p.bindSva(1, 0);
    const hw = p.context;
    mmExit(hw, 0, { fromCore: true, afterFree: () => {}, read: () => 0 }, false);
    expect(p.space.inspect(pasid).state).toBe('free-pending');
    expect(handleFree(hw, -1, 0, true)).toBe(2);
    for (let i = 0; i < 10_000 && p.space.inspect(pasid).state !== 'free'; i++) {
      p.processInvQueue();
      p.execute(0);
      p.execute(1);
      p.prqService();
      new DriverWorkqueue(hw, { fromCore: true, afterFree: () => {}, read: () => 0 }, 0).step();
    }
    expect(p.space.inspect(pasid).state).toBe('free');
  });
});
