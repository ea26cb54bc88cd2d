/**
 * The model's scenarios (§7.10, host side): a profile, the mix of what each process does per
 * step, and the run's defaults. The stress CLI runs them by name (`--scenario`); the
 * deterministic runner and the threaded fleet both take them from here.
 */
import { dsaPf, nicPf, type Profile } from './profile.js';

/** Faults a run can inject (threads: real; deterministic: by the scheduler). */
export const MODEL_FAULTS = ['kill-cpu', 'stutter', 'oversubscribe'] as const;
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
}

/** The scenarios, by name. */
export const MODEL_SCENARIOS: Readonly<Record<string, ModelScenario>> = Object.freeze({
  'host-sva': {
    description:
      '§7.10 scenario 1: 16 processes x 2 DSA PFs (+ a NIC), shared and dedicated WQs, lazy IA32_PASID, exits with and without unbind',
    profile: {
      processes: 16,
      threadsPerProcess: 2,
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
      '§7.10 scenario 6, host side: 5-bit PASIDs, an SVA quota of 24, a NIC with 4-bit PASIDs: ENOSPC, EDQUOT, EOVERFLOW, and nothing leaked after recovery',
    profile: {
      pasidBits: 5,
      processes: 40,
      threadsPerProcess: 1,
      svaQuota: 24,
      pfs: [dsaPf('dsa0'), { ...nicPf('nic0'), maxPasidWidth: 4 }],
    },
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
      latencies: { invalidation: 2, execution: 1, prqService: 6, vmExit: 2 },
      pfs: [dsaPf('dsa0'), dsaPf('dsa1')],
    },
    mix: { bind: 5, submit: 70, touch: 0, unbind: 6, exit: 4, openDwq: 1 },
    bofOneIn: 1,
    cpus: 4,
    seconds: 10,
    faults: [],
  },
});

/** Names of the scenarios. */
export const MODEL_SCENARIO_NAMES = Object.keys(MODEL_SCENARIOS);
