/**
 * `Platform`: a modelled VT-d host in shared memory (an IOMMU with per-PF PASID tables and
 * caches, DSA-like PFs with work queues, processes with threads), its drivers, and the
 * `ioasid` core they allocate PASIDs from. Every thread that attaches it can run every
 * operation of §7.4 (host side).
 *
 * ```ts
 * const p = Platform.create({ pasidBits: 8 });
 * p.spawn(0);                       // process 0 starts (an mm)
 * const pasid = p.bindSva(0, 0);    // PF 0, process 0: the mm's PASID
 * p.mapPortal(0, 0, 0);             // mmap SWQ 0 of PF 0
 * p.enqcmd(0, 0, 0, 5);             // thread 0 submits (lazy MSR: #GP fix-up, then ZF = 0)
 * p.execute(0);                     // the device runs it through the IOMMU
 * p.unbindSva(0, 0);                // P0 .. P7, synchronously
 * p.mmExit(0);                      // the PASID goes back to the core
 * new Worker(url, { workerData: p.handle });   // in the worker: Platform.attach(workerData)
 * ```
 *
 * Operations return a result (>= 0) or a negative errno and leave the hardware buffer as it
 * was on error (§7.7); misuse (a bad index, a detached platform) throws `HwModelError`.
 * The synchronous operations that wait for hardware (`unbindSva`, `mmExit`, `drainPasid`,
 * `abortPasid`, `disableWq`, `enableWq`) drive the engines themselves while they wait
 * (each engine step takes its own lock, so this is safe next to engine workers).
 *
 * ## Developer notes
 * A thin validating facade over the one-job modules (pasid-table, caches, iommu, inv-queue,
 * prq, device, cpu, mm, bonds, iommu-driver, teardown, driver-workqueue, recovery); every
 * offset is in hw-layout.ts. Each attached thread claims a row of the log buffer: its tag
 * (row + 1) marks its locks and ring claims, its row holds its counters. The actors of a
 * model run (src/hw-model/actors, src/workers/hw-*) use the same functions through
 * `platform.context` and step them without waiting.
 */

import { WORD_BYTES } from '../core/cache-line.js';
import { type IoasidHandle, IoasidSpace, SetType } from '../core/ioasid/ioasid-space.js';
import { bf } from './bonds.js';
import { type Counters, sumCounters } from './counters.js';
import { enqcmd, enqcmds, movdir64b } from './cpu.js';
import {
  commandPost,
  commandRelease,
  commandStatus,
  deviceStep,
  pfField,
  swerrClear,
} from './device.js';
import { DriverWorkqueue } from './driver-workqueue.js';
import {
  CoreFreeChain,
  type FreeChain,
  ShimFreeChain,
  shimRing,
  subscribeDriver,
} from './free-notifier.js';
import { guestMovdir64b } from './guest-dwq.js';
import { createGuestSpace } from './guest-space.js';
import { HwContext } from './hw-context.js';
import { HwErrno } from './hw-errno.js';
import { checkIndex, hwErrors } from './hw-errors.js';
import {
  B_STATE,
  B_TOKEN,
  BS_FREE,
  CMD_ABORT_PASID,
  CMD_DISABLE_WQ,
  CMD_DRAIN_PASID,
  CMD_ENABLE_WQ,
  CMD_OWNER_API,
  CMDS_DONE,
  CMDS_ERROR,
  CMDS_PENDING,
  H_FREE_SUB,
  H_MAGIC,
  H_TOTAL,
  H_VERSION,
  HW_LAYOUT_VERSION,
  HW_MAGIC,
  hwGeometry,
  logWords,
  MM_GEN,
  MM_PASID,
  MM_STATE,
  MM_TOKEN,
  MMS_ALIVE,
  mmWord,
  PF_ENABLED,
  QF_SW,
  QG_PAGE,
  QG_PASID_ALL,
  QI_API_STATUS,
  QT_DEVTLB_PASID,
  QT_IOTLB_PASID,
  QT_PASID_CACHE,
  QT_WAIT,
  SVA_DID,
} from './hw-layout.js';
import { processInvQueue, qiSubmit } from './inv-queue.js';
import { faultService, translate as iommuTranslate } from './iommu.js';
import { bindSva, dwqOpen, mapPortal, mmExit, unbindStart } from './iommu-driver.js';
import { mmOfProcess, spawn } from './mm.js';
import { claimRow, initHardware, initLog, releaseRow, shapeOf } from './platform-init.js';
import { type Profile, resolveProfile, VM_RECORDS_MAX } from './profile.js';
import { prqService } from './prq.js';
import { reapProcess, recoverThread } from './recovery.js';
import { TD_DONE, teardownStep } from './teardown.js';
import { guestEnqcmd } from './vcpu.js';
import { CoreVmChains, PRIO_IOMMU, PRIO_LAST } from './vm-chain.js';
import * as vmOps from './vm-ops.js';
import { bootVm, vmsStep } from './vm-ops.js';

const HANDLE_KIND = 'ioasid/hw-model';
/** Threads that may attach a platform at once (log rows, RCU reader slots of its space). */
export const PLATFORM_MAX_THREADS = 64;
/** Events the log ring holds. */
const LOG_ENTRIES = 16384;
/** Engine steps a synchronous operation drives at most while it waits. */
const PUMP_LIMIT = 200_000;

/** A structured-cloneable reference to a platform: send it to workers. */
export interface PlatformHandle {
  /** Always 'ioasid/hw-model'. */
  readonly kind: typeof HANDLE_KIND;
  /** Layout version of the buffers. */
  readonly version: number;
  /** The hardware buffer. */
  readonly hw: SharedArrayBuffer;
  /** The log buffer (event log, counters, tickets). */
  readonly log: SharedArrayBuffer;
  /** The `ioasid` space the drivers allocate from. */
  readonly space: IoasidHandle;
  /** The resolved profile. */
  readonly profile: Profile;
  /** Per VM, its guest kernel's own `ioasid` space (guest-space.ts). */
  readonly guests: readonly IoasidHandle[];
}

/** What `queueInv` accepts (§1.7 descriptor types the host side uses). */
export type InvDescriptor = InvPasidCache | InvIotlb | InvDevTlb | InvWait;

/** PASID-cache invalidation, PASID-selective within a domain. */
export interface InvPasidCache {
  /** Descriptor type 0x7. */
  type: 'pasid-cache';
  /** The PASID. */
  pasid: number;
  /** Domain id; default 1 (host SVA). */
  did?: number;
}

/** PASID-based IOTLB invalidation: every mapping of the PASID, or one page. */
export interface InvIotlb {
  /** Descriptor type 0x6. */
  type: 'iotlb';
  /** The PASID. */
  pasid: number;
  /** One page (page-selective), or every mapping when absent. */
  page?: number;
  /** Domain id; default 1 (host SVA). */
  did?: number;
}

/** PASID-based device-TLB invalidation of one PF. */
export interface InvDevTlb {
  /** Descriptor type 0x8. */
  type: 'devtlb';
  /** The PF whose device TLB is invalidated. */
  pf: number;
  /** The PASID. */
  pasid: number;
  /** One page, or every mapping when absent. */
  page?: number;
}

/** Invalidation wait with status write: `value` lands in `invWaitStatus()` once every
 * descriptor queued before it is applied. */
export interface InvWait {
  /** Descriptor type 0x5. */
  type: 'wait';
  /** The status value, 0 .. 2^31 - 1. */
  value: number;
}

/**
 * One thread's attachment to a platform.
 */
export class Platform {
  readonly #handle: PlatformHandle;
  readonly #hw: HwContext;
  readonly #chain: FreeChain;
  readonly #wq: DriverWorkqueue;
  #detached = false;

  private constructor(handle: PlatformHandle, space: IoasidSpace) {
    this.#handle = handle;
    const log = new Int32Array(handle.log);
    const row = claimRow(log);
    if (row < 0) {
      space.detach();
      throw hwErrors.badHandle(`more than ${PLATFORM_MAX_THREADS} threads attached`);
    }
    this.#hw = new HwContext(new Int32Array(handle.hw), log, row, space);
    const hw = this.#hw;
    hw.vmChains = new CoreVmChains(hw, (vm) => hw.g.vm[vm]!.base);
    const sub = this.#hw.ld(H_FREE_SUB);
    this.#chain = sub >= 0 ? new CoreFreeChain(space, sub) : new ShimFreeChain(log, this.#hw.tag);
    this.#wq = new DriverWorkqueue(this.#hw, this.#chain, API_ACTOR);
  }

  /**
   * Create a platform (its buffers, its `ioasid` space and SVA set) and attach it here.
   *
   * @param profile - any subset of the knobs (profile.ts, §7.2); defaults in PROFILE_DEFAULTS
   *
   * Context: any thread; never blocks.
   * @returns the attached platform
   * @throws HwModelError ERR_HW_BAD_PROFILE naming the knob
   */
  static create(profile: Partial<Profile> = {}): Platform {
    const p = resolveProfile(profile);
    const space = IoasidSpace.create({
      pasidBits: p.pasidBits,
      maxThreads: PLATFORM_MAX_THREADS,
      maxIoasids: Math.min(65536, 2 ** p.pasidBits),
      // The driver's global FREE subscriber, and per VM KVM, the VDCM and the IOMMU driver,
      // each with a retired twin while a destroyed VM's queues drain.
      maxSubscribers: 2 + 6 * p.vms,
      notifyQueueDepth: 1024,
    });
    // Reserved values first (held forever in a set of their own), then the SVA set, whose
    // quota 0 takes all the capacity left.
    const reservedOthers = [...new Set(p.reserved.filter((r) => r !== 0))];
    if (reservedOthers.length > 0) {
      const set = space.setAlloc(null, reservedOthers.length, SetType.NULL);
      for (const r of reservedOthers) space.alloc(set, r, r);
    }
    // VM sets take their quota when they boot (below): keep it out of the SVA set's share.
    // The VMM keeps records for twice the VM's quota (vmPasids is raised to that): a record
    // outlives its quota unit while its bond waits for a grace period, and a VMM whose
    // bookkeeping ran out first would answer "no PASID" with quota left (INV-12).
    const vmQuota = Math.min(
      p.vmQuota,
      VM_RECORDS_MAX / 2,
      Math.floor(space.available() / (p.vms + 1)),
    );
    if (p.vms > 0 && vmQuota < 1)
      throw hwErrors.badProfile('vms', 'few enough that each VM gets a PASID', p.vms);
    const held = p.vms * vmQuota;
    if (held > 0) space.reserveCapacity(held);
    const svaSet = space.setAlloc(null, p.svaQuota, SetType.NULL);
    if (svaSet < 0)
      throw hwErrors.badProfile('svaQuota', 'at most the capacity left after reserved', p.svaQuota);
    const shape = shapeOf({ ...p, vmPasids: Math.max(p.vmPasids, 2 * vmQuota) });
    const g = hwGeometry(shape);
    const hw = new SharedArrayBuffer(g.totalWords * WORD_BYTES);
    initHardware(new Int32Array(hw), shape, p, {
      svaSet,
      freeSub: subscribeDriver(space),
      vmQuota,
      iommuPriority: p.mutation === 'wrong-notifier-order' ? PRIO_IOMMU : PRIO_LAST,
      reservedIds: reservedOthers.length,
    });
    const log = new SharedArrayBuffer(
      logWords(PLATFORM_MAX_THREADS, LOG_ENTRIES, p.vms) * WORD_BYTES,
    );
    initLog(new Int32Array(log), LOG_ENTRIES, PLATFORM_MAX_THREADS, p.vms);
    const handle: PlatformHandle = {
      kind: HANDLE_KIND,
      version: HW_LAYOUT_VERSION,
      hw,
      log,
      space: space.handle,
      profile: p,
      guests: Array.from({ length: p.vms }, () => createGuestSpace(vmQuota)),
    };
    const platform = new Platform(handle, space);
    if (held > 0) space.cancelCapacity(held);
    for (let vm = 0; vm < p.vms; vm++) bootVm(platform.#hw, vm);
    return platform;
  }

  /**
   * Attach an existing platform in this thread (and its space, registering the thread as an
   * RCU reader).
   *
   * @param handle - `platform.handle` from another thread
   *
   * Context: any thread, once per thread and platform.
   * @returns the attached platform
   * @throws HwModelError ERR_HW_BAD_HANDLE, ERR_HW_LAYOUT_VERSION; IoasidError/RcuError from
   * the space's attach
   */
  static attach(handle: PlatformHandle): Platform {
    if (typeof handle !== 'object' || handle === null || handle.kind !== HANDLE_KIND)
      throw hwErrors.badHandle(`kind is not '${HANDLE_KIND}'`);
    if (!(handle.hw instanceof SharedArrayBuffer) || !(handle.log instanceof SharedArrayBuffer))
      throw hwErrors.badHandle('buffers are not SharedArrayBuffers');
    const i32 = new Int32Array(handle.hw);
    if (i32.length < 64 || Atomics.load(i32, H_MAGIC) !== HW_MAGIC)
      throw hwErrors.badHandle('the hardware buffer does not start with its magic word');
    const version = Atomics.load(i32, H_VERSION);
    if (version !== HW_LAYOUT_VERSION || handle.version !== HW_LAYOUT_VERSION)
      throw hwErrors.layoutVersion(version, HW_LAYOUT_VERSION);
    if (Atomics.load(i32, H_TOTAL) !== i32.length)
      throw hwErrors.badHandle('the hardware buffer length does not match its header');
    return new Platform(handle, IoasidSpace.attach(handle.space));
  }

  /** The structured-cloneable handle to send to other threads. */
  get handle(): PlatformHandle {
    return this.#handle;
  }

  /** The resolved profile. */
  get profile(): Profile {
    return this.#handle.profile;
  }

  /** The `ioasid` core the drivers allocate from (attached in this thread). */
  get space(): IoasidSpace {
    return this.#hw.space;
  }

  /** @internal This thread's context, for the actors and the checker. */
  get context(): HwContext {
    this.#live('context');
    return this.#hw;
  }

  /** @internal The FREE chain this thread reads (the driver's subscription). */
  get freeChain(): FreeChain {
    return this.#chain;
  }

  /** The log-buffer row (and tag - 1) of this thread, for recovery after it dies. */
  get row(): number {
    return this.#hw.row;
  }

  // -------------------------------------------------------------------------------------------
  // processes
  // -------------------------------------------------------------------------------------------

  /**
   * Start a process (a new mm) in slot `pid`.
   *
   * Context: any attached thread; lock-free.
   * @returns the mm's token (> 0); -EBUSY the slot runs a process; -EAGAIN no free mm record
   * (exited ones still being torn down). On error nothing changes.
   */
  spawn(pid: number): number {
    this.#pid(pid);
    return spawn(this.#hw, pid);
  }

  /**
   * Bind process `pid`'s mm to PF `pf` for SVA (§7.4 bindSva).
   *
   * Context: any attached thread; never blocks.
   * @returns the mm's PASID (> 0); -ESRCH no live process; -EBUSY being unbound;
   * -EOVERFLOW PASID too wide for the PF; -ENOSPC/-EDQUOT/-ENOMEM (core, bond or leaf
   * exhausted). On error the hardware buffer is unchanged.
   */
  bindSva(pf: number, pid: number): number {
    this.#pf(pf);
    this.#pid(pid);
    return bindSva(this.#hw, pf, pid);
  }

  /**
   * Unbind process `pid` from `pf`: the last unbind tears the bond down (§7.5 P0 .. P7) and
   * returns when it is done.
   *
   * Context: any attached thread, outside a read-side section; drives the engines while it
   * waits (never sleeps).
   * @returns 0; -ESRCH no live process; -ENOENT not bound; -EBUSY already being torn down;
   * -ETIMEDOUT the hardware did not finish within the pump limit (the teardown stays
   * recorded in its bond; the driver's workqueue does not take it over)
   */
  unbindSva(pf: number, pid: number): number {
    this.#pf(pf);
    this.#pid(pid);
    const b = unbindStart(this.#hw, pf, pid, API_ACTOR);
    if (b < 0) return b === -1 ? 0 : b;
    return this.#pump(() => teardownStep(this.#hw, b) === TD_DONE) ? 0 : -HwErrno.ETIMEDOUT;
  }

  /**
   * Process `pid` exits: its entries are cleared with FPD, its PASID freed; the driver's
   * workqueue finishes the teardowns (this call drives it until they are done).
   *
   * Context: any attached thread, outside a read-side section.
   * @returns 0; -ESRCH no process in the slot
   */
  mmExit(pid: number): number {
    this.#pid(pid);
    const rec = mmOfProcess(this.#hw, pid);
    const token = rec >= 0 ? this.#hw.ld(mmWord(this.#hw.g, rec) + MM_TOKEN) : 0;
    const r = mmExit(this.#hw, pid, this.#chain, false);
    if (r < 0) return r;
    this.#pump(() => !bondsOfToken(this.#hw, token));
    return 0;
  }

  /**
   * Recover after a process's actor died: finish its half-done operations, run its exit.
   *
   * Context: any attached thread, after the actor stopped, outside a read-side section.
   * @returns 0; -ESRCH no process in the slot
   */
  reapProcess(pid: number): number {
    this.#pid(pid);
    return reapProcess(this.#hw, pid, this.#chain);
  }

  /**
   * Map the portal of shared WQ `wq` of `pf` into process `pid`.
   *
   * @returns 0; -ESRCH; -ENOENT not bound to `pf`; -EINVAL not a shared WQ
   */
  mapPortal(pf: number, pid: number, wq: number): number {
    this.#wq_(pf, wq);
    this.#pid(pid);
    return mapPortal(this.#hw, pf, pid, wq);
  }

  /**
   * Open a dedicated WQ of `pf` for process `pid` (WQCFG.pasid = its PASID, portal mapped).
   *
   * @returns the WQ index; -ESRCH; -ENOENT not bound to `pf`; -EBUSY no idle unowned DWQ
   */
  openDwq(pf: number, pid: number): number {
    this.#pf(pf);
    this.#pid(pid);
    return dwqOpen(this.#hw, pf, pid);
  }

  // -------------------------------------------------------------------------------------------
  // CPU
  // -------------------------------------------------------------------------------------------

  /**
   * ENQCMD from thread `tid` to shared WQ `wq` of `pf` (§2.3: lazy IA32_PASID, #GP fix-up).
   *
   * @param page - page of the mm the descriptor touches (0 .. pagesPerMm - 1)
   * @param flags - DF_BOF (1): block on fault (page request) instead of a partial completion
   *
   * Context: any attached thread; lock-free.
   * @returns 0 accepted (ZF = 0); 1 retry (ZF = 1: full, above threshold, not a mapped SWQ
   * portal; nothing changed); -EFAULT #GP delivered (nothing changed)
   */
  enqcmd(tid: number, pf: number, wq: number, page = 0, flags = 0): number {
    this.#tid(tid);
    this.#wq_(pf, wq);
    this.#page(page);
    return enqcmd(this.#hw, tid, pf, wq, page, flags & 1);
  }

  /**
   * ENQCMDS (CPL 0) to shared WQ `wq` of `pf` with `pasid` and `priv` from the command.
   *
   * Context: any attached thread; lock-free.
   * @returns 0 accepted; 1 retry (nothing changed)
   */
  enqcmds(pf: number, wq: number, pasid: number, priv: boolean, page = 0, flags = 0): number {
    this.#wq_(pf, wq);
    checkIndex('pasid', pasid, 0, 0xfffff);
    this.#page(page);
    return enqcmds(this.#hw, pf, wq, pasid, priv === true, this.#genOf(pasid), page, flags & 1);
  }

  /**
   * MOVDIR64B from thread `tid` to dedicated WQ `wq` of `pf` (posted; a full WQ drops it and
   * latches SWERR).
   *
   * @returns 0; -EFAULT the portal is not mapped by the thread's mm (nothing changed)
   */
  movdir64b(tid: number, pf: number, wq: number, page = 0, flags = 0): number {
    this.#tid(tid);
    this.#wq_(pf, wq);
    this.#page(page);
    return movdir64b(this.#hw, tid, pf, wq, page, flags & 1);
  }

  // -------------------------------------------------------------------------------------------
  // IOMMU
  // -------------------------------------------------------------------------------------------

  /**
   * Translate `page` of `pasid` for a request from `pf` (§7.4 translate).
   *
   * @param gen - ghost generation the request carries; default: the current one of the mm
   *   that owns `pasid` (0 if none)
   *
   * Context: any attached thread; takes the IOMMU lock briefly.
   * @returns the page (>= 0); -0x51 / -0x59 / -0x5B a non-recoverable fault (recorded unless
   * FPD); -2 (TR_NOT_MAPPED) the page is not mapped
   */
  translate(pf: number, pasid: number, page: number, gen?: number): number {
    this.#pf(pf);
    checkIndex('pasid', pasid, 0, 0xfffff);
    checkIndex('page', page, 0, 0x7fffffff);
    return iommuTranslate(this.#hw, pf, pasid, page, gen ?? this.#genOf(pasid));
  }

  /**
   * Queue one invalidation descriptor (a wait writes its value into a status word readable
   * with `invWaitStatus()`).
   *
   * Context: any attached thread; lock-free.
   * @returns the queue position (>= 0); -EAGAIN the queue is full (nothing queued)
   */
  queueInv(desc: InvDescriptor): number {
    this.#live('queueInv');
    const hw = this.#hw;
    switch (desc?.type) {
      case 'pasid-cache':
        checkIndex('pasid', desc.pasid, 0, 0xfffff);
        return qiSubmit(
          hw,
          QT_PASID_CACHE | (1 << 4),
          desc.pasid,
          desc.did ?? SVA_DID,
          -1,
          -1,
          0,
          0,
        );
      case 'iotlb': {
        checkIndex('pasid', desc.pasid, 0, 0xfffff);
        const page = desc.page ?? -1;
        const gran = page >= 0 ? QG_PAGE : QG_PASID_ALL;
        return qiSubmit(
          hw,
          QT_IOTLB_PASID | (gran << 4),
          desc.pasid,
          desc.did ?? SVA_DID,
          -1,
          page,
          0,
          0,
        );
      }
      case 'devtlb': {
        this.#pf(desc.pf);
        checkIndex('pasid', desc.pasid, 0, 0xfffff);
        const page = desc.page ?? -1;
        const gran = page >= 0 ? QG_PAGE : QG_PASID_ALL;
        return qiSubmit(hw, QT_DEVTLB_PASID | (gran << 4), desc.pasid, 0, desc.pf, page, 0, 0);
      }
      case 'wait':
        checkIndex('value', desc.value, 0, 0x7fffffff);
        return qiSubmit(hw, QT_WAIT | QF_SW, 0, 0, -1, QI_API_STATUS, desc.value, 0);
      default:
        throw hwErrors.badArgument(
          'desc.type',
          "'pasid-cache', 'iotlb', 'devtlb' or 'wait'",
          (desc as { type?: unknown } | undefined)?.type,
        );
    }
  }

  /** The status word public wait descriptors write. */
  invWaitStatus(): number {
    return this.#hw.ld(QI_API_STATUS);
  }

  /**
   * The IOMMU engine: apply up to `max` queued invalidations in order.
   *
   * Context: any attached thread; takes the IOMMU lock.
   * @returns descriptors applied
   */
  processInvQueue(max = Number.POSITIVE_INFINITY): number {
    this.#live('processInvQueue');
    return processInvQueue(this.#hw, max);
  }

  /**
   * The PRQ thread: service up to `max` page requests (answer them through the invalidation
   * queue) and clear the fault records.
   *
   * Context: any attached thread, outside a read-side section; never blocks.
   * @returns page requests serviced
   */
  prqService(max = Number.POSITIVE_INFINITY): number {
    this.#live('prqService');
    faultService(this.#hw, 64);
    return prqService(this.#hw, max);
  }

  // -------------------------------------------------------------------------------------------
  // devices
  // -------------------------------------------------------------------------------------------

  /**
   * The device engine of `pf`: up to `max` steps (command, an answered page fault, one
   * descriptor each).
   *
   * Context: any attached thread; returns 0 at once if another thread steps this PF.
   * @returns how much was done
   */
  execute(pf: number, max = 1): number {
    this.#pf(pf);
    let n = 0;
    for (let i = 0; i < max; i++) {
      const d = deviceStep(this.#hw, pf);
      if (d === 0) break;
      n += d;
    }
    return n;
  }

  /**
   * Device command Drain PASID (§2.4): returns when every descriptor of `pasid` accepted
   * before it finished.
   *
   * @returns 0; a device command error code (> 0: 0x20 device disabled); -EBUSY the command
   * register is busy; -ETIMEDOUT
   */
  drainPasid(pf: number, pasid: number): number {
    this.#pf(pf);
    checkIndex('pasid', pasid, 0, 0xfffff);
    return this.#command(pf, CMD_DRAIN_PASID, pasid);
  }

  /** Device command Abort PASID: queued descriptors of `pasid` complete as aborted. As drainPasid. */
  abortPasid(pf: number, pasid: number): number {
    this.#pf(pf);
    checkIndex('pasid', pasid, 0, 0xfffff);
    return this.#command(pf, CMD_ABORT_PASID, pasid);
  }

  /**
   * Device command Disable WQ (drains it first). The driver clears WQCFG afterwards.
   *
   * @returns 0; 0x32 the WQ is not enabled; 0x20 device disabled; -EBUSY; -ETIMEDOUT
   */
  disableWq(pf: number, wq: number): number {
    this.#wq_(pf, wq);
    return this.#command(pf, CMD_DISABLE_WQ, wq);
  }

  /**
   * Device command Enable WQ.
   *
   * @returns 0; 0x26 a DWQ with PASID enabled and an invalid WQCFG.pasid; 0x32 not disabled;
   * 0x20 device disabled; -EBUSY; -ETIMEDOUT
   */
  enableWq(pf: number, wq: number): number {
    this.#wq_(pf, wq);
    return this.#command(pf, CMD_ENABLE_WQ, wq);
  }

  /** Enable or disable PF `pf` as a whole (commands then fail with 0x20). */
  setDeviceEnabled(pf: number, on: boolean): void {
    this.#pf(pf);
    this.#hw.st(pfField(this.#hw, pf, PF_ENABLED), on ? 1 : 0);
  }

  /** Read and clear PF `pf`'s SWERR register. @returns the SWERR word (0 = none latched) */
  readSwerr(pf: number): number {
    this.#pf(pf);
    return swerrClear(this.#hw, pf);
  }

  // -------------------------------------------------------------------------------------------
  // statistics and lifetime
  // -------------------------------------------------------------------------------------------

  /**
   * The hardware counters (translations, faults by reason, invalidations by kind, page
   * requests and responses, drains, ZF = 1 retries, #GP fix-ups, ...), summed over threads.
   *
   * Context: any attached thread; stale on return (exact when every actor is paused).
   */
  counters(): Counters {
    this.#live('counters');
    return sumCounters(this.#hw.logI32);
  }

  /**
   * Take back what a dead thread held: its ring claims and locks here, then its share of the
   * space (`space.releaseThread`).
   *
   * @param row - the dead thread's `platform.row`
   * @param rcuSlot - the dead thread's `platform.space.rcu.slot`
   *
   * Context: any attached thread other than the dead one, after it stopped; outside a
   * read-side section.
   * @returns things recovered
   */
  releaseThread(row: number, rcuSlot: number): number {
    checkIndex('row', row, 0, PLATFORM_MAX_THREADS - 1);
    this.#live('releaseThread');
    const hw = this.#hw;
    let n = recoverThread(hw, row + 1, shimRing(hw.logI32));
    const r = hw.space.releaseThread(rcuSlot);
    if (r > 0) n += r;
    releaseRow(hw.logI32, row);
    return n;
  }

  /**
   * Detach this thread: give its log row back and detach the space.
   *
   * Context: outside a read-side section.
   */
  detach(): void {
    this.#live('detach');
    this.#detached = true;
    releaseRow(this.#hw.logI32, this.#hw.row);
    this.#hw.space.detach();
  }

  // -------------------------------------------------------------------------------------------
  // helpers
  // -------------------------------------------------------------------------------------------

  /** Drive every engine until `done()` or the pump limit. */
  #pump(done: () => boolean): boolean {
    const hw = this.#hw;
    for (let i = 0; i < PUMP_LIMIT; i++) {
      if (done()) return true;
      processInvQueue(hw, 64);
      for (let pf = 0; pf < hw.g.pf.length; pf++) deviceStep(hw, pf);
      prqService(hw, 16);
      faultService(hw, 64);
      this.#wq.step();
      vmsStep(hw);
    }
    return done();
  }

  #command(pf: number, op: number, operand: number): number {
    const hw = this.#hw;
    if (commandPost(hw, pf, op, operand, CMD_OWNER_API) < 0) return -HwErrno.EBUSY;
    let st = CMDS_PENDING;
    const finished = this.#pump(() => {
      st = commandStatus(hw, pf, CMD_OWNER_API);
      return st !== CMDS_PENDING;
    });
    commandRelease(hw, pf, CMD_OWNER_API);
    if (!finished) return -HwErrno.ETIMEDOUT;
    return st === CMDS_DONE ? 0 : st & ~CMDS_ERROR;
  }

  /** The current generation of the live mm that owns `pasid` (0 if none). */
  #genOf(pasid: number): number {
    const hw = this.#hw;
    for (let rec = 0; rec < hw.g.shape.mmRecords; rec++) {
      const base = mmWord(hw.g, rec);
      if (hw.ld(base + MM_STATE) === MMS_ALIVE && hw.ld(base + MM_PASID) === pasid)
        return hw.ld(base + MM_GEN);
    }
    return 0;
  }

  // -------------------------------------------------------------------------------------------
  // VMs (§7.4 "Guest (VT-d, vcmd)")
  // -------------------------------------------------------------------------------------------

  /**
   * The guest of VM `vm` asks its vIOMMU for a PASID (VCMD = Allocate; the VMM allocates in
   * the VM's IOASID set): the guest's custom allocator. gPASID = hPASID.
   *
   * @param vm - the VM
   * @param viommu - which of its vIOMMUs (default 0)
   *
   * Context: any attached thread (the guest's); drives the VMM while it waits.
   * @returns the PASID (> 0); -ENOSPC no PASID (the VM's quota or the space exhausted);
   * -ENODEV the vIOMMU does not allocate (spid mode: VCCAP.PAS = 0); -EAGAIN a command is in
   * flight on that vIOMMU; -ETIMEDOUT the VMM did not answer. Nothing changes on error.
   */
  vcmdAlloc(vm: number, viommu = 0): number {
    this.#vi(vm, viommu);
    return vmOps.vcmdAlloc(this.#hw, this.#pumpFn, vm, viommu);
  }

  /**
   * The guest gives PASID `pasid` back through its vIOMMU (VCMD = Free). A well-behaved guest
   * refuses while the PASID is still bound; `guestCheck = false` is a misbehaving guest (free
   * before unbind: the consumers tear it down in notifier order, b.3's exception flow).
   *
   * Context: any attached thread; drives the VMM and the FREE path until done.
   * @returns 0; -EBUSY still bound (the guest's refusal); -EINVAL SC = invalid PASID (not the
   * VM's: nothing changes); -ENODEV; -EAGAIN; -ETIMEDOUT
   */
  vcmdFree(vm: number, pasid: number, viommu = 0, guestCheck = true): number {
    this.#vi(vm, viommu);
    checkIndex('pasid', pasid, 0, 0xfffff);
    return vmOps.vcmdFree(this.#hw, this.#pumpFn, vm, viommu, pasid, guestCheck);
  }

  /**
   * The guest binds guest PASID `gpasid` on its mdev `mdev` (guest PASID entry written,
   * PASID-cache invalidation trapped): host bind_gpasid, then KVM's VMCS entry (BIND).
   *
   * Context: any attached thread; drives the VM's kernel until the BIND is handled.
   * @returns the host PASID (> 0); -EACCES not the VM's PASID; -EINVAL the mdev's PF has
   * fewer than 20 PASID bits, or the mdev is not the VM's; -EBUSY already bound there;
   * -ESRCH the VM is not running; -EDQUOT/-ENOSPC/-ENOMEM (spid mode: no host PASID; no
   * bond, record or leaf). Nothing changes on error.
   */
  guestBindPasid(vm: number, mdev: number, gpasid: number): number {
    this.#mdev(vm, mdev);
    checkIndex('gpasid', gpasid, 1, 0xfffff);
    return vmOps.guestBindPasid(this.#hw, this.#pumpFn, vm, mdev, gpasid);
  }

  /**
   * The guest programs guest PASID `gpasid` into its mdev (a vDWQ's WQCFG, or the PASID its
   * vSWQ may use): the VDCM finds the host PASID by SPID and takes a reference.
   *
   * Context: any attached thread; never blocks.
   * @returns the host PASID (> 0); -ENOENT no PASID of the VM has that SPID (virtual SWERR);
   * -EBUSY being freed; -EEXIST already programmed; -ENOSPC no slot; -EINVAL not the VM's
   * mdev; -ESRCH VM not running; -EBUSY a vDWQ that already runs a PASID (clear it first) or
   * is still being cleared. Nothing changes on error.
   */
  guestProgramWq(vm: number, mdev: number, gpasid: number): number {
    this.#mdev(vm, mdev);
    checkIndex('gpasid', gpasid, 1, 0xfffff);
    return vmOps.guestProgramWq(this.#hw, vm, mdev, gpasid);
  }

  /**
   * The guest on vCPU `vcpu` runs ENQCMD to its vSWQ `mdev` with IA32_PASID = `gpasid`: the
   * CPU translates it through the VMCS PASID table as this vCPU sees it.
   *
   * Context: any attached thread (the vCPU's); lock-free.
   * @returns 0 accepted (ZF = 0); 1 retry (ZF = 1: full, above threshold); 72 VM exit
   * "ENQCMD PASID translation failure" (no descriptor); -EINVAL not a vSWQ of the VM; -ESRCH
   * the vCPU is out of the guest (its VM destroyed)
   */
  guestEnqcmd(vm: number, vcpu: number, mdev: number, gpasid: number, page = 0): number {
    this.#mdev(vm, mdev);
    checkIndex('vcpu', vcpu, 0, this.#hw.g.shape.vm.vcpus - 1);
    checkIndex('gpasid', gpasid, 0, 0xfffff);
    this.#page(page);
    return guestEnqcmd(this.#hw, vm, vcpu, mdev, gpasid, page);
  }

  /**
   * The guest on vCPU `vcpu` runs MOVDIR64B to its vDWQ `mdev` (`dwqMdevs`): no PASID in the
   * descriptor, no VMCS translation; the device runs it with the PASID the VDCM programmed
   * into the WQ's WQCFG (guestProgramWq). A posted write.
   *
   * Context: any attached thread (the vCPU's); lock-free.
   * @returns 0 posted; 1 dropped (the vDWQ is not enabled: no PASID programmed; or full: SWERR
   * latched); -EINVAL not a vDWQ of the VM; -ESRCH the vCPU is not in the guest
   */
  guestMovdir64b(vm: number, vcpu: number, mdev: number, page = 0): number {
    this.#mdev(vm, mdev);
    checkIndex('vcpu', vcpu, 0, this.#hw.g.shape.vm.vcpus - 1);
    this.#page(page);
    return guestMovdir64b(this.#hw, vm, vcpu, mdev, page);
  }

  /**
   * The guest unbinds guest PASID `gpasid` from its mdev: host unbind_gpasid; the last one
   * detaches the SPID (UNBIND: KVM invalidates the VMCS entry and waits for every vCPU, the
   * VDCM drains, the IOMMU driver tears the entry down, P0 .. P7).
   *
   * Context: any attached thread; drives the teardown until done.
   * @returns 0; -ENOENT not bound there (also a stale unbind after free); -EBUSY being torn
   * down; -EINVAL not the VM's mdev; -ESRCH VM not running; -ETIMEDOUT
   */
  guestUnbindPasid(vm: number, mdev: number, gpasid: number): number {
    this.#mdev(vm, mdev);
    checkIndex('gpasid', gpasid, 1, 0xfffff);
    return vmOps.guestUnbindPasid(this.#hw, this.#pumpFn, vm, mdev, gpasid);
  }

  /**
   * The guest stops its mdev: the VDCM drains every PASID programmed into it, clears it and
   * drops its references.
   *
   * Context: any attached thread; drives the drain until done.
   * @returns 0; -EINVAL not the VM's mdev; -EAGAIN; -ETIMEDOUT
   */
  guestMdevClear(vm: number, mdev: number): number {
    this.#mdev(vm, mdev);
    return vmOps.guestMdevClear(this.#hw, this.#pumpFn, vm, mdev);
  }

  /**
   * Destroy VM `vm` (or model its crash): its vCPUs stop, every PASID of its set is freed and
   * torn down through the FREE path, its set goes; the VM is OFF until `vmBoot`.
   *
   * Context: any attached thread; drives the teardown until done.
   * @returns 0; -ESRCH not running; -ETIMEDOUT
   */
  vmDestroy(vm: number, crash = false): number {
    this.#vm(vm);
    return vmOps.vmDestroy(this.#hw, this.#pumpFn, vm, crash);
  }

  /**
   * Boot VM `vm` again after `vmDestroy` (a new set, clean VMCS and vcmd registers).
   *
   * Context: any attached thread.
   * @returns the VM's new set (>= 0); -EBUSY not OFF; the core's errno (no capacity for it)
   */
  vmBoot(vm: number): number {
    this.#vm(vm);
    return vmOps.bootVm(this.#hw, vm);
  }

  readonly #pumpFn: vmOps.Pump = (done) => this.#pump(done);

  #vm(vm: number): void {
    this.#live('operation');
    checkIndex('vm', vm, 0, this.#hw.g.shape.vm.vms - 1);
  }

  #vi(vm: number, viommu: number): void {
    this.#vm(vm);
    checkIndex('viommu', viommu, 0, this.#hw.g.shape.vm.viommus - 1);
  }

  #mdev(vm: number, mdev: number): void {
    this.#vm(vm);
    checkIndex('mdev', mdev, 0, this.#hw.g.shape.vm.mdevs.length - 1);
  }

  #live(what: string): void {
    if (this.#detached) throw hwErrors.detached(`${what}()`);
  }

  #pf(pf: number): void {
    this.#live('operation');
    checkIndex('pf', pf, 0, this.#hw.g.pf.length - 1);
  }

  #pid(pid: number): void {
    this.#live('operation');
    checkIndex('pid', pid, 0, this.#hw.g.shape.processes - 1);
  }

  #tid(tid: number): void {
    this.#live('operation');
    const s = this.#hw.g.shape;
    checkIndex('tid', tid, 0, s.processes * s.threadsPerProcess - 1);
  }

  #wq_(pf: number, wq: number): void {
    this.#pf(pf);
    checkIndex('wq', wq, 0, this.#hw.g.pf[pf]!.wqCfg.length - 1);
  }

  #page(page: number): void {
    checkIndex('page', page, 0, this.#hw.g.shape.pagesPerMm - 1);
  }
}

/** Actor id of calls made through the public API (threaded runs number their actors from 1). */
export const API_ACTOR = 0;

/** True while some bond of the mm with `token` is not free yet. */
function bondsOfToken(hw: HwContext, token: number): boolean {
  for (let b = 0; b < hw.g.shape.bonds; b++)
    if (hw.ld(bf(hw, b, B_STATE)) !== BS_FREE && hw.ld(bf(hw, b, B_TOKEN)) === token) return true;
  return false;
}
