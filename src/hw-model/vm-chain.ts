/**
 * The seam between a VM's IOASID set and the kernel consumers that follow it (spec e,
 * iommu-hw-model.md §2.6, §7.4): KVM (priority CPU), the VDCM (DEVICE) and the IOMMU driver's
 * guest side learn of BIND, UNBIND and FREE of the set's PASIDs from the core's notifier
 * chains. KVM subscribes with `registerNotifierMm(token, CPU)` before the VM's set exists (it
 * knows only the VMM's mm), the VDCM and the IOMMU driver with `registerNotifier(set, prio)`
 * right after. Each consumer reads its own queue; the core's gating lets one read an event
 * only after every subscriber ahead of it on the chain has. The VM's kernel (vm-kernel.ts)
 * tries them in the reverse of chain order, so that the order comes from the gating alone.
 *
 * Chain order is priority order: KVM (3) first, then the VDCM (DEVICE, 1), then the IOMMU
 * driver, whose guest subscriber registers with the priority in the header (LAST, 0, as
 * the V4 VT-d patch registered its notifier block: spec e). The V4 enum puts IOMMU (2) ahead
 * of DEVICE (1); an IOMMU driver registered there reads a FREE before the VDCM and tears the
 * entry down before the device is drained: mutation `wrong-notifier-order`.
 *
 * @internal
 */
import type { HwContext } from './hw-context.js';
import {
  H_IOMMU_PRIO,
  VM_OLD_SUB_IOMMU,
  VM_OLD_SUB_KVM,
  VM_OLD_SUB_VDCM,
  VM_SUB_IOMMU,
  VM_SUB_KVM,
  VM_SUB_VDCM,
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
  /**
   * Before the VM's set exists: subscribe the consumers that follow the VMM's mm (KVM). A
   * consumer already subscribed (a resumed boot) is left as it is: its word names it, or,
   * when the VMM died before storing the id, the core finds it by its owner tag.
   */
  subscribeMm(vm: number, token: number): void;
  /** Right after the set exists: subscribe the consumers of the set (VDCM, IOMMU driver), likewise. */
  subscribeSet(vm: number, set: number): void;
  /** The VM is destroyed: its subscribers are kept (as old) until their queues are read. */
  retire(vm: number): void;
  /**
   * Hand the VM's consumers what they may read now, in chain order: `handle(consumer, n)`.
   * @returns events handed over (0: nothing readable)
   */
  poll(vm: number, handle: (consumer: number, n: VmNotification) => void): number;
}

/**
 * The owner tag each consumer registers with, so that a resumed boot finds (adopts) the
 * subscription a VMM killed between the registration and the store of its id made, instead
 * of registering a second one and leaking the first: nobody would know its id, and, unread,
 * it would hold up every consumer behind it on the chain. The chain (the VM instance's token,
 * or its set's incarnation) tells VMs and instances apart; the tag tells consumers apart,
 * also two of one priority (the IOMMU driver's priority is a knob, H_IOMMU_PRIO).
 */
export const OWNER_TAG = [1, 2, 3] as const;

/** What the consumers need of a core with notifier chains (issue 10's public API). */
interface NotifierApi {
  registerNotifier(set: number | null, priority: number, owner?: number): number;
  registerNotifierMm(token: number, priority: number, owner?: number): number;
  findNotifier(set: number | null, priority: number, owner: number): number;
  findNotifierMm(token: number, priority: number, owner: number): number;
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

/**
 * The core's chains.
 *
 * @internal
 */
export class CoreVmChains implements VmChains {
  readonly #hw: HwContext;
  readonly #api: NotifierApi;
  readonly #vmBase: (vm: number) => number;

  constructor(hw: HwContext, vmBase: (vm: number) => number) {
    this.#hw = hw;
    this.#api = hw.space as unknown as NotifierApi;
    this.#vmBase = vmBase;
  }

  subscribeMm(vm: number, token: number): void {
    const word = this.#vmBase(vm) + VM_SUB_KVM;
    if (this.#hw.ld(word) >= 0) return;
    const owner = OWNER_TAG[KVM];
    let sub = this.#api.findNotifierMm(token, PRIO_CPU, owner);
    if (sub < 0) sub = this.#api.registerNotifierMm(token, PRIO_CPU, owner);
    this.#hw.st(word, sub);
  }

  subscribeSet(vm: number, set: number): void {
    const base = this.#vmBase(vm);
    this.#subscribeSet(base + VM_SUB_VDCM, set, PRIO_DEVICE, OWNER_TAG[VDCM]);
    this.#subscribeSet(base + VM_SUB_IOMMU, set, this.#hw.ld(H_IOMMU_PRIO), OWNER_TAG[IOMMU]);
  }

  /** Subscribe a consumer of `set` unless word `word` names its subscriber: adopt, else register. */
  #subscribeSet(word: number, set: number, prio: number, owner: number): void {
    if (this.#hw.ld(word) >= 0) return;
    let sub = this.#api.findNotifier(set, prio, owner);
    if (sub < 0) sub = this.#api.registerNotifier(set, prio, owner);
    this.#hw.st(word, sub);
  }

  retire(vm: number): void {
    const base = this.#vmBase(vm);
    for (let c = 0; c < 3; c++) {
      const oldWord = base + OLD_SUB_WORDS[c]!;
      const old = this.#hw.ld(oldWord);
      // The word first: a VMM killed after it leaves no word naming an unregistered id.
      this.#hw.st(oldWord, -1);
      if (old >= 0) this.#api.unregisterNotifier(old);
      this.#hw.st(oldWord, this.#hw.ld(base + SUB_WORDS[c]!));
      this.#hw.st(base + SUB_WORDS[c]!, -1);
    }
  }

  poll(vm: number, handle: (consumer: number, n: VmNotification) => void): number {
    const base = this.#vmBase(vm);
    let n = 0;
    for (const words of [OLD_SUB_WORDS, SUB_WORDS])
      for (const c of TRY_ORDER) {
        const sub = this.#hw.ld(base + words[c]!);
        if (sub < 0) continue;
        const events = this.#read(base + words[c]!, sub);
        for (const e of events) {
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

  /**
   * One event of subscriber `sub` (in word `word`). A VMM killed inside `retire`, between
   * copying the current subscriber to the old word and clearing the current one, leaves both
   * naming it, and the retry unregisters it: the word then names a subscriber that is gone,
   * whose events (of a VM whose teardown is over) nobody needs; the word is cleared.
   */
  #read(word: number, sub: number): ReturnType<NotifierApi['readNotifications']> {
    try {
      return this.#api.readNotifications(sub, 1);
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'ERR_IOASID_NOT_SUBSCRIBED') throw e;
      Atomics.compareExchange(this.#hw.i32, word, sub, -1);
      return [];
    }
  }
}
