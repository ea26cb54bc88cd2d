/**
 * The hypervisor side of one VM: its VMM's vcmd handler (one per vIOMMU) and the VM's host
 * kernel (the consumers' notifier handlers and their ordered workqueue, vm-kernel.ts). In
 * vm-crash it also destroys its VM now and then (every PASID of the set through the FREE
 * path while the other VMs keep submitting) and boots it again once the teardown is done.
 */
import { freesOwed, vmmOwedFrees } from '../guest-iommu.js';
import type { HwContext } from '../hw-context.js';
import { VM_STATE, VMS_DYING, VMS_OFF } from '../hw-layout.js';
import type { ModelRng } from '../rng.js';
import { vmmVcmdStep } from '../vcmd.js';
import { vmField } from '../vm.js';
import { vmKernelIdle, vmKernelStep } from '../vm-kernel.js';
import { bootVm, vmDestroyDone, vmDestroyStart, vmFreeRecordsOnceStopped } from '../vm-ops.js';
import type { Actor } from './actor.js';

/** The VMM and host kernel of VM `vm`. */
export class VmmActor implements Actor {
  readonly kind = 'vmm' as const;
  readonly id: number;
  readonly name: string;
  readonly vm: number;
  readonly #hw: HwContext;
  /** Destroy the VM one step in this many (0 never). */
  readonly #crashOneIn: number;
  #finishing = false;
  crashes = 0;

  constructor(hw: HwContext, vm: number, id: number, crashOneIn: number) {
    this.#hw = hw;
    this.vm = vm;
    this.id = id;
    this.name = `VM ${vm} VMM`;
    this.#crashOneIn = crashOneIn;
  }

  step(rng: ModelRng): number {
    const hw = this.#hw;
    hw.log.actor = this.id;
    let n = 0;
    for (let vi = 0; vi < hw.g.shape.vm.viommus; vi++) n += vmmVcmdStep(hw, this.vm, vi);
    n += vmKernelStep(hw, this.vm);
    n += vmmOwedFrees(hw, this.vm);
    const state = hw.ld(vmField(hw, this.vm, VM_STATE));
    if (state === VMS_DYING) {
      // The records go once the guest's vCPUs are out (its thread takes them out).
      n += vmFreeRecordsOnceStopped(hw, this.vm);
      if (vmDestroyDone(hw, this.vm)) n++;
    } else if (state === VMS_OFF && bootVm(hw, this.vm) >= 0) n++;
    else if (this.#crashOneIn > 0 && !this.#finishing && rng.oneIn(this.#crashOneIn)) {
      if (vmDestroyStart(hw, this.vm, true) === 0) {
        this.crashes++;
        n++;
      }
    }
    return n;
  }

  finish(): void {
    this.#finishing = true;
  }

  quiet(): boolean {
    const state = this.#hw.ld(vmField(this.#hw, this.vm, VM_STATE));
    return state !== VMS_DYING && vmKernelIdle(this.#hw, this.vm) && !freesOwed(this.#hw, this.vm);
  }
}
