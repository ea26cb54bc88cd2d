/**
 * A one-line account of each VM's lifecycle state, for diagnosing a VM that stopped working
 * (printed by runThreaded when IOASID_DEBUG_KILLS is set).
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
import { vmKernelIdle } from '../hw-model/vm-kernel.js';
import { wk, workHead, workPending } from '../hw-model/work-ring.js';

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
        ` recordsFreed ${hw.ld(vmField(hw, vm, VM_RECORDS_FREED))} kernelIdle ${vmKernelIdle(hw, vm)}` +
        ` vmmLock ${hw.ld(vmField(hw, vm, VM_VMM_LOCK))} kernelLock ${hw.ld(vmField(hw, vm, VM_KERNEL_LOCK))}` +
        ` vmmOp ${hw.ld(vmField(hw, vm, VM_VMM_OP))} pending ${workPending(hw, vm)} head ${head(hw, vm)}`,
    );
  }
  return out.join('\n');
}

function head(hw: HwContext, vm: number): string {
  const h = workHead(hw, vm);
  if (h === null) return '-';
  const words: number[] = [];
  for (let f = 0; f < 8; f++) words.push(wk(hw, h.w, f));
  return `[${words}]`;
}
