/**
 * The platform profile: the knobs of iommu-hw-model.md §7.2 with their defaults, plus the
 * model's own sizes (caches, pools). `resolveProfile` fills in defaults and validates; every
 * value it accepts fits the layout (hw-layout.ts).
 *
 * ```ts
 * const p = resolveProfile({ pasidBits: 8, processes: 32 });
 * p.pfs.length; // 3: two DSA-like PFs and one NIC-like PF
 * ```
 *
 * ## Developer notes
 * One `Profile` type, one frozen `PROFILE_DEFAULTS`, one `resolveProfile()` (STYLE 16).
 * The VM knobs (`vms`, `vcpusPerVm`, `mdevsPerVm`, `dwqMdevs`, `processesPerVm`, `vmQuota`,
 * `vmPasids`, `vmcsLeaves`, `vcmdRev`, `guestPasidMode`, `iommus`) size the VMs of part 2
 * (vm.ts): each VM gets an IOASID set, vCPUs, vIOMMUs with a vcmd channel, a VMCS PASID
 * table and mdevs placed on the same PFs as every other VM's (mdev k of every VM on the k-th
 * shared WQ of DSA PF k mod n: the shared-PF case of §2.5). A host-only platform sets
 * `vms: 0`. `arch` accepts only `vtd`: the ARM and AMD models are not built.
 */

import { hwErrors } from './hw-errors.js';
import { MUTATIONS, type MutationName } from './mutations.js';

/** A work queue of a PF. */
export interface WqProfile {
  /** `shared` (ENQCMD, PASID in the command) or `dedicated` (MOVDIR64B, WQCFG.pasid). */
  mode: 'shared' | 'dedicated';
  /** Entries, 1..128 (a PF's WQs share 128 entries in total). */
  size: number;
  /** SWQ admission threshold: ENQCMD answers retry (ZF = 1) at this occupancy. Default size. */
  threshold?: number | undefined;
}

/** A PCI function (RID) with the PASID, ATS and PRI capabilities. */
export interface PfProfile {
  /** For reports only. */
  name: string;
  /** `dsa`: an accelerator with WQs; `nic`: one dedicated queue. */
  kind: 'dsa' | 'nic';
  /** PASID capability's Max PASID Width, 1..20. */
  maxPasidWidth: number;
  /** ATS enabled: the device has a device TLB and needs device-TLB invalidations. */
  ats: boolean;
  /** PRI enabled: translation faults on mapped-later pages become page requests. */
  pri: boolean;
  /** The IOMMU supports page-request drain (ECAP.PDS) for this PF's requests. */
  pds: boolean;
  /** The PF's work queues (0..8; sizes sum to at most 128). */
  wqs: WqProfile[];
}

/** Extra idle steps an engine may take before handling an item (chosen at random, 0..n). */
export interface Latencies {
  /** The IOMMU engine, after applying invalidation descriptors. */
  invalidation: number;
  /** A device engine, after a step. */
  execution: number;
  /** The PRQ thread: steps spent resolving one fault inside its read-side section. */
  prqService: number;
  /** A vCPU KVM kicked: guest steps before it takes the VM exit (and acknowledges the epoch). */
  vmExit: number;
}

/** Every knob of the platform. */
export interface Profile {
  /** `vtd` only (ARM and AMD are not modelled yet). */
  arch: 'vtd' | 'smmuv3' | 'amd';
  /** PASIDs live in [1, 2^pasidBits - 1]. 1..20. */
  pasidBits: number;
  /** Values never handed out (0 is RID2PASID and always reserved). */
  reserved: number[];
  /** vIOMMUs per VM, 1..2 (each with its own vcmd channel; vCPU c uses vIOMMU c mod n). */
  iommus: number;
  /** The PCI functions behind the IOMMU, 1..8. */
  pfs: PfProfile[];
  /** Default SWQ threshold for WQs without their own; null = the WQ's size. */
  swqThreshold: number | null;
  /** Invalidation queue length, a power of two in 16..4096 (VT-d: 256). */
  qiLength: number;
  /** Page request queue entries, a power of two in 2..4096 (Linux: 128). */
  prqEntries: number;
  /** Primary fault recording registers, 1..256. */
  faultRecords: number;
  /** ATS invalidate queue depth, 1..32: device-TLB invalidations the IOMMU may have in flight. */
  atsQueueDepth: number;
  /** VMs, 0..64. */
  vms: number;
  /** vCPUs per VM, 1..16. */
  vcpusPerVm: number;
  /** mdevs per VM, 0..8: ADIs of the DSA PFs, the k-th of every VM on the same shared WQ. */
  mdevsPerVm: number;
  /** How many of each VM's mdevs are dedicated-WQ mdevs (`1dwq`, a DWQ of their own), 0..8. */
  dwqMdevs: number;
  /** Guest processes per VM, 0..1024 (each uses at most one PASID, as in Linux). */
  processesPerVm: number;
  /**
   * PASID quota of a VM's IOASID set; capped at an equal share (VMs and host) of the space and
   * at VM_RECORDS_MAX / 2 (the VMM keeps records for twice the quota).
   */
  vmQuota: number;
  /**
   * Host PASIDs a VM's VMM keeps records of at once, 1..4096; raised to twice the VM's quota:
   * a record outlives its PASID's quota unit while its bond waits for a grace period, and a
   * VMM must not run out of bookkeeping before the quota (INV-12). With every record taken
   * the VMM leaves an Allocate posted until one is released.
   */
  vmPasids: number;
  /** Leaves (1024 guest PASIDs each) of a VM's VMCS PASID table, 1..1024. */
  vmcsLeaves: number;
  /** Virtual-command register encoding (§1.6): VT-d 3.0-3.2 or 3.3 offsets and fields. */
  vcmdRev: '3.0' | '3.3';
  /** Guest PASID = host PASID (`identity`, vcmd) or mapped through SPIDs (`spid`). */
  guestPasidMode: 'identity' | 'spid';
  /** Host processes (mm slots), 1..256. */
  processes: number;
  /** Threads per process, 1..16. */
  threadsPerProcess: number;
  /** `mm`: the PASID is freed at process exit (Linux >= 5.18, lazy IA32_PASID); `bind`:
   * freed at the last unbind (2021, MSR loaded at bind and cleared at last unbind). */
  pasidLifetime: 'mm' | 'bind';
  /** Engine latencies (extra idle steps, random up to these). */
  latencies: Latencies;
  /** Quota of the host SVA set; 0 = all the capacity. */
  svaQuota: number;
  /** PASID-cache entries (4-way), 4..4096. */
  pasidCacheEntries: number;
  /** IOTLB entries (4-way), 4..16384. */
  iotlbEntries: number;
  /** Device-TLB entries per ATS PF (4-way), 4..4096. */
  devTlbEntries: number;
  /** PASID-table leaves (64 entries each) per PF, 1..16384. */
  leavesPerPf: number;
  /** Pages of a process's address space that descriptors touch, 32..512 (multiple of 32). */
  pagesPerMm: number;
  /** Outstanding page-request groups per PF (PRI capacity), 1..512. */
  prgSlots: number;
  /** Device drain of a PASID sends a Stop Marker instead of waiting for page responses. */
  stopMarker: boolean;
  /**
   * The IOMMU is a vIOMMU in caching mode: a bind also invalidates the PASID cache and IOTLB
   * (the host traps that to learn of the entry), and teardown skips the device-TLB flush,
   * which is the host's job; the model has no host, so its PFs then have no device TLB.
   */
  cachingMode: boolean;
  /**
   * @internal A deliberately broken driver, for the checker to catch (mutations.ts); never
   * set it otherwise. Stored in the hardware buffer, so every attached thread runs it.
   */
  mutation?: MutationName | undefined;
}

const DSA_WQS: readonly WqProfile[] = Object.freeze([
  { mode: 'shared', size: 16 },
  { mode: 'shared', size: 16 },
  { mode: 'shared', size: 16 },
  { mode: 'shared', size: 16 },
  { mode: 'dedicated', size: 16 },
  { mode: 'dedicated', size: 16 },
  { mode: 'dedicated', size: 16 },
  { mode: 'dedicated', size: 16 },
]);

/** A DSA-like PF: 4 SWQs and 4 DWQs of 16 entries, 20-bit PASIDs, ATS, PRI, PDS. */
export function dsaPf(name: string): PfProfile {
  return {
    name,
    kind: 'dsa',
    maxPasidWidth: 20,
    ats: true,
    pri: true,
    pds: true,
    wqs: DSA_WQS.map((w) => ({ ...w })),
  };
}

/** A NIC-like PF: one dedicated queue of 32, 20-bit PASIDs, ATS, no PRI. */
export function nicPf(name: string): PfProfile {
  return {
    name,
    kind: 'nic',
    maxPasidWidth: 20,
    ats: true,
    pri: false,
    pds: true,
    wqs: [{ mode: 'dedicated', size: 32 }],
  };
}

/** Defaults of {@link Profile} (§7.2 where it gives one). */
/**
 * Most guest processes per VM: §7.9 suggests 1..100, scenario 5 (vm-crash) needs a guest with
 * 500 bound PASIDs, one per process (the Linux rule).
 */
export const PROCESSES_PER_VM_MAX = 1024;

/** Most records a VMM keeps for one VM (and so the largest effective VM quota is half). */
export const VM_RECORDS_MAX = 4096;

/**
 * Every profile knob's default (iommu-hw-model.md §7.2); `resolveProfile` fills a partial
 * profile from it.
 */
export const PROFILE_DEFAULTS: Readonly<Profile> = Object.freeze({
  arch: 'vtd',
  pasidBits: 20,
  reserved: [0],
  iommus: 1,
  pfs: [dsaPf('dsa0'), dsaPf('dsa1'), nicPf('nic0')],
  swqThreshold: null,
  qiLength: 256,
  prqEntries: 128,
  faultRecords: 8,
  atsQueueDepth: 32,
  vms: 4,
  vcpusPerVm: 4,
  mdevsPerVm: 2,
  dwqMdevs: 0,
  processesPerVm: 8,
  vmQuota: 1000,
  vmPasids: 64,
  vmcsLeaves: 2,
  vcmdRev: '3.0',
  guestPasidMode: 'identity',
  processes: 16,
  threadsPerProcess: 2,
  pasidLifetime: 'mm',
  latencies: { invalidation: 2, execution: 2, prqService: 2, vmExit: 2 },
  svaQuota: 0,
  pasidCacheEntries: 64,
  iotlbEntries: 256,
  devTlbEntries: 32,
  leavesPerPf: 64,
  pagesPerMm: 64,
  prgSlots: 32,
  stopMarker: true,
  cachingMode: false,
  mutation: undefined,
} satisfies Profile);

/** Largest values the layout supports. */
export const PROFILE_LIMITS = Object.freeze({
  pfs: 8,
  wqsPerPf: 8,
  wqEntriesPerPf: 128,
  processes: 256,
  threadsPerProcess: 16,
});

/**
 * Fill in defaults and validate a profile.
 *
 * @param profile - any subset of {@link Profile}; `pfs` and `latencies` replace the defaults
 *   as a whole (latencies may be partial)
 *
 * Context: pure; any thread.
 * @returns the complete profile (a fresh object)
 * @throws HwModelError ERR_HW_BAD_PROFILE naming the knob and its rule
 */
export function resolveProfile(profile: Partial<Profile> = {}): Profile {
  if (typeof profile !== 'object' || profile === null)
    throw hwErrors.badProfile('profile', 'an object', profile);
  const d = PROFILE_DEFAULTS;
  const p: Profile = {
    ...d,
    ...profile,
    reserved: [...(profile.reserved ?? d.reserved)],
    pfs: (profile.pfs ?? d.pfs).map((pf) => ({ ...pf, wqs: pf.wqs.map((w) => ({ ...w })) })),
    latencies: { ...d.latencies, ...(profile.latencies ?? {}) },
  };
  if (p.arch !== 'vtd') throw hwErrors.badProfile('arch', "'vtd' (ARM/AMD not modelled)", p.arch);
  int('pasidBits', p.pasidBits, 1, 20);
  int('iommus', p.iommus, 1, 2);
  if (!Array.isArray(p.reserved)) throw hwErrors.badProfile('reserved', 'an array', p.reserved);
  for (const r of p.reserved) int('reserved[]', r, 0, 2 ** p.pasidBits - 1);
  if (!p.reserved.includes(0)) p.reserved.unshift(0);
  checkPfs(p);
  if (p.swqThreshold !== null) int('swqThreshold', p.swqThreshold, 1, 128);
  pow2('qiLength', p.qiLength, 16, 4096);
  pow2('prqEntries', p.prqEntries, 2, 4096);
  int('faultRecords', p.faultRecords, 1, 256);
  int('atsQueueDepth', p.atsQueueDepth, 1, 32);
  int('vms', p.vms, 0, 64);
  int('vcpusPerVm', p.vcpusPerVm, 1, 16);
  int('mdevsPerVm', p.mdevsPerVm, 0, 8);
  int('dwqMdevs', p.dwqMdevs, 0, p.mdevsPerVm);
  int('processesPerVm', p.processesPerVm, 0, PROCESSES_PER_VM_MAX);
  int('vmQuota', p.vmQuota, 1, 2 ** 20);
  int('vmPasids', p.vmPasids, 1, VM_RECORDS_MAX);
  int('vmcsLeaves', p.vmcsLeaves, 1, 1024);
  if (profile.mdevsPerVm === undefined) {
    p.mdevsPerVm = hostableMdevs(p);
    p.dwqMdevs = Math.min(p.dwqMdevs, p.mdevsPerVm);
  }
  if (p.vms > 0 && p.mdevsPerVm > 0) placeMdevs(p);
  oneOf('vcmdRev', p.vcmdRev, ['3.0', '3.3']);
  oneOf('guestPasidMode', p.guestPasidMode, ['identity', 'spid']);
  int('processes', p.processes, 1, PROFILE_LIMITS.processes);
  int('threadsPerProcess', p.threadsPerProcess, 1, PROFILE_LIMITS.threadsPerProcess);
  oneOf('pasidLifetime', p.pasidLifetime, ['mm', 'bind']);
  for (const k of ['invalidation', 'execution', 'prqService', 'vmExit'] as const)
    int(`latencies.${k}`, p.latencies[k], 0, 64);
  int('svaQuota', p.svaQuota, 0, 2 ** p.pasidBits - 1);
  int('pasidCacheEntries', p.pasidCacheEntries, 4, 4096);
  int('iotlbEntries', p.iotlbEntries, 4, 16384);
  int('devTlbEntries', p.devTlbEntries, 4, 4096);
  int('leavesPerPf', p.leavesPerPf, 1, 16384);
  int('pagesPerMm', p.pagesPerMm, 32, 512);
  if (p.pagesPerMm % 32 !== 0)
    throw hwErrors.badProfile('pagesPerMm', 'a multiple of 32', p.pagesPerMm);
  int('prgSlots', p.prgSlots, 1, 512);
  bool('stopMarker', p.stopMarker);
  bool('cachingMode', p.cachingMode);
  if (p.mutation !== undefined) oneOf('mutation', p.mutation, Object.keys(MUTATIONS));
  return p;
}

function checkPfs(p: Profile): void {
  if (!Array.isArray(p.pfs) || p.pfs.length < 1 || p.pfs.length > PROFILE_LIMITS.pfs)
    throw hwErrors.badProfile('pfs', `an array of 1..${PROFILE_LIMITS.pfs} PFs`, p.pfs);
  p.pfs.forEach((pf, i) => {
    const at = `pfs[${i}]`;
    oneOf(`${at}.kind`, pf.kind, ['dsa', 'nic']);
    int(`${at}.maxPasidWidth`, pf.maxPasidWidth, 1, 20);
    bool(`${at}.ats`, pf.ats);
    bool(`${at}.pri`, pf.pri);
    bool(`${at}.pds`, pf.pds);
    if (pf.pri && !pf.pds)
      throw hwErrors.badProfile(`${at}.pri`, 'false when pds is false (no drain, no PRI)', pf.pri);
    if (!Array.isArray(pf.wqs) || pf.wqs.length > PROFILE_LIMITS.wqsPerPf)
      throw hwErrors.badProfile(`${at}.wqs`, `an array of 0..${PROFILE_LIMITS.wqsPerPf}`, pf.wqs);
    let total = 0;
    pf.wqs.forEach((w, j) => {
      oneOf(`${at}.wqs[${j}].mode`, w.mode, ['shared', 'dedicated']);
      int(`${at}.wqs[${j}].size`, w.size, 1, PROFILE_LIMITS.wqEntriesPerPf);
      if (w.threshold !== undefined) int(`${at}.wqs[${j}].threshold`, w.threshold, 1, w.size);
      total += w.size;
    });
    if (total > PROFILE_LIMITS.wqEntriesPerPf)
      throw hwErrors.badProfile(`${at}.wqs`, 'WQ sizes summing to at most 128', total);
  });
}

function int(name: string, v: unknown, lo: number, hi: number): void {
  if (!Number.isInteger(v) || (v as number) < lo || (v as number) > hi)
    throw hwErrors.badProfile(name, `an integer in [${lo}, ${hi}]`, v);
}

function pow2(name: string, v: unknown, lo: number, hi: number): void {
  int(name, v, lo, hi);
  if (((v as number) & ((v as number) - 1)) !== 0)
    throw hwErrors.badProfile(name, `a power of two in [${lo}, ${hi}]`, v);
}

function bool(name: string, v: unknown): void {
  if (typeof v !== 'boolean') throw hwErrors.badProfile(name, 'a boolean', v);
}

function oneOf(name: string, v: unknown, choices: readonly string[]): void {
  if (!choices.includes(v as string))
    throw hwErrors.badProfile(name, `one of ${choices.join(', ')}`, v);
}

/** Where an mdev sits (mdev index = vm * mdevsPerVm + k). */
export interface MdevPlacement {
  vm: number;
  pf: number;
  wq: number;
  type: 'swq' | 'dwq';
}

/**
 * Place every VM's mdevs: the k-th shared-WQ mdev of every VM on the k-th shared WQ of DSA PF
 * (k mod #DSA PFs), so that VMs share PFs and SWQs (§2.5, §7.2 "on the same PFs across
 * VMs"); the `dwqMdevs` last ones of each VM on dedicated WQs of their own.
 *
 * @param p - a profile whose other knobs are valid
 *
 * Context: pure.
 * @returns the placements, VM by VM
 * @throws HwModelError ERR_HW_BAD_PROFILE when the PFs lack DSA PFs, SWQs or DWQs for them
 */
export function placeMdevs(p: Profile): MdevPlacement[] {
  const dsa = p.pfs.flatMap((pf, i) => (pf.kind === 'dsa' && pf.maxPasidWidth === 20 ? [i] : []));
  if (p.vms === 0 || p.mdevsPerVm === 0) return [];
  if (dsa.length === 0)
    throw hwErrors.badProfile('pfs', 'at least one DSA PF with 20-bit PASIDs for mdevs', p.pfs);
  const out: MdevPlacement[] = [];
  const dwqNext = new Map<number, number>();
  for (let vm = 0; vm < p.vms; vm++) {
    const swqs = p.mdevsPerVm - p.dwqMdevs;
    for (let k = 0; k < p.mdevsPerVm; k++) {
      const shared = k < swqs;
      const pf = dsa[(shared ? k : vm + k) % dsa.length]!;
      const ws = p.pfs[pf]!.wqs.flatMap((w, j) =>
        w.mode === (shared ? 'shared' : 'dedicated') ? [j] : [],
      );
      const n = shared ? Math.floor(k / dsa.length) : (dwqNext.get(pf) ?? 0);
      if (n >= ws.length)
        throw hwErrors.badProfile(
          shared ? 'mdevsPerVm' : 'dwqMdevs',
          `at most as many as the DSA PFs have ${shared ? 'shared' : 'dedicated'} WQs for them`,
          shared ? p.mdevsPerVm : p.dwqMdevs,
        );
      if (!shared) dwqNext.set(pf, n + 1);
      out.push({ vm, pf, wq: ws[n]!, type: shared ? 'swq' : 'dwq' });
    }
  }
  return out;
}

/**
 * The default mdevs per VM capped by what the PFs can host: a host-only PF list (no DSA PF
 * with 20-bit PASIDs and shared WQs) gets VMs without mdevs rather than an error; an explicit
 * `mdevsPerVm` is never lowered.
 */
function hostableMdevs(p: Profile): number {
  for (let n = Math.min(PROFILE_DEFAULTS.mdevsPerVm, p.mdevsPerVm); n > 0; n--) {
    try {
      placeMdevs({ ...p, mdevsPerVm: n, dwqMdevs: Math.min(p.dwqMdevs, n) });
      return n;
    } catch {
      // fewer
    }
  }
  return 0;
}

/** The threshold in force for WQ `w` of a resolved profile. */
export function wqThreshold(p: Profile, w: WqProfile): number {
  return Math.min(w.size, w.threshold ?? p.swqThreshold ?? w.size);
}
