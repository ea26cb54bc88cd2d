/**
 * Creating a platform's buffers: the shape of the hardware buffer from a profile, and the
 * first values of every word that is not zero (headers, PF and WQ configs, VM regions, mdev
 * records, every ring's first lap), written before any handle to them exists.
 *
 * @internal
 */
import { ringInit } from './claim-ring.js';
import { logInit } from './event-log.js';
import { shimInit } from './free-notifier.js';
import {
  DESC_WORDS,
  H_ATS_QDEPTH,
  H_BONDS,
  H_DEVTLB_ENTRIES,
  H_FAULT_RECORDS,
  H_FLAGS,
  H_FREE_SUB,
  H_GUEST_MODE,
  H_GUEST_PROCS,
  H_HOST_BONDS,
  H_IOMMU_PRIO,
  H_IOTLB_ENTRIES,
  H_LAT_EXEC,
  H_LAT_INV,
  H_LAT_PRQ,
  H_LAT_VMEXIT,
  H_LEAVES_PER_PF,
  H_LIFETIME,
  H_MAGIC,
  H_MDEV_BASE,
  H_MDEVS,
  H_MM_RECORDS,
  H_MUTATION,
  H_PAGES_PER_MM,
  H_PASID_BITS,
  H_PC_ENTRIES,
  H_PF_BASE,
  H_PFS,
  H_PRG_SLOTS,
  H_PROCESSES,
  H_PRQ_ENTRIES,
  H_QI_LENGTH,
  H_RESERVED_IDS,
  H_SVA_SET,
  H_THREADS,
  H_TOTAL,
  H_VCMD_REV,
  H_VCPUS,
  H_VERSION,
  H_VIOMMUS,
  H_VM_BASE,
  H_VM_PASIDS,
  H_VM_QUOTA,
  H_VM_STRIDE,
  H_VMCS_LEAVES,
  H_VMS,
  HF_CACHING_MODE,
  HF_STOP_MARKER,
  HW_LAYOUT_VERSION,
  HW_MAGIC,
  type HwShape,
  hwGeometry,
  KIND_DSA,
  KIND_NIC,
  L_ENTRIES,
  L_MAGIC,
  L_ROWS,
  L_VERSION,
  L_VMS,
  LIFETIME_BIND,
  LIFETIME_MM,
  LOG_MAGIC,
  MD_PF,
  MD_TYPE,
  MD_VM,
  MD_WQ,
  MDT_DWQ,
  MDT_SWQ,
  mdevWord,
  mdevWqOwner,
  PF_DEVTLB_BASE,
  PF_DEVTLB_ENTRIES,
  PF_DIR_BASE,
  PF_DIR_ENTRIES,
  PF_ENABLED,
  PF_FLAGS,
  PF_KIND,
  PF_LEAF_BASE,
  PF_N_WQS,
  PF_PRG_BASE,
  PF_WIDTH,
  PFF_ATS,
  PFF_PDS,
  PFF_PRI,
  PRQ_META,
  PRQ_WORDS,
  QI_META,
  QI_WORDS,
  ROW_OWNER,
  rowWord,
  VM_OLD_SET,
  VM_OLD_SUB_IOMMU,
  VM_OLD_SUB_KVM,
  VM_OLD_SUB_VDCM,
  VM_SET,
  VM_SUB_IOMMU,
  VM_SUB_KVM,
  VM_SUB_VDCM,
  VM_WORK_META,
  WORK_ENTRIES,
  WORK_WORDS,
  WQ_GEN,
  WQ_META,
  WQ_MODE,
  WQ_OWNER,
  WQ_PASID,
  WQ_RING_BASE,
  WQ_RING_SIZE,
  WQ_SIZE,
  WQ_STATE,
  WQ_THRESH,
  WQM_DEDICATED,
  WQM_SHARED,
  WQS_DISABLED,
  WQS_ENABLED,
} from './hw-layout.js';
import { MUTATIONS } from './mutations.js';
import { type Profile, placeMdevs, wqThreshold } from './profile.js';
import { VCMD_REV_30, VCMD_REV_33 } from './vcmd-regs.js';

/** What create() decided besides the profile: the VM quota and the subscriber ids. */
export interface InitParams {
  svaSet: number;
  freeSub: number;
  vmQuota: number;
  iommuPriority: number;
  /** Reserved values held outside the log (every one but 0). */
  reservedIds: number;
}

/**
 * Claim a free row of the log buffer for this thread.
 *
 * Context: any thread; lock-free (a CAS per row).
 * @returns the row, or -1 when every row is taken
 */
export function claimRow(log: Int32Array<SharedArrayBuffer>): number {
  const rows = Atomics.load(log, L_ROWS);
  for (let r = 0; r < rows; r++)
    if (Atomics.compareExchange(log, rowWord(r) + ROW_OWNER, 0, 1) === 0) return r;
  return -1;
}

/**
 * Give log row `row` back (claimRow's inverse): the row's thread detached, or died and was
 * recovered.
 *
 * Context: the row's thread, or its recoverer; never blocks.
 */
export function releaseRow(log: Int32Array<SharedArrayBuffer>, row: number): void {
  Atomics.store(log, rowWord(row) + ROW_OWNER, 0);
}

/**
 * The hardware buffer's shape for a resolved profile.
 *
 * Context: pure.
 * @returns the shape
 */
export function shapeOf(p: Profile): HwShape {
  const mmRecords = Math.min(4096, 2 * p.processes);
  const mdevs = placeMdevs(p);
  return {
    pasidBits: p.pasidBits,
    processes: p.processes,
    threadsPerProcess: p.threadsPerProcess,
    mmRecords,
    bonds: mmRecords * p.pfs.length + guestBonds(p, mdevs),
    pcEntries: p.pasidCacheEntries,
    iotlbEntries: p.iotlbEntries,
    devTlbEntries: p.devTlbEntries,
    qiLength: p.qiLength,
    prqEntries: p.prqEntries,
    faultRecords: p.faultRecords,
    prgSlots: p.prgSlots,
    leavesPerPf: p.leavesPerPf,
    pagesPerMm: p.pagesPerMm,
    pfs: p.pfs.map((pf) => ({
      kind: pf.kind === 'dsa' ? KIND_DSA : KIND_NIC,
      width: pf.maxPasidWidth,
      // Behind a vIOMMU in caching mode the device TLBs are the host's to flush (the driver
      // skips them at teardown), and the model has no host: its PFs get none.
      flags:
        (pf.ats && !p.cachingMode ? PFF_ATS : 0) | (pf.pri ? PFF_PRI : 0) | (pf.pds ? PFF_PDS : 0),
      wqs: pf.wqs.map((w) => ({
        mode: w.mode === 'shared' ? WQM_SHARED : WQM_DEDICATED,
        size: w.size,
        threshold: wqThreshold(p, w),
      })),
    })),
    vm: {
      vms: p.vms,
      vcpus: p.vcpusPerVm,
      viommus: p.iommus,
      procs: p.processesPerVm,
      pasids: p.vmPasids,
      vmcsLeaves: p.vmcsLeaves,
      mdevs: mdevs.map((m) => ({
        vm: m.vm,
        pf: m.pf,
        wq: m.wq,
        type: m.type === 'dwq' ? MDT_DWQ : MDT_SWQ,
      })),
      hostBonds: mmRecords * p.pfs.length,
    },
  };
}

/** Guest bonds: a VM's records times the PFs its mdevs sit on. */
function guestBonds(p: Profile, mdevs: ReturnType<typeof placeMdevs>): number {
  let n = 0;
  for (let vm = 0; vm < p.vms; vm++)
    n += p.vmPasids * new Set(mdevs.filter((m) => m.vm === vm).map((m) => m.pf)).size;
  return n;
}

/**
 * Write the header, the PF headers and WQ configs, the VM regions and mdevs, and every ring's
 * first lap.
 *
 * Context: create() only, before the buffer is shared.
 */
export function initHardware(
  i32: Int32Array<SharedArrayBuffer>,
  s: HwShape,
  p: Profile,
  ip: InitParams,
): void {
  const g = hwGeometry(s);
  const st = (w: number, v: number) => Atomics.store(i32, w, v);
  st(H_VERSION, HW_LAYOUT_VERSION);
  st(H_TOTAL, g.totalWords);
  st(H_PASID_BITS, s.pasidBits);
  st(H_PFS, s.pfs.length);
  st(H_PROCESSES, s.processes);
  st(H_THREADS, s.threadsPerProcess);
  st(H_MM_RECORDS, s.mmRecords);
  st(H_BONDS, s.bonds);
  st(H_PC_ENTRIES, s.pcEntries);
  st(H_IOTLB_ENTRIES, s.iotlbEntries);
  st(H_DEVTLB_ENTRIES, s.devTlbEntries);
  st(H_QI_LENGTH, s.qiLength);
  st(H_PRQ_ENTRIES, s.prqEntries);
  st(H_FAULT_RECORDS, s.faultRecords);
  st(H_PRG_SLOTS, s.prgSlots);
  st(H_LEAVES_PER_PF, s.leavesPerPf);
  st(H_PAGES_PER_MM, s.pagesPerMm);
  st(H_LIFETIME, p.pasidLifetime === 'bind' ? LIFETIME_BIND : LIFETIME_MM);
  st(H_MUTATION, p.mutation === undefined ? 0 : MUTATIONS[p.mutation].code);
  st(H_FLAGS, (p.cachingMode ? HF_CACHING_MODE : 0) | (p.stopMarker ? HF_STOP_MARKER : 0));
  st(H_SVA_SET, ip.svaSet);
  st(H_FREE_SUB, ip.freeSub);
  st(H_ATS_QDEPTH, p.atsQueueDepth);
  st(H_LAT_INV, p.latencies.invalidation);
  st(H_LAT_EXEC, p.latencies.execution);
  st(H_LAT_PRQ, p.latencies.prqService);
  s.pfs.forEach((pf, i) => {
    const pg = g.pf[i]!;
    st(H_PF_BASE + i, pg.base);
    st(pg.base + PF_KIND, pf.kind);
    st(pg.base + PF_WIDTH, pf.width);
    st(pg.base + PF_FLAGS, pf.flags);
    st(pg.base + PF_N_WQS, pf.wqs.length);
    st(pg.base + PF_DIR_ENTRIES, pg.dirEntries);
    st(pg.base + PF_DIR_BASE, pg.dirBase);
    st(pg.base + PF_LEAF_BASE, pg.leafBase);
    st(pg.base + PF_DEVTLB_BASE, pg.devTlbBase);
    st(pg.base + PF_DEVTLB_ENTRIES, pg.devTlbEntries);
    st(pg.base + PF_PRG_BASE, pg.prgBase);
    st(pg.base + PF_ENABLED, 1);
    pf.wqs.forEach((w, j) => {
      const cfg = pg.wqCfg[j]!;
      st(cfg + WQ_MODE, w.mode);
      st(cfg + WQ_SIZE, w.size);
      st(cfg + WQ_THRESH, w.threshold);
      st(cfg + WQ_STATE, WQS_ENABLED);
      st(cfg + WQ_RING_BASE, pg.wqRing[j]!);
      st(cfg + WQ_RING_SIZE, pg.wqRingSize[j]!);
      st(cfg + WQ_PASID, 0);
      st(cfg + WQ_GEN, 0);
      const size = pg.wqRingSize[j]!;
      ringInit({ i32, meta: cfg + WQ_META, slots: pg.wqRing[j]!, slotWords: DESC_WORDS, size });
    });
  });
  initVms(i32, s, p, ip);
  ringInit({ i32, meta: QI_META, slots: g.qiBase, slotWords: QI_WORDS, size: s.qiLength });
  ringInit({ i32, meta: PRQ_META, slots: g.prqBase, slotWords: PRQ_WORDS, size: s.prqEntries });
  // Last: the magic word makes the buffer attachable (before the handle exists anyway).
  st(H_MAGIC, HW_MAGIC);
}

/** The VM part of the header, the mdev records, and every VM region's non-zero words. */
function initVms(i32: Int32Array<SharedArrayBuffer>, s: HwShape, p: Profile, ip: InitParams): void {
  const g = hwGeometry(s);
  const st = (w: number, v: number) => Atomics.store(i32, w, v);
  const v = s.vm;
  st(H_VMS, v.vms);
  st(H_VCPUS, v.vcpus);
  st(H_VIOMMUS, v.viommus);
  st(H_MDEVS, v.mdevs.length);
  st(H_VM_PASIDS, v.pasids);
  st(H_VMCS_LEAVES, v.vmcsLeaves);
  st(H_VCMD_REV, p.vcmdRev === '3.3' ? VCMD_REV_33 : VCMD_REV_30);
  st(H_GUEST_MODE, p.guestPasidMode === 'spid' ? 1 : 0);
  st(H_LAT_VMEXIT, p.latencies.vmExit);
  st(H_VM_QUOTA, ip.vmQuota);
  st(H_HOST_BONDS, v.hostBonds);
  st(H_VM_BASE, v.vms > 0 ? g.vm[0]!.base : 0);
  st(H_VM_STRIDE, v.vms > 1 ? g.vm[1]!.base - g.vm[0]!.base : 0);
  st(H_MDEV_BASE, g.mdevBase);
  st(H_GUEST_PROCS, v.procs);
  st(H_IOMMU_PRIO, ip.iommuPriority);
  st(H_RESERVED_IDS, ip.reservedIds);
  v.mdevs.forEach((m, i) => {
    const w = mdevWord(g, i);
    st(w + MD_VM, m.vm);
    st(w + MD_PF, m.pf);
    st(w + MD_WQ, m.wq);
    st(w + MD_TYPE, m.type);
    // A DWQ given to an mdev is the VDCM's: host processes never open it.
    // Disabled until the VDCM programs the guest's PASID into it (guestProgramWq).
    if (m.type === MDT_DWQ) {
      st(g.pf[m.pf]!.wqCfg[m.wq]! + WQ_OWNER, mdevWqOwner(i));
      st(g.pf[m.pf]!.wqCfg[m.wq]! + WQ_STATE, WQS_DISABLED);
    }
  });
  g.vm.forEach((vm) => {
    for (const f of [VM_SET, VM_OLD_SET, VM_SUB_KVM, VM_SUB_VDCM, VM_SUB_IOMMU])
      st(vm.base + f, -1);
    for (const f of [VM_OLD_SUB_KVM, VM_OLD_SUB_VDCM, VM_OLD_SUB_IOMMU]) st(vm.base + f, -1);
    ringInit({
      i32,
      meta: vm.base + VM_WORK_META,
      slots: vm.workBase,
      slotWords: WORK_WORDS,
      size: WORK_ENTRIES,
    });
  });
}

/**
 * Write a new log buffer's header and set up its rings.
 *
 * Context: create() only.
 */
export function initLog(
  log: Int32Array<SharedArrayBuffer>,
  entries: number,
  rows: number,
  vms: number,
): void {
  Atomics.store(log, L_MAGIC, LOG_MAGIC);
  Atomics.store(log, L_VERSION, HW_LAYOUT_VERSION);
  Atomics.store(log, L_ENTRIES, entries);
  Atomics.store(log, L_ROWS, rows);
  Atomics.store(log, L_VMS, vms);
  logInit(log);
  shimInit(log);
}
