/**
 * Worker for test/ioasid_quota_charge_in_flight_real_workers.test.ts: attaches, says 'ready',
 * waits for GO, then makes `ops` random allocs and frees in one set (holding at most `maxHold`
 * ids), with the ghost bookkeeping of ioasid-charge-race-protocol.ts around each call; frees
 * what it holds; runs its solo phase when its TURN comes (allocs alone until the quota
 * refuses one, then frees them); once every turn is over, detaches (returning its magazine)
 * and posts its result. A judged -EDQUOT
 * with room carries a snapshot of the space (spaceState) to say where the charge was.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { magazineChargeInFlight, magazineParked } from '../../src/core/ioasid/id-magazine.js';
import { Errno, IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';
import { setCountOf } from '../../src/core/ioasid/sets.js';
import {
  SET_COUNT,
  SPACE_SET_WORDS,
  spaceHeaderGeometry,
  TS_OP,
  threadSlotWord,
} from '../../src/core/ioasid/space-layout.js';
import { Prng } from '../../src/workers/prng.js';
import {
  BUSY_BITS,
  type ChargeRaceResult,
  type ChargeRaceWorkerData,
  EPOCH_UNIT,
  GHOST_BRACKETS,
  GHOST_DONE,
  GHOST_GO,
  GHOST_HELD,
  GHOST_TURN,
} from './ioasid-charge-race-protocol.js';

const d = workerData as ChargeRaceWorkerData;
const space = IoasidSpace.attach(d.handle);
const ghost = new Int32Array(d.ghost);
const rng = new Prng(d.seed);
const r: ChargeRaceResult = {
  allocs: 0,
  frees: 0,
  edquot: 0,
  enomem: 0,
  quietEdquot: 0,
  soloHeld: -1,
  edquotWithRoom: [],
  quotaExceeded: [],
  errors: [],
};
const held: number[] = [];

const BUSY_MASK = EPOCH_UNIT - 1;

/** Start of a bracket: returns [the epoch it made, workers that were inside before us]. */
function enter(): [number, number] {
  const before = Atomics.add(ghost, GHOST_BRACKETS, EPOCH_UNIT + 1);
  return [(before >> BUSY_BITS) + 1, before & BUSY_MASK];
}

function leave(): void {
  Atomics.add(ghost, GHOST_BRACKETS, EPOCH_UNIT - 1);
}

function epochNow(): number {
  return Atomics.load(ghost, GHOST_BRACKETS) >> BUSY_BITS;
}

/** One alloc, judged as the module notes say; returns what the space returned. */
function alloc(): number {
  const lo = rng.oneIn(2) ? 1 : d.narrowLo;
  const [epoch, others] = enter();
  const id = space.alloc(d.set, lo, d.hi);
  if (id > 0) {
    held.push(id);
    r.allocs++;
    const h = Atomics.add(ghost, GHOST_HELD, 1) + 1;
    if (h > d.quota) r.quotaExceeded.push(`HELD ${h} of quota ${d.quota}`);
  } else if (id === -Errno.EDQUOT) {
    r.edquot++;
    // Read before the epoch check that judges them: a worker that enters after the check may
    // change HELD (a free) or the space at once.
    const h = Atomics.load(ghost, GHOST_HELD);
    const state = others === 0 && h < d.quota ? spaceState() : '';
    // Judged only if no one else was inside a call at any point of ours, those reads included
    // (module notes).
    if (others === 0 && epochNow() === epoch) {
      r.quietEdquot++;
      if (h < d.quota) r.edquotWithRoom.push(`HELD ${h} of quota ${d.quota} (${state})`);
    }
  } else if (id === -Errno.ENOMEM) {
    r.enomem++; // records in limbo: a runtime answer, not a quota one
  } else r.errors.push(`alloc [${lo}, ${d.hi}] ${id}`);
  leave();
  return id;
}

/** Free every id held, last first. */
function freeAll(): void {
  while (held.length > 0) free(held.length - 1);
}

function free(k: number): void {
  const id = held[k]!;
  held[k] = held[held.length - 1]!;
  held.pop();
  enter();
  Atomics.sub(ghost, GHOST_HELD, 1);
  const e = space.free(d.set, id);
  if (e !== 0) r.errors.push(`free ${id} ${e}`);
  else r.frees++;
  leave();
}

/**
 * What the space shows right after a judged refusal (the others idle, so it holds still):
 * the charges in COUNT, the ids the space shows live, the parked charges, a charge in
 * flight, and every slot's intent.
 */
function spaceState(): string {
  const i32 = new Int32Array(d.handle.buffer as SharedArrayBuffer);
  const g = spaceHeaderGeometry(i32);
  const w = Atomics.load(i32, g.setsBase + d.set * SPACE_SET_WORDS + SET_COUNT);
  const ops = Array.from({ length: g.maxThreads }, (_, k) =>
    Atomics.load(i32, threadSlotWord(g, k) + TS_OP),
  );
  let live = 0;
  for (let id = 1; id <= d.hi; id++) if (space.inspect(id).state !== 'free') live++;
  return (
    `COUNT charges ${setCountOf(w, d.quota)}, ids live ${live}, ` +
    `parked ${magazineParked(i32, g, d.set)}, ` +
    `in flight ${magazineChargeInFlight(i32, g, -1, d.set)}, slot ops ${ops.join('/')}, ` +
    `own slot ${space.rcu.slot}`
  );
}

/** A short pause outside any call, so that the others sometimes run alone. */
function pause(): void {
  let x = 0;
  for (let i = rng.below(200); i > 0; i--) x = (x + i) | 0;
  if (x === -1) r.errors.push('unreachable');
}

parentPort?.postMessage('ready');
while (Atomics.load(ghost, GHOST_GO) === 0) Atomics.wait(ghost, GHOST_GO, 0);
for (let op = 0; op < d.ops; op++) {
  if (held.length > 0 && (held.length >= d.maxHold || rng.oneIn(2))) free(rng.below(held.length));
  else alloc();
  pause();
}
freeAll();

/** Sleeps on a ghost word until `ready` holds (every wait outside any call). */
function waitFor(word: number, ready: (v: number) => boolean): void {
  for (let v = Atomics.load(ghost, word); !ready(v); v = Atomics.load(ghost, word))
    Atomics.wait(ghost, word, v);
}

/**
 * Alone (every other worker waits on TURN): alloc until the quota refuses, so each run has
 * judged -EDQUOTs whatever the scheduling. -ENOMEM (records in limbo) is retried, a bounded
 * number of times; stop at maxHold too, which only a quota exceeded reaches.
 */
function soloPhase(): void {
  for (let tries = 0; tries < 10_000 && held.length < d.maxHold; tries++) {
    const id = alloc();
    if (id === -Errno.EDQUOT) {
      r.soloHeld = held.length;
      break;
    }
  }
  freeAll();
}

Atomics.add(ghost, GHOST_DONE, 1);
Atomics.notify(ghost, GHOST_DONE);
waitFor(GHOST_DONE, (v) => v === d.workers);
waitFor(GHOST_TURN, (v) => v === d.index);
soloPhase();
Atomics.add(ghost, GHOST_TURN, 1);
Atomics.notify(ghost, GHOST_TURN);
waitFor(GHOST_TURN, (v) => v === d.workers);
// In a bracket too: detach takes its parked charges back and releases them (a charge in
// flight, which an alloc running meanwhile may rightly wait for, then refuse after its bound).
enter();
space.detach();
leave();
parentPort?.postMessage(r);
