/**
 * runThreaded's wait for every VM to work again (untilEveryVmWorked) restarts its work bound
 * whenever `recoveryMark` moves: a VM that is not running counts by its state and the kernel
 * work items it finished, a running one only by running. So a long teardown that advances
 * (a vm-crash VM destroyed with hundreds of PASIDs bound: three kernel work items per PASID,
 * each behind device drains and IOTLB flushes) moves the mark at every item, and a VM that
 * runs on (busy or not) never does: only recovery restarts the bound.
 */
import { describe, expect, it } from 'vitest';
import { deviceStep } from '../src/hw-model/device.js';
import { Platform } from '../src/hw-model/index.js';
import { processInvQueue } from '../src/hw-model/inv-queue.js';
import { faultService } from '../src/hw-model/iommu.js';
import { prqService } from '../src/hw-model/prq.js';
import { vmDestroyDone, vmDestroyStart, vmsStep } from '../src/hw-model/vm-ops.js';
import { workFinished } from '../src/hw-model/work-ring.js';
import { recoveryMark } from '../src/workers/vm-recovery-progress.js';
import { TWO_VMS } from './helpers/two-vms.js';

const BOUND = 40;
const STEP_LIMIT = 200_000;

describe('the recovery mark the VM-work wait restarts its bound on', () => {
  it('moves with every teardown work item of a dying VM, and not for a running one', () => {
    const p = Platform.create({ ...TWO_VMS, pasidBits: 10, processesPerVm: 64, vmQuota: 64 });
    const hw = p.context;
    for (let i = 0; i < BOUND; i++) {
      const h = p.vcmdAlloc(0);
      expect(p.guestBindPasid(0, 0, h)).toBe(h);
    }
    const running = recoveryMark(hw);
    expect(running).toBe('R,R');
    // VM 1 works on: its mark does not move.
    const h1 = p.vcmdAlloc(1);
    expect(p.guestBindPasid(1, 1, h1)).toBe(h1);
    expect(recoveryMark(hw)).toBe(running);

    const before = workFinished(hw, 0);
    expect(vmDestroyStart(hw, 0, true)).toBe(0);
    const marks = new Set([recoveryMark(hw)]);
    let steps = 0;
    while (recoveryMark(hw) !== 'R,R' && steps++ < STEP_LIMIT) {
      processInvQueue(hw, 64);
      deviceStep(hw, 0);
      prqService(hw, 16);
      faultService(hw, 64);
      vmsStep(hw);
      // The VMM's part in a run: finish the destroy, then boot the VM again.
      vmDestroyDone(hw, 0);
      marks.add(recoveryMark(hw));
      if (recoveryMark(hw).startsWith('0:')) p.vmBoot(0);
    }
    expect(recoveryMark(hw)).toBe('R,R');
    const items = workFinished(hw, 0) - before;
    // Three kernel work items per bound PASID (KVM, the VDCM, the IOMMU driver), each a move.
    expect(items).toBeGreaterThanOrEqual(3 * BOUND);
    // A kernel step runs up to 8 items (vm-kernel.ts ITEM_STEPS): the mark moves at every step.
    expect(marks.size).toBeGreaterThanOrEqual(Math.ceil(items / 8));
    p.detach();
  });
});
