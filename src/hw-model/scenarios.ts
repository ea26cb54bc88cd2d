/**
 * The model's scenarios (§7.10, host side): a profile, the mix of what each process does per
 * step, and the run's defaults. The stress CLI runs them by name (`--scenario`); the
 * deterministic runner and the threaded fleet both take them from here.
 */
import { dsaPf, nicPf, type Profile } from './profile.js';

/** Faults a run can inject (threads: real; deterministic: by the scheduler). */
/**
 * Faults of a run. kill-vcpu and kill-vmm kill a VM's guest (vCPU) thread or the VMMs'
 * thread (threaded runs of VM scenarios; the VM is destroyed as a crash and boots again).
 */
export const MODEL_FAULTS = [
  'kill-cpu',
  'stutter',
  'oversubscribe',
  'kill-vcpu',
  'kill-vmm',
] as const;
/** One of MODEL_FAULTS. */
export type ModelFault = (typeof MODEL_FAULTS)[number];

/** Relative weights of a process's operations, per step. */
export interface ProcessMix {
  /** Bind a random PF for SVA and map one of its SWQ portals. */
  bind: number;
  /** Submit from a random thread (ENQCMD to a SWQ, MOVDIR64B to an owned DWQ). */
  submit: number;
  /** Touch (map) a random page of the mm. */
  touch: number;
  /** Unbind a bound PF (then drive its teardown). */
  unbind: number;
  /** Exit (the exception path when bonds remain). */
  exit: number;
  /** Open a dedicated WQ of a bound PF. */
  openDwq: number;
}

/** Relative weights of a guest process's operations, per step (guest-actor.ts). */
export interface GuestMix {
  /** Get a PASID (identity: vcmd through the guest kernel's space; spid: its own number). */
  alloc: number;
  /** Bind it on one of the VM's vSWQ mdevs (host bind_gpasid). */
  bind: number;
  /** Program it into the mdev (the VDCM's reference). */
  program: number;
  /** ENQCMD from a random vCPU. */
  submit: number;
  /** Clear the mdev (the VDCM drains and puts). */
  clear: number;
  /** Unbind (KVM, VDCM, IOMMU teardown in chain order). */
  unbind: number;
  /** Free an unbound PASID. */
  free: number;
  /** Free while still bound (a misbehaving guest; identity mode only), unbind it later. */
  misfree: number;
  /** A malicious guest: bind, or free through VCMD, a PASID value it was never given. */
  rogue: number;
}

/** One scenario. */
export interface ModelScenario {
  /** One line for --help and reports. */
  description: string;
  /** Knobs on top of PROFILE_DEFAULTS. */
  profile: Partial<Profile>;
  /** What each process does per step. */
  mix: ProcessMix;
  /** One submission in this many blocks on faults (page request instead of a partial completion). */
  bofOneIn: number;
  /** CPU workers the processes run on (threads); processes are spread pid % cpus. */
  cpus: number;
  /** Default duration of the busy part. */
  seconds: number;
  /** Default faults. */
  faults: ModelFault[];
  /** What each guest process does per step (VM scenarios). */
  guest?: GuestMix;
  /** VM 0's VMM destroys its VM one step in this many (vm-crash). */
  crashOneIn?: number;
  /**
   * VM 0's VMM destroys its VM once this many of its PASIDs are bound (vm-crash: 500, §7.10
   * scenario 5); capped at 80% of the VM's processes (one PASID each), so that a profile with
   * fewer processes (a short test) still crashes.
   */
  crashAtBound?: number;
  /** What VM 0's guest processes do, when not `guest` (vm-crash: bind and keep, until the crash). */
  crashGuest?: GuestMix;
  /** How many of their processes the VMs other than VM 0 run (default: all of processesPerVm). */
  otherVmProcesses?: number;
  /** The guests try to switch to the vcmd allocator with default ids live first (allocator-switch). */
  allocatorSwitch?: boolean;
}

/** What a guest process does in the VM scenarios: mostly submitting, as the host's do. */
const GUEST_MIX: GuestMix = {
  alloc: 4,
  bind: 4,
  program: 3,
  submit: 40,
  clear: 3,
  unbind: 3,
  free: 3,
  misfree: 0,
  rogue: 0,
};

/**
 * Two VMs whose mdevs share SWQ 0 of one DSA PF, next to two host SVA processes on it; each
 * VM also has a vDWQ mdev (a dedicated WQ of its own on that PF, MOVDIR64B with WQCFG's PASID).
 */
const TWO_VMS_ONE_SWQ: Partial<Profile> = {
  processes: 2,
  threadsPerProcess: 2,
  pfs: [dsaPf('dsa0')],
  vms: 2,
  vcpusPerVm: 2,
  mdevsPerVm: 2,
  dwqMdevs: 1,
  processesPerVm: 4,
  vmQuota: 64,
  latencies: { invalidation: 2, execution: 2, prqService: 4, vmExit: 3 },
};
const HOST_MIX: ProcessMix = { bind: 6, submit: 40, touch: 6, unbind: 5, exit: 3, openDwq: 1 };

/** The scenarios, by name. */
export const MODEL_SCENARIOS: Readonly<Record<string, ModelScenario>> = Object.freeze({
  'host-sva': {
    description:
      '§7.10 scenario 1: 16 processes x 2 DSA PFs (+ a NIC), shared and dedicated WQs, lazy IA32_PASID, exits with and without unbind',
    profile: {
      processes: 16,
      threadsPerProcess: 2,
      vms: 0,
      pfs: [dsaPf('dsa0'), dsaPf('dsa1'), nicPf('nic0')],
      // Resolving a fault (handle_mm_fault) is slow next to the hardware: page requests are
      // still queued when teardowns reach P6.
      latencies: { invalidation: 2, execution: 2, prqService: 6, vmExit: 2 },
    },
    mix: { bind: 6, submit: 60, touch: 6, unbind: 5, exit: 3, openDwq: 2 },
    bofOneIn: 2,
    cpus: 4,
    seconds: 10,
    faults: [],
  },
  exhaustion: {
    description:
      '§7.10 scenario 6: 5-bit PASIDs, an SVA quota of 20, a NIC with 4-bit PASIDs (ENOSPC, EDQUOT, EOVERFLOW), two VMs with a quota of 4 PASIDs and 8 guest processes each (vcmd SC = no PASID, the guest sees ENOSPC), nothing leaked after recovery',
    profile: {
      pasidBits: 5,
      processes: 40,
      threadsPerProcess: 1,
      svaQuota: 20,
      pfs: [dsaPf('dsa0'), { ...nicPf('nic0'), maxPasidWidth: 4 }],
      vms: 2,
      vcpusPerVm: 2,
      mdevsPerVm: 1,
      processesPerVm: 8,
      vmQuota: 4,
    },
    guest: { ...GUEST_MIX, alloc: 10, free: 4 },
    mix: { bind: 20, submit: 30, touch: 4, unbind: 4, exit: 6, openDwq: 1 },
    bofOneIn: 3,
    cpus: 4,
    seconds: 10,
    faults: [],
  },
  'pri-storm': {
    description:
      '§7.10 scenario 7: every submission blocks on fault over 512 unmapped pages, an 8-entry PRQ that overflows, teardowns during the storm (drain retries)',
    profile: {
      processes: 16,
      threadsPerProcess: 2,
      prqEntries: 8,
      pagesPerMm: 512,
      vms: 0,
      latencies: { invalidation: 2, execution: 1, prqService: 6, vmExit: 2 },
      pfs: [dsaPf('dsa0'), dsaPf('dsa1')],
    },
    mix: { bind: 5, submit: 70, touch: 0, unbind: 6, exit: 4, openDwq: 1 },
    bofOneIn: 1,
    cpus: 4,
    seconds: 10,
    faults: [],
  },
  'vm-swq': {
    description:
      "§7.10 scenario 2: two VMs, one mdev each on the same SWQ of one DSA PF, vcmd (identity) PASIDs from the guest kernel's own space, bind, program, ENQCMD from every vCPU, clear, unbind, free (refcounts 1 -> 4 -> 0), host SVA on the same PF",
    profile: TWO_VMS_ONE_SWQ,
    mix: HOST_MIX,
    guest: GUEST_MIX,
    bofOneIn: 3,
    cpus: 2,
    seconds: 10,
    faults: [],
  },
  'vm-spid': {
    description:
      '§7.10 scenario 3: as vm-swq with guestPasidMode spid: both VMs use guest PASIDs 101.. mapped to different host PASIDs (the VMM allocates at the first bind, frees at the last unbind)',
    profile: { ...TWO_VMS_ONE_SWQ, guestPasidMode: 'spid' },
    mix: HOST_MIX,
    guest: GUEST_MIX,
    bofOneIn: 3,
    cpus: 2,
    seconds: 10,
    faults: [],
  },
  'free-before-unbind': {
    description:
      '§7.10 scenario 4: misbehaving guests free bound PASIDs (KVM, VDCM, IOMMU driver tear them down in notifier order) and unbind the stale value later; malicious ones bind or free values they were never given (EACCES, SC = invalid); 6-bit PASIDs so values go to the other VM',
    profile: { ...TWO_VMS_ONE_SWQ, pasidBits: 6 },
    mix: HOST_MIX,
    guest: { ...GUEST_MIX, misfree: 4, rogue: 2 },
    bofOneIn: 3,
    cpus: 2,
    seconds: 10,
    faults: [],
  },
  'vm-crash': {
    description:
      '§7.10 scenario 5: VM 0 (640 guest processes) is destroyed (a guest crash) each time 500 of its PASIDs are bound, every one through the FREE path, while VM 1 keeps submitting on the shared SWQ; VM 0 boots again',
    profile: { ...TWO_VMS_ONE_SWQ, processesPerVm: 640, vmQuota: 800 },
    mix: HOST_MIX,
    guest: { ...GUEST_MIX, alloc: 8, bind: 8, free: 1, unbind: 1 },
    // VM 0's processes get a PASID, bind it and keep it: the crash tears them all down.
    crashGuest: {
      ...GUEST_MIX,
      alloc: 30,
      bind: 30,
      program: 2,
      submit: 10,
      clear: 0,
      unbind: 0,
      free: 0,
    },
    crashAtBound: 500,
    // VM 1 keeps submitting on the shared SWQ with the processes of vm-swq's scale.
    otherVmProcesses: 64,
    bofOneIn: 3,
    cpus: 2,
    seconds: 10,
    faults: [],
  },
  'allocator-switch': {
    description:
      '§7.10 scenario 8: each guest kernel tries to make vcmd its allocator while its default allocator has live ids (EAGAIN), frees them, then switches (0); then vm-swq',
    profile: TWO_VMS_ONE_SWQ,
    mix: HOST_MIX,
    guest: GUEST_MIX,
    allocatorSwitch: true,
    bofOneIn: 3,
    cpus: 2,
    seconds: 10,
    faults: [],
  },
});

/** Names of the scenarios. */
export const MODEL_SCENARIO_NAMES = Object.keys(MODEL_SCENARIOS);
