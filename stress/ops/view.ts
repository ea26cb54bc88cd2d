/**
 * What a caller of the IOASID API knows: the ids it holds (with their references, SPID and
 * data), the sets whose state it knows exactly, and, for the only user of a space, the
 * capacity and the allocation cursor. The stress operations (one file each in this folder)
 * pick their arguments from a view, predict their results from it and update it; that one
 * definition serves every user of the ops:
 *
 * - a stress CPU holds a *partial* view (`complete: false`): its own ids and its scratch set.
 *   Every operation it makes on what it holds has an exact expected result (nobody else can
 *   change an id it holds); lookups of ids held by others, and allocations, whose results
 *   depend on the other CPUs, are checked against what is legal (stress/cpu/cpu-view.ts adds
 *   the kill-safe bookkeeping and the shadow oracle);
 * - the model-based test holds a *complete* view (`complete: true`) of a space it alone uses:
 *   there every result is predicted exactly, bad arguments included (test/ioasid_model.test.ts);
 * - the multi-worker tests run the same ops on partial views (test/workers/).
 *
 * ## Developer notes
 * The transitions (`adopt`, `releasing`, `kept`, `reclaimed`, `setCreated`, ...) are the
 * points where a stress CPU must publish something before or after the call (kill safety):
 * ops call them in that order and the CPU's subclass overrides them. A violated expectation
 * goes through `breach`, which throws here (the model test fails at once) and is reported as
 * a violation by a CPU.
 */
import { Errno } from '../../src/core/ioasid/errno.js';
import type { Prng } from '../../src/workers/prng.js';
import type { ViolationKind } from '../check/invariants.js';

/** An id the view holds: one allocation, with what the library counts for it. */
export interface HeldId {
  readonly id: number;
  readonly set: number;
  /** References the library counts (1 from alloc, +1 per get). */
  refs: number;
  /** free was called while references remained: the last put reclaims it. */
  pending: boolean;
  /** The SPID bound to it, or null. */
  spid: number | null;
  /** Its private data (0 = none). */
  data: number;
}

/** A set whose state the view knows exactly. */
export interface KnownSet {
  readonly type: number;
  readonly token: number | null;
  readonly quota: number;
  /** Live ids in it (free-pending ones included). */
  count: number;
  /** setFree was called while ids remained: it goes with its last id. */
  pending: boolean;
}

/** A result that breaks what the view predicts. */
export interface Breach {
  kind: ViolationKind;
  why: string;
  /** The number `why` explains (default: the result). */
  detail?: number;
  /** The id and set it concerns, when not the call's own. */
  id?: number;
  set?: number;
}

/** How a view is set up. */
export interface ViewOptions {
  /** The only user of the space: every result is predicted exactly. */
  complete: boolean;
  /** The CPU this view belongs to (0 in the model test); tags data and SPIDs. */
  cpu: number;
  /** Distinct per task, so a replacement CPU's SPIDs never collide with its predecessor's. */
  generation: number;
  /** The caller's seeded PRNG: every pick comes from it. */
  rng: Prng;
  /** Allocation range. */
  idMin: number;
  idMax: number;
  /** Set slots of the space. */
  maxSets: number;
  /** The space's capacity (a complete view tracks what is available). */
  capacity: number;
  /** The space allocates cyclically (a complete view predicts the id). */
  cyclic: boolean;
  /** Sets shared by every CPU (allocated by the harness, never destroyed during the run). */
  shared: readonly number[];
  /** Most ids held at once; beyond it, alloc turns into free. */
  maxHeld: number;
  /** One alloc in this many starts its range at a random id (0: never): -ENOSPC while the set still has quota. */
  subRangeOneIn: number;
  /** Quota of a scratch set. */
  scratchQuota: number;
  /** One find in this many sleeps inside its getter (inside the RCU read-side section). */
  getterSleepOneIn: number;
  /** Allocations go through a custom allocator (then alloc may return -EAGAIN). */
  customAllocator?: boolean | undefined;
}

/** A result broke the contract of a view that cannot report it (the model test). */
export class ContractBreach extends Error {
  override name = 'ContractBreach';
}

const NAP = new Int32Array(new SharedArrayBuffer(4));

/** A caller's view of the space. */
export class View {
  readonly complete: boolean;
  readonly o: ViewOptions;
  readonly rng: Prng;
  /** The ids held, in no order (random picks index it). */
  readonly held: HeldId[] = [];
  readonly #byId = new Map<number, HeldId>();
  /** Held ids with a SPID, by set and SPID (spidKey). */
  readonly #bySpid = new Map<number, HeldId>();
  /** Sets known exactly: every set (complete) or the caller's own scratch set. */
  readonly sets = new Map<number, KnownSet>();
  /** Capacity not given to sets or reservations (complete views). */
  available: number;
  /** Capacity taken by reserveCapacity and not cancelled (complete views). */
  reserved = 0;
  /** Where a cyclic allocation starts looking (complete views). */
  next = 0;
  /** The caller's scratch set, or -1. */
  scratch = -1;
  /** Its setFree said -EBUSY: it is destroyed with its last id. */
  scratchDying = false;
  #dataSeq = 1;
  #spidSeq = 1;

  /**
   * @param o - how the view is set up
   *
   * Context: any thread; the view is private to it.
   */
  constructor(o: ViewOptions) {
    this.complete = o.complete;
    this.o = o;
    this.rng = o.rng;
    this.available = o.capacity;
  }

  /**
   * @param id - an id
   * @returns what the view knows of it, if it holds it
   */
  heldId(id: number): HeldId | undefined {
    return this.#byId.get(id);
  }

  /**
   * A random held id that passes `ok`, scanning from a random start.
   *
   * @param ok - the filter
   * @returns one, or undefined when none passes
   */
  pickHeld(ok: (h: HeldId) => boolean): HeldId | undefined {
    const n = this.held.length;
    if (n === 0) return undefined;
    const start = this.rng.below(n);
    for (let i = 0; i < n; i++) {
      const h = this.held[(start + i) % n]!;
      if (ok(h)) return h;
    }
    return undefined;
  }

  /**
   * @param set - a set id
   * @returns the held ids of `set`, lowest id first
   */
  heldIn(set: number): HeldId[] {
    return this.held.filter((h) => h.set === set).sort((a, b) => a.id - b.id);
  }

  /**
   * The held id bound to `spid` in `set`.
   *
   * @param set - a set id
   * @param spid - a SPID
   * @returns it, if the view holds it
   */
  heldBySpid(set: number, spid: number): HeldId | undefined {
    return this.#bySpid.get(spidKey(set, spid));
  }

  /**
   * `spid` is bound to `h` now (attachSpid returned 0).
   *
   * @param h - a held id
   * @param spid - the SPID
   * @returns nothing
   */
  bindSpid(h: HeldId, spid: number): void {
    if (h.spid !== null) this.#bySpid.delete(spidKey(h.set, h.spid));
    h.spid = spid;
    this.#bySpid.set(spidKey(h.set, spid), h);
  }

  /**
   * `h`'s SPID is unbound (detachSpid returned 0, or `h` was reclaimed).
   *
   * @param h - a held id
   * @returns nothing
   */
  unbindSpid(h: HeldId): void {
    if (h.spid === null) return;
    this.#bySpid.delete(spidKey(h.set, h.spid));
    h.spid = null;
  }

  /** @returns fresh 31-bit data, never 0; the CPU in the top bits makes others' data recognisable */
  nextData(): number {
    this.#dataSeq = (this.#dataSeq + 1) & 0xfffff;
    return ((this.o.cpu & 0x3ff) << 20) | (this.#dataSeq + 1);
  }

  /**
   * @returns a fresh SPID: generation (8 bits) | cpu (6 bits) | sequence (17 bits), unique
   *   among live SPIDs unless one id keeps its SPID across 2^17 attaches of its CPU
   */
  nextSpid(): number {
    return (
      ((this.o.generation & 0xff) << 23) | ((this.o.cpu & 0x3f) << 17) | (this.#spidSeq++ & 0x1ffff)
    );
  }

  /**
   * An id to look up that this view may not hold: uniform over the range. (In a small space
   * most are live, held by other CPUs; in a 20-bit one most are free. Drawing below twice the
   * highest id held would meet more live ones, at about 15% of the lookup-heavy scenario's
   * throughput: not done.)
   *
   * @returns an id in [idMin, idMax]
   */
  foreignId(): number {
    const { idMin, idMax } = this.o;
    return idMin + this.rng.below(idMax - idMin + 1);
  }

  // -------------------------------------------------------------------------------------
  // transitions (a stress CPU overrides them to publish what a kill must not lose)
  // -------------------------------------------------------------------------------------

  /**
   * An allocation returned `h.id`: the view holds it now.
   *
   * @param h - the new allocation
   * @param _op - the operation that returned it
   * @returns nothing
   */
  adopt(h: HeldId, _op: string): void {
    this.held.push(h);
    this.#byId.set(h.id, h);
    const s = this.sets.get(h.set);
    if (s) s.count++;
  }

  /**
   * Called before the call that will reclaim `h` if it returns as predicted.
   *
   * @param _h - the id about to be reclaimed
   * @param _op - the operation
   * @returns nothing
   */
  releasing(_h: HeldId, _op: string): void {}

  /**
   * Called before a free of `h` that will leave references (so `h` turns free-pending and
   * the FREE event is raised) if it returns as predicted.
   *
   * @param _h - the id about to turn free-pending
   * @returns nothing
   */
  leavingPending(_h: HeldId): void {}

  /**
   * The free announced by `leavingPending` returned: `h` is free-pending now (`pending`), or
   * the call broke its contract.
   *
   * @param _h - the id
   * @param _pending - the free took effect
   * @returns nothing
   */
  leftPending(_h: HeldId, _pending: boolean): void {}

  /**
   * The call announced by `releasing` broke its contract: `h` is still held.
   *
   * @param _h - the id
   * @returns nothing
   */
  kept(_h: HeldId): void {}

  /**
   * `h` was reclaimed: the view forgets it; a free-pending set goes with its last id.
   *
   * @param h - the id
   * @returns nothing
   */
  reclaimed(h: HeldId): void {
    const i = this.held.indexOf(h);
    this.held[i] = this.held[this.held.length - 1]!;
    this.held.pop();
    this.#byId.delete(h.id);
    this.unbindSpid(h);
    const s = this.sets.get(h.set);
    if (!s) return;
    s.count--;
    if (s.count === 0 && s.pending) this.setDestroyed(h.set);
  }

  /**
   * Called before a setAlloc call.
   *
   * @returns nothing
   */
  creatingSet(): void {}

  /**
   * setAlloc returned `set`. A partial view's only set is its scratch set.
   *
   * @param set - the new set
   * @param s - its state
   * @returns nothing
   */
  setCreated(set: number, s: KnownSet): void {
    this.sets.set(set, s);
    if (!this.complete) this.ownScratch(set);
  }

  /**
   * setAlloc returned an errno (or broke its contract).
   *
   * @returns nothing
   */
  setNotCreated(): void {
    if (!this.complete) this.ownScratch(-1);
  }

  /**
   * `set` was destroyed: its quota is available again.
   *
   * @param set - the set
   * @returns nothing
   */
  setDestroyed(set: number): void {
    const s = this.sets.get(set);
    if (s) this.available += s.quota;
    this.sets.delete(set);
    if (set === this.scratch) this.ownScratch(-1);
  }

  /**
   * Make `set` the scratch set (-1: none).
   *
   * @param set - the set, or -1
   * @returns nothing
   */
  ownScratch(set: number): void {
    this.scratch = set;
    this.scratchDying = false;
  }

  /**
   * An operation returned `result` (a stress CPU logs it for the checker).
   *
   * @param _op - its index in the op table
   * @param _set - its set, or -1
   * @param _id - its id, or -1
   * @param _result - what it returned
   * @returns nothing
   */
  log(_op: number, _set: number, _id: number, _result: number): void {}

  /**
   * A result broke what the view predicts.
   *
   * @param op - the operation
   * @param b - what was wrong
   * @param _id - the id it concerns, or null
   * @param _set - the set it concerns, or null
   * @returns nothing (a CPU reports it); here it throws ContractBreach
   */
  breach(op: string, b: Breach, _id: number | null, _set: number | null): void {
    throw new ContractBreach(`${b.kind} in ${op}: ${b.why}`);
  }

  /**
   * Called before every alloc call (the id ghost: stress/check/check-layout.ts IDS_TAKEN).
   *
   * @returns nothing
   */
  allocating(): void {}

  /**
   * An alloc announced by `allocating` returned no id (apply, after the call).
   *
   * @returns nothing
   */
  allocTookNothing(): void {}

  /**
   * Why the alloc announced by `allocating`, which returned -ENOSPC over [lo, hi], cannot have
   * found every id of that range taken at any instant of the call; undefined when it may
   * have (or this caller cannot tell).
   *
   * @param _lo - the call's lowest id
   * @param _hi - its highest id
   * @returns the reason, or undefined
   */
  enospcWhileNotFull(_lo: number, _hi: number): string | undefined {
    return undefined;
  }

  /**
   * The space's count of records recycled under a reader (stress CPUs read it around their
   * sleeping finds); 0 where nobody can recycle under this caller.
   *
   * @returns the count
   */
  readerRecycles(): number {
    return 0;
  }

  /**
   * A getter that holds the read-side section across a real deschedule: a record recycled
   * meanwhile (a grace period that did not wait for the reader) is what this makes visible.
   *
   * @returns true (the lookup succeeds)
   */
  readonly sleepInGetter = (): boolean => {
    Atomics.wait(NAP, 0, 0, 0.05);
    return true;
  };
}

/** One number for a (set, SPID) pair: sets are below 2^16 and SPIDs below 2^32. */
function spidKey(set: number, spid: number): number {
  return set * 2 ** 32 + (spid >>> 0);
}

/**
 * Render a result: an errno by name (`-EINVAL`), anything else as a number.
 *
 * @param r - a result
 *
 * Context: pure.
 * @returns its text
 */
export function showResult(r: number): string {
  if (r >= 0) return String(r);
  const name = Object.entries(Errno).find(([, code]) => code === -r)?.[0];
  return name ? `-${name}` : String(r);
}

/**
 * Describe a held id for a reason.
 *
 * @param h - the id
 *
 * Context: pure.
 * @returns e.g. "id 17 is held in set 3 (refs 2, free-pending)"
 */
export function describeHeld(h: HeldId): string {
  return (
    `id ${h.id} is held in set ${h.set} (refs ${h.refs}${h.pending ? ', free-pending' : ''}` +
    `${h.spid !== null ? `, SPID ${h.spid}` : ''}${h.data ? `, data ${h.data}` : ''})`
  );
}
