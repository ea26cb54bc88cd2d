/**
 * Pluggable allocators: the registry of custom allocator groups (shared memory), this
 * thread's members (its ops objects), and the calls into a member on alloc and reclaim.
 *
 * Functions cannot cross threads, so a group is a name: every thread (a guest's vCPUs, each
 * vIOMMU) registers its own ops object under the group's name, and all of them share the
 * group's ids, as the kernel's allocators sharing one alloc/free pair do. The default
 * allocator (the space's own bitmap) always exists and is active while no group is.
 *
 * Developer notes.
 * - Shared state: ACTIVE (0 = default, else group slot + 1 with the group's generation), the
 *   group slots (G_*: name, member count, live ids), HOOKS bit 0 (some group is registered:
 *   the one word the engine's hot paths load), and per thread its member count per group
 *   (HK_MEMBERS, so `releaseThread` can take a dead thread's members away). Registration
 *   changes happen under the registry lock (REG_LOCK).
 * - At most one group has ids: only the active group allocates, the first group becomes
 *   active only when the default allocator has no ids (no set holds a quota unit), and a
 *   group leaves only with no ids (G_LIVE 0 -> DEAD by CAS, which races exactly with an
 *   alloc's reservation). So "is this id custom" is "is a group active", and every custom id
 *   belongs to the active group.
 * - The handshake with alloc, which takes its quota unit before it looks at the registry:
 *   registering the first group sets HOOKS bit 0 first, mirrors HOOKS into the sets' COUNT
 *   words (hooks-mirror.ts), then scans the sets' counts. An alloc on the default path took its
 *   unit from a word without SET_HOOKED, so before the mirror reached its set: the scan sees
 *   the unit (-EAGAIN). An alloc on the hooked path looks at HOOKS after taking its unit
 *   (stillActive). Either the scan sees the unit, or the alloc sees the bit and, finding no
 *   group active yet, waits for the registry lock to learn the outcome. Every other change of
 *   bit 0 is mirrored before the registry lock is released.
 * - Calls into a member hold no lock (a provider may take long, e.g. a vcmd round trip to the
 *   hypervisor); a G_LIVE reservation taken before the call keeps the group in place.
 * - A reclaim gives a custom id back to the provider while the id is still findable (the
 *   kernel's order) and erases it here after. In between, the provider may hand the id to
 *   another thread's alloc, which finds its bit still taken although the id is no longer live:
 *   that alloc waits for the erase (the reclaimer's next few steps) and, if it does not come
 *   (the reclaimer was preempted, or died and awaits releaseThread), gives the id back to the
 *   provider (it was handed to us: ours to free) and starts over; after three give-backs it
 *   returns -EAGAIN. Refusing it with -EEXIST instead would leave it allocated at the provider
 *   and free here: leaked. Only an id that is live here (published, not reclaimed) is refused.
 * - Kill safety (what `releaseThread` does for a dead thread, from its HK_CU_* words):
 *   | dead inside                          | recovery                                          |
 *   | member.alloc (CU_IN_ALLOC)           | give the G_LIVE unit back; count `abandoned`: the |
 *   |                                      | provider may have handed out an id no one knows   |
 *   | after it returned id X (CU_HOLDS_ID) | X is owed to the provider: defer free(X)          |
 *   | X tracked, not published (TRACKED)   | the engine rolls the alloc back; defer free(X)    |
 *   | member.free(X) (CU_IN_FREE)          | the free may not have happened: defer free(X)     |
 *   | a deferred free(X) (holding X's bit) | release X's bit, defer free(X) again              |
 *   Recovery takes no lock (thread-recovery.ts, order-free rule): the dead thread's members
 *   leave by Atomics.sub on G_MEMBERS, a registry lock it held is force-released, and the
 *   next holder of that lock sweeps (REG_SWEEP: a group left memberless and idless goes).
 *   Deferred frees wait in the DEFER table (each keeps its G_LIVE unit, so the group cannot
 *   leave) until a thread with a member of the active group runs a custom path; it claims X's
 *   bit while it calls free(X), so X cannot become live here meanwhile, and skips the call if X
 *   is live here already (then the provider had freed X and handed it out again). So a free
 *   is at least once, and a provider must refuse to free an id it did not hand to this space
 *   (the VT-d vcmd host does). An alloc is at most once: an id handed to a thread that died
 *   inside member.alloc cannot be known, and is counted in `stats().allocatorAbandoned`.
 * Rejected: holding the registry lock across member calls (one slow provider call would
 *   serialize every allocating thread, and a thread killed inside it would block them until
 *   recovery); matching groups by function identity as the kernel does (functions do not
 *   cross threads).
 *
 * @internal
 */
import { Errno } from './errno.js';
import {
  ACTIVE_GEN_SHIFT,
  ACTIVE_SLOT_MASK,
  ACTIVE_WORD,
  CU_HOLDS_ID,
  CU_IN_ALLOC,
  CU_IN_DEFERRED_FREE,
  CU_IN_FREE,
  CU_LIVE_OWED,
  CU_NONE,
  CU_TRACKED,
  DEFER_COUNT_WORD,
  G_DEAD,
  G_GEN,
  G_LIVE,
  G_MEMBERS,
  G_NAME,
  G_NAME_LEN,
  G_NAME_MAX,
  G_ORDER,
  GROUP_ORDER_WORD,
  groupWord,
  HK_CU_GROUP,
  HK_CU_ID,
  HK_CU_OP,
  HK_MEMBERS,
  HOOKS_CUSTOM,
  HOOKS_WORD,
  type HooksGeometry,
  HSTAT_ABANDONED_WORD,
  HSTAT_DEFERRED_FREES_WORD,
  REG_LOCK_WORD,
  REG_SWEEP_WORD,
} from './hooks-layout.js';
import { lockAcquire, lockForceRelease, lockRelease } from './space-lock.js';

type I32 = Int32Array<SharedArrayBuffer>;

/** A custom allocator as one thread registers it (see `IoasidSpace.registerAllocator`). */
export interface AllocatorOps {
  /** The group: every ops object registered under one name shares the group's ids. */
  readonly name: string;
  /** Hand out an id in [min, max], or return a negative errno. */
  alloc(min: number, max: number): number;
  /** Take back an id this group handed out. */
  free(id: number): void;
}

/** The allocator an operation must use: the default one, or this thread's member of a group. */
export interface AllocatorChoice {
  /** The ACTIVE word it was chosen under (0 = default). */
  readonly active: number;
  /** The member to call; undefined for the default allocator. */
  readonly ops: AllocatorOps | undefined;
}

/** Returned by customAlloc when the group left meanwhile: start the alloc over. */
export const CUSTOM_RESTART = -0x40000000;
/** Returned by customAlloc when the member threw: roll back, then call `rethrow()`. */
export const CUSTOM_THREW = -0x40000001;
/** Returned by giveBack: the id went back to the provider; start the alloc over. */
export const CUSTOM_GAVE_BACK = -0x40000002;

/** What the registry needs from the space and the calling thread. */
export interface RegistryEnv {
  readonly hk: I32;
  readonly hg: HooksGeometry;
  /** The caller's hooks thread slot (first word) and lock-owner tag. */
  readonly hts: number;
  readonly tag: number;
  /** The space buffer and its id bitmap (the tracker of custom ids too). */
  readonly i32: I32;
  readonly bitmapBase: number;
  readonly idMax: number;
  /** Does any set hold a quota unit (a live, free-pending or in-flight id)? */
  unitsHeld(): boolean;
  /**
   * Mirror HOOKS into the sets' COUNT words (hooks-mirror.ts), after a change of bit 0;
   * `wait` false (recovery, which waits for nothing) only if no one else is sweeping: a
   * cleared bit left mirrored costs slow paths, never a guarantee.
   */
  mirror(wait: boolean): void;
}

const DEFAULT_CHOICE: AllocatorChoice = Object.freeze({ active: 0, ops: undefined });

/** @internal One thread's view of the allocator registry. */
export class AllocatorRegistry {
  readonly #env: RegistryEnv;
  /** This thread's ops objects and the group (slot, generation) each belongs to. */
  readonly #members = new Map<AllocatorOps, { slot: number; gen: number }>();
  #thrown: unknown;
  #hasThrown = false;

  constructor(env: RegistryEnv) {
    this.#env = env;
  }

  // -------------------------------------------------------------------------------------------
  // registration
  // -------------------------------------------------------------------------------------------

  /**
   * Register `ops` (already validated) as this thread's member of group `ops.name`.
   *
   * Context: takes the registry lock (may block briefly); not inside a read-side section.
   * @returns 0; -EEXIST this ops object is registered; -EAGAIN first group while the default
   * allocator has ids; -ENOSPC every group slot is taken. On error nothing changes.
   */
  register(ops: AllocatorOps): number {
    const { hk } = this.#env;
    if (this.#members.has(ops)) return -Errno.EEXIST;
    this.#lock();
    const v = this.#registerLocked(ops);
    lockRelease(hk, REG_LOCK_WORD);
    return v;
  }

  #registerLocked(ops: AllocatorOps): number {
    const { hk, hg } = this.#env;
    let slot = this.#findGroupLocked(ops.name);
    if (slot < 0) {
      slot = this.#freeGroupSlotLocked();
      if (slot < 0) return -Errno.ENOSPC;
      const first = Atomics.load(hk, ACTIVE_WORD) === 0;
      if (first) {
        // Handshake with alloc (module notes): the bit first, then the scan.
        Atomics.or(hk, HOOKS_WORD, HOOKS_CUSTOM);
        this.#env.mirror(true);
        if (this.#env.unitsHeld()) {
          Atomics.and(hk, HOOKS_WORD, ~HOOKS_CUSTOM);
          this.#env.mirror(true);
          return -Errno.EAGAIN;
        }
      }
      const gw = groupWord(hg, slot);
      const gen = (Atomics.load(hk, gw + G_GEN) + 1) & 0x7fffff;
      Atomics.store(hk, gw + G_GEN, gen);
      Atomics.store(hk, gw + G_ORDER, Atomics.add(hk, GROUP_ORDER_WORD, 1));
      writeName(hk, gw, ops.name);
      Atomics.store(hk, gw + G_MEMBERS, 0);
      // Publishes the group (alive, no ids); pairs with the G_LIVE loads of finders and allocs.
      Atomics.store(hk, gw + G_LIVE, 0);
      if (first) Atomics.store(hk, ACTIVE_WORD, activeWord(slot, gen));
    }
    this.#join(ops, slot);
    return 0;
  }

  /** Add `ops` as a member of group `slot` (registry lock held). */
  #join(ops: AllocatorOps, slot: number): void {
    const { hk, hg, hts } = this.#env;
    const gw = groupWord(hg, slot);
    Atomics.add(hk, gw + G_MEMBERS, 1);
    hk[hts + HK_MEMBERS + slot]! += 1; // kill point rule: right after the add
    this.#members.set(ops, { slot, gen: Atomics.load(hk, gw + G_GEN) });
  }

  /**
   * Unregister this thread's member `ops`. The last member of a group takes the group away,
   * which needs the group to hold no ids; removing the active group activates the first
   * remaining one (registration order), or the default allocator.
   *
   * Context: takes the registry lock (may block briefly); may call `ops.free` for deferred
   * frees; not inside a read-side section.
   * @returns 0; -ENOENT `ops` is not registered in this thread; -EBUSY it is the last member
   * and the group has live ids (nothing changes)
   */
  unregister(ops: AllocatorOps): number {
    const { hk, hg, hts } = this.#env;
    const m = this.#members.get(ops);
    if (m === undefined) return -Errno.ENOENT;
    const gw = groupWord(hg, m.slot);
    if (Atomics.load(hk, gw + G_MEMBERS) === 1 && Atomics.load(hk, ACTIVE_WORD) !== 0)
      this.#processDeferred(ops);
    this.#lock();
    if (Atomics.load(hk, gw + G_MEMBERS) === 1) {
      // Last member: the group goes only if it has no ids (one CAS against the reservations).
      if (Atomics.compareExchange(hk, gw + G_LIVE, 0, G_DEAD) !== 0) {
        lockRelease(hk, REG_LOCK_WORD);
        return -Errno.EBUSY;
      }
      this.#groupGoneLocked(m.slot, true);
    }
    Atomics.sub(hk, gw + G_MEMBERS, 1);
    hk[hts + HK_MEMBERS + m.slot]! -= 1; // kill point rule: right after the sub
    this.#members.delete(ops);
    lockRelease(hk, REG_LOCK_WORD);
    return 0;
  }

  /** Group `slot` is DEAD: if it was active, activate the next one or the default (`wait`:
   * as RegistryEnv.mirror). */
  #groupGoneLocked(slot: number, wait: boolean): void {
    const { hk, hg } = this.#env;
    const a = Atomics.load(hk, ACTIVE_WORD);
    if (a === 0 || (a & ACTIVE_SLOT_MASK) - 1 !== slot) return;
    let best = -1;
    let bestOrder = 0;
    for (let g = 0; g < hg.maxGroups; g++) {
      const gw = groupWord(hg, g);
      if ((Atomics.load(hk, gw + G_LIVE) & G_DEAD) !== 0) continue;
      const order = Atomics.load(hk, gw + G_ORDER);
      if (best < 0 || ((order - bestOrder) | 0) < 0) {
        best = g;
        bestOrder = order;
      }
    }
    if (best < 0) {
      Atomics.store(hk, ACTIVE_WORD, 0);
      Atomics.and(hk, HOOKS_WORD, ~HOOKS_CUSTOM);
      this.#env.mirror(wait);
    } else {
      Atomics.store(
        hk,
        ACTIVE_WORD,
        activeWord(best, Atomics.load(hk, groupWord(hg, best) + G_GEN)),
      );
    }
  }

  #findGroupLocked(name: string): number {
    const { hk, hg } = this.#env;
    for (let g = 0; g < hg.maxGroups; g++) {
      const gw = groupWord(hg, g);
      if ((Atomics.load(hk, gw + G_LIVE) & G_DEAD) === 0 && readName(hk, gw) === name) return g;
    }
    return -1;
  }

  #freeGroupSlotLocked(): number {
    const { hk, hg } = this.#env;
    for (let g = 0; g < hg.maxGroups; g++)
      if ((Atomics.load(hk, groupWord(hg, g) + G_LIVE) & G_DEAD) !== 0) return g;
    return -1;
  }

  /**
   * The active allocator's name.
   *
   * Context: any thread; lock-free (re-reads ACTIVE around the name); stale on return.
   * @returns 'default' or the active group's name
   */
  activeName(): string {
    const { hk, hg } = this.#env;
    for (;;) {
      const a = Atomics.load(hk, ACTIVE_WORD);
      if (a === 0) return 'default';
      const name = readName(hk, groupWord(hg, (a & ACTIVE_SLOT_MASK) - 1));
      if (Atomics.load(hk, ACTIVE_WORD) === a) return name;
    }
  }

  // -------------------------------------------------------------------------------------------
  // choosing an allocator
  // -------------------------------------------------------------------------------------------

  /**
   * The allocator this thread must use now: the default one, or its member of the active
   * group; null when a group is active and this thread has no member of it (-ENODEV).
   * Waits out a first registration in progress (HOOKS bit 0 set, ACTIVE still 0).
   *
   * Context: any attached thread; may block briefly on the registry lock.
   * @returns the choice, or null
   */
  choose(): AllocatorChoice | null {
    const { hk } = this.#env;
    let a = Atomics.load(hk, ACTIVE_WORD);
    if (a === 0) {
      if ((Atomics.load(hk, HOOKS_WORD) & HOOKS_CUSTOM) === 0) return DEFAULT_CHOICE;
      this.#lock();
      a = Atomics.load(hk, ACTIVE_WORD);
      lockRelease(hk, REG_LOCK_WORD);
      if (a === 0) return DEFAULT_CHOICE;
    }
    const slot = (a & ACTIVE_SLOT_MASK) - 1;
    const gen = a >>> ACTIVE_GEN_SHIFT;
    for (const [ops, m] of this.#members)
      if (m.slot === slot && m.gen === gen) return { active: a, ops };
    return null;
  }

  /**
   * Is `choice` still what `choose()` would say (ACTIVE unchanged)? An alloc checks this after
   * taking its quota unit.
   *
   * Context: any attached thread; lock-free.
   * @returns true when unchanged
   */
  stillActive(choice: AllocatorChoice): boolean {
    const { hk } = this.#env;
    const a = Atomics.load(hk, ACTIVE_WORD);
    if (a !== choice.active) return false;
    return a !== 0 || (Atomics.load(hk, HOOKS_WORD) & HOOKS_CUSTOM) === 0;
  }

  // -------------------------------------------------------------------------------------------
  // calls into a member
  // -------------------------------------------------------------------------------------------

  /**
   * Ask this thread's member for an id in [lo, hi], holding a quota unit (the caller's).
   * Reserves one G_LIVE unit first (CAS loop: retries only when another reservation or
   * release changed the word; fails when the group died).
   *
   * Context: any attached thread holding a quota unit; calls `ops.alloc` (which may block).
   * Kill points: see the module notes; the result is recorded with no call after the member's
   * return.
   * @returns an id in [lo, hi] that the caller must claim in the bitmap (HK_CU_OP CU_HOLDS_ID,
   * G_LIVE held); a negative errno from the member, passed through; -EINVAL a value that is
   * not an integer, is 0 or out of [lo, hi] (the latter two given back with `free`);
   * CUSTOM_RESTART the group left; CUSTOM_THREW the member threw. On every negative result
   * the G_LIVE unit is given back.
   */
  customAlloc(choice: AllocatorChoice, lo: number, hi: number): number {
    const { hk, hts } = this.#env;
    const slot = (choice.active & ACTIVE_SLOT_MASK) - 1;
    this.#processDeferred(choice.ops!);
    if (!this.#reserveLive(slot)) return CUSTOM_RESTART; // records CU_IN_ALLOC
    let x: unknown;
    try {
      x = choice.ops!.alloc(lo, hi);
    } catch (e) {
      this.#stash(e);
      this.#releaseLive(slot);
      return CUSTOM_THREW;
    }
    // No call from the member's return to these stores (kill point rule).
    const int = typeof x === 'number' && (x | 0) === x;
    hk[hts + HK_CU_ID] = int ? (x as number) : 0;
    hk[hts + HK_CU_OP] = int && (x as number) >= 0 ? CU_HOLDS_ID : CU_LIVE_OWED;
    if (!int) return this.#releaseLive(slot, -Errno.EINVAL);
    const id = x as number;
    if (id < 0) return this.#releaseLive(slot, id);
    if (id === 0 || id < lo || id > hi) {
      this.#callFree(choice.ops!, id, CU_IN_FREE);
      return this.#releaseLive(slot, -Errno.EINVAL);
    }
    return id;
  }

  /**
   * The id customAlloc returned is live here already: refuse it without calling `free` (it
   * belongs to its live owner).
   *
   * Context: the thread that called customAlloc; never blocks.
   * @returns -EEXIST
   */
  refuseLive(): number {
    const { hk, hts } = this.#env;
    hk[hts + HK_CU_OP] = CU_LIVE_OWED;
    return this.#releaseLive(hk[hts + HK_CU_GROUP]!, -Errno.EEXIST);
  }

  /**
   * The id customAlloc returned is not live here but its bit is still taken: the reclaim that
   * gave it back to the provider has not finished (it released the id to the provider first,
   * as the kernel's reclaim does, then erases it here). After waiting for it the caller gives
   * the id back to the provider (it was handed to us: ours to free) and starts over.
   *
   * Context: the thread that called customAlloc; calls `ops.free`.
   * @returns CUSTOM_GAVE_BACK
   */
  giveBack(choice: AllocatorChoice): number {
    const { hk, hts } = this.#env;
    this.#callFree(choice.ops!, hk[hts + HK_CU_ID]!, CU_IN_FREE);
    return this.#releaseLive(hk[hts + HK_CU_GROUP]!, CUSTOM_GAVE_BACK);
  }

  /**
   * The custom alloc ended: published (the id keeps its G_LIVE unit) or not (the caller's
   * publish failed after it claimed the bit and rolled it back: give the id back).
   *
   * Context: the thread that called customAlloc.
   */
  allocDone(choice: AllocatorChoice, published: boolean): void {
    const { hk, hts } = this.#env;
    if (published) {
      hk[hts + HK_CU_OP] = CU_NONE;
      return;
    }
    this.#callFree(choice.ops!, hk[hts + HK_CU_ID]!, CU_IN_FREE);
    this.#releaseLive(hk[hts + HK_CU_GROUP]!, 0);
  }

  /**
   * Before the CAS that may win a custom id's reclaim: run the deferred frees, and record the
   * group, so that right after the CAS the caller only has to store the id and CU_IN_FREE
   * (plain stores, no call: a thread killed from there owes the provider that free).
   *
   * Context: the reclaiming thread; may call `ops.free` (deferred frees).
   */
  prepareFree(choice: AllocatorChoice): void {
    const { hk, hts } = this.#env;
    this.#processDeferred(choice.ops!);
    hk[hts + HK_CU_GROUP] = (choice.active & ACTIVE_SLOT_MASK) - 1; // plain (owner)
  }

  /**
   * Reclaim of custom id `id`: call this thread's member's `free(id)` (the id is still
   * findable), then give its G_LIVE unit back. A member that throws is remembered and the
   * reclaim goes on; the caller rethrows once its reclaim is complete.
   *
   * Context: the reclaiming thread, after it won the reclaim (its engine intent recorded);
   * calls `ops.free`.
   */
  customFree(choice: AllocatorChoice, id: number): void {
    const slot = (choice.active & ACTIVE_SLOT_MASK) - 1;
    this.#callFree(choice.ops!, id, CU_IN_FREE); // prepareFree recorded the group
    this.#releaseLive(slot, 0);
  }

  /** Call `ops.free(id)` recorded as `op` (kill safety), catching what it throws. */
  #callFree(ops: AllocatorOps, id: number, op: number): void {
    const { hk, hts } = this.#env;
    hk[hts + HK_CU_ID] = id;
    hk[hts + HK_CU_OP] = op;
    try {
      ops.free(id);
    } catch (e) {
      this.#stash(e);
    }
    hk[hts + HK_CU_OP] = CU_LIVE_OWED; // no call since the member's return
  }

  /** CAS loop on G_LIVE: +1 unless DEAD. Retries only when the word changed (progress). */
  #reserveLive(slot: number): boolean {
    const { hk, hg, hts } = this.#env;
    const gw = groupWord(hg, slot);
    for (;;) {
      const v = Atomics.load(hk, gw + G_LIVE);
      if ((v & G_DEAD) !== 0) return false;
      if (Atomics.compareExchange(hk, gw + G_LIVE, v, v + 1) === v) {
        hk[hts + HK_CU_GROUP] = slot; // kill point rule: the unit is ours
        hk[hts + HK_CU_OP] = CU_IN_ALLOC;
        return true;
      }
    }
  }

  /** Give one G_LIVE unit of `slot` back (HK_CU_OP is CU_LIVE_OWED or CU_IN_ALLOC meanwhile). */
  #releaseLive(slot: number, ret = 0): number {
    const { hk, hg, hts } = this.#env;
    Atomics.sub(hk, groupWord(hg, slot) + G_LIVE, 1);
    hk[hts + HK_CU_OP] = CU_NONE; // kill point rule: right after the sub
    return ret;
  }

  #stash(e: unknown): void {
    if (!this.#hasThrown) {
      this.#thrown = e;
      this.#hasThrown = true;
    }
  }

  /**
   * Rethrow what a member threw during the last operation, if anything.
   *
   * Context: the thread that called into its member; after the operation is complete.
   */
  rethrow(): void {
    if (!this.#hasThrown) return;
    const e = this.#thrown;
    this.#hasThrown = false;
    this.#thrown = undefined;
    throw e;
  }

  // -------------------------------------------------------------------------------------------
  // deferred frees and recovery
  // -------------------------------------------------------------------------------------------

  /**
   * Free the ids dead threads owed the provider, with this thread's member `ops` (module notes).
   * Each DEFER entry is claimed by CAS (id -> 0), so each is freed by one thread.
   */
  #processDeferred(ops: AllocatorOps): void {
    const { hk, hg, hts, i32, bitmapBase, idMax } = this.#env;
    if (Atomics.load(hk, DEFER_COUNT_WORD) <= 0) return;
    const a = Atomics.load(hk, ACTIVE_WORD);
    if (a === 0) return;
    const slot = (a & ACTIVE_SLOT_MASK) - 1;
    for (let k = 0; k < hg.maxThreads; k++) {
      const x = Atomics.load(hk, hg.deferBase + k);
      if (x === 0 || Atomics.compareExchange(hk, hg.deferBase + k, x, 0) !== x) continue;
      hk[hts + HK_CU_GROUP] = slot; // kill point rule: we own the entry (and its G_LIVE unit)
      hk[hts + HK_CU_ID] = x;
      hk[hts + HK_CU_OP] = CU_IN_FREE;
      Atomics.sub(hk, DEFER_COUNT_WORD, 1);
      Atomics.add(hk, HSTAT_DEFERRED_FREES_WORD, 1);
      if (x < 1 || x > idMax) {
        this.#callFree(ops, x, CU_IN_FREE);
        this.#releaseLive(slot);
        continue;
      }
      const bit = 1 << (x & 31);
      const old = Atomics.or(i32, bitmapBase + (x >>> 5), bit);
      if ((old & bit) !== 0) {
        // Live here again: the provider had freed it and handed it out again. Nothing owed.
        hk[hts + HK_CU_OP] = CU_LIVE_OWED;
        this.#releaseLive(slot);
        continue;
      }
      hk[hts + HK_CU_OP] = CU_IN_DEFERRED_FREE; // kill point rule: we hold x's bit
      try {
        ops.free(x);
      } catch (e) {
        this.#stash(e);
      }
      hk[hts + HK_CU_OP] = CU_IN_FREE; // bit given back next (a kill between: defer again)
      Atomics.and(i32, bitmapBase + (x >>> 5), ~bit);
      hk[hts + HK_CU_OP] = CU_LIVE_OWED; // kill point rule
      this.#releaseLive(slot);
    }
  }

  /**
   * Settle what dead thread slot `dts` (hooks thread slot) left in the registry: its custom
   * allocator intent, then its members (taken away; an empty group with no ids goes).
   *
   * @param deadTag - the dead thread's lock tag
   * @param published - did the dead thread's alloc publish (its engine intent is not ALLOC)?
   *
   * Context: releaseThread/attach recovery, outside a read-side section; may take the registry
   * lock; never calls a provider except through this thread's own member (deferred frees).
   * @returns how many things were settled
   */
  recover(dts: number, deadTag: number, published: boolean): number {
    const { hk, hg, i32, bitmapBase } = this.#env;
    let n = 0;
    // A registry lock it held: free it (its critical section leaves what the sweep repairs).
    if (lockForceRelease(hk, REG_LOCK_WORD, deadTag)) {
      Atomics.store(hk, REG_SWEEP_WORD, 1);
      n++;
    }
    const op = Atomics.load(hk, dts + HK_CU_OP);
    const id = Atomics.load(hk, dts + HK_CU_ID);
    const gw = groupWord(hg, Atomics.load(hk, dts + HK_CU_GROUP));
    // Each step, then the dead thread's HK_CU_OP right after it (resumable: module notes).
    switch (op) {
      case CU_IN_ALLOC:
        Atomics.sub(hk, gw + G_LIVE, 1);
        hk[dts + HK_CU_OP] = CU_NONE;
        Atomics.add(hk, HSTAT_ABANDONED_WORD, 1);
        break;
      case CU_LIVE_OWED:
        Atomics.sub(hk, gw + G_LIVE, 1);
        hk[dts + HK_CU_OP] = CU_NONE;
        break;
      case CU_TRACKED:
        if (!published) this.#defer(dts, id, gw);
        else hk[dts + HK_CU_OP] = CU_NONE;
        break;
      case CU_IN_DEFERRED_FREE:
        Atomics.and(i32, bitmapBase + (id >>> 5), ~(1 << (id & 31)));
        hk[dts + HK_CU_OP] = CU_IN_FREE;
        this.#defer(dts, id, gw);
        break;
      case CU_HOLDS_ID:
      case CU_IN_FREE:
        this.#defer(dts, id, gw);
        break;
      default:
        break;
    }
    if (op !== CU_NONE) n++;
    // Its members leave their groups. Without the registry lock (recovery waits for nothing):
    // a group this leaves memberless and idless goes at the next sweep.
    for (let g = 0; g < hg.maxGroups; g++) {
      const c = Atomics.load(hk, dts + HK_MEMBERS + g);
      if (c === 0) continue;
      Atomics.sub(hk, groupWord(hg, g) + G_MEMBERS, c);
      hk[dts + HK_MEMBERS + g] = 0; // kill point rule: right after the sub
      Atomics.store(hk, REG_SWEEP_WORD, 1);
      n += c;
    }
    // Sweep now if the registry lock is free (a try: never wait).
    if (
      Atomics.load(hk, REG_SWEEP_WORD) !== 0 &&
      Atomics.compareExchange(hk, REG_LOCK_WORD, 0, this.#env.tag) === 0
    ) {
      this.#sweepLocked(false);
      lockRelease(hk, REG_LOCK_WORD);
    }
    return n;
  }

  /**
   * Owe the provider a free of `id` (keeping its G_LIVE unit) in the DEFER table, or give the
   * unit back and count it abandoned if the table is full; then clear the dead slot `dts`'s
   * intent right after (kill point rule). The hint is raised first: a recoverer killed before
   * the CAS leaves it high (a few wasted scans), never low (a deferred id never freed).
   */
  #defer(dts: number, id: number, gw: number): void {
    const { hk, hg } = this.#env;
    Atomics.add(hk, DEFER_COUNT_WORD, 1);
    for (let k = 0; k < hg.maxThreads; k++) {
      if (Atomics.compareExchange(hk, hg.deferBase + k, 0, id) === 0) {
        hk[dts + HK_CU_OP] = CU_NONE;
        return;
      }
    }
    Atomics.sub(hk, gw + G_LIVE, 1);
    hk[dts + HK_CU_OP] = CU_NONE;
    Atomics.add(hk, HSTAT_ABANDONED_WORD, 1);
  }

  /**
   * Repair what members leaving without the registry lock (recovery) or a dead holder of it
   * left: a group with no member and no ids goes (the first remaining one, or the default
   * allocator, becomes active); HOOKS bit 0 matches "a group is active". `wait` false in
   * recovery (its mirror sync is a try: RegistryEnv.mirror).
   *
   * Context: the caller holds the registry lock; with `wait`, may block briefly on the mirror
   * lock (a leaf), else never blocks.
   */
  #sweepLocked(wait = true): void {
    const { hk, hg } = this.#env;
    if (Atomics.exchange(hk, REG_SWEEP_WORD, 0) === 0) return;
    for (let g = 0; g < hg.maxGroups; g++) {
      const gw = groupWord(hg, g);
      if (Atomics.load(hk, gw + G_MEMBERS) > 0) continue;
      if (Atomics.compareExchange(hk, gw + G_LIVE, 0, G_DEAD) === 0) this.#groupGoneLocked(g, wait);
    }
    if (
      Atomics.load(hk, ACTIVE_WORD) === 0 &&
      (Atomics.load(hk, HOOKS_WORD) & HOOKS_CUSTOM) !== 0
    ) {
      Atomics.and(hk, HOOKS_WORD, ~HOOKS_CUSTOM);
      this.#env.mirror(wait);
    }
  }

  /** Take the registry lock, sweeping first if a recovery asked for it. */
  #lock(): void {
    lockAcquire(this.#env.hk, REG_LOCK_WORD, this.#env.tag);
    this.#sweepLocked();
  }

  /** This attachment's members leave their groups, under the registry lock (detach). */
  #takeMembers(dts: number): void {
    const { hk, hg } = this.#env;
    this.#lock();
    for (let g = 0; g < hg.maxGroups; g++) {
      const c = Atomics.load(hk, dts + HK_MEMBERS + g);
      if (c === 0) continue;
      Atomics.sub(hk, groupWord(hg, g) + G_MEMBERS, c);
      hk[dts + HK_MEMBERS + g] = 0; // kill point rule
    }
    Atomics.store(hk, REG_SWEEP_WORD, 1);
    this.#sweepLocked();
    lockRelease(hk, REG_LOCK_WORD);
  }

  /**
   * This thread leaves every group it is a member of (it detaches). A group left with no
   * member and no ids goes; one with ids stays, memberless, until a thread joins it again.
   *
   * Context: the detaching thread; takes the registry lock briefly.
   */
  leaveAll(): void {
    if (this.#members.size === 0) return;
    this.#takeMembers(this.#env.hts);
    this.#members.clear();
  }
}

function activeWord(slot: number, gen: number): number {
  return (slot + 1) | (gen << ACTIVE_GEN_SHIFT);
}

function writeName(hk: I32, gw: number, name: string): void {
  Atomics.store(hk, gw + G_NAME_LEN, name.length);
  for (let i = 0; i < G_NAME_MAX; i += 2) {
    const lo = i < name.length ? name.charCodeAt(i) : 0;
    const hi = i + 1 < name.length ? name.charCodeAt(i + 1) : 0;
    Atomics.store(hk, gw + G_NAME + (i >> 1), lo | (hi << 16));
  }
}

function readName(hk: I32, gw: number): string {
  const len = Atomics.load(hk, gw + G_NAME_LEN);
  let s = '';
  for (let i = 0; i < len && i < G_NAME_MAX; i++) {
    const w = Atomics.load(hk, gw + G_NAME + (i >> 1));
    s += String.fromCharCode((i & 1) === 0 ? w & 0xffff : w >>> 16);
  }
  return s;
}

/** Longest group name (UTF-16 code units). */
export const ALLOCATOR_NAME_MAX = G_NAME_MAX;
