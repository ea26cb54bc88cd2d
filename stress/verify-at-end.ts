/**
 * End-of-run verification of a stress run. Runs with every CPU idle (its task returned) and
 * every killed one recovered, and reports what it finds as `leak` violations (and the
 * checker's own checks once more).
 *
 * In order: the checker's last pass and an exact capacity check; each kill was recovered
 * exactly once and no lock or GP_LOCK is held; the shadow counts agree with the shadow
 * claims up to one per kill; the harness frees the ids killed CPUs left and drops their
 * references (at most what they held, plus one in-flight alloc each) and destroys their
 * scratch sets (the one each owned, or one its setAlloc was creating); capacity exact again;
 * every shared set destroyed gives all capacity back; after a grace period every record is
 * free; no id is left live, no SPID bound; every shadow claim left was a killed CPU's on an
 * id recovered here; and a record recycled under a reader that no CPU named is named now.
 *
 * Killed CPUs died anywhere, inside locks and grace periods included, so besides their ids
 * (which nobody else frees) they may have left: a scratch set, live or free-pending, empty or
 * not; shadow claims on ids they still held; references and SPIDs on those ids. Everything
 * else they held (locks, GP_LOCK, a half-done alloc, reclaim or setAlloc, records, capacity)
 * `releaseThread` took back, and this checks it did, exactly.
 */
import type { AllocatorOps, IoasidSpace } from '../src/core/ioasid/ioasid-space.js';
import type { CpuGeometry } from '../src/workers/run-layout.js';
import { type CheckGeometry, shadowOwnerBase, shadowSetBase } from './check/check-layout.js';
import { Checker } from './check/checker.js';
import { readViolations, reportAtEnd } from './check/violations.js';
import { SCRATCH_QUOTA } from './config.js';
import type { CustomHost } from './custom-host.js';
import type { Deaths } from './fleet.js';
import type { Subscription } from './notify/subscriptions.js';
import { ledgerFreed, verifyEventsAtEnd } from './notify/verify-events.js';
import type { SpaceProbe } from './space-probe.js';

/** What the verification looks at. */
export interface EndOfRun {
  space: IoasidSpace;
  probe: SpaceProbe;
  run: SharedArrayBuffer;
  runGeometry: CpuGeometry;
  check: Int32Array<SharedArrayBuffer>;
  checkGeometry: CheckGeometry;
  /** The shared sets. */
  sets: readonly number[];
  /** Free records right after the shared sets were created. */
  freeRecords0: number;
  deaths: Deaths;
  /** Where each leak's text also goes (the report's problems). */
  problems: string[];
  /** The notifier subscriptions (empty in a run without subscriber CPUs). */
  subscriptions?: readonly Subscription[] | undefined;
  /** The custom allocator's host and the harness's own member of its group, if any. */
  host?: { host: CustomHost; ops: AllocatorOps } | undefined;
}

/** Report a leak: `why`, the number it explains, and the set and id it concerns. */
export type Leak = (why: string, detail: number, set?: number | null, id?: number | null) => void;

/**
 * Verify the end of a run (module notes).
 *
 * @param e - the space, the buffers and what the killed CPUs left
 *
 * Context: main thread, with every CPU stopped and the checker thread gone.
 * @returns how many ids were recovered from killed CPUs
 */
export function verifyAtEnd(e: EndOfRun): number {
  const { space, check: w, checkGeometry: g, sets } = e;
  const leak: Leak = (why, detail, set = null, id = null) => {
    e.problems.push(`leak: ${why}`);
    reportAtEnd(w, { kind: 'leak', id, set, detail, why });
  };
  const checker = new Checker(space, e.run, e.runGeometry, w.buffer, g, 'end-of-run');
  checker.pass();
  checker.quiescentCheck();
  checkEveryKillRecovered(space, e.probe, e.deaths, leak);
  checkShadowCounts(space, w, g, e.deaths, leak);
  // Its frees that leave references raise FREE: the ledger counts them (notify/).
  const subs = e.subscriptions ?? [];
  const onPending = subs.length > 0 ? (id: number) => ledgerFreed(w, g, id) : () => {};
  const recovered = recoverWhatKilledCpusLeft(space, sets, g, e.deaths, leak, onPending);
  for (const set of sets) {
    const info = space.setInfo(set);
    if (info?.count !== 0)
      leak(`set ${set} counts ${info?.count} ids after freeAllInSet`, info?.count ?? -1, set);
  }
  checker.quiescentCheck();
  for (const set of sets) {
    const r = space.setFree(set);
    if (r !== 0) leak(`setFree(${set}) returned ${r} on an empty set`, r, set);
  }
  if (space.available() !== space.capacity())
    leak(
      `available ${space.available()} != capacity ${space.capacity()} with no set left`,
      space.capacity() - space.available(),
    );
  space.flushRecords();
  const st = space.stats();
  if (st.freeRecords !== e.freeRecords0 || st.liveRecords !== 0)
    leak(
      `${st.freeRecords} free records after a grace period, ${e.freeRecords0} at the start ` +
        `(${st.liveRecords} live, ${st.limboRecords} waiting)`,
      e.freeRecords0 - st.freeRecords,
    );
  const idMax = 2 ** g.pasidBits - 1;
  for (let id = 1; id <= idMax; id++) {
    const s = space.inspect(id);
    if (s.state !== 'free') {
      leak(`id ${id} is ${s.state} after everything was freed`, 1, s.set, id);
      break;
    }
  }
  // A kill inside attachSpid/detachSpid must not leave a binding once every id is gone.
  const spidEntries = e.probe.leftovers().spidEntries;
  if (spidEntries !== 0)
    leak(`${spidEntries} SPID bindings left after every id was freed`, spidEntries);
  checkShadowClaims(w, g, recovered, e.deaths, leak);
  nameUnattributedRecycles(space, w);
  // Every event was raised now: drain the subscriptions, count the FREEs.
  if (subs.length > 0) verifyEventsAtEnd({ space, probe: e.probe, w, g, subs });
  if (e.host) checkCustomHost(space, e.host.host, e.host.ops, leak);
  return recovered.size;
}

/**
 * With every id freed, the harness's member (the last one) leaves the custom group, which
 * runs the frees owed for dead threads; then the host holds no id but those handed to threads
 * that died inside a member's alloc (`allocatorAbandoned`), and freed twice no id but those a
 * deferred free gave back again (a member's free is at least once).
 */
function checkCustomHost(
  space: IoasidSpace,
  host: CustomHost,
  ops: AllocatorOps,
  leak: Leak,
): void {
  const r = space.unregisterAllocator(ops);
  if (r !== 0) leak(`the last member of the custom allocator group could not leave: ${r}`, r);
  if (space.activeAllocator() !== 'default')
    leak(
      `the custom group's last member left, but '${space.activeAllocator()}' is still active`,
      1,
    );
  const st = space.stats();
  const held = host.held();
  if (held > st.allocatorAbandoned)
    leak(
      `the custom allocator's host still holds ${held} ids with every id freed (ids abandoned ` +
        `by threads killed inside its alloc: ${st.allocatorAbandoned})`,
      held - st.allocatorAbandoned,
    );
  const twice = host.doubleFrees();
  if (twice > st.allocatorDeferredFrees)
    leak(
      `the custom allocator's host was asked ${twice} times to free an id it did not hold ` +
        `(frees done again for dead threads: ${st.allocatorDeferredFrees})`,
      twice - st.allocatorDeferredFrees,
    );
}

/** Each kill was recovered exactly once, and no lock or GP_LOCK outlived its dead holder. */
function checkEveryKillRecovered(
  space: IoasidSpace,
  probe: SpaceProbe,
  deaths: Deaths,
  leak: Leak,
): void {
  const recovered = space.stats().threadsRecovered;
  const released = space.rcu.stats().released;
  if (recovered !== deaths.kills || released !== deaths.kills)
    leak(
      `${deaths.kills} CPUs killed, ${recovered} thread slots recovered, ${released} Rcu slots released`,
      deaths.kills - recovered,
    );
  const held = probe.leftovers();
  if (held.setLockOwner !== 0 || held.spidLockOwner !== 0 || held.gpLockOwner !== 0)
    leak(
      `locks held with every CPU idle: set lock by slot ${held.setLockOwner - 1}, SPID lock by ` +
        `slot ${held.spidLockOwner - 1}, GP_LOCK by thread ${held.gpLockOwner - 1} (-1 = free)`,
      1,
    );
}

/**
 * Shadow live counts against the shadow claims they count, per set, before the killed CPUs'
 * ids are freed (every live CPU has released all of its own). Not equal in general: a CPU
 * killed between the two words of a claim (alloc) leaves the count one below the claims of
 * that set, and one killed between those of a release (free, put, freeAllInSet) one above;
 * no other step leaves them apart (cpu-view.ts "Kill safety"). So the differences add up to
 * at most one per kill.
 */
function checkShadowCounts(
  space: IoasidSpace,
  w: Int32Array<SharedArrayBuffer>,
  g: CheckGeometry,
  deaths: Deaths,
  leak: Leak,
): void {
  const claims = new Array<number>(g.maxSets).fill(0);
  for (let id = 1; id < 2 ** g.pasidBits; id++) {
    if (Atomics.load(w, shadowOwnerBase(g) + id) === 0) continue;
    const set = space.inspect(id).set;
    if (set !== null) claims[set]!++; // a claim on a free id is reported by checkShadowClaims
  }
  let apart = 0;
  let worst = -1;
  for (let set = 0; set < g.maxSets; set++) {
    const d = Math.abs(Atomics.load(w, shadowSetBase(g, set)) - claims[set]!);
    apart += d;
    if (d > 0 && worst < 0) worst = set;
  }
  if (apart > deaths.kills)
    leak(
      `shadow live counts differ from the shadow claims by ${apart} in all, with ${deaths.kills} ` +
        `CPUs killed (first in set ${worst})`,
      apart - deaths.kills,
      worst,
    );
}

/**
 * Free the ids killed CPUs left live in every set, drop their references, and destroy the
 * scratch sets they left; check that no more is left than they could have left. Returns the
 * ids reclaimed.
 */
function recoverWhatKilledCpusLeft(
  space: IoasidSpace,
  sets: readonly number[],
  g: CheckGeometry,
  deaths: Deaths,
  leak: Leak,
  onPending: (id: number) => void,
): Set<number> {
  const recovered = new Set<number>();
  let firstLeft: { id: number; set: number } | undefined;
  let unknownSets = 0;
  let firstUnknown = -1;
  for (let set = 0; set < g.maxSets; set++) {
    const info = space.setInfo(set);
    if (!info) continue;
    // Any set but the shared ones is a killed CPU's scratch set (a live CPU destroys its own
    // before it returns), created with SCRATCH_QUOTA: one it owned when it died, or one its
    // setAlloc created as it died (cpu-view.ts "Kill safety").
    const scratch = !sets.includes(set);
    if (scratch) {
      if (!deaths.scratchSets.has(set)) {
        unknownSets++;
        if (firstUnknown < 0) firstUnknown = set;
      }
      if (info.quota !== SCRATCH_QUOTA)
        leak(`set ${set} is neither shared nor a scratch set (quota ${info.quota})`, 1, set);
    }
    const before = recovered.size;
    dropEveryReference(space, set, recovered, onPending);
    if (!firstLeft && recovered.size > before) firstLeft = { id: Math.min(...recovered), set };
    // A free-pending scratch set is destroyed with its last id.
    if (!space.setInfo(set)) continue;
    const n = space.freeAllInSet(set);
    if (n !== 0)
      leak(`freeAllInSet(${set}) found ${n} ids after every reference was dropped`, n, set);
    if (!scratch) continue;
    const r = space.setFree(set);
    if (r !== 0) leak(`setFree(${set}) of a killed CPU's empty scratch set returned ${r}`, 1, set);
  }
  if (recovered.size > deaths.heldBound)
    leak(
      `${recovered.size} ids still live after the CPUs returned theirs (killed CPUs could hold ` +
        `at most ${deaths.heldBound}); the first is id ${firstLeft?.id} in set ${firstLeft?.set}`,
      recovered.size - deaths.heldBound,
      firstLeft?.set,
      firstLeft?.id,
    );
  if (unknownSets > deaths.diedCreating)
    leak(
      `${unknownSets} sets left that no killed CPU owned, but only ${deaths.diedCreating} died ` +
        `inside setAlloc (the first is set ${firstUnknown})`,
      unknownSets - deaths.diedCreating,
      firstUnknown,
    );
  return recovered;
}

/**
 * A shadow claim left can only be a killed CPU's, on an id it still held (so one recovered at
 * the end): claims are made after alloc returned the id and released before the call that
 * reclaims it (cpu-view.ts "Kill safety"). Not the converse, which is not sound: a killed CPU
 * may leave live ids unclaimed (cut between alloc and its claim, or after the releases of a
 * freeAllInSet); those are bounded by deaths.heldBound instead.
 */
function checkShadowClaims(
  w: Int32Array<SharedArrayBuffer>,
  g: CheckGeometry,
  recovered: Set<number>,
  deaths: Deaths,
  leak: Leak,
): void {
  let shadowLeft = 0;
  let firstStray = 0;
  for (let id = 1; id < 2 ** g.pasidBits; id++) {
    const owner = Atomics.load(w, shadowOwnerBase(g) + id);
    if (owner === 0) continue;
    shadowLeft++;
    if (firstStray === 0 && (!recovered.has(id) || !deaths.cpus.has(owner - 1))) firstStray = id;
  }
  if (firstStray !== 0)
    leak(
      `shadow claim on id ${firstStray} by CPU ${Atomics.load(w, shadowOwnerBase(g) + firstStray) - 1}, ` +
        `not a killed CPU's id recovered at the end (${shadowLeft} claims left, ${recovered.size} ids recovered)`,
      1,
      null,
      firstStray,
    );
}

/**
 * CPUs name a record recycled under their own sleeping lookups (stress/ops/find.ts); any
 * other lookup that saw one (the space counts them all) is named here, without a CPU.
 */
function nameUnattributedRecycles(space: IoasidSpace, w: Int32Array<SharedArrayBuffer>): void {
  const counted = space.stats().recycledUnderReader;
  const named = readViolations(w).find((t) => t.kind === 'record-recycled-under-reader')!.count;
  if (counted > 0 && named === 0)
    reportAtEnd(w, {
      kind: 'record-recycled-under-reader',
      id: null,
      set: null,
      detail: counted,
      why:
        `the space counted ${counted} record(s) recycled under a reader (stats().recycledUnderReader), ` +
        'in lookups that did not sleep in their read-side section',
    });
}

/**
 * What a release path does for a dead owner (VFIO closing a dead VM's fd): free every id of
 * `set` and put every reference the dead holder still had, so free-pending ids are reclaimed.
 * Adds each id it reclaimed to `reclaimed`; `onPending` hears of each free that left
 * references (it raised a FREE).
 */
function dropEveryReference(
  space: IoasidSpace,
  set: number,
  reclaimed: Set<number>,
  onPending: (id: number) => void,
): void {
  const ids: number[] = [];
  space.setForEachIoasid(set, (id) => ids.push(id));
  for (const id of ids) {
    const state = space.inspect(id).state;
    if (state === 'idle' || state === 'active') {
      if (space.inspect(id).refs === 1) {
        if (space.free(set, id) === 0) reclaimed.add(id);
        continue;
      }
      if (space.free(set, id) === 0) onPending(id);
    }
    while (space.inspect(id).state === 'free-pending')
      if (space.put(set, id) === 1) reclaimed.add(id);
  }
}
