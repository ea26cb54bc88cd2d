/**
 * Broken twins: deliberately broken variants of the allocator, one or more per invariant of
 * a stress run, each of which the run must catch and name (`--broken NAME`). A check that
 * no twin can trip proves nothing; test/stress_every_violation_kind_is_caught_by_its_broken_twin.test.ts
 * runs one twin per violation kind and fails for a kind that has none.
 *
 * Two kinds of twin: a fault the core injects itself (`spaceFault`, IoasidOptions.fault:
 * the real algorithm with one step removed), and a double of the space's API that every CPU
 * calls instead of the space (`double`: an allocator that returns what a broken one would).
 * A twin that a configuration cannot catch (its op never runs, its sets never fill) says so
 * in `cannotCatch`, and the CLI refuses that configuration with exit 2 rather than print a
 * PASS that proves nothing.
 *
 * ## Developer notes
 * Doubles run inside the CPU threads; they only call the real space and return something
 * else, so the space itself stays consistent and the end-of-run verification can still run.
 * They misbehave one call in N, from the 8th call on (so that even a short run on a loaded
 * machine sees it), leaving the run mostly correct around it.
 */
import { Errno } from '../src/core/ioasid/errno.js';
import {
  type AllocatorOps,
  INVALID_IOASID,
  type IoasidFault,
  type IoasidSpace,
  type Notification,
  NotifyEvent,
} from '../src/core/ioasid/ioasid-space.js';
import { TS_MAG_SIZE } from '../src/core/ioasid/space-layout.js';
import type { Prng } from '../src/workers/prng.js';
import type { ViolationKind } from './check/invariants.js';
import type { SubscriberApi } from './notify/stream-check.js';
import type { Subscription } from './notify/subscriptions.js';
import { OP_NAMES, type OpName } from './ops/index.js';
import { bindSpace, type StressSpace } from './ops/op.js';

/** What of a configuration decides whether a twin can be caught. */
export interface TwinTarget {
  cpus: number;
  mix: readonly number[];
  sets: number;
  quota: number;
  pasidBits: number;
  maxHeld: number;
  subscribers: number;
  customAllocator: boolean;
  /** 'cyclic' spaces cache no ids (id-magazine.ts). */
  policy: string;
}

/** The fields a twin's first violation must name (beyond its kind and reason). */
export type NamedField = 'op' | 'cpu' | 'id' | 'set';

/** One deliberately broken variant. */
export interface BrokenTwin {
  readonly name: string;
  /** The invariant it breaks: a run with it must report this kind. */
  readonly trips: ViolationKind;
  readonly description: string;
  /** The core's own fault injection it turns on. */
  readonly spaceFault?: IoasidFault;
  /** A double of the space that the CPUs call instead of the space. */
  readonly double?: (space: IoasidSpace, rng: Prng) => StressSpace;
  /**
   * A double of the space that the subscriber CPUs read through instead of the space (given
   * the run's subscriptions, to tell a global chain's reads from a set chain's).
   */
  readonly subscriberDouble?: (
    space: IoasidSpace,
    rng: Prng,
    subs: readonly Subscription[],
  ) => SubscriberApi;
  /** A double of the custom allocator host's ops that the op CPUs register instead. */
  readonly hostDouble?: (ops: AllocatorOps) => AllocatorOps;
  /**
   * What the first violation's reason must say, where several twins trip one kind (so the
   * check that caught it is the one this twin breaks).
   */
  readonly says?: RegExp;
  /** What the first violation of `trips` names: the op, the CPU, the id, the set. */
  readonly names: readonly NamedField[];
  /** The operations that first violation may name (each one that calls the broken method). */
  readonly ops?: readonly OpName[];
  /** Why configuration `t` cannot catch it; undefined when it can. */
  cannotCatch(t: TwinTarget): string | undefined;
  /**
   * Its violation is found only by the end-of-run verification. Any other twin's run goes on
   * past --seconds until it is caught (see `twinRunSeconds`): a race like check-then-act
   * needs two CPUs running at once, which a loaded machine may grant late.
   */
  readonly seenAtEnd?: boolean;
}

/**
 * How long a run with `twin` may last: --seconds, or for a twin caught online up to ten
 * times that (at least 30 s), ending as soon as it is caught.
 *
 * @param twin - the run's twin, if any
 * @param seconds - the configured length
 *
 * Context: pure.
 * @returns the most seconds the run steers for
 */
export function twinRunSeconds(twin: BrokenTwin | undefined, seconds: number): number {
  return twin && !twin.seenAtEnd ? Math.max(10 * seconds, 30) : seconds;
}

/**
 * A double's trigger: true on the 8th call and then every `n`th, so that even a short run on a
 * loaded machine sees the breakage, at a rate that leaves the run mostly correct.
 */
function oneCallIn(n: number): () => boolean {
  let calls = 0;
  return () => ++calls % n === 8 % n;
}

function weight(t: TwinTarget, op: OpName): number {
  return t.mix[OP_NAMES.indexOf(op)] ?? 0;
}

function needsOp(t: TwinTarget, op: OpName, why: string): string | undefined {
  return weight(t, op) > 0 ? undefined : `the mix has no ${op} (${why})`;
}

function needsSubscribers(t: TwinTarget): string | undefined {
  return t.subscribers > 0
    ? undefined
    : 'the run has no subscriber CPUs (--subscribers N, or --scenario notifiers)';
}

/** A member of `ops`'s group that calls `ops` but for the calls `bent` replaces. */
function memberWith(
  ops: AllocatorOps,
  bent: Partial<Pick<AllocatorOps, 'alloc' | 'free'>>,
): AllocatorOps {
  return {
    name: ops.name,
    alloc: bent.alloc ?? ((min, max) => ops.alloc(min, max)),
    free: bent.free ?? ((id) => ops.free(id)),
  };
}

function needsCustomAllocator(t: TwinTarget): string | undefined {
  return t.customAllocator ? undefined : 'the run has no custom allocator (--custom-allocator)';
}

/**
 * A double of the subscriber API whose reads `bend` changes, one read in `n` that it can;
 * with `only`, only reads of subscriptions on the global chain (`global`) or on a set chain.
 */
function bentReads(
  space: IoasidSpace,
  n: number,
  bend: (got: Notification[]) => boolean,
  only?: { subs: readonly Subscription[]; global: boolean },
): SubscriberApi {
  const due = oneCallIn(n);
  const bendable = (sub: number) =>
    !only || (only.subs.find((s) => s.sub === sub)?.chain === null) === only.global;
  let armed = false;
  return {
    waitNotifications: (sub, ms) => space.waitNotifications(sub, ms),
    readNotifications: (sub, max) => {
      armed ||= due();
      const got = space.readNotifications(sub, max);
      // The next read it can bend, once the trigger fired.
      if (armed && bendable(sub) && bend(got)) armed = false;
      return got;
    },
  };
}

/** After the last event of `got`, between its seq and the next one (the order stays right). */
function appendFree(got: Notification[], id: number, set: number, seq: number): void {
  got.push({ event: NotifyEvent.FREE, id, spid: INVALID_IOASID, set, data: 0, seq: seq + 0.5 });
}

/** Reads of which one in 64 that ends with a FREE repeats it (on the chains `only` names). */
function repeatsLastFree(
  space: IoasidSpace,
  only: { subs: readonly Subscription[]; global: boolean },
): SubscriberApi {
  return bentReads(
    space,
    64,
    (got) => {
      const last = got[got.length - 1];
      if (!last || last.event !== NotifyEvent.FREE) return false;
      appendFree(got, last.id, last.set, last.seq);
      return true;
    },
    only,
  );
}

/** An id that is not live, looking from a random point (at most 256 probes), or 0. */
function someFreeId(space: IoasidSpace, rng: Prng): number {
  const span = space.maxId;
  const start = rng.below(span);
  for (let i = 0; i < Math.min(span, 256); i++) {
    const id = 1 + ((start + i) % span);
    if (space.inspect(id).state === 'free') return id;
  }
  return 0;
}

/**
 * A live id in [min, top], looking from a random point (at most 256 probes), or 0; `top` is
 * about twice the highest id seen, where the lowest-first policy packs the live ids.
 */
function someLiveId(space: IoasidSpace, rng: Prng, min: number, top: number): number {
  const span = top - min + 1;
  const start = rng.below(span);
  for (let i = 0; i < Math.min(span, 256); i++) {
    const id = min + ((start + i) % span);
    if (space.inspect(id).state !== 'free') return id;
  }
  return 0;
}

export const BROKEN_TWINS: readonly BrokenTwin[] = [
  {
    name: 'reclaim-without-gp',
    trips: 'record-recycled-under-reader',
    description: "the allocator reuses a freed id's record at once, without a grace period",
    spaceFault: 'reclaim-without-gp',
    names: ['op', 'cpu', 'id'],
    // reallocUnderReader recycles under its own read-side section: seen every time. Finds
    // that sleep see it only when another CPU happens to free and reallocate their id
    // meanwhile: by chance, so not counted on.
    cannotCatch: (t) =>
      needsOp(t, 'reallocUnderReader', 'lookups alone see a record reused only by chance'),
  },
  {
    name: 'quota-check-then-act',
    trips: 'quota-exceeded',
    description: 'the allocator checks the quota, then takes a unit: two CPUs pass the check',
    spaceFault: 'quota-check-then-act',
    names: ['set'],
    cannotCatch(t) {
      const hold = t.cpus * t.maxHeld;
      return (
        needsOp(t, 'alloc', 'only allocations take quota') ??
        (t.cpus < 2 ? 'it needs 2 CPUs racing for the last unit of a quota' : undefined) ??
        (hold <= t.sets * t.quota
          ? `its sets never fill: the CPUs hold at most ${hold} ids, the sets take ` +
            `${t.sets * t.quota} (--scenario quota-storm, or fewer --sets or a smaller --quota)`
          : undefined)
      );
    },
  },
  {
    name: 'magazine-no-steal',
    trips: 'bad-result',
    description:
      "an alloc that finds no free bit returns -ENOSPC without taking the ids cached in other threads' magazines",
    spaceFault: 'magazine-no-steal',
    says: /were never all taken during the call: at most \d+ were/,
    names: ['op', 'cpu', 'set'],
    ops: ['alloc'],
    cannotCatch(t) {
      // The range fills only if what the CPUs can hold, plus what their magazines cache,
      // reaches its size: a tiny space (quota-storm).
      const ids = 2 ** t.pasidBits - 1;
      const most = Math.min(t.cpus * t.maxHeld, t.sets * t.quota) + t.cpus * TS_MAG_SIZE;
      return (
        needsOp(t, 'alloc', 'only allocations say -ENOSPC') ??
        (t.policy === 'cyclic' ? 'a cyclic space caches no ids in magazines' : undefined) ??
        (t.cpus < 2 ? "it needs 2 CPUs: a thread's own magazine is always searched" : undefined) ??
        (most < ids
          ? `its ${ids} ids never fill: the CPUs hold at most ${most} with their magazines ` +
            '(--scenario quota-storm, or a smaller --pasid-bits)'
          : undefined)
      );
    },
  },
  {
    name: 'alloc-returns-live-id',
    trips: 'id-live-twice',
    description: 'one alloc in 32 returns an id that is already live instead of a free one',
    double(space, rng) {
      const api = bindSpace(space);
      const now = oneCallIn(32);
      let seen = 0;
      api.alloc = (set, min, max, data) => {
        const top = Math.min(max, Math.max(min + 63, 2 * seen));
        const live = now() ? someLiveId(space, rng, min, top) : 0;
        if (live > 0) return live;
        const id = space.alloc(set, min, max, data);
        if (id > seen) seen = id;
        return id;
      };
      return api;
    },
    names: ['op', 'cpu', 'id', 'set'],
    ops: ['alloc', 'reallocUnderReader'],
    cannotCatch: (t) => needsOp(t, 'alloc', 'only allocations hand out ids'),
  },
  {
    name: 'capacity-leak',
    trips: 'capacity-accounting',
    description: 'one alloc in 1024 also takes a unit of capacity that no set accounts for',
    double(space) {
      const api = bindSpace(space);
      const now = oneCallIn(1024);
      api.alloc = (set, min, max, data) => {
        if (now()) space.reserveCapacity(1);
        return space.alloc(set, min, max, data);
      };
      return api;
    },
    names: [],
    seenAtEnd: true,
    cannotCatch(t) {
      const left = 2 ** t.pasidBits - 1 - t.sets * t.quota;
      return (
        needsOp(t, 'alloc', 'the double leaks capacity from inside alloc') ??
        (left < 1 ? 'the shared sets take the whole capacity: none is left to leak' : undefined)
      );
    },
  },
  {
    name: 'find-returns-wrong-data',
    trips: 'wrong-data',
    description: "one find in 64 returns a neighbour's data (the low bit flipped)",
    double(space) {
      const api = bindSpace(space);
      const due = oneCallIn(64);
      let armed = false;
      api.find = (set, id, getter) => {
        armed ||= due();
        const r = getter ? space.find(set, id, getter) : space.find(set, id);
        if (!armed || r <= 0) return r;
        armed = false; // the next lookup that finds data, once the trigger fired
        return r ^ 1;
      };
      return api;
    },
    names: ['op', 'cpu', 'id', 'set'],
    ops: ['find', 'reallocUnderReader'],
    cannotCatch: (t) => needsOp(t, 'find', 'only lookups return data'),
  },
  {
    name: 'free-leaks-id',
    trips: 'leak',
    description: 'one free in 256 of an id it would reclaim returns 0 and frees nothing',
    double(space) {
      const api = bindSpace(space);
      const due = oneCallIn(256);
      let armed = false;
      api.free = (set, id) => {
        armed ||= due();
        if (armed && set !== null) {
          const s = space.inspect(id);
          if (s.set === set && s.refs === 1 && s.state !== 'free-pending') {
            armed = false; // the next free that would reclaim, once the trigger fired
            return 0;
          }
        }
        return space.free(set, id);
      };
      return api;
    },
    // The end-of-run check names the id and its set; a CPU that reuses the set's slot
    // first names the set (its shadow count of live ids).
    names: ['set'],
    seenAtEnd: true,
    cannotCatch: (t) => needsOp(t, 'free', 'the double leaks from inside free'),
  },
  {
    name: 'free-fails-spuriously',
    trips: 'bad-result',
    description: 'one free in 256 of a held id returns -ENOENT and frees nothing',
    double(space) {
      const api = bindSpace(space);
      const now = oneCallIn(256);
      api.free = (set, id) => (now() ? -Errno.ENOENT : space.free(set, id));
      return api;
    },
    names: ['op', 'cpu', 'id', 'set'],
    ops: ['free', 'reallocUnderReader'],
    cannotCatch: (t) => needsOp(t, 'free', 'the double fails inside free'),
  },
  {
    name: 'notify-reorders',
    trips: 'notify-order',
    description: 'one read of notifications in 16 returns its first two events swapped',
    subscriberDouble: (space) =>
      bentReads(space, 16, (got) => {
        if (got.length < 2 || got[0]!.event === 'overflow') return false;
        [got[0], got[1]] = [got[1]!, got[0]!];
        return true;
      }),
    names: ['cpu', 'id'],
    cannotCatch: needsSubscribers,
  },
  {
    name: 'notify-no-gating',
    trips: 'notify-gating',
    description:
      'the space lets a subscriber read an event before the subscribers ahead of it on its chain',
    spaceFault: 'notify-no-gating',
    names: ['cpu', 'id'],
    cannotCatch: needsSubscribers,
  },
  {
    name: 'notify-drops-free',
    trips: 'notify-missed',
    description: 'one read of notifications in 64 drops a FREE event (not its last event)',
    subscriberDouble: (space) =>
      bentReads(space, 64, (got) => {
        // Not the last: the reader's published position stays the space's (no gating noise).
        const i = got.findIndex((r, k) => k < got.length - 1 && r.event === NotifyEvent.FREE);
        if (i < 0) return false;
        got.splice(i, 1);
        return true;
      }),
    names: [],
    seenAtEnd: true,
    cannotCatch: (t) =>
      needsSubscribers(t) ??
      needsOp(t, 'get', 'a FREE needs a free that leaves references') ??
      needsOp(t, 'free', 'only free raises FREE'),
  },
  {
    name: 'notify-phantom',
    trips: 'notify-spurious',
    description:
      "one read of a set chain's notifications in 64 adds a FREE of an id that is not live, after its last event",
    subscriberDouble: (space, rng, subs) =>
      bentReads(
        space,
        64,
        (got) => {
          const last = got[got.length - 1];
          if (!last || last.event === 'overflow') return false;
          const id = someFreeId(space, rng);
          if (id !== 0) appendFree(got, id, last.set, last.seq);
          return id !== 0;
        },
        { subs, global: false },
      ),
    says: /never its ALLOC/,
    names: ['cpu', 'id'],
    cannotCatch: needsSubscribers,
  },
  {
    name: 'notify-repeats-free',
    trips: 'notify-spurious',
    description: "one read of a set chain's notifications in 64 that ends with a FREE repeats it",
    subscriberDouble: (space, _rng, subs) => repeatsLastFree(space, { subs, global: false }),
    says: /a second FREE of one allocation/,
    names: ['cpu', 'id'],
    cannotCatch: (t) =>
      needsSubscribers(t) ?? needsOp(t, 'get', 'a FREE needs a free that leaves references'),
  },
  {
    name: 'notify-global-free-twice',
    trips: 'notify-spurious',
    description:
      "one read of the global chain's notifications in 64 that ends with a FREE repeats it",
    subscriberDouble: (space, _rng, subs) => repeatsLastFree(space, { subs, global: true }),
    says: /FREE\(s\) of id \d+, but frees left it free-pending|more than the \d+ FREEs that frees raised/,
    names: [],
    seenAtEnd: true,
    cannotCatch: (t) =>
      needsSubscribers(t) ?? needsOp(t, 'get', 'a FREE needs a free that leaves references'),
  },
  {
    name: 'notify-overcounts-lost',
    trips: 'notify-spurious',
    description:
      "one read of the global chain's notifications in 64 starts with an overflow entry that counts a FREE lost when none was",
    // No FREE of any id is read twice, so only the end-of-run total (read + lost <= made)
    // can see it: the twin of that check alone (notify/verify-events.ts).
    subscriberDouble: (space, _rng, subs) =>
      bentReads(
        space,
        64,
        (got) => {
          got.unshift({ event: 'overflow', lost: 1 });
          return true;
        },
        { subs, global: true },
      ),
    says: /more than the \d+ FREEs that frees raised/,
    names: [],
    seenAtEnd: true,
    cannotCatch: (t) =>
      needsSubscribers(t) ?? needsOp(t, 'get', 'a FREE needs a free that leaves references'),
  },
  {
    name: 'host-leaky-free',
    trips: 'leak',
    description: "one member free in 64 does not give the id back to the custom allocator's host",
    hostDouble(ops) {
      const due = oneCallIn(64);
      return memberWith(ops, { free: (id) => void (due() || ops.free(id)) });
    },
    says: /custom allocator's host still holds \d+ ids/,
    names: [],
    seenAtEnd: true,
    cannotCatch: (t) =>
      needsCustomAllocator(t) ?? needsOp(t, 'free', 'the double leaks from inside a reclaim'),
  },
  {
    name: 'host-frees-twice',
    trips: 'leak',
    description: "one member free in 64 asks the custom allocator's host to free the id twice",
    hostDouble(ops) {
      const due = oneCallIn(64);
      return memberWith(ops, {
        free(id) {
          ops.free(id);
          if (due()) ops.free(id);
        },
      });
    },
    says: /custom allocator's host was asked \d+ times to free an id it did not hold/,
    names: [],
    seenAtEnd: true,
    cannotCatch: (t) =>
      needsCustomAllocator(t) ?? needsOp(t, 'free', 'the double frees from inside a reclaim'),
  },
  {
    name: 'host-foreign-id',
    trips: 'bad-result',
    description:
      "one member alloc in 64 returns an id the custom allocator's host took back (not handed out)",
    hostDouble(ops) {
      const due = oneCallIn(64);
      return memberWith(ops, {
        alloc(min, max) {
          const id = ops.alloc(min, max);
          if (id > 0 && due()) ops.free(id); // still in range, not live: the space takes it
          return id;
        },
      });
    },
    says: /which the custom allocator 'stress-host' did not hand out/,
    names: ['op', 'cpu', 'id'],
    ops: ['alloc', 'reallocUnderReader'],
    cannotCatch: (t) => needsCustomAllocator(t) ?? needsOp(t, 'alloc', 'the double is the alloc'),
  },
];

/** Every twin's name, for `--broken`. */
export const BROKEN_TWIN_NAMES: readonly string[] = BROKEN_TWINS.map((t) => t.name);

/**
 * A twin by name.
 *
 * @param name - a twin's name, or undefined
 *
 * Context: pure.
 * @returns the twin, or undefined for none; throws RangeError for an unknown name
 */
export function brokenTwin(name: string | undefined): BrokenTwin | undefined {
  if (name === undefined) return undefined;
  const twin = BROKEN_TWINS.find((t) => t.name === name);
  if (!twin) throw new RangeError(`no broken twin '${name}'`);
  return twin;
}
