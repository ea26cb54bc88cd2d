/**
 * Built-in stress scenarios. Each is a complete StressConfig minus the seed; command-line
 * flags override any field.
 */
import { OP_NAMES, type OpName } from './ops/index.js';

export const FAULTS = ['kill-cpu', 'stutter', 'oversubscribe'] as const;
export type Fault = (typeof FAULTS)[number];
export type AllocPolicy = 'lowest' | 'cyclic';

export interface Scenario {
  description: string;
  cpus: number;
  seconds: number;
  /** Weight per op, in STRESS_OPS order (stress/ops/index.ts). */
  mix: number[];
  sets: number;
  quota: number;
  pasidBits: number;
  policy: AllocPolicy;
  faults: Fault[];
  /** Most ids one CPU holds at once. */
  maxHeld: number;
  /**
   * How many of the CPUs are subscriber CPUs (the last ones): they read the notifier chains
   * the harness subscribes to at the start, and check the event streams (stress/notify/).
   * 0: no subscriber, the chains stay empty.
   */
  subscribers: number;
  /**
   * Every op CPU (and the harness) allocates through a custom allocator group backed by a
   * hypervisor thread answering over a shared-memory mailbox (stress/custom-host.ts), as VT-d
   * guests do through the virtual command interface.
   */
  customAllocator: boolean;
}

/** A mix from named weights; unnamed ops get 0. */
export function mixOf(weights: Partial<Record<OpName, number>>): number[] {
  return OP_NAMES.map((op) => weights[op] ?? 0);
}

const BALANCED_WEIGHTS: Partial<Record<OpName, number>> = {
  alloc: 30,
  free: 22,
  get: 6,
  put: 6,
  find: 20,
  findBySpid: 4,
  attachSpid: 3,
  detachSpid: 2,
  attachData: 2,
  detachData: 1,
  setAlloc: 1,
  setFree: 1,
  freeAllInSet: 1,
  reallocUnderReader: 1,
};
const BALANCED = mixOf(BALANCED_WEIGHTS);

export const SCENARIOS: Readonly<Record<string, Scenario>> = Object.freeze({
  default: {
    description: 'every operation in a balanced mix, 4 CPUs, 8 sets',
    cpus: 4,
    seconds: 10,
    mix: BALANCED,
    sets: 8,
    quota: 512,
    pasidBits: 20,
    policy: 'lowest',
    faults: [],
    maxHeld: 256,
    subscribers: 0,
    customAllocator: false,
  },
  'quota-storm': {
    description: 'tiny quotas and a tiny PASID space: constant -EDQUOT/-ENOSPC and id reuse',
    cpus: 4,
    seconds: 10,
    mix: mixOf({ alloc: 50, free: 38, find: 10, reallocUnderReader: 2 }),
    sets: 6,
    quota: 5,
    pasidBits: 5,
    policy: 'lowest',
    faults: [],
    maxHeld: 16,
    subscribers: 0,
    customAllocator: false,
  },
  churn: {
    description: 'alloc/free at the maximum rate',
    cpus: 4,
    seconds: 10,
    mix: mixOf({ alloc: 50, free: 50 }),
    sets: 4,
    quota: 4096,
    pasidBits: 16,
    policy: 'cyclic',
    faults: [],
    maxHeld: 64,
    subscribers: 0,
    customAllocator: false,
  },
  'lookup-heavy': {
    description: '95% find, on ids held by every CPU',
    cpus: 4,
    seconds: 10,
    mix: mixOf({ find: 95, alloc: 3, free: 1, reallocUnderReader: 1 }),
    sets: 4,
    quota: 1000,
    pasidBits: 12,
    policy: 'lowest',
    faults: [],
    maxHeld: 256,
    subscribers: 0,
    customAllocator: false,
  },
  faults: {
    description: 'the balanced mix while CPUs are killed mid-operation and everyone stutters',
    cpus: 4,
    seconds: 10,
    mix: BALANCED,
    sets: 8,
    quota: 256,
    pasidBits: 14,
    policy: 'lowest',
    faults: ['kill-cpu', 'stutter'],
    maxHeld: 128,
    subscribers: 0,
    customAllocator: false,
  },
  notifiers: {
    description:
      'notifier chains read by 2 subscriber CPUs (global and set chains, four priorities) while 4 CPUs allocate, free, bind and unbind (add --custom-allocator for a hypervisor-backed group)',
    cpus: 6,
    seconds: 10,
    // The balanced mix with more get/put (frees that leave references raise FREE) and more
    // attachSpid/detachSpid (BIND, UNBIND).
    mix: mixOf({
      ...BALANCED_WEIGHTS,
      get: 10,
      put: 8,
      find: 12,
      attachSpid: 5,
      detachSpid: 4,
    }),
    sets: 4,
    quota: 512,
    pasidBits: 14,
    policy: 'lowest',
    faults: [],
    maxHeld: 128,
    subscribers: 2,
    customAllocator: false,
  },
});
