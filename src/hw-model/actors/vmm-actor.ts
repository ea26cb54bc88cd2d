/**
 * The hypervisor side of one VM: its VMM's vcmd handler (one per vIOMMU) and the VM's host
 * kernel (the consumers' notifier handlers and their ordered workqueue, vm-kernel.ts). In
 * vm-crash it also destroys its VM (every PASID of the set through the FREE path while the
 * other VMs keep submitting): at random, or each time its guest has a given number of PASIDs
 * bound (§7.10 scenario 5: 500), and boots it again once the teardown is done. A boot its
 * thread was killed inside (the VM left BOOTING) is finished by the replaced thread.
 */
import { freesOwed, vmmOwedFrees } from '../guest-iommu.js';
import type { HwContext } from '../hw-context.js';
import {
  VM_STATE,
  VMS_BOOTING,
  VMS_DYING,
  VMS_OFF,
  VMS_RUNNING,
  VP_STATE,
  VPS_LIVE,
} from '../hw-layout.js';
import type { ModelRng } from '../rng.js';
import { vmmVcmdStep } from '../vcmd.js';
import { recordHasBonds, vmField, vpField } from '../vm.js';
import { vmKernelIdle, vmKernelStep } from '../vm-kernel.js';
import {
  bootVm,
  finishBootVm,
  vmDestroyDone,
  vmDestroyStart,
  vmFreeRecordsOnceStopped,
} from '../vm-ops.js';
import type { Actor } from './actor.js';

/** When the VMM destroys its VM as a guest crash (vm-crash); 0 = never. */
export interface CrashPolicy {
  /** One step in this many. */
  oneIn: number;
  /** Once this many of the VM's PASIDs are bound. */
  atBound: number;
}

/** Steps between two counts of the bound PASIDs (a walk of the VMM's records). */
const COUNT_EVERY = 64;

/** The VMM and host kernel of VM `vm`. */
export class VmmActor implements Actor {
  readonly kind = 'vmm' as const;
  readonly id: number;
  readonly name: string;
  readonly vm: number;
  readonly #hw: HwContext;
  readonly #crash: CrashPolicy;
  #finishing = false;
  #steps = 0;
  crashes = 0;

  constructor(hw: HwContext, vm: number, id: number, crash: CrashPolicy) {
    this.#hw = hw;
    this.vm = vm;
    this.id = id;
    this.name = `VM ${vm} VMM`;
    this.#crash = crash;
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
    } else if (state === VMS_BOOTING && finishBootVm(hw, this.vm) >= 0) n++;
    else if (state === VMS_OFF && bootVm(hw, this.vm) >= 0) n++;
    else if (state === VMS_RUNNING && !this.#finishing && this.#crashNow(rng)) {
      if (vmDestroyStart(hw, this.vm, true) === 0) {
        this.crashes++;
        n++;
      }
    }
    return n;
  }

  #crashNow(rng: ModelRng): boolean {
    const c = this.#crash;
    if (c.oneIn > 0 && rng.oneIn(c.oneIn)) return true;
    if (c.atBound <= 0 || ++this.#steps % COUNT_EVERY !== 0) return false;
    return boundPasids(this.#hw, this.vm) >= c.atBound;
  }

  finish(): void {
    this.#finishing = true;
  }

  quiet(): boolean {
    const state = this.#hw.ld(vmField(this.#hw, this.vm, VM_STATE));
    return state !== VMS_DYING && vmKernelIdle(this.#hw, this.vm) && !freesOwed(this.#hw, this.vm);
  }
}

/**
 * PASIDs of VM `vm` the VMM holds live with a bond (the guest's bound PASIDs).
 *
 * Context: any attached thread; a racy count (bonds come and go), good for a trigger.
 * @returns the count
 */
export function boundPasids(hw: HwContext, vm: number): number {
  let n = 0;
  for (let r = 0; r < hw.g.shape.vm.pasids; r++)
    if (hw.ld(vpField(hw, vm, r, VP_STATE)) === VPS_LIVE && recordHasBonds(hw, vm, r)) n++;
  return n;
}
