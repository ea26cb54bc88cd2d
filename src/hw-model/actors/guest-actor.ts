/**
 * The guest of one VM (§7.10 scenarios 2-6, 8): its processes, each with at most one PASID,
 * run on the VM's vCPUs. Each step one process does one thing its mix picks: get a PASID
 * (identity: from the guest kernel's space, whose vcmd allocator asks the VMM; spid: the guest
 * numbers its own, 101 + process, so every VM uses the same guest PASIDs), bind it on one of
 * the VM's vSWQ mdevs, program it into the mdev (or into the VM's vDWQ on that PF, when it has
 * one and it is free), ENQCMD from a random vCPU (MOVDIR64B to the vDWQ), clear the mdev,
 * unbind, free; a misbehaving process frees while still bound (b.3's exception flow) and
 * unbinds the stale value later. The actor also handles its vCPUs' VM exits (the epoch
 * acknowledgement KVM waits for).
 *
 * A VM that is not running (destroyed: vm-crash) forgets every process's state; its guest
 * kernel's ids are given back when it sees that.
 */

import { Ev } from '../event-log.js';
import { guestMovdir64b } from '../guest-dwq.js';
import { guestBind, guestUnbind } from '../guest-iommu.js';
import { GuestKernel, roundTrip } from '../guest-space.js';
import type { HwContext } from '../hw-context.js';
import {
  MD_PF,
  MD_TYPE,
  MDT_DWQ,
  MDT_SWQ,
  VE_CUR,
  VE_VALID,
  VM_STATE,
  VMS_RUNNING,
} from '../hw-layout.js';
import type { ModelRng } from '../rng.js';
import type { GuestMix } from '../scenarios.js';
import { VCMD_FREE } from '../vcmd-regs.js';
import { guestEnqcmd, vcpuStep } from '../vcpu.js';
import { vdcmProgram, vdcmQueueClear } from '../vdcm.js';
import { mdevField, mdevsOf, vmField } from '../vm.js';
import { vmcsEntry } from '../vmcs.js';
import type { Actor } from './actor.js';

const ALLOC = 0;
const BIND = 1;
const PROGRAM = 2;
const SUBMIT = 3;
const CLEAR = 4;
const UNBIND = 5;
const FREE = 6;
const MISFREE = 7;
const ROGUE = 8;

/** One guest process. */
interface GuestProc {
  /** Its guest PASID (0 none). */
  g: number;
  /** The mdev it is bound through (-1 none). */
  mdev: number;
  /** The mdev it programmed its PASID into (-1 none). */
  programmed: number;
  /** A value it freed while bound, to unbind later (0 none). */
  stale: number;
  staleMdev: number;
  /** Steps left to wait for KVM's VMCS entry after a bind (0: not waiting). */
  waitVmcs: number;
}

/** Steps a process waits at most for KVM's VMCS entry after its bind. */
const VMCS_WAIT = 4096;
/** Guest PASIDs a spid-mode guest numbers its processes' from. */
export const SPID_BASE = 101;
/** Default-allocator ids the allocator-switch guest holds while it tries to switch. */
const SWITCH_IDS = 2;

/** The guest of VM `vm`. */
export class GuestActor implements Actor {
  readonly kind = 'guest' as const;
  readonly id: number;
  readonly name: string;
  readonly vm: number;
  readonly #hw: HwContext;
  readonly #weights: number[];
  readonly #procs: GuestProc[];
  readonly #swqs: number[];
  /** The VM's vDWQ mdevs (`dwqMdevs`): a process may program its PASID into a free one. */
  readonly #dwqs: number[];
  readonly #handle: GuestKernelSource;
  readonly #switchFirst: boolean;
  #gk: GuestKernel | undefined;
  /** The vcmd member is registered (or the allocator switch was tried). */
  #ready = false;
  #replaced = false;
  #finishing = false;
  #wasRunning = true;

  constructor(
    hw: HwContext,
    vm: number,
    id: number,
    mix: GuestMix,
    guestSpace: GuestKernelSource,
    switchFirst: boolean,
    processes?: number,
  ) {
    this.#hw = hw;
    this.vm = vm;
    this.id = id;
    this.name = `VM ${vm} guest`;
    this.#weights = [
      mix.alloc,
      mix.bind,
      mix.program,
      mix.submit,
      mix.clear,
      mix.unbind,
      mix.free,
      hw.spidMode ? 0 : mix.misfree,
      hw.spidMode ? 0 : mix.rogue,
    ];
    // `processes`: run only the first ones (vm-crash: the VM that keeps submitting).
    const n = Math.max(1, Math.min(processes ?? hw.g.shape.vm.procs, hw.g.shape.vm.procs));
    this.#procs = Array.from({ length: n }, () => fresh());
    this.#swqs = mdevsOf(hw, vm).filter((m) => hw.ld(mdevField(hw, m, MD_TYPE)) === MDT_SWQ);
    this.#dwqs = mdevsOf(hw, vm).filter((m) => hw.ld(mdevField(hw, m, MD_TYPE)) === MDT_DWQ);
    this.#handle = guestSpace;
    this.#switchFirst = switchFirst;
  }

  step(rng: ModelRng): number {
    const hw = this.#hw;
    hw.log.actor = this.id;
    let n = 0;
    for (let c = 0; c < hw.g.shape.vm.vcpus; c++) n += vcpuStep(hw, this.vm, c);
    const running = hw.ld(vmField(hw, this.vm, VM_STATE)) === VMS_RUNNING;
    if (!running) {
      if (this.#wasRunning) this.#crashed();
      this.#wasRunning = false;
      return n;
    }
    this.#wasRunning = true;
    if (this.#swqs.length === 0) return n;
    const gk = this.#kernel();
    if (this.#finishing) return n + this.#windDown(gk);
    const p = this.#procs[rng.below(this.#procs.length)]!;
    return n + this.#op(rng, gk, p, rng.weighted(this.#weights));
  }

  #op(rng: ModelRng, gk: GuestKernel | undefined, p: GuestProc, op: number): number {
    const hw = this.#hw;
    const vm = this.vm;
    if (p.stale > 0) {
      // The misbehaving process's stale unbind: harmless (ENOENT), or it hits the value the
      // VM got again (its own PASID: the damage stays in the VM).
      guestUnbind(hw, vm, p.staleMdev, p.stale);
      p.stale = 0;
      return 1;
    }
    if (p.waitVmcs > 0) {
      // bind_gpasid returns once KVM's BIND handler made the VMCS entry valid (the kernel's
      // chain runs inside attach); the model's KVM works asynchronously, so the process
      // waits for it (bounded: KVM may have dropped a stale BIND).
      const e = vmcsEntry(hw, vm, p.g);
      if (e >= 0 && hw.ld(e + VE_CUR) & VE_VALID) p.waitVmcs = 0;
      else {
        p.waitVmcs--;
        return 0;
      }
    }
    switch (op) {
      case ALLOC:
        if (p.g !== 0) return 0;
        if (hw.spidMode) p.g = SPID_BASE + this.#procs.indexOf(p);
        else if (gk) p.g = Math.max(0, gk.alloc());
        return 1;
      case BIND: {
        if (p.g === 0 || p.mdev >= 0) return 0;
        const m = this.#swqs[rng.below(this.#swqs.length)]!;
        if (guestBind(hw, vm, m, p.g) > 0) Object.assign(p, { mdev: m, waitVmcs: VMCS_WAIT });
        return 1;
      }
      case PROGRAM: {
        if (p.mdev < 0 || p.programmed >= 0) return 0;
        // Half the time its vDWQ, if one on the PF it is bound on runs no PASID yet.
        const pf = hw.ld(mdevField(hw, p.mdev, MD_PF));
        const dwq = this.#dwqs.find((m) => hw.ld(mdevField(hw, m, MD_PF)) === pf);
        const m = dwq !== undefined && rng.oneIn(2) ? dwq : p.mdev;
        if (vdcmProgram(hw, vm, m, p.g) > 0) p.programmed = m;
        return 1;
      }
      case SUBMIT: {
        if (p.g === 0) return 0;
        if (p.programmed >= 0 && this.#dwqs.includes(p.programmed) && rng.oneIn(2)) {
          // MOVDIR64B to the vDWQ: the device uses WQCFG's PASID (no VMCS lookup).
          const c = rng.below(hw.g.shape.vm.vcpus);
          guestMovdir64b(hw, vm, c, p.programmed, rng.below(hw.g.shape.pagesPerMm));
          return 1;
        }
        const m = p.mdev >= 0 ? p.mdev : this.#swqs[rng.below(this.#swqs.length)]!;
        const c = rng.below(hw.g.shape.vm.vcpus);
        guestEnqcmd(hw, vm, c, m, p.g, rng.below(hw.g.shape.pagesPerMm));
        return 1;
      }
      case CLEAR:
        if (p.programmed < 0) return 0;
        if (vdcmQueueClear(hw, vm, p.programmed) === 0) p.programmed = -1;
        return 1;
      case UNBIND:
        if (p.mdev < 0 || p.programmed >= 0) return 0;
        guestUnbind(hw, vm, p.mdev, p.g);
        p.mdev = -1;
        return 1;
      case FREE:
        if (p.g === 0 || p.mdev >= 0 || p.programmed >= 0) return 0;
        if (!hw.spidMode && gk) gk.free(p.g);
        p.g = 0;
        return 1;
      case ROGUE: {
        // A value this VM was never given (or was, and gave back): the host must refuse it.
        const v = 1 + rng.below(2 ** hw.g.shape.pasidBits - 1);
        if (this.#procs.some((q) => q.g === v || q.stale === v)) return 0;
        if (rng.oneIn(2)) roundTrip(hw, vm, 0, VCMD_FREE, v);
        else if (guestBind(hw, vm, this.#swqs[0]!, v) > 0) guestUnbind(hw, vm, this.#swqs[0]!, v);
        return 1;
      }
      case MISFREE:
        if (p.g === 0 || p.mdev < 0 || !gk) return 0;
        gk.free(p.g);
        Object.assign(p, { stale: p.g, staleMdev: p.mdev, g: 0, mdev: -1, programmed: -1 });
        return 1;
      default:
        return 0;
    }
  }

  /**
   * Attach the guest kernel's space in this thread now (a worker publishes the Rcu slot, for
   * the recovery of a kill).
   *
   * Context: the actor's thread.
   * @returns the guest space's Rcu slot; -1 in spid mode (the guest has no vcmd space)
   */
  attachKernel(): number {
    if (this.#hw.spidMode) return -1;
    this.#gk ??= GuestKernel.attachTo(this.#hw, this.#handle(this.vm), this.vm, 0);
    return this.#gk.space.rcu.slot;
  }

  /**
   * This actor replaces a guest whose thread was killed (its VM was destroyed and boots
   * again): the guest kernel's ids the dead guest held are given back on first use.
   */
  replacing(): void {
    this.#replaced = true;
  }

  /** The guest kernel's space, attached (and its vcmd member registered) on first use. */
  #kernel(): GuestKernel | undefined {
    if (this.attachKernel() < 0) return undefined;
    const gk = this.#gk!;
    if (this.#ready) return gk;
    this.#ready = true;
    if (this.#switchFirst) this.#allocatorSwitch(gk);
    else gk.enableVcmd();
    // The rebooted guest's kernel starts empty: what the dead guest held goes back (the VMM
    // refuses the vcmd frees: those PASIDs went with the destroyed VM's set).
    if (this.#replaced) gk.space.freeAllInSet(0);
    return gk;
  }

  /** §7.10 scenario 8: the switch is refused while default ids are live, then accepted. */
  #allocatorSwitch(gk: GuestKernel): void {
    const ids: number[] = [];
    for (let i = 0; i < SWITCH_IDS; i++) ids.push(gk.alloc());
    const refused = gk.enableVcmd();
    this.#hw.log.emit(Ev.ALLOC_SWITCH, 0, 0, -1, this.vm, refused, ids.length);
    for (const id of ids) gk.free(id);
    const accepted = gk.enableVcmd();
    this.#hw.log.emit(Ev.ALLOC_SWITCH, 0, 0, -1, this.vm, accepted, 0);
  }

  /** One step of the wind-down: each process clears, unbinds and frees what it holds. */
  #windDown(gk: GuestKernel | undefined): number {
    for (const p of this.#procs) {
      if (p.stale > 0) return this.#op(DUMMY_RNG, gk, p, ALLOC);
      if (p.programmed >= 0) return this.#op(DUMMY_RNG, gk, p, CLEAR);
      if (p.mdev >= 0) return this.#op(DUMMY_RNG, gk, p, UNBIND);
      if (p.g !== 0) return this.#op(DUMMY_RNG, gk, p, FREE);
    }
    return 0;
  }

  /** The VM was destroyed: every process's state is gone; the guest kernel's ids too. */
  #crashed(): void {
    for (const p of this.#procs) Object.assign(p, fresh());
    if (this.#gk && this.#ready) this.#gk.space.freeAllInSet(0);
  }

  finish(): void {
    this.#finishing = true;
  }

  quiet(): boolean {
    return this.#procs.every((p) => p.g === 0 && p.mdev < 0 && p.programmed < 0 && p.stale === 0);
  }

  /** Detach the guest kernel's space (the actor's thread is done). */
  stop(): void {
    this.#gk?.detach();
    this.#gk = undefined;
    this.#ready = false;
  }
}

/** Where a guest actor gets its VM's guest space handle. */
export type GuestKernelSource = (
  vm: number,
) => import('../../core/ioasid/ioasid-space.js').IoasidHandle;

function fresh(): GuestProc {
  return { g: 0, mdev: -1, programmed: -1, stale: 0, staleMdev: -1, waitVmcs: 0 };
}

/** The wind-down picks deterministically: no randomness needed. */
const DUMMY_RNG = { below: () => 0, weighted: () => 0, oneIn: () => false } as unknown as ModelRng;
