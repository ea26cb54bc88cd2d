/**
 * The VM reaper (vm-recovery.ts `reapVms`) breaks every lock of the dead thread, platform locks
 * too (thread-locks.ts `breakThreadLocks`), before it takes the VM locks. Why: a live thread may
 * hold a VM lock while it waits, in the unbounded lockTake, for a platform lock the dead thread
 * held. Had the reaper broken only the VM locks, that thread would never get the platform lock
 * nor give the VM lock back, and the reaper's bounded take of the VM lock would end in
 * ERR_HW_LOCK_STALLED ("... held by live thread tag N through W waits"; seen once in CI:
 * free-before-unbind with kill-vmm, hw_model_vm_thread_kills_leak_nothing).
 *
 * Deterministic: the live thread is a real worker (vm-lock-holder.ts) that takes a VM lock,
 * says so, then takes a platform lock; the dead thread is a tag stored in that platform lock's
 * word (a claimed log row whose thread never runs, as a killed worker's is until its
 * releaseThread). The main thread runs the kill-vmm reap once the worker holds the VM lock:
 * whether the worker is already waiting for the platform lock or not yet, it gets it only once
 * the reaper broke it, and the reaper gets the VM lock only once the worker gave it back.
 * Handshakes are Atomics words; nothing is timed.
 */
import { describe, expect, it } from 'vitest';
import {
  DRIVER_WQ_LOCK,
  IOMMU_LOCK,
  L_SHIM_LOCK,
  PF_DEVICE_LOCK,
  PF_TABLE_LOCK,
  PRQ_LOCK,
  VM_KERNEL_LOCK,
  VM_STATE,
  VM_VMM_LOCK,
  VMS_OFF,
} from '../src/hw-model/hw-layout.js';
import { Platform } from '../src/hw-model/index.js';
import { lockBreak } from '../src/hw-model/owner-lock.js';
import { claimRow } from '../src/hw-model/platform-init.js';
import { vmField } from '../src/hw-model/vm.js';
import { reapVms, recoveryLockWait } from '../src/hw-model/vm-recovery.js';
import { testSeed } from './helpers/seed.js';
import { TWO_VMS } from './helpers/two-vms.js';
import { settleVm0 } from './helpers/vm-engines.js';
import { exited, startTestWorker, until } from './helpers/workers.js';
import {
  STEP_DONE,
  STEP_VM_LOCK_HELD,
  SYNC_STEP,
  SYNC_TAG,
  SYNC_WORDS,
  type VmLockHolderData,
} from './workers/vm-lock-holder-protocol.js';

const FILE = 'test/hw_model_vm_reaper_breaks_a_dead_threads_platform_locks_first.test.ts';

/**
 * The reaper's bound on the live holder, in 1 ms sleeps: far more than a worker needs to take
 * a lock that was just broken and give two back (a pass needs no luck short of the worker
 * being descheduled that long); a reaper that leaves the platform lock held fails once it
 * runs out (2 to 8 s per case measured on the loaded 2-core machine).
 */
const WAITS = 1500;

type VmLock = typeof VM_VMM_LOCK | typeof VM_KERNEL_LOCK;

interface Case {
  name: string;
  vmLock: VmLock;
  /** The platform lock's word, and whether it is in the log buffer (the shim lock). */
  platformLock: (p: Platform) => number;
  inLog: boolean;
}

const CASES: Case[] = [
  {
    name: 'VMM lock, IOMMU lock',
    vmLock: VM_VMM_LOCK,
    platformLock: () => IOMMU_LOCK,
    inLog: false,
  },
  {
    name: "kernel lock, PF 0's table lock",
    vmLock: VM_KERNEL_LOCK,
    platformLock: (p) => p.context.g.pf[0]!.base + PF_TABLE_LOCK,
    inLog: false,
  },
  { name: 'VMM lock, PRQ lock', vmLock: VM_VMM_LOCK, platformLock: () => PRQ_LOCK, inLog: false },
  {
    name: "kernel lock, PF 0's device lock",
    vmLock: VM_KERNEL_LOCK,
    platformLock: (p) => p.context.g.pf[0]!.base + PF_DEVICE_LOCK,
    inLog: false,
  },
  {
    name: "VMM lock, the driver workqueue's lock",
    vmLock: VM_VMM_LOCK,
    platformLock: () => DRIVER_WQ_LOCK,
    inLog: false,
  },
  {
    name: "VMM lock, the log's shim lock",
    vmLock: VM_VMM_LOCK,
    platformLock: () => L_SHIM_LOCK,
    inLog: true,
  },
];

describe('the VM reaper and a live thread waiting on the dead thread', () => {
  testSeed(FILE); // nothing here is random; printed as every worker test does

  it.each(
    CASES,
  )("breaks the dead thread's platform lock, so the live holder of a VM lock gives it back ($name)", async ({
    vmLock,
    platformLock,
    inLog,
  }) => {
    const p = Platform.create(TWO_VMS);
    const hw = p.context;
    const vmLockWord = vmField(hw, 0, vmLock);
    const word = platformLock(p);
    const platformI32 = inLog ? hw.logI32 : hw.i32;
    // The dead thread (VM 0's VMM): its row stays owned until its releaseThread, after the
    // reap; it died holding the platform lock.
    const dead = claimRow(hw.logI32) + 1;
    expect(dead).toBeGreaterThan(0);
    Atomics.store(platformI32, word, dead);
    const sync = new Int32Array(new SharedArrayBuffer(SYNC_WORDS * 4));
    const worker = startTestWorker('vm-lock-holder', {
      hw: p.handle.hw,
      log: p.handle.log,
      vmLock: vmLockWord,
      platformLock: word,
      platformLockInLog: inLog,
      sync: sync.buffer,
    } satisfies VmLockHolderData);
    const end = exited(worker);
    await Promise.race([
      until(() => Atomics.load(sync, SYNC_STEP) >= STEP_VM_LOCK_HELD),
      end.then((code) => {
        throw new Error(`the worker exited (${code}) before it held the VM lock`);
      }),
    ]);
    const live = Atomics.load(sync, SYNC_TAG);
    expect(live).not.toBe(dead);
    expect(Atomics.load(hw.i32, vmLockWord)).toBe(live);

    let reaped: number;
    try {
      reaped = reapVms(hw, [0], dead, true, recoveryLockWait(hw, dead, undefined, WAITS));
    } finally {
      // Whatever the reap did, the worker gets out (a reaper that left the lock held fails
      // above, with the worker still waiting on it).
      lockBreak(platformI32, word, dead);
    }
    expect(reaped).toBe(1);
    expect(await end).toBe(0);
    expect(Atomics.load(sync, SYNC_STEP)).toBe(STEP_DONE);
    expect(Atomics.load(platformI32, word)).toBe(0);
    expect(Atomics.load(hw.i32, vmField(hw, 0, VM_VMM_LOCK))).toBe(0);
    expect(Atomics.load(hw.i32, vmField(hw, 0, VM_KERNEL_LOCK))).toBe(0);
    // The reap left VM 0 whole: the VMM's thread (this one, for the dead one) finishes the
    // destroy.
    settleVm0(p);
    expect(hw.ld(vmField(hw, 0, VM_STATE))).toBe(VMS_OFF);
    p.detach();
  });
});
