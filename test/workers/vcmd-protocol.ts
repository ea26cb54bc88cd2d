/**
 * The shared-memory mailbox of the guest-style custom allocator test: guest vCPU threads ask a
 * "hypervisor" thread for PASIDs the way a VT-d guest uses the virtual command interface
 * (one request at a time per vCPU, answered through a register), here a 16-word mailbox per
 * guest thread with Atomics.wait/notify, and a host table the hypervisor keeps of what it
 * handed out.
 */

/** Control words (Int32Array over `mailboxes`). */
export const MB_DOORBELL = 0;
export const MB_STOP = 1;
/** Guests that finished their run (a barrier before they unregister). */
export const MB_GUESTS_DONE = 2;
/** Host counters: frees of a PASID the host did not hand out (refused), PASIDs handed twice. */
export const MB_BAD_FREES = 3;
export const MB_DOUBLE_HANDS = 4;
/** Guests registered (start barrier), and the main thread's go. */
export const MB_REGISTERED = 5;
export const MB_GO = 6;
/** Set by the hypervisor when it holds back a request (test of kills inside a provider call). */
export const MB_HELD = 7;
/** First mailbox; mailbox k at MB_BASE + 16 * k. */
export const MB_BASE = 16;
export const MB_WORDS = 16;
export const MB_STATE = 0;
export const MB_OP = 1;
export const MB_A = 2;
export const MB_B = 3;
export const MB_RESULT = 4;
/** MB_STATE values. */
export const MB_IDLE = 0;
export const MB_REQUEST = 1;
export const MB_ANSWER = 2;
/** A request the hypervisor will never answer (its guest is about to be killed). */
export const MB_HELD_BACK = 3;
/** MB_OP values. */
export const OP_ALLOC = 1;
export const OP_FREE = 2;

export interface HypervisorData {
  mailboxes: SharedArrayBuffer;
  /** host[pasid] = 1 while handed out (Int32Array). */
  host: SharedArrayBuffer;
  guests: number;
  /** PASIDs the host owns: 1 .. pool. */
  pool: number;
  /** Broken twin: hand out PASID `pool` to every second alloc even when it is taken. */
  doubleHand: boolean;
  /** Never serve the first request of op `holdOp` from guest `holdGuest` (-1: none). */
  holdGuest?: number;
  holdOp?: number;
}

export interface GuestData {
  handle: import('../../src/core/ioasid/ioasid-space.js').IoasidHandle;
  mailboxes: SharedArrayBuffer;
  /** owner[id] = guest + 1 while this guest holds the id (CAS-claimed: a failed claim is an id
   * live twice). */
  owners: SharedArrayBuffer;
  guest: number;
  guests: number;
  set: number;
  seed: number;
  iterations: number;
  maxId: number;
  /** Broken twin: the ops' free does not tell the host. */
  leakyFree: boolean;
  /** Broken twin of the checker: owner claims are never cleared. */
  keepOwners: boolean;
}

export interface GuestResult {
  allocs: number;
  enospc: number;
  eexist: number;
  frees: number;
  duplicateLive: number;
  badData: number;
  unregister: number;
  register: number;
}

/**
 * One request through guest `k`'s mailbox: blocks until the hypervisor answers.
 *
 * @returns the hypervisor's result word
 */
export function mailboxCall(mb: Int32Array, k: number, op: number, a: number, b: number): number {
  const w = MB_BASE + k * MB_WORDS;
  Atomics.store(mb, w + MB_OP, op);
  Atomics.store(mb, w + MB_A, a);
  Atomics.store(mb, w + MB_B, b);
  Atomics.store(mb, w + MB_STATE, MB_REQUEST);
  Atomics.add(mb, MB_DOORBELL, 1);
  Atomics.notify(mb, MB_DOORBELL);
  while (Atomics.load(mb, w + MB_STATE) !== MB_ANSWER)
    Atomics.wait(mb, w + MB_STATE, MB_REQUEST, 100);
  const r = Atomics.load(mb, w + MB_RESULT);
  Atomics.store(mb, w + MB_STATE, MB_IDLE);
  return r;
}
