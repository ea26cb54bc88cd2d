/**
 * How far the VMs that are not running (dying, off, booting) have got: runThreaded's
 * untilEveryVmWorked waits on, and restarts its work bound whenever this moves, so a long
 * but advancing teardown (a vm-crash VM destroyed with 500 PASIDs bound, thousands of kernel
 * work items behind hardware drains) is not mistaken for a stuck one.
 *
 * @internal
 */
import type { HwContext } from '../hw-model/hw-context.js';
import { VM_STATE, VMS_RUNNING } from '../hw-model/hw-layout.js';
import { vmField } from '../hw-model/vm.js';
import { workFinished } from '../hw-model/work-ring.js';

/**
 * A mark of the non-running VMs' progress: each one's state and kernel work items finished.
 * Two marks differ when one of them moved (a running VM counts only by being running).
 *
 * Context: any attached thread; stale on return.
 */
export function recoveryMark(hw: HwContext): string {
  const parts: string[] = [];
  for (let vm = 0; vm < hw.g.shape.vm.vms; vm++) {
    const state = hw.ld(vmField(hw, vm, VM_STATE));
    parts.push(state === VMS_RUNNING ? 'R' : `${state}:${workFinished(hw, vm)}`);
  }
  return parts.join(',');
}
