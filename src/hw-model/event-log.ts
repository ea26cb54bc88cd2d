/**
 * The event log: every step of every actor appends what it did (kind, actor, PASID, ghost
 * generation, PF and three operands) to one claim ring in the log buffer, and the checker
 * consumes it in order. The log is lossless: a producer that finds the ring full waits for
 * the checker. Nothing is written while no consumer is attached (a platform used without a
 * checker, or a bench with the checker off, pays one load per event).
 *
 * ## Developer notes
 * The log-order rule that makes the checker's temporal checks race-free: an event that
 * *creates* or *gives up* something another thread may act on is appended before the action
 * that lets the other thread act (FREE_CALL and PUT before the core call that may reclaim,
 * PHASE before the next phase starts), and an event that *observes* a completion is appended
 * after it (ALLOC after alloc returned, PHASE n after the hardware confirmed it, PRG_RESP
 * after the response reached the device). So whenever B could only happen because of A, A's
 * event precedes B's in the log. Each kind below says which side it is on.
 *
 * @internal
 */
import {
  BUSY,
  RING_FULL,
  type Ring,
  ringClaim,
  ringInit,
  ringPeek,
  ringPublish,
  ringRelease,
  ringSlot,
} from './claim-ring.js';
import { hwErrors } from './hw-errors.js';
import {
  EV_A,
  EV_ACTOR_SHIFT,
  EV_B,
  EV_C,
  EV_GEN,
  EV_KIND,
  EV_PASID,
  EV_PF,
  EVENT_WORDS,
  L_CONSUMER,
  L_ENTRIES,
  L_RING_META,
  L_ROWS,
  logRingBase,
  RING_HEAD,
} from './hw-layout.js';

/**
 * Operand c of a GET, PUT or FREE_CALL logged again by a reaper (the dead thread may or may not have
 * appended it): the checker counts it only if it did not.
 */
export const RELOGGED = 1;

/**
 * Event kinds. Operands: `pasid`, `gen` (the ghost ticket), `pf`, then `a`, `b`, `c` as listed.
 * "before"/"after" is the log-order rule above.
 */
export const Ev = Object.freeze({
  /** after alloc returned: a = mm token, b = 1 if recovered by a reaper. */
  ALLOC: 1,
  /** after: gen = the allocation's ticket, a = errno, b = owner token. */
  ALLOC_FAIL: 2,
  /** before free (the mm gives back its alloc reference): a = token, c = RELOGGED if logged again by a reaper. */
  FREE_CALL: 3,
  /** after get succeeded: a = token, b = holder (HOLDER_*: host driver, IOMMU, KVM, VDCM), c = RELOGGED if logged again by a reaper. */
  GET: 4,
  /** before put: a = token, b = holder, c = RELOGGED if logged again by a reaper. */
  PUT: 5,
  /** after the driver read a FREE notification: a = data (token), b = 1 shim chain. */
  NOTIFY_FREE: 6,
  /** after the entry was programmed: a = token, b = bond, c = bind ticket (ghost). */
  BIND: 7,
  /** after a bind took another reference on an existing bond: a = token, b = bond, c = refs. */
  BIND_REF: 8,
  /** after: a = errno, b = token. */
  BIND_FAIL: 9,
  /** before the teardown starts (or the reference drop): a = token, b = bond, c = refs left. */
  UNBIND: 10,
  /** after phase a (0..7) of bond b completed; c = PH_* flags. */
  PHASE: 11,
  /** before the mm's bonds are handed over: a = token, b = 1 if run by a reaper. */
  MM_EXIT: 12,
  /** after ENQCMD/ENQCMDS/MOVDIR64B was accepted: a = wq, b = thread + 1 (0 kernel), c = pos. */
  SUBMIT: 13,
  /** after ZF = 1: a = wq, b = thread + 1. */
  SUBMIT_RETRY: 14,
  /** after the #GP fix-up wrote the MSR: a = thread. */
  GP_FIXUP: 15,
  /** after a #GP was delivered (SIGSEGV): a = thread. */
  GP_FAULT: 16,
  /** after a descriptor completed: a = wq, b = completion status, c = pos. */
  EXEC: 17,
  /** after a translation: a = result (>= 0 frame, < 0 -reason), b = gen of what it used, c = source. */
  TRANSLATE: 18,
  /** after a non-recoverable fault: a = reason, b = 1 suppressed by FPD, c = page. */
  FAULT: 19,
  /** after the IOMMU took a page request: a = PRG index, b = PRG slot, c = PR_* flags. */
  PAGE_REQ: 20,
  /** after the PRQ thread answered an entry: a = PRG index, b = response, c = 1 RCU check ok. */
  PRQ_SERVICE: 21,
  /** after a page group response reached the device: a = PRG index, b = response, c = slot. */
  PRG_RESP: 22,
  /** after a PASID-selective invalidation was applied: a = QT type. */
  INV_DONE: 23,
  /** after a DWQ's WQCFG was programmed with the PASID: a = wq. */
  WQ_PROGRAM: 24,
  /** after a DWQ's WQCFG PASID was cleared: a = wq. */
  WQ_CLEAR: 25,
  /** after a process started: a = token, b = pid. */
  SPAWN: 26,
  /** after the device latched SWERR: a = error code, b = wq. */
  SWERR: 27,
  // ---- part 2: VMs. `a` is the VM's token where an owner is named, else the VM index. ----
  /** after a guest bond's nested entry was programmed: a = VM token, b = bond, c = bind ticket. */
  GBIND: 28,
  /** after attachSpid (BIND follows): a = VM token, b = guest PASID. */
  SPID_ATTACH: 29,
  /** before detachSpid (UNBIND follows): a = VM token, b = guest PASID. */
  SPID_DETACH: 30,
  /** after KVM made a VMCS entry valid: a = VM token, b = guest PASID, c = epoch. */
  VMCS_SET: 31,
  /** after KVM invalidated a VMCS entry: a = VM token, b = guest PASID, c = epoch. */
  VMCS_CLEAR: 32,
  /** after a guest ENQCMD was accepted: a = wq, b = VM token, c = guest PASID | vcpu << 20. */
  GUEST_SUBMIT: 33,
  /** after a guest ENQCMD exited (reason 72): a = VM index, b = guest PASID, c = vcpu. */
  EXIT72: 34,
  /** after the VMM took a vcmd (IP = 1): pasid = operand, a = VM index, b = opcode, c = vIOMMU. */
  VCMD_START: 35,
  /** before the VMM frees for a vcmd Free it accepted: a = VM token, b = vIOMMU. */
  VCMD_FREE: 36,
  /** before the VMM clears IP: pasid = result or operand, gen = the ticket counter after the call, a = VM token, b = op | SC << 8, c = vIOMMU. */
  VCMD_DONE: 37,
  /** after the guest read the response with IP = 0: a = VM index, b = SC, c = vIOMMU. */
  VCMD_RESULT: 38,
  /** after the VDCM took its reference and programmed the mdev: a = mdev, b = VM token, c = slot. */
  MDEV_PROGRAM: 39,
  /** before the VDCM drops its reference of an mdev slot: a = mdev, b = VM token, c = slot. */
  MDEV_CLEAR: 40,
  /** after a consumer handled a notification: a = consumer, b = event, c = VM index. */
  NOTIFY: 41,
  /** after a VM booted: a = VM index, b = set, c = VM token. */
  VM_BOOT: 42,
  /** before a VM's PASIDs are freed: a = VM index, b = 1 crash, c = VM token. */
  VM_DESTROY: 43,
  /** after a guest kernel tried to make vcmd its allocator: a = VM, b = result, c = default ids live. */
  ALLOC_SWITCH: 44,
  /** before a guest's MOVDIR64B to its vDWQ reaches the device: pasid/gen = WQCFG's then, a = wq, b = VM token, c = mdev | vcpu << 20. */
  GUEST_MOVDIR: 45,
  /** before the VMM puts an Allocate back (IP = 0 again, VCMD still posted, taken at a later step): the core said -ENOMEM, a shortage of records, not of PASIDs. a = VM token, b = op, c = vIOMMU. */
  VCMD_DEFER: 46,
} as const);

/** Names of the kinds, for traces. */
export const EV_NAMES: Readonly<Record<number, string>> = Object.freeze(
  Object.fromEntries(Object.entries(Ev).map(([k, v]) => [v, k])),
);

/** PHASE flags (operand c). */
export const PH_EXCEPTION = 1;
export const PH_FPD = 2;
export const PH_SKIPPED = 4;
/** P0 of one device of a guest PASID the guest still uses elsewhere (no VMCS change). */
export const PH_DEVICE = 8;
/** PAGE_REQ flags (operand c). */
export const PR_STOP = 1;
export const PR_OVERFLOW = 2;
/** TRANSLATE sources (operand c). */
export const SRC_TABLE = 0;
export const SRC_PASID_CACHE = 1;
export const SRC_IOTLB = 2;
export const SRC_DEVTLB = 3;

const STALL_MS = 30_000;

/** The log ring of a log buffer. */
export function logRing(log: Int32Array<SharedArrayBuffer>): Ring {
  const entries = Atomics.load(log, L_ENTRIES);
  return {
    i32: log,
    meta: L_RING_META,
    slots: logRingBase(Atomics.load(log, L_ROWS)),
    slotWords: EVENT_WORDS,
    size: entries,
  };
}

/** Set up the ring of a new log buffer. Context: create() only. */
export function logInit(log: Int32Array<SharedArrayBuffer>): void {
  ringInit(logRing(log));
}

/**
 * One thread's producer end of the log.
 *
 * @internal
 */
export class EventWriter {
  readonly #ring: Ring;
  readonly #log: Int32Array<SharedArrayBuffer>;
  readonly #tag: number;
  /** Actor id written into every event; the scheduler sets it before each step. */
  actor = 0;

  constructor(log: Int32Array<SharedArrayBuffer>, tag: number) {
    this.#log = log;
    this.#ring = logRing(log);
    this.#tag = tag;
  }

  /** True while a consumer reads the log (events are kept). */
  get on(): boolean {
    return Atomics.load(this.#log, L_CONSUMER) === 1;
  }

  /**
   * Append one event (if a consumer is attached).
   *
   * Context: any attached thread; blocks (Atomics.wait, 1 ms at a time) while the ring is
   * full, i.e. while the checker lags by a whole ring.
   * @throws HwModelError ERR_HW_LOG_STALLED if the ring stays full for 30 s
   */
  emit(kind: number, pasid: number, gen: number, pf: number, a = 0, b = 0, c = 0): void {
    if (Atomics.load(this.#log, L_CONSUMER) !== 1) return;
    const r = this.#ring;
    let pos = ringClaim(r, r.size, this.#tag);
    if (pos === RING_FULL) pos = this.#claimSlow();
    if (pos === RING_FULL) return;
    const w = ringSlot(r, pos);
    const log = this.#log;
    Atomics.store(log, w + EV_KIND, kind | (this.actor << EV_ACTOR_SHIFT));
    Atomics.store(log, w + EV_PASID, pasid);
    Atomics.store(log, w + EV_GEN, gen);
    Atomics.store(log, w + EV_PF, pf);
    Atomics.store(log, w + EV_A, a);
    Atomics.store(log, w + EV_B, b);
    Atomics.store(log, w + EV_C, c);
    ringPublish(r, pos, this.#tag);
  }

  /** Wait for the consumer; RING_FULL if it detached meanwhile (the event is dropped). */
  #claimSlow(): number {
    const r = this.#ring;
    const t0 = Date.now();
    for (;;) {
      if (Atomics.load(this.#log, L_CONSUMER) !== 1) return RING_FULL;
      const h = Atomics.load(r.i32, r.meta + RING_HEAD);
      Atomics.wait(r.i32, r.meta + RING_HEAD, h, 1);
      const pos = ringClaim(r, r.size, this.#tag);
      if (pos !== RING_FULL) return pos;
      if (Date.now() - t0 > STALL_MS) throw hwErrors.logStalled(STALL_MS);
    }
  }
}

/** One event as the checker reads it. */
export interface LogEvent {
  /** Position in the log since the consumer attached (0, 1, 2, ...). */
  seq: number;
  kind: number;
  actor: number;
  pasid: number;
  gen: number;
  pf: number;
  a: number;
  b: number;
  c: number;
}

/**
 * The consumer end of the log (the checker). Attaching marks the log consumed: from then on
 * every producer keeps its events.
 *
 * @internal
 */
export class EventReader {
  readonly #ring: Ring;
  readonly #log: Int32Array<SharedArrayBuffer>;
  #seq = 0;

  constructor(log: Int32Array<SharedArrayBuffer>) {
    this.#log = log;
    this.#ring = logRing(log);
    Atomics.store(log, L_CONSUMER, 1);
  }

  /** Events consumed so far. */
  get consumed(): number {
    return this.#seq;
  }

  /**
   * Hand up to `max` published events to `fn`, oldest first, releasing each slot.
   *
   * Context: the one consumer thread; never blocks.
   * @returns how many events were handed over
   */
  read(fn: (e: LogEvent) => void, max = Number.POSITIVE_INFINITY): number {
    const r = this.#ring;
    const log = this.#log;
    let n = 0;
    while (n < max) {
      const pos = ringPeek(r);
      if (pos < 0) break;
      const w = ringSlot(r, pos);
      const k = Atomics.load(log, w + EV_KIND);
      const e: LogEvent = {
        seq: this.#seq++,
        kind: k & ((1 << EV_ACTOR_SHIFT) - 1),
        actor: k >>> EV_ACTOR_SHIFT,
        pasid: Atomics.load(log, w + EV_PASID),
        gen: Atomics.load(log, w + EV_GEN),
        pf: Atomics.load(log, w + EV_PF),
        a: Atomics.load(log, w + EV_A),
        b: Atomics.load(log, w + EV_B),
        c: Atomics.load(log, w + EV_C),
      };
      ringRelease(r, pos);
      fn(e);
      n++;
    }
    // Once per batch: wakes producers waiting for room (claimSlow).
    if (n > 0) Atomics.notify(log, r.meta + RING_HEAD);
    return n;
  }

  /** True when a producer has claimed a slot it has not published yet (at HEAD). */
  pendingAtHead(): boolean {
    const r = this.#ring;
    const h = Atomics.load(r.i32, r.meta + RING_HEAD);
    return (Atomics.load(r.i32, ringSlot(r, h)) & BUSY) !== 0;
  }

  /** Stop consuming: producers stop keeping events. */
  close(): void {
    Atomics.store(this.#log, L_CONSUMER, 0);
    Atomics.notify(this.#log, this.#ring.meta + RING_HEAD);
  }
}
