/**
 * A VMM thread that claims a record for a vcmd Allocate, or gives it back when the core has no
 * PASID, may be preempted anywhere while the VM's kernel runs on another thread. The kernel's
 * handlers find the record of an UNBIND's or FREE's PASID by its words (recordOfPasid): a record
 * that showed LIVE with the words of its earlier use (restored before FREE was stored) made
 * all three consumers queue their work for that stale generation, which found nothing to do;
 * the current one's bond stayed DYING with no phase done and nothing queued ("the platform did
 * not come to rest", threaded exhaustion with stutter under load). Here the kernel runs to idle
 * after each store of the Allocate in turn, deterministically.
 */
import { describe, expect, it } from 'vitest';
import { guestUnbind } from '../src/hw-model/guest-iommu.js';
import { H_VM_QUOTA, VP_GEN, VP_GPASID, VP_PASID } from '../src/hw-model/hw-layout.js';
import { Platform } from '../src/hw-model/index.js';
import { busyParts } from '../src/hw-model/quiesce.js';
import { vcmdPoll, vcmdPost, vmmVcmdStep } from '../src/hw-model/vcmd.js';
import { VCMD_ALLOC, VCMD_FREE } from '../src/hw-model/vcmd-regs.js';
import { vpField } from '../src/hw-model/vm.js';
import { vmKernelStep } from '../src/hw-model/vm-kernel.js';
import { vmsStep } from '../src/hw-model/vm-ops.js';
import { TWO_VMS } from './helpers/two-vms.js';

/** Bound on the kernel steps run at one store (each handles an event or a work step). */
const KERNEL_STEPS = 64;
/** Bound on the pump that finishes the teardown afterwards. */
const PUMP_ROUNDS = 5000;

/**
 * VM 0 holds `held` PASIDs (the first bound on mdev 0, then unbound and freed with the kernel
 * not stepped: UNBIND and FREE wait in its queues); the first FREE record carries the words of
 * an earlier use of that PASID. Then an Allocate (it fails when `held` is the whole quota),
 * with the kernel run to idle after its `k`-th store of a hardware word.
 */
function allocateWithKernelAt(k: number, held: number) {
  const p = Platform.create(TWO_VMS);
  const hw = p.context;
  const got: number[] = [];
  for (let i = 0; i < held; i++) got.push(p.vcmdAlloc(0));
  const pasid = got[0]!;
  expect(p.guestBindPasid(0, 0, pasid)).toBe(pasid);
  // Record `held` is the first FREE one: a FREE record's words mean nothing, so any are valid.
  hw.st(vpField(hw, 0, held, VP_PASID), pasid);
  hw.st(vpField(hw, 0, held, VP_GEN), 1);
  hw.st(vpField(hw, 0, held, VP_GPASID), pasid);
  expect(guestUnbind(hw, 0, 0, pasid)).toBe(0);
  expect(vcmdPost(hw, 0, 0, VCMD_FREE, pasid)).toBe(0);
  expect(vmmVcmdStep(hw, 0, 0)).toBe(1);
  expect(vcmdPoll(hw, 0, 0) >>> 20).toBe(0);

  expect(vcmdPost(hw, 0, 0, VCMD_ALLOC, 0)).toBe(0);
  const store = hw.st.bind(hw);
  let stores = 0;
  hw.st = (w: number, v: number) => {
    store(w, v);
    if (stores++ !== k) return;
    for (let s = 0; s < KERNEL_STEPS && vmKernelStep(hw, 0) > 0; s++);
  };
  try {
    expect(vmmVcmdStep(hw, 0, 0)).toBe(1);
  } finally {
    hw.st = store;
  }
  vcmdPoll(hw, 0, 0);
  for (let i = 0; i < PUMP_ROUNDS; i++) {
    vmsStep(hw);
    p.processInvQueue();
    p.execute(0, 8);
    p.prqService();
  }
  return { stores, pasid: p.space.inspect(pasid).state, dying: busyParts(hw).join('; ') };
}

describe('the VM kernel running inside a vcmd Allocate tears the freed PASID down', () => {
  for (const [what, full] of [
    ['a failing Allocate (quota exhausted: the record is given back)', true],
    ['a succeeding Allocate', false],
  ] as const)
    it(`${what}: at every store, the bond goes and the PASID is reclaimed`, () => {
      const quota = Platform.create(TWO_VMS).context.ld(H_VM_QUOTA);
      const held = full ? quota : 1;
      let total = 1;
      for (let k = 0; k < total; k++) {
        const r = allocateWithKernelAt(k, held);
        total = r.stores;
        expect({ k, pasid: r.pasid, dying: r.dying.includes('DYING') ? r.dying : '' }).toEqual({
          k,
          pasid: 'free',
          dying: '',
        });
      }
      expect(total).toBeGreaterThan(10);
    });
});
