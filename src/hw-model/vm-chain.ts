/**
 * The seam between a VM's IOASID set and the kernel consumers that follow it (spec e,
 * iommu-hw-model.md §2.6, §7.4): KVM (priority CPU), the VDCM (DEVICE) and the IOMMU driver's
 * guest side learn of BIND, UNBIND and FREE of the set's PASIDs here, in chain order.
 *
 * - `CoreVmChains`, with a core that has notifier chains (issue 10): KVM subscribes with
 *   `registerNotifierMm(token, CPU)` before the VM's set exists (it knows only the VMM's mm),
 *   the VDCM and the IOMMU driver with `registerNotifier(set, prio)` right after. Each
 *   consumer reads its own queue; the core's gating lets one read an event only after every
 *   subscriber ahead of it on the chain has. The VM's kernel (vm-kernel.ts) tries them in the
 *   reverse of chain order, so that the order comes from the gating alone.
 * - `ShimVmChains`, before issue 10: the code that attaches or detaches a SPID, or frees a
 *   PASID that stays free-pending, posts the event the core would have emitted into the VM's
 *   ring in the log buffer; the VM's kernel reads each event once and hands it to the
 *   consumers in chain order, as the kernel's synchronous chain calls its handlers. A full
 *   ring drops the event and counts it: the consumers get an overflow and rescan.
 *
 * Chain order is priority order: KVM (3) first, then the VDCM (DEVICE, 1), then the IOMMU
 * driver, whose guest subscriber registers with the priority in the header (LAST, 0, as
 * the V4 VT-d patch registered its notifier block: spec e). The V4 enum puts IOMMU (2) ahead
 * of DEVICE (1); an IOMMU driver registered there reads a FREE before the VDCM and tears the
 * entry down before the device is drained: mutation `wrong-notifier-order`.
 *
 * @internal
 */
import { LINE_WORDS } from '../core/cache-line.js';
import {
  RING_FULL,
  type Ring,
  ringClaim,
  ringInit,
  ringPeek,
  ringPublish,
  ringRelease,
  ringSlot,
} from './claim-ring.js';
import type { HwContext } from './hw-context.js';
import {
  H_IOMMU_PRIO,
  L_ENTRIES,
  L_ROWS,
  L_VMS,
  VM_OLD_SUB_IOMMU,
  VM_OLD_SUB_KVM,
  VM_OLD_SUB_VDCM,
  VM_SHIM_ENTRIES,
  VM_SHIM_WORDS,
  VM_SUB_IOMMU,
  VM_SUB_KVM,
  VM_SUB_VDCM,
  VSH_EVENT,
  VSH_ID,
  VSH_SPID,
  vmShimBase,
} from './hw-layout.js';

/** Notifier events (the kernel's numbering, spec a.2), and OVERFLOW for lost ones. */
export const NOTIFY_ALLOC = 1;
export const NOTIFY_FREE = 2;
export const NOTIFY_BIND = 3;
export const NOTIFY_UNBIND = 4;
export const NOTIFY_OVERFLOW = -1;
/** NotifierPriority, the kernel's numbering. */
export const PRIO_LAST = 0;
export const PRIO_DEVICE = 1;
export const PRIO_IOMMU = 2;
export const PRIO_CPU = 3;
/** The consumers of a VM's chain. */
export const KVM = 0;
export const VDCM = 1;
export const IOMMU = 2;
/** Their names, for traces. */
export const CONSUMER_NAMES = ['KVM', 'VDCM', 'IOMMU'] as const;
/** The word of the LOST counter in a shim ring's meta line. */
const SHIM_LOST = 2;

/** One event as a consumer receives it. */
export interface VmNotification {
  /** NOTIFY_*; NOTIFY_OVERFLOW: events were lost, rescan. */
  event: number;
  id: number;
  /** The bound SPID, or -1 when none. */
  spid: number;
}

/** Where a VM's consumers get their events from. */
export interface VmChains {
  /** Whether the events come from the core (false: the shim). */
  readonly fromCore: boolean;
  /** Before the VM's set exists: subscribe the consumers that follow the VMM's mm (KVM). */
  subscribeMm(vm: number, token: number): void;
  /** Right after the set exists: subscribe the consumers of the set (VDCM, IOMMU driver). */
  subscribeSet(vm: number, set: number): void;
  /** The VM is destroyed: its subscribers are kept (as old) until their queues are read. */
  retire(vm: number): void;
  /** Called after a SPID was attached to `id` (the core emits BIND itself). */
  afterAttach(vm: number, id: number, spid: number): void;
  /** Called after the SPID of `id` was detached (UNBIND). */
  afterDetach(vm: number, id: number, spid: number): void;
  /** Called after a free of `id` returned 0 (FREE when it left `id` free-pending). */
  afterFree(vm: number, id: number): void;
  /**
   * Hand the VM's consumers what they may read now, in chain order: `handle(consumer, n)`.
   * @returns events handed over (0: nothing readable)
   */
  poll(vm: number, handle: (consumer: number, n: VmNotification) => void): number;
}

/** The shim ring of VM `vm` in a log buffer. */
function shimRing(log: Int32Array<SharedArrayBuffer>, vm: number): Ring {
  const base = vmShimBase(Atomics.load(log, L_ROWS), Atomics.load(log, L_ENTRIES), vm);
  return {
    i32: log,
    meta: base,
    slots: base + LINE_WORDS,
    slotWords: VM_SHIM_WORDS,
    size: VM_SHIM_ENTRIES,
  };
}

/** Set up every VM's shim ring of a new log buffer. Context: create() only. */
export function vmChainsInit(log: Int32Array<SharedArrayBuffer>): void {
  for (let vm = 0; vm < Atomics.load(log, L_VMS); vm++) ringInit(shimRing(log, vm));
}

/** Every VM's shim ring (recovery tombstones a dead thread's claims in them). */
export function vmShimRings(log: Int32Array<SharedArrayBuffer>): Ring[] {
  return [...Array(Atomics.load(log, L_VMS)).keys()].map((vm) => shimRing(log, vm));
}

/** The consumers in chain order (priority descending, KVM < VDCM < IOMMU among equals). */
export function chainOrder(hw: HwContext): number[] {
  const prio = [PRIO_CPU, PRIO_DEVICE, hw.ld(H_IOMMU_PRIO)];
  return [KVM, VDCM, IOMMU].sort((a, b) => prio[b]! - prio[a]! || a - b);
}

/**
 * The stand-in chains, in the log buffer.
 *
 * @internal
 */
export class ShimVmChains implements VmChains {
  readonly fromCore = false;
  readonly #hw: HwContext;
  readonly #rings: Ring[];
  readonly #order: number[];

  constructor(hw: HwContext) {
    this.#hw = hw;
    this.#rings = vmShimRings(hw.logI32);
    this.#order = chainOrder(hw);
  }

  subscribeMm(): void {}
  subscribeSet(): void {}
  retire(): void {}

  afterAttach(vm: number, id: number, spid: number): void {
    this.#post(vm, NOTIFY_BIND, id, spid);
  }

  afterDetach(vm: number, id: number, spid: number): void {
    this.#post(vm, NOTIFY_UNBIND, id, spid);
  }

  afterFree(vm: number, id: number): void {
    // The core emits FREE once, on the transition to free-pending; a free that reclaimed at
    // once (no other reference) emits nothing. Right after the free, "still there" can only
    // mean free-pending: only this VM's VMM allocates in its set.
    const s = this.#hw.space.inspect(id);
    if (s.state !== 'free-pending') return;
    this.#post(vm, NOTIFY_FREE, id, s.spid >= 0xffffffff ? -1 : s.spid);
  }

  #post(vm: number, event: number, id: number, spid: number): void {
    const r = this.#rings[vm]!;
    const tag = this.#hw.tag;
    const pos = ringClaim(r, r.size, tag);
    if (pos === RING_FULL) {
      // Never blocks the emitter (the core's rule): the consumers rescan on the overflow.
      Atomics.add(r.i32, r.meta + SHIM_LOST, 1);
      return;
    }
    const w = ringSlot(r, pos);
    Atomics.store(r.i32, w + VSH_EVENT, event);
    Atomics.store(r.i32, w + VSH_ID, id);
    Atomics.store(r.i32, w + VSH_SPID, spid);
    ringPublish(r, pos, tag);
  }

  poll(vm: number, handle: (consumer: number, n: VmNotification) => void): number {
    const r = this.#rings[vm]!;
    if (Atomics.load(r.i32, r.meta + SHIM_LOST) > 0) {
      Atomics.exchange(r.i32, r.meta + SHIM_LOST, 0);
      for (const c of this.#order) handle(c, { event: NOTIFY_OVERFLOW, id: 0, spid: -1 });
      return 1;
    }
    const pos = ringPeek(r);
    if (pos < 0) return 0;
    const w = ringSlot(r, pos);
    const n: VmNotification = {
      event: Atomics.load(r.i32, w + VSH_EVENT),
      id: Atomics.load(r.i32, w + VSH_ID),
      spid: Atomics.load(r.i32, w + VSH_SPID),
    };
    ringRelease(r, pos);
    for (const c of this.#order) handle(c, n);
    return 1;
  }
}

/** What the consumers need of a core with notifier chains (issue 10's public API). */
interface NotifierApi {
  registerNotifier(set: number | null, priority: number): number;
  registerNotifierMm(token: number, priority: number): number;
  unregisterNotifier(sub: number): number;
  readNotifications(
    sub: number,
    max?: number,
  ): ReadonlyArray<{ event: number | 'overflow'; id?: number; spid?: number }>;
}

/** The subscriber words of a VM region, current and old, per consumer. */
const SUB_WORDS = [VM_SUB_KVM, VM_SUB_VDCM, VM_SUB_IOMMU] as const;
const OLD_SUB_WORDS = [VM_OLD_SUB_KVM, VM_OLD_SUB_VDCM, VM_OLD_SUB_IOMMU] as const;
/** The order the VM's kernel tries the consumers in: the reverse of chain order. */
const TRY_ORDER = [IOMMU, VDCM, KVM] as const;
const INVALID_SPID = 0xffffffff;

/** True when `space` has notifier chains. */
export function hasVmChains(space: object): boolean {
  return typeof (space as Partial<NotifierApi>).registerNotifierMm === 'function';
}

/**
 * The core's chains.
 *
 * @internal
 */
export class CoreVmChains implements VmChains {
  readonly fromCore = true;
  readonly #hw: HwContext;
  readonly #api: NotifierApi;
  readonly #vmBase: (vm: number) => number;

  constructor(hw: HwContext, vmBase: (vm: number) => number) {
    this.#hw = hw;
    this.#api = hw.space as unknown as NotifierApi;
    this.#vmBase = vmBase;
  }

  subscribeMm(vm: number, token: number): void {
    const sub = this.#api.registerNotifierMm(token, PRIO_CPU);
    this.#hw.st(this.#vmBase(vm) + VM_SUB_KVM, sub);
  }

  subscribeSet(vm: number, set: number): void {
    const base = this.#vmBase(vm);
    this.#hw.st(base + VM_SUB_VDCM, this.#api.registerNotifier(set, PRIO_DEVICE));
    this.#hw.st(base + VM_SUB_IOMMU, this.#api.registerNotifier(set, this.#hw.ld(H_IOMMU_PRIO)));
  }

  retire(vm: number): void {
    const base = this.#vmBase(vm);
    for (let c = 0; c < 3; c++) {
      const old = this.#hw.ld(base + OLD_SUB_WORDS[c]!);
      if (old >= 0) this.#api.unregisterNotifier(old);
      this.#hw.st(base + OLD_SUB_WORDS[c]!, this.#hw.ld(base + SUB_WORDS[c]!));
      this.#hw.st(base + SUB_WORDS[c]!, -1);
    }
  }

  afterAttach(): void {}
  afterDetach(): void {}
  afterFree(): void {}

  poll(vm: number, handle: (consumer: number, n: VmNotification) => void): number {
    const base = this.#vmBase(vm);
    let n = 0;
    for (const words of [OLD_SUB_WORDS, SUB_WORDS])
      for (const c of TRY_ORDER) {
        const sub = this.#hw.ld(base + words[c]!);
        if (sub < 0) continue;
        for (const e of this.#api.readNotifications(sub, 1)) {
          n++;
          if (e.event === 'overflow') handle(c, { event: NOTIFY_OVERFLOW, id: 0, spid: -1 });
          else
            handle(c, {
              event: e.event,
              id: e.id ?? 0,
              spid: e.spid === undefined || e.spid >= INVALID_SPID ? -1 : e.spid,
            });
        }
      }
    return n;
  }
}
