/**
 * The kill-point harness: simulate a thread terminated at the entry of its K-th call to an
 * `Atomics` or `Math` builtin (before the builtin's effect), for tests that walk every such
 * point of an operation. A terminated worker stops at such call entries (and at JS function
 * entries and loop back-edges, which this cannot simulate; random-kill tests with real
 * workers cover those), so this walks the kill points that matter most one by one.
 *
 * The "threads" are attachments of one space in the test's own thread: each has its own Rcu
 * slot and thread slot. The kill is a thrown KILL from the patched builtin; the killed
 * attachment is never used again. `Atomics.wait` is patched too: a single-threaded test has no
 * one to wake a sleeper, so a wait that keeps coming back is a hang on a dead thread, thrown as
 * a HangError after HANG_WAITS returns (each returns at once, "timed-out").
 */
import { magazineEntryId, magazineEntrySet } from '../../src/core/ioasid/id-magazine.js';
import { INVALID_IOASID, IoasidSpace, SetType } from '../../src/core/ioasid/ioasid-space.js';
import { setCountOf } from '../../src/core/ioasid/sets.js';
import {
  mapSlot,
  SET_COUNT,
  SPACE_LOCK_OWNER_MASK,
  SPACE_SET_LOCK_WORD,
  SPACE_SET_WORDS,
  SPACE_SPID_LOCK_WORD,
  spaceHeaderGeometry,
  TS_MAG,
  TS_MAG_SIZE,
  TS_STATE,
  threadSlotWord,
} from '../../src/core/ioasid/space-layout.js';
import { RCU_SLOT_OWNER, rcuSlotBase } from '../../src/core/rcu/rcu-layout.js';
import { armInjection, armKill, KILL, killPoint } from './kill-countdown.js';

export { KILL, killableModule } from './kill-countdown.js';

/** Thrown when a call waits, again and again, for something only a dead thread can do. */
export class HangError extends Error {}

const HANG_WAITS = 2000;
let waits = 0;
const patched: Array<[object, string, unknown]> = [];

/** Patch the builtins (call once, e.g. in beforeAll). */
export function installKillPoints(): void {
  const patch = (obj: Record<string, unknown>, names: string[]) => {
    for (const name of names) {
      const orig = obj[name] as (...a: unknown[]) => unknown;
      patched.push([obj, name, orig]);
      obj[name] = (...a: unknown[]) => {
        killPoint();
        return orig.apply(obj, a);
      };
    }
  };
  patch(Atomics as unknown as Record<string, unknown>, [
    'load',
    'store',
    'compareExchange',
    'exchange',
    'add',
    'sub',
    'and',
    'or',
  ]);
  patch(Math as unknown as Record<string, unknown>, ['clz32', 'imul', 'min', 'max', 'floor']);
  const wait = Atomics.wait;
  patched.push([Atomics, 'wait', wait]);
  (Atomics as unknown as Record<string, unknown>).wait = () => {
    if (++waits > HANG_WAITS) {
      waits = 0;
      throw new HangError('waits forever for something only a dead thread can do');
    }
    return 'timed-out';
  };
}

/** Restore the builtins (afterAll). */
export function uninstallKillPoints(): void {
  for (const [obj, name, orig] of patched.splice(0)) (obj as Record<string, unknown>)[name] = orig;
}

/**
 * Run `fn` with a kill armed at builtin call `k` (1-based; 0 = no kill).
 * @returns true if the kill happened (fn was cut short), false if fn completed first
 */
export function runKilledAt(k: number, fn: () => unknown): boolean {
  armKill(k > 0 ? k : -1);
  waits = 0;
  try {
    fn();
  } catch (e) {
    if (e !== KILL) throw e;
    return true;
  } finally {
    armKill(-1);
  }
  return false;
}

/**
 * Run `fn`, and run `inject` at the entry of its builtin call `k` (before that call's effect),
 * as another thread acting at that instant would.
 * @returns true if `inject` ran (fn made at least k calls)
 */
export function runInjectedAt(k: number, fn: () => unknown, inject: () => void): boolean {
  let ran = false;
  armInjection(k, () => {
    ran = true;
    inject();
  });
  waits = 0;
  try {
    fn();
  } finally {
    armKill(-1);
  }
  return ran;
}

/** Run `fn` with no kill armed, failing (HangError) if it keeps waiting. */
export function runAlive<T>(fn: () => T): T {
  armKill(-1);
  waits = 0;
  return fn();
}

export const PASID_BITS = 5;
export const MAX_IOASIDS = 64;
export const MAX_THREADS = 6;

/** State a victim holds: ids, a SPID, a pending set, a shared reference, records. */
export interface Fixture {
  a: number;
  empty: number;
  pending: number;
  full: number;
  idA: number;
  idSpid: number;
  idPending: number;
  idShared: number;
}

/** A space (main attachment) and a victim attachment holding the Fixture's state. */
export function setup(withState = true): {
  main: IoasidSpace;
  victim: IoasidSpace;
  f: Fixture;
} {
  const main = IoasidSpace.create({
    pasidBits: PASID_BITS,
    maxSets: 8,
    maxIoasids: MAX_IOASIDS,
    maxThreads: MAX_THREADS,
  });
  const victim = IoasidSpace.attach(main.handle);
  const f: Fixture = {
    a: -1,
    empty: -1,
    pending: -1,
    full: -1,
    idA: 0,
    idSpid: 0,
    idPending: 0,
    idShared: 0,
  };
  if (!withState) return { main, victim, f };
  f.a = main.setAlloc(null, 10, SetType.NULL);
  f.empty = main.setAlloc(null, 1, SetType.NULL);
  f.pending = main.setAlloc(null, 2, SetType.NULL);
  f.full = main.setAlloc(null, 2, SetType.NULL);
  main.alloc(f.full, 1, 1);
  main.alloc(f.full, 1, 1);
  f.idA = victim.alloc(f.a, 1, 31, 7);
  f.idSpid = victim.alloc(f.a, 1, 31, 8);
  victim.attachSpid(f.idSpid, 5);
  f.idPending = victim.alloc(f.pending, 1, 31);
  main.setFree(f.pending);
  f.idShared = victim.alloc(f.a, 1, 31);
  main.get(null, f.idShared);
  for (let i = 0; i < 3; i++) victim.free(f.a, victim.alloc(f.a, 1, 31));
  return { main, victim, f };
}

export type Op = (v: IoasidSpace, f: Fixture) => unknown;

/** Run by the main attachment before the kill window, e.g. to make the victim's guesses stale. */
export const PREP: Record<string, (main: IoasidSpace, f: Fixture) => void> = {
  'alloc, stale bitmap guess (scan)': (main, f) => void main.alloc(f.a, 1, 31),
  'alloc, stale count guess': (main, f) => void main.alloc(f.a, 1, 31),
  // Id 30 sits in main's magazine: the victim's alloc of [30, 30] must steal it.
  "alloc, steals from another thread's magazine": (main, f) =>
    void main.free(f.a, main.alloc(f.a, 30, 30)),
  // Set `empty`'s only charge parked in main's magazine, which no one but the sweep takes back.
  "setFree with its charge parked in another thread's magazine (the sweep is recovered)": (
    main,
    f,
  ) => void main.free(f.empty, main.alloc(f.empty, 1, 31)),
};

/** Operations a victim is killed in, by name. */
export const OPS: Record<string, Op> = {
  alloc: (v, f) => v.alloc(f.a, 1, 31, 5),
  'alloc, stale bitmap guess (scan)': (v, f) => v.alloc(f.a, 1, 31, 5),
  'alloc, stale count guess': (v, f) => v.alloc(f.a, 25, 31, 5),
  'alloc high range': (v, f) => v.alloc(f.a, 20, 31, 5),
  'alloc, quota full': (v, f) => v.alloc(f.full, 3, 31),
  // Magazines keep quota charges (id-magazine.ts): set `empty` (quota 1) at its quota with one
  // parked id, which the alloc (out of its range) must take back before it can reserve.
  'alloc, quota full but for a parked charge (taken back)': (v, f) => {
    const x = v.alloc(f.empty, 1, 31);
    v.free(f.empty, x);
    return v.alloc(f.empty, x + 1, 31);
  },
  "alloc takes an id parked with another set's charge (released)": (v, f) => {
    const x = v.alloc(f.empty, 20, 20);
    v.free(f.empty, x);
    return v.alloc(f.a, 20, 20);
  },
  'setFree with only parked ids (takes their charges back)': (v, f) => {
    v.free(f.empty, v.alloc(f.empty, 1, 31));
    return v.setFree(f.empty);
  },
  'alloc, range full': (v, f) => v.alloc(f.a, 1, 1),
  "alloc, steals from another thread's magazine": (v, f) => v.alloc(f.a, 30, 30, 5),
  free: (v, f) => v.free(f.a, f.idA),
  // The victim caches one id after setup; 7 more allocs and 9 frees: the last overflows.
  'free, magazine full (overflow to the bitmap)': (v, f) => {
    const ids: number[] = [];
    for (let i = 0; i < 7; i++) ids.push(v.alloc(f.a, 1, 31));
    for (const id of ids) v.free(f.a, id);
    v.free(f.a, f.idA);
    return v.free(f.a, f.idSpid);
  },
  'detach (returns the magazine)': (v) => v.detach(),
  'free with SPID': (v, f) => v.free(f.a, f.idSpid),
  'free last id of a pending set': (v, f) => v.free(f.pending, f.idPending),
  'free, other reference left': (v, f) => v.free(f.a, f.idShared),
  'put last reference': (v, f) => {
    v.get(null, f.idA);
    v.put(null, f.idA);
    return v.put(null, f.idA);
  },
  setAlloc: (v) => v.setAlloc(null, 2, SetType.NULL),
  'setAlloc MM': (v) => v.setAlloc(99, 2, SetType.MM),
  'setFree empty': (v, f) => v.setFree(f.empty),
  'setFree with ids (marks it pending)': (v, f) => v.setFree(f.a),
  "setFree with its charge parked in another thread's magazine (the sweep is recovered)": (v, f) =>
    v.setFree(f.empty),
  attachSpid: (v, f) => v.attachSpid(f.idA, 33),
  'attachSpid replacing one': (v, f) => v.attachSpid(f.idSpid, 34),
  detachSpid: (v, f) => v.detachSpid(f.idSpid),
  'find with getter': (v, f) => v.find(null, f.idA, () => true),
  'findBySpid get': (v, f) => v.findBySpid(f.a, 5, true),
  'alloc/free churn (batches, refills, drains)': (v, f) => {
    for (let i = 0; i < 8; i++) v.free(f.a, v.alloc(f.a, 1, 31, i));
  },
  freeAllInSet: (v, f) => v.freeAllInSet(f.a),
  flushRecords: (v) => v.flushRecords(),
  installCapacity: (v) => v.installCapacity(20),
  reserveCapacity: (v) => v.reserveCapacity(3),
  'cancelCapacity (part of a reservation)': (v) => {
    v.reserveCapacity(4);
    return v.cancelCapacity(3);
  },
};

/**
 * Exact consistency of a quiet space in which every dead thread was recovered: counts,
 * capacity, records, no stray id bit, no lock held, no thread slot left mid-recovery, no Rcu
 * slot claimed but by `live` attachments, and every id that is not allocated allocatable.
 */
export function audit(space: IoasidSpace, live: IoasidSpace[] = [space]): string[] {
  const bad: string[] = [];
  const perSet = new Map<number, number>();
  for (let id = 1; id <= space.maxId; id++) {
    const st = space.inspect(id);
    if (st.state !== 'free') perSet.set(st.set!, (perSet.get(st.set!) ?? 0) + 1);
  }
  let quotas = 0;
  for (let set = 0; set < space.maxSets; set++) {
    const info = space.setInfo(set);
    if (!info) continue;
    quotas += info.quota;
    if (info.count !== (perSet.get(set) ?? 0))
      bad.push(`set ${set}: count ${info.count}, ids ${perSet.get(set) ?? 0}`);
  }
  if (quotas + space.available() !== space.capacity())
    bad.push(`quotas ${quotas} + available ${space.available()} != ${space.capacity()}`);
  const st = space.stats();
  if (st.freeRecords + st.limboRecords + st.liveRecords !== MAX_IOASIDS)
    bad.push(`records: ${st.freeRecords} free + ${st.limboRecords} limbo + ${st.liveRecords} live`);
  const mapped = [...perSet.values()].reduce((x, y) => x + y, 0);
  // SPIDs: every id's SPID is found, and the table holds exactly one entry per SPID.
  let spids = 0;
  for (let id = 1; id <= space.maxId; id++) {
    const st = space.inspect(id);
    if (st.state === 'free' || st.spid === INVALID_IOASID) continue;
    spids++;
    const found = space.findBySpid(st.set!, st.spid, false);
    if (found !== id) bad.push(`id ${id}: its SPID ${st.spid} finds ${found}`);
  }
  if (st.liveRecords !== mapped) bad.push(`${st.liveRecords} live records, ${mapped} ids`);
  // White-box (space-layout.ts): id bits, locks, thread slots.
  const i32 = new Int32Array(space.handle.buffer);
  const g = spaceHeaderGeometry(i32);
  // Ids in magazines (id-magazine.ts): only live attachments hold any, each id once.
  // An entry is the id with the quota charge it keeps (the set + 1 above the id's bits).
  const liveSlots = new Set(live.map((s) => s.rcu.slot));
  const cached = new Set<number>();
  const parked = new Map<number, number>();
  for (let slot = 0; slot < g.maxThreads; slot++) {
    for (let j = 0; j < TS_MAG_SIZE; j++) {
      const e = i32[threadSlotWord(g, slot) + TS_MAG + j]!;
      if (e <= 0) continue;
      const id = magazineEntryId(g, e);
      const charge = magazineEntrySet(g, e);
      if (!liveSlots.has(slot)) bad.push(`slot ${slot} (not live) still caches id ${id}`);
      if (cached.has(id)) bad.push(`id ${id} cached twice`);
      cached.add(id);
      if (charge >= 0) parked.set(charge, (parked.get(charge) ?? 0) + 1);
    }
  }
  // Quota charges (white-box, sets.ts COUNT): each live set's charges are its live ids plus
  // the ids parked with its charge, exactly (a lost charge shrinks the quota for good).
  for (let set = 0; set < space.maxSets; set++) {
    const info = space.setInfo(set);
    if (!info) continue;
    const charged = setCountOf(i32[g.setsBase + set * SPACE_SET_WORDS + SET_COUNT]!, info.quota);
    const want = (perSet.get(set) ?? 0) + (parked.get(set) ?? 0);
    if (charged !== want)
      bad.push(
        `set ${set}: charges ${charged}, live ${perSet.get(set) ?? 0} + parked ${parked.get(set) ?? 0}`,
      );
  }
  // A PENDING set dies with its last charge: one whose charges are all parked (no live id)
  // has lost the sweep of its setFree, and keeps its quota until those threads detach.
  for (let set = 0; set < space.maxSets; set++) {
    const info = space.setInfo(set);
    if (info?.freePending && (perSet.get(set) ?? 0) === 0)
      bad.push(
        `set ${set}: PENDING set whose charges are all parked (${parked.get(set) ?? 0} parked, no live id)`,
      );
  }
  for (let id = 1; id <= space.maxId; id++) {
    const bit = (i32[g.bitmapBase + (id >>> 5)]! >>> (id & 31)) & 1;
    const isMapped = i32[g.mapBase + mapSlot(g, id)]! !== 0;
    const isCached = cached.has(id);
    if (isCached && isMapped) bad.push(`id ${id}: cached and mapped`);
    if ((bit === 1) !== (isMapped || isCached))
      bad.push(
        `id ${id}: bit ${bit}, ${isMapped ? '' : 'not '}mapped, ${isCached ? '' : 'not '}cached`,
      );
  }
  for (const [name, word] of [
    ['set lock', SPACE_SET_LOCK_WORD],
    ['SPID lock', SPACE_SPID_LOCK_WORD],
  ] as const) {
    const owner = i32[word]! & SPACE_LOCK_OWNER_MASK;
    if (owner !== 0) bad.push(`${name} held by slot ${owner - 1}`);
  }
  for (let slot = 0; slot < g.maxThreads; slot++) {
    const state = i32[threadSlotWord(g, slot) + TS_STATE]!;
    if (liveSlots.has(slot) ? state !== 1 : state !== 0)
      bad.push(
        `thread slot ${slot}: state ${state}, ${liveSlots.has(slot) ? 'attached' : 'unused'} expected`,
      );
  }
  let entries = 0;
  for (let b = 0; b < g.spidBuckets; b++) if (i32[g.spidBase + b]! > 0) entries++;
  if (entries !== spids) bad.push(`${entries} SPID table entries for ${spids} SPIDs`);
  // Every Rcu slot but the live ones free (OWNER 0: not claimed, not half released).
  const rcuWords = new Int32Array(space.handle.rcu.buffer);
  for (let slot = 0; slot < g.maxThreads; slot++) {
    const owner = Atomics.load(rcuWords, rcuSlotBase(slot) + RCU_SLOT_OWNER);
    if (liveSlots.has(slot) ? owner <= 0 : owner !== 0)
      bad.push(
        `Rcu slot ${slot}: owner ${owner}, ${liveSlots.has(slot) ? 'claimed' : 'free'} expected`,
      );
  }
  // Every id that is not allocated can be allocated (up to the capacity left).
  const room = space.available();
  const probe = space.setAlloc(null, 0, SetType.NULL);
  if (probe >= 0) {
    let got = 0;
    while (space.alloc(probe, 1, space.maxId) > 0) got++;
    const want = Math.min(room, space.maxId - mapped);
    if (got !== want) bad.push(`${got} ids allocatable, want ${want}`);
    space.freeAllInSet(probe);
    space.setFree(probe);
  } else if (space.available() !== 0) bad.push(`probe setAlloc failed: ${probe}`);
  return bad;
}

/**
 * After `audit`: a flushRecords by `space` recycles every retired record, whatever grace
 * period a dead thread left behind, so limbo is empty and free is the whole pool less live.
 */
export function auditFlushed(space: IoasidSpace): string[] {
  space.flushRecords();
  const st = space.stats();
  const bad: string[] = [];
  if (st.limboRecords !== 0) bad.push(`after flushRecords: ${st.limboRecords} limbo records`);
  if (st.freeRecords !== MAX_IOASIDS - st.liveRecords)
    bad.push(
      `after flushRecords: ${st.freeRecords} free records, want ${MAX_IOASIDS} - ${st.liveRecords} live`,
    );
  return bad;
}
