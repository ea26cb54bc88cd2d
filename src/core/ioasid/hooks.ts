/**
 * One thread's view of a space's hooks buffer: what the engine (space-core.ts) and the facade
 * (ioasid-space.ts) call for notifier chains and custom allocators. It ties the three modules
 * together (notifier-chains.ts: membership; notifier-queues.ts: log, distribution, reading;
 * allocator-registry.ts: groups and members) and holds this thread's context (its hooks
 * thread slot and lock tag).
 *
 * Developer notes.
 * - Zero cost when unused: the engine loads HOOKS once per alloc, free and put, and comes
 *   here only when it is non-zero (a subscriber exists, or a custom group is registered).
 * - Lock order: set lock, then DLOCK (setAlloc, registerNotifierMm); the registry lock is
 *   never held with another. The DLOCK holder never waits for a grace period or a set lock.
 * - `recoverSlot` is what `releaseThread` (and an attach that inherits a dead thread's slot)
 *   does for the hooks, before the engine recovers the thread's slot (it needs the engine's
 *   intent word to know whether a half-done alloc published):
 *   1. a DLOCK the dead thread held is taken over and the membership change it was making is
 *      finished (a registration that never returned is undone, an MM attach redone, chains
 *      rebuilt); an entry it was distributing is resumed at the next receiver by whoever
 *      distributes next (DIST_* say how far it got; recoverSlotAfter distributes);
 *   2. an event it had claimed in the log is committed from its thread slot (voided for an
 *      ALLOC whose publish did not happen), so the log does not stall on it;
 *   3. its custom allocator intent and members are settled (allocator-registry.ts table).
 *   Subscribers belong to no thread and are left alone. Nothing waits for the dead thread.
 *
 * @internal
 */
import {
  type AllocatorChoice,
  type AllocatorOps,
  AllocatorRegistry,
} from './allocator-registry.js';
import { Errno } from './errno.js';
import {
  DIST_OP_WORD,
  DLOCK_WORD,
  DOP_MEMBERSHIP,
  DOP_NONE,
  EVK_COMMIT,
  EVK_IF_PUBLISHED,
  EVK_OWED,
  GLOBAL_COUNT_WORD,
  HK_EV_KIND,
  HK_REG_ARG,
  HK_REG_ARG2,
  HK_REG_ARG3,
  HK_REG_ARG4,
  HK_REG_OP,
  HOOKS_FAULT_WORD,
  HOOKS_SUB_ONE,
  HOOKS_WORD,
  type HooksGeometry,
  hooksThreadWord,
  LOG_HEAD_WORD,
  REG_MM_ATTACH,
  REG_NONE,
  REG_REGISTERING,
  REG_SET_CREATE,
  S_ID,
  SUB_SLOT_MASK,
  SUBK_GLOBAL,
  SUBK_MM,
  SUBK_SET,
  subWord,
} from './hooks-layout.js';
import {
  type ChainsEnv,
  chainsRebuildLocked,
  mmAttachLocked,
  subFreeSlotLocked,
  subIsRegistered,
  subRegisterLocked,
  subUnregisterLocked,
} from './notifier-chains.js';
import {
  EV_ALLOC,
  logClaimRecorded,
  logCommit,
  logRecord,
  type NotifyRecord,
  type OverflowRecord,
  type QueueEnv,
  subRead,
  subWait,
  tryDistribute,
  wakeAllReaders,
} from './notifier-queues.js';
import { setWord } from './sets.js';
import {
  SET_COUNT,
  SET_COUNT_MASK,
  SET_DEAD,
  SET_GEN_MASK,
  SET_GEN_SHIFT,
  type SpaceGeometry,
} from './space-layout.js';
import { lockAcquire, lockRelease, lockTakeOver } from './space-lock.js';

type I32 = Int32Array<SharedArrayBuffer>;

/** @internal One thread's hooks: notifier chains and custom allocators of one space. */
export class SpaceHooks implements QueueEnv, ChainsEnv {
  readonly hk: I32;
  readonly hg: HooksGeometry;
  /** This thread's hooks thread slot and lock tag (its Rcu slot + 1). */
  readonly hts: number;
  readonly tag: number;
  readonly fault: number;
  distHint = 0;
  readonly allocators: AllocatorRegistry;
  readonly #i32: I32;
  readonly #g: SpaceGeometry;

  constructor(hk: I32, hg: HooksGeometry, i32: I32, g: SpaceGeometry, slot: number) {
    this.hk = hk;
    this.hg = hg;
    this.hts = hooksThreadWord(hg, slot);
    this.tag = slot + 1;
    this.fault = Atomics.load(hk, HOOKS_FAULT_WORD); // header: immutable after create()
    this.#i32 = i32;
    this.#g = g;
    this.allocators = new AllocatorRegistry({
      hk,
      hg,
      hts: this.hts,
      tag: this.tag,
      i32,
      bitmapBase: g.bitmapBase,
      idMax: g.idCount - 1,
      unitsHeld: () => this.#unitsHeld(),
    });
  }

  /** Does any set hold a quota unit? (The default allocator has ids, or is allocating one.) */
  #unitsHeld(): boolean {
    for (let set = 0; set < this.#g.maxSets; set++) {
      const w = Atomics.load(this.#i32, setWord(this.#g, set) + SET_COUNT);
      if ((w & SET_DEAD) === 0 && (w & SET_COUNT_MASK) !== 0) return true;
    }
    return false;
  }

  /**
   * The live generation of `set`, or -1 when it is dead. Stable while the caller holds a quota
   * unit of the set (or a live record of it).
   *
   * Context: any thread; one load.
   */
  setGen(set: number): number {
    const w = Atomics.load(this.#i32, setWord(this.#g, set) + SET_COUNT);
    return (w & SET_DEAD) !== 0 ? -1 : (w >>> SET_GEN_SHIFT) & SET_GEN_MASK;
  }

  /** Units `set` holds (live, free-pending and in-flight ids); 0 when dead. */
  #setUnits(set: number): number {
    const w = Atomics.load(this.#i32, setWord(this.#g, set) + SET_COUNT);
    return (w & SET_DEAD) !== 0 ? 0 : w & SET_COUNT_MASK;
  }

  // -------------------------------------------------------------------------------------------
  // emitters (called by the engine when HOOKS is non-zero)
  // -------------------------------------------------------------------------------------------

  /**
   * Has `set`'s chain a subscriber? A hint: a stale true costs a log entry no one receives; a
   * stale false only for a subscriber registering concurrently (notifier-chains.ts).
   *
   * Context: any thread; one load.
   */
  setHasSubscribers(set: number): boolean {
    return Atomics.load(this.hk, this.hg.chainsBase + set) > 0;
  }

  /** Would a FREE of an id of `set` reach anyone (its chain or the global chain)? Context: as
   * setHasSubscribers. */
  freeHasSubscribers(set: number): boolean {
    return this.setHasSubscribers(set) || Atomics.load(this.hk, GLOBAL_COUNT_WORD) > 0;
  }

  /**
   * Record an event ahead of the operation that raises it (FREE, BIND, UNBIND). The caller
   * marks it owed (HK_EV_KIND = EVK_OWED, a plain store right after the operation's atomic
   * step) and then calls `postOwed`; a thread that dies in between has it emitted by recovery.
   *
   * Context: any attached thread; never blocks.
   */
  record(event: number, id: number, spid: number, set: number, setGen: number, data: number): void {
    logRecord(this, event, id, spid, set, setGen, data);
  }

  /**
   * Claim and commit the event `record` stored and the caller marked owed (no distribution:
   * call `flush`).
   *
   * Context: any attached thread; never blocks.
   */
  postOwed(): void {
    if (logClaimRecorded(this, this.hts, EVK_COMMIT)) logCommit(this, this.hts, true);
  }

  /**
   * Distribute what is committed, if no other thread does (never blocks).
   *
   * Context: any attached thread.
   */
  flush(): void {
    tryDistribute(this, true);
  }

  /**
   * Claim the seq of an ALLOC before its publish (so every later event of the id has a
   * greater seq). Commit it with `finishAlloc`.
   *
   * Context: any attached thread holding the id's quota unit and bit; never blocks.
   * @returns true when a seq was claimed
   */
  claimAlloc(id: number, set: number, data: number): boolean {
    logRecord(this, EV_ALLOC, id, -1, set, this.setGen(set), data);
    return logClaimRecorded(this, this.hts, EVK_IF_PUBLISHED);
  }

  /**
   * Commit (published) or void the ALLOC claimed by `claimAlloc`, then distribute.
   *
   * Context: the thread that claimed it; never blocks.
   */
  finishAlloc(claimed: boolean, published: boolean): void {
    if (!claimed) return;
    logCommit(this, this.hts, published);
    tryDistribute(this, true);
  }

  // -------------------------------------------------------------------------------------------
  // subscriptions (called by the facade, arguments validated)
  // -------------------------------------------------------------------------------------------

  /** Take DLOCK for a membership change, recorded for recovery. */
  #lockMembership(op: number, a = 0, b = 0, c = 0, d = 0): void {
    const { hk, hts } = this;
    lockAcquire(hk, DLOCK_WORD, this.tag);
    hk[DIST_OP_WORD] = DOP_MEMBERSHIP; // plain (DLOCK)
    if (op === REG_NONE) return;
    hk[hts + HK_REG_ARG] = a; // plain (owner)
    hk[hts + HK_REG_ARG2] = b;
    hk[hts + HK_REG_ARG3] = c;
    hk[hts + HK_REG_ARG4] = d;
    hk[hts + HK_REG_OP] = op;
  }

  #unlockMembership(): void {
    this.hk[DIST_OP_WORD] = DOP_NONE;
    lockRelease(this.hk, DLOCK_WORD);
    tryDistribute(this);
    // Last: until here recovery undoes a registration whose id it cannot know was returned.
    this.hk[this.hts + HK_REG_OP] = REG_NONE;
  }

  /**
   * Subscribe to the global chain (`set` -1) or to live set `set`'s chain.
   *
   * Context: takes DLOCK (may block briefly).
   * @returns the sub id; -EINVAL the set is not live; -ENOSPC no slot. On error nothing changes.
   */
  register(set: number, prio: number): number {
    const setGen = set < 0 ? -1 : this.setGen(set);
    if (set >= 0 && setGen < 0) return -Errno.EINVAL;
    this.#lockMembership(REG_NONE);
    const v = this.#registerLocked({
      kind: set < 0 ? SUBK_GLOBAL : SUBK_SET,
      set,
      setGen,
      token: -1,
      prio,
    });
    this.#unlockMembership();
    return v;
  }

  #registerLocked(spec: {
    kind: number;
    set: number;
    setGen: number;
    token: number;
    prio: number;
  }): number {
    const slot = subFreeSlotLocked(this.hk, this.hg);
    if (slot < 0) return slot;
    // A set subscriber's set may have died since we looked: then it is attached to a dead
    // generation and the rebuild orphans it at once (as if the set died right after).
    this.hk[this.hts + HK_REG_ARG] = slot;
    this.hk[this.hts + HK_REG_OP] = REG_REGISTERING;
    return subRegisterLocked(this, slot, spec);
  }

  /**
   * Subscribe to the chain of the MM set of `token`: attached now if the set exists (and is
   * empty), else pending until `setAlloc` creates it.
   *
   * @param mmSet - the live MM set of this token (found under the set lock), or -1
   *
   * Context: the caller holds the set lock; takes DLOCK (may block briefly).
   * @returns the sub id; -EBUSY the set has ids; -ENOSPC no slot. On error nothing changes
   * (but for an alloc racing in after the attach, which is undone).
   */
  registerMmLocked(token: number, prio: number, mmSet: number): number {
    if (mmSet >= 0 && this.#setUnits(mmSet) > 0) return -Errno.EBUSY;
    this.#lockMembership(REG_NONE);
    const setGen = mmSet < 0 ? -1 : this.setGen(mmSet);
    let v = this.#registerLocked({ kind: SUBK_MM, set: mmSet, setGen, token, prio });
    // Attach, then look at the count again: an alloc that took its unit after this look sees
    // the subscriber (it checks HOOKS and the chain after its unit); one before is seen here.
    if (v >= 0 && mmSet >= 0 && this.#setUnits(mmSet) > 0) {
      subUnregisterLocked(this, v);
      v = -Errno.EBUSY;
    }
    this.#unlockMembership();
    return v;
  }

  /**
   * Unregister `sub`.
   *
   * Context: takes DLOCK (may block briefly); any thread.
   * @returns 0 or -ENOENT (nothing changes)
   */
  unregister(sub: number): number {
    if (!subIsRegistered(this.hk, this.hg, sub)) return -Errno.ENOENT;
    this.#lockMembership(REG_NONE);
    const v = subUnregisterLocked(this, sub);
    this.#unlockMembership();
    return v;
  }

  /**
   * setAlloc is about to create a set (MM sets: with `token`, else -1): when subscribers exist,
   * record that its pending MM subscribers are owed their attach, with LOG_HEAD now (every
   * event of the new set comes after it).
   *
   * Context: the caller holds the set lock (MM registrations are excluded meanwhile).
   * @returns true when `setCreatedLocked` must follow
   */
  setCreating(token: number): boolean {
    if (Atomics.load(this.hk, HOOKS_WORD) < HOOKS_SUB_ONE) return false;
    const { hk, hts } = this;
    hk[hts + HK_REG_ARG] = token; // plain (owner)
    hk[hts + HK_REG_ARG4] = Atomics.load(hk, LOG_HEAD_WORD);
    hk[hts + HK_REG_OP] = REG_SET_CREATE;
    return true;
  }

  /**
   * The set announced by `setCreating` was created as `set` (or not: `set` < 0): attach the
   * pending MM subscribers of its token, detach the stale subscribers of the slot's earlier
   * incarnation.
   *
   * Context: the caller holds the set lock; takes DLOCK (may block briefly).
   */
  setCreatedLocked(set: number): void {
    const { hk, hts } = this;
    if (set < 0) {
      hk[hts + HK_REG_OP] = REG_NONE;
      return;
    }
    const token = hk[hts + HK_REG_ARG]!;
    const from = hk[hts + HK_REG_ARG4]!;
    const setGen = this.setGen(set);
    this.#lockMembership(REG_MM_ATTACH, token, set, setGen, from);
    mmAttachLocked(this, token, set, setGen, from);
    this.#unlockMembership();
  }

  /**
   * Read up to `max` events of `sub` (an overflow entry first when events were lost).
   *
   * Context: any attached thread; never blocks.
   * @returns the records, or undefined when `sub` is not registered
   */
  read(sub: number, max: number): Array<NotifyRecord | OverflowRecord> | undefined {
    tryDistribute(this);
    if (!subIsRegistered(this.hk, this.hg, sub)) return undefined;
    const out: Array<NotifyRecord | OverflowRecord> = [];
    subRead(this, sub, max, out);
    return out;
  }

  /**
   * Wait until `sub` has something readable.
   *
   * Context: blocks (Atomics.wait); outside a read-side section.
   * @returns the readable count, 0 on timeout, -ENOENT not registered
   */
  wait(sub: number, timeoutMs: number): number {
    if (!subIsRegistered(this.hk, this.hg, sub)) return -Errno.ENOENT;
    const n = subWait(this, sub, timeoutMs);
    return n < 0 ? -Errno.ENOENT : n;
  }

  // -------------------------------------------------------------------------------------------
  // allocators (the facade and the engine)
  // -------------------------------------------------------------------------------------------

  /** See AllocatorRegistry.register (same context and results). */
  registerAllocator(ops: AllocatorOps): number {
    return this.allocators.register(ops);
  }

  /** See AllocatorRegistry.unregister (same context and results). */
  unregisterAllocator(ops: AllocatorOps): number {
    return this.allocators.unregister(ops);
  }

  /** See AllocatorRegistry.choose (same context and results). */
  chooseAllocator(): AllocatorChoice | null {
    return this.allocators.choose();
  }

  // -------------------------------------------------------------------------------------------
  // recovery
  // -------------------------------------------------------------------------------------------

  /**
   * Settle what dead thread `slot` left in the hooks (module notes).
   *
   * @param published - false when the dead thread's engine intent is an unfinished alloc
   *
   * Context: releaseThread/attach recovery, before the engine recovers the slot; outside a
   * read-side section; may take DLOCK and the registry lock briefly.
   * @returns how many things were settled
   */
  recoverSlot(slot: number, published: boolean): number {
    const { hk, hg } = this;
    const dts = hooksThreadWord(hg, slot);
    const deadTag = slot + 1;
    let n = 0;
    if (lockTakeOver(hk, DLOCK_WORD, deadTag, this.tag)) {
      n++;
      // A half-distributed entry needs nothing here: DIST_* say how far it got, and whoever
      // distributes next (recoverSlotAfter does) resumes at the next receiver.
      const op = hk[DIST_OP_WORD]!;
      const reg = Atomics.load(hk, dts + HK_REG_OP);
      // (A membership change may have cleared DIST_OP and died releasing the lock.)
      if (op === DOP_MEMBERSHIP || reg === REG_REGISTERING || reg === REG_MM_ATTACH)
        this.#finishMembershipLocked(dts);
      hk[DIST_OP_WORD] = DOP_NONE;
      lockRelease(hk, DLOCK_WORD);
      wakeAllReaders(hk, hg); // it may have died before ringing a bell
    } else {
      const op = Atomics.load(hk, dts + HK_REG_OP);
      // Released the lock but died before returning: a registration nobody got the id of is
      // undone; an attach is redone (idempotent).
      if (op === REG_REGISTERING || op === REG_MM_ATTACH) {
        lockAcquire(hk, DLOCK_WORD, this.tag);
        this.#finishMembershipLocked(dts);
        lockRelease(hk, DLOCK_WORD);
        n++;
      }
    }
    if (Atomics.load(hk, dts + HK_REG_OP) !== REG_SET_CREATE)
      Atomics.store(hk, dts + HK_REG_OP, REG_NONE);
    // An event it owed (its operation took effect) or claimed: emitted, or voided for an
    // ALLOC whose publish did not happen.
    let kind = Atomics.load(hk, dts + HK_EV_KIND);
    if (kind === EVK_OWED) kind = logClaimRecorded(this, dts, EVK_COMMIT) ? EVK_COMMIT : 0;
    if (kind !== 0) {
      logCommit(this, dts, kind === EVK_COMMIT || published);
      n++;
    }
    n += this.allocators.recover(dts, deadTag, published);
    return n;
  }

  /**
   * What recovery finishes after the engine recovered the dead thread's slot (its set lock
   * and id bits are free then): the MM attach a dead setAlloc owed, the distribution, and the
   * deferred frees (their bit claims need the engine's rollback done).
   *
   * Context: as recoverSlot; may take the set lock and DLOCK briefly.
   * @returns how many things were settled
   */
  recoverSlotAfter(slot: number, findMmLocked: (token: number) => number, setLock: number): number {
    const { hk } = this;
    const dts = hooksThreadWord(this.hg, slot);
    let n = 0;
    if (Atomics.load(hk, dts + HK_REG_OP) === REG_SET_CREATE) {
      const token = Atomics.load(hk, dts + HK_REG_ARG);
      lockAcquire(this.#i32, setLock, this.tag);
      const set = token < 0 ? -1 : findMmLocked(token);
      if (set >= 0) {
        const setGen = this.setGen(set);
        const from = Atomics.load(hk, dts + HK_REG_ARG4);
        this.#lockMembership(REG_NONE);
        mmAttachLocked(this, token, set, setGen, from);
        this.#unlockMembership();
        n++;
      }
      lockRelease(this.#i32, setLock);
      Atomics.store(hk, dts + HK_REG_OP, REG_NONE);
    }
    tryDistribute(this);
    this.allocators.helpDeferred();
    return n;
  }

  /** Finish the membership change dead slot `dts` was making (we hold DLOCK). */
  #finishMembershipLocked(dts: number): void {
    const { hk, hg } = this;
    const op = Atomics.load(hk, dts + HK_REG_OP);
    if (op === REG_REGISTERING) {
      const slot = Atomics.load(hk, dts + HK_REG_ARG) & SUB_SLOT_MASK;
      Atomics.store(hk, subWord(hg, slot) + S_ID, -1);
    } else if (op === REG_MM_ATTACH) {
      mmAttachLocked(
        this,
        Atomics.load(hk, dts + HK_REG_ARG),
        Atomics.load(hk, dts + HK_REG_ARG2),
        Atomics.load(hk, dts + HK_REG_ARG3),
        Atomics.load(hk, dts + HK_REG_ARG4),
      );
    }
    chainsRebuildLocked(this);
  }
}
