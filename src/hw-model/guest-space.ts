/**
 * The guest kernel's own IOASID space (§1.6; the 2021 series' reason for pluggable
 * allocators): a second `IoasidSpace`, one per VM, whose active allocator is a custom group
 * named 'vcmd' backed by the VM's virtual command channel. Every guest thread that attaches
 * it registers its own member; the member's `alloc` writes VCMD = Allocate and waits for the
 * VMM, which allocates from the host space in the VM's set, so guest PASID = host PASID.
 *
 * ```ts
 * const gk = GuestKernel.attach(platform, vm);
 * gk.enableVcmd();            // -EAGAIN while the default allocator has live ids
 * const pasid = gk.alloc();   // a vcmd round trip: the host PASID of the VM's set
 * gk.free(pasid);             // VCMD = Free
 * ```
 *
 * ## Developer notes
 * The vCPU that writes VCMD is stopped until the VMM has handled the trapped write (§1.6),
 * so the member's round trip steps the VMM's handler itself when no VMM thread took the
 * command first (the VMM lock decides who): the same code then works in a deterministic run
 * (one thread) and on worker threads.
 *
 * @internal
 */
import type { AllocatorOps } from '../core/ioasid/allocator-registry.js';
import { type IoasidHandle, IoasidSpace, SetType } from '../core/ioasid/ioasid-space.js';
import type { HwContext } from './hw-context.js';
import { HwErrno } from './hw-errno.js';
import { hwErrors } from './hw-errors.js';
import type { Platform } from './platform.js';
import { VCMD_BUSY, vcmdPoll, vcmdPost, vcmdSplit, vmmVcmdStep } from './vcmd.js';
import { SC_SUCCESS, scNoPasid, VCMD_ALLOC, VCMD_FREE } from './vcmd-regs.js';

/** Largest guest PASID (the vcmd allocator always asks for the full 20-bit range). */
const GUEST_MAX = 0xfffff;
/** Polls of VCRSP before a round trip gives up (a VMM that never answers: INV-16). */
const SPIN_LIMIT = 1_000_000;
/** The guest's SVA set in its own space: the first set created. */
const GUEST_SET = 0;

/**
 * Create the guest space of one VM (in Platform.create).
 *
 * @param quota - the VM's quota (the guest never holds more PASIDs than its VMM gives it)
 *
 * Context: create() only.
 * @returns its handle
 */
export function createGuestSpace(quota: number): IoasidHandle {
  const space = IoasidSpace.create({
    pasidBits: 20,
    maxThreads: 16,
    maxSets: 4,
    maxIoasids: Math.max(16, Math.min(4096, 2 * quota)),
  });
  space.setAlloc(null, 0, SetType.NULL);
  const handle = space.handle;
  space.detach();
  return handle;
}

/** One thread's attachment to a VM's guest kernel space. */
export class GuestKernel {
  /** The guest's space (attached in this thread). */
  readonly space: IoasidSpace;
  readonly #ops: AllocatorOps;
  #registered = false;

  private constructor(space: IoasidSpace, ops: AllocatorOps) {
    this.space = space;
    this.#ops = ops;
  }

  /**
   * Attach VM `vm`'s guest space in this thread, with a vcmd member on vIOMMU `vi`.
   *
   * @param platform - the platform, attached in this thread
   * @param vm - the VM
   * @param vi - the vIOMMU its vcmd member uses (default 0)
   *
   * Context: any thread that attached the platform; once per thread and VM.
   * @returns the guest kernel
   */
  static attach(platform: Platform, vm: number, vi = 0): GuestKernel {
    const handle = platform.handle.guests[vm];
    if (handle === undefined) throw hwErrors.badArgument('vm', 'a VM of the platform', vm);
    return GuestKernel.attachTo(platform.context, handle, vm, vi);
  }

  /**
   * `attach` for the model's actors, which hold a context and the handle.
   *
   * @internal
   */
  static attachTo(hw: HwContext, handle: IoasidHandle, vm: number, vi: number): GuestKernel {
    const space = IoasidSpace.attach(handle);
    const ops: AllocatorOps = {
      name: 'vcmd',
      alloc: () => {
        const r = roundTrip(hw, vm, vi, VCMD_ALLOC, 0);
        if (r < 0) return r;
        const { sc, result } = vcmdSplit(r);
        if (sc === SC_SUCCESS) return result;
        return sc === scNoPasid(hw.vcmdRev) ? -HwErrno.ENOSPC : -HwErrno.ENODEV;
      },
      free: (id) => {
        // "Invalid PASID" is only logged by Linux's guest; nothing to do here either.
        roundTrip(hw, vm, vi, VCMD_FREE, id);
      },
    };
    return new GuestKernel(space, ops);
  }

  /**
   * Register this thread's vcmd member (the first registration makes the group active).
   *
   * Context: the attached thread.
   * @returns 0; -EAGAIN the default allocator still has live ids (switch refused); -EEXIST
   * already registered
   */
  enableVcmd(): number {
    const r = this.space.registerAllocator(this.#ops);
    if (r === 0) this.#registered = true;
    return r;
  }

  /** Unregister this thread's member. @returns 0; -EBUSY its ids are still live; -ENOENT */
  disableVcmd(): number {
    const r = this.space.unregisterAllocator(this.#ops);
    if (r === 0) this.#registered = false;
    return r;
  }

  /** True while this thread's member is registered. */
  get vcmdEnabled(): boolean {
    return this.#registered;
  }

  /**
   * Allocate a guest PASID (through vcmd when the group is active).
   *
   * @returns the PASID (> 0) or a negative errno (-ENOSPC: no PASID at the host)
   */
  alloc(): number {
    return this.space.alloc(GUEST_SET, 1, GUEST_MAX);
  }

  /** Free a guest PASID (VCMD = Free when it came from vcmd). @returns the core's result */
  free(pasid: number): number {
    return this.space.free(GUEST_SET, pasid);
  }

  /** Detach (unregistering the member first when its ids are all gone). */
  detach(): void {
    if (this.#registered) this.disableVcmd();
    this.space.detach();
  }
}

/**
 * A raw vcmd round trip (what a guest driver, or a malicious guest writing the registers
 * itself, does): post, then poll, stepping the VMM's handler while no VMM thread has taken
 * the command.
 *
 * Context: a guest thread of VM `vm`; spins (bounded).
 * @returns `sc << 20 | result`; -EAGAIN/-ETIMEDOUT when the channel never freed or answered
 */
export function roundTrip(
  hw: HwContext,
  vm: number,
  vi: number,
  op: number,
  operand: number,
): number {
  let posted = vcmdPost(hw, vm, vi, op, operand);
  for (let i = 0; posted < 0 && i < SPIN_LIMIT; i++) posted = vcmdPost(hw, vm, vi, op, operand);
  if (posted < 0) return posted;
  for (let i = 0; i < SPIN_LIMIT; i++) {
    vmmVcmdStep(hw, vm, vi);
    const v = vcmdPoll(hw, vm, vi);
    if (v !== VCMD_BUSY) return v;
  }
  return -HwErrno.ETIMEDOUT;
}
