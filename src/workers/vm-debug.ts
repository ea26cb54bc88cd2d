/**
 * A one-line account of each VM's lifecycle state, for diagnosing a VM that stopped working
 * (printed by runThreaded when IOASID_DEBUG_KILLS is set). Loads only: it runs on the main
 * thread while the VMs' threads work, so it must not peek at the work ring (a peek releases
 * a tombstone at the head: a consumer's step, not an observer's).
 *
 * @internal
 */
import type { HwContext } from '../hw-model/hw-context.js';
import {
  VC_STATE,
  VM_KERNEL_LOCK,
  VM_VMM_LOCK,
  VP_STATE,
  VPS_LIVE,
} from '../hw-model/hw-layout.js';
import { vmStateLine } from '../hw-model/quiesce.js';
import { recordHasBonds, vcpuField, vmField, vpField } from '../hw-model/vm.js';

/** Per VM: quiesce.ts's state line, its vCPUs' states, live and bound records, lock holders. */
export function vmLifecycle(hw: HwContext): string {
  const out: string[] = [];
  for (let vm = 0; vm < hw.g.shape.vm.vms; vm++) {
    let live = 0;
    let bound = 0;
    for (let r = 0; r < hw.g.shape.vm.pasids; r++)
      if (hw.ld(vpField(hw, vm, r, VP_STATE)) === VPS_LIVE) {
        live++;
        if (recordHasBonds(hw, vm, r)) bound++;
      }
    const vcpus: number[] = [];
    for (let c = 0; c < hw.g.shape.vm.vcpus; c++) vcpus.push(hw.ld(vcpuField(hw, vm, c, VC_STATE)));
    out.push(
      `VM ${vm}: ${vmStateLine(hw, vm)}, vcpus [${vcpus}], live ${live} bound ${bound}` +
        `, vmmLock ${hw.ld(vmField(hw, vm, VM_VMM_LOCK))} kernelLock ${hw.ld(vmField(hw, vm, VM_KERNEL_LOCK))}`,
    );
  }
  return out.join('\n');
}
