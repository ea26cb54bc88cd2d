/**
 * The hardware around VM 0 for the single-threaded VM tests: what runs while the thread under
 * test is stopped or killed.
 */
import { shimRing } from '../../src/hw-model/free-notifier.js';
import { VM_STATE, VMS_OFF } from '../../src/hw-model/hw-layout.js';
import type { Platform } from '../../src/hw-model/index.js';
import { recoverThread } from '../../src/hw-model/recovery.js';
import { vcpuStep } from '../../src/hw-model/vcpu.js';
import { vmField } from '../../src/hw-model/vm.js';
import { vmKernelIdle, vmKernelStep } from '../../src/hw-model/vm-kernel.js';
import { vmDestroyDone, vmsStep } from '../../src/hw-model/vm-ops.js';
import { reapVms } from '../../src/hw-model/vm-recovery.js';

/** The device engines, the IOMMU's queue and the vCPUs of VM 0 (not the dying thread's). */
export function engines(p: Platform): void {
  const hw = p.context;
  p.processInvQueue(64);
  for (let pf = 0; pf < hw.g.pf.length; pf++) p.execute(pf, 64);
  p.prqService(16);
  for (let c = 0; c < hw.g.shape.vm.vcpus; c++) vcpuStep(hw, 0, c);
}

/**
 * The reaper of VM 0's dead thread, as the threaded harness runs it (hw-fleet.ts `kill`).
 *
 * @param p - the platform
 * @param vmmDied - the VMM's thread died (false: a guest's)
 */
export function reapVm0(p: Platform, vmmDied: boolean): void {
  const hw = p.context;
  hw.log.actor = 0;
  reapVms(hw, [0], hw.tag, vmmDied);
  recoverThread(hw, hw.tag, shimRing(hw.logI32));
}

/** Drive everything until VM 0 is destroyed and at rest (or a step bound passes). */
export function settleVm0(p: Platform): void {
  const hw = p.context;
  for (let i = 0; i < 20_000; i++) {
    if (hw.ld(vmField(hw, 0, VM_STATE)) === VMS_OFF && vmKernelIdle(hw, 0)) return;
    vmsStep(hw);
    vmDestroyDone(hw, 0);
    engines(p);
  }
}

/** What a kill point throws: the thread stops there, as `terminate()` stops a worker. */
export class Killed extends Error {}

/**
 * The VMM's thread runs VM 0's kernel (the engines in between) until a kill point throws
 * `Killed` in it, or a step bound passes.
 *
 * @returns true when it was killed
 */
export function kernelUntilKilled(p: Platform): boolean {
  for (let i = 0; i < 4000; i++) {
    try {
      vmKernelStep(p.context, 0);
    } catch (e) {
      if (!(e instanceof Killed)) throw e;
      return true;
    } finally {
      engines(p);
    }
  }
  return false;
}
