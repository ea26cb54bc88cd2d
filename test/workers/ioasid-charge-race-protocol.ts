/**
 * What test/ioasid_quota_charge_in_flight_real_workers.test.ts and its workers
 * (ioasid-charge-race-worker.ts) share. Kept apart so the test can import it without running
 * the worker.
 *
 * The ghost words (an Int32Array on `ghost`, every access an Atomics call):
 * - GO: the test stores 1 (and notifies) when the workers may start.
 * - HELD: ids returned by an alloc and not yet passed to free, over all workers. A worker adds
 *   right after its alloc returns and subtracts right before it calls free, both inside its
 *   EPOCH bracket (below): so HELD is the true live count whenever no worker is inside one.
 * - BRACKETS: `epoch << BUSY_BITS | busy`, one word so that one Atomics.add reads both at
 *   once: busy counts the workers inside an alloc or free call (the bracket), epoch bumps at
 *   every bracket's start and end. An alloc whose enter found busy 0 (no one else inside)
 *   and that finds the epoch its enter made after its call and its read of HELD ran, and
 *   read HELD, while every other worker was idle: no charge was in flight, so a -EDQUOT it
 *   got with HELD below the quota had room. (HELD read after that check could already
 *   include the free of a worker that entered since.) That needs
 *   no clock: the brackets decide which -EDQUOTs are judged, and the rest are counted. (Two
 *   words, busy and epoch, would not do: a worker between its two adds is in neither.)
 * - DONE: workers that finished their racing ops and freed what they held.
 * - TURN: the worker whose solo phase runs. Once DONE reaches the worker count, worker 0, then
 *   1, and so on, each alone, allocate until the quota refuses them and free it all again; the
 *   others wait on TURN, outside any call. So every run has judged -EDQUOTs, however the
 *   threads were scheduled: a heavily loaded machine may leave the racing phase with none.
 */
import type { IoasidHandle } from '../../src/core/ioasid/ioasid-space.js';

export const GHOST_GO = 0;
export const GHOST_HELD = 1;
export const GHOST_BRACKETS = 2;
export const GHOST_DONE = 3;
export const GHOST_TURN = 4;
/** Low bits of BRACKETS: workers inside a bracket (fewer than 2^BUSY_BITS). */
export const BUSY_BITS = 6;
/** One bracket start (epoch + 1, busy + 1); a bracket end adds EPOCH_UNIT - 1. */
export const EPOCH_UNIT = 1 << BUSY_BITS;
/** Words of the ghost buffer (one line: the test is about correctness, not speed). */
export const GHOST_WORDS = 16;

/** workerData of one charge-race worker. */
export interface ChargeRaceWorkerData {
  handle: IoasidHandle;
  set: number;
  quota: number;
  seed: number;
  /** Alloc/free operations to make (a count, not a time). */
  ops: number;
  /** Ids a worker holds at most. */
  maxHold: number;
  /** Id range of the allocs: half in [1, hi], half in [narrowLo, hi] (magazine misses). */
  narrowLo: number;
  hi: number;
  /** Workers in the run: the solo phase starts when GHOST_DONE reaches it. */
  workers: number;
  /** This worker's turn in the solo phase (0 .. workers - 1). */
  index: number;
  ghost: SharedArrayBuffer;
}

/** A worker's messages: 'ready' once attached, then its result (below). */
export type ChargeRaceMessage = 'ready' | ChargeRaceResult;

/** A worker's result, posted once it freed everything and detached. */
export interface ChargeRaceResult {
  allocs: number;
  frees: number;
  edquot: number;
  /** -ENOMEM answers (every record in limbo for a moment): counted, not judged. */
  enomem: number;
  /** -EDQUOTs got while every other worker was idle (judged, see the module notes). */
  quietEdquot: number;
  /** Ids the worker held when the quota refused it in its solo phase (see TURN). */
  soloHeld: number;
  /** Judged -EDQUOTs with HELD below the quota: "HELD h of quota q". */
  edquotWithRoom: string[];
  /** Allocs after which HELD exceeded the quota: "HELD h of quota q". */
  quotaExceeded: string[];
  /** Any other failed alloc or free: "alloc -N" / "free id -N". */
  errors: string[];
}
