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
  VM_RECORDS_FREED,
  VM_STATE,
  VM_VMM_LOCK,
  VM_VMM_OP,
  VP_STATE,
  VPS_LIVE,
} from '../hw-model/hw-layout.js';
import { recordHasBonds, vcpuField, vmField, vpField } from '../hw-model/vm.js';
import { workPending } from '../hw-model/work-ring.js';

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
      `VM ${vm}: state ${hw.ld(vmField(hw, vm, VM_STATE))} vcpus [${vcpus}] live ${live} bound ${bound}` +
        ` recordsFreed ${hw.ld(vmField(hw, vm, VM_RECORDS_FREED))}` +
        ` vmmLock ${hw.ld(vmField(hw, vm, VM_VMM_LOCK))} kernelLock ${hw.ld(vmField(hw, vm, VM_KERNEL_LOCK))}` +
        ` vmmOp ${hw.ld(vmField(hw, vm, VM_VMM_OP))} pending ${workPending(hw, vm)}`,
    );
  }
  return out.join('\n');
}
