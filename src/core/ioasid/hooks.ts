/**
 * One thread's view of a space's hooks buffer: what the engine (space-core.ts) and the facade
 * (ioasid-space.ts) call for notifier chains and custom allocators. It ties the three modules
 * together (notifier-chains.ts: membership; notifier-queues.ts: log, distribution, reading;
 * allocator-registry.ts: groups and members) and holds this thread's context (its hooks
 * thread slot and lock tag).
 *
 * Developer notes.
 * - Zero cost when unused: HOOKS (a subscriber exists, or a custom group is registered) is
 *   mirrored into each live set's COUNT word (hooks-mirror.ts), so alloc's default path learns
 *   it from its reservation CAS and loads nothing; free and find load nothing new either (a
 *   custom id's KEY and free hint carry REC_KEY_CUSTOM). The engine comes here only when the
 *   mirror or HOOKS says so. Every membership change syncs the mirror before DLOCK is released
 *   (`#unlockMembership`), a registration before anything looks at the set counts.
 * - Lock order: set lock, then DLOCK (setAlloc, registerNotifierMm); the registry lock is
 *   never held with another but the mirror lock, a leaf taken last. The DLOCK holder never
 *   waits for a grace period or a set lock.
 * - `recoverSlot` is the hooks' step of a dead thread's recovery (thread-recovery.ts
 *   recoverShare), run before the engine continues the thread's intent (it needs that intent
 *   to know whether a half-done alloc published). It keeps the engine's order-free rule: it
 *   waits for nothing and takes no lock, and records each step in the dead thread's words.
 *   1. a DLOCK the dead thread held is taken over (CAS) and the membership change it was
 *      making finished (a registration that never returned is undone, an MM attach redone,
 *      chains rebuilt); a change it was making without the lock is left to the next DLOCK
 *      holder (S_DOOMED, ATTACH_OWED, HOUSEKEEPING); an entry it was distributing is resumed
 *      at the next receiver by whoever distributes next (DIST_* say how far it got);
 *   2. an event it owed or had claimed is emitted from its thread slot (voided for an ALLOC
 *      whose publish did not happen), so the log does not stall on it;
 *   3. its custom allocator intent and members are settled (allocator-registry.ts table);
 *   4. the log is distributed if no one else is at it (a try-lock).
 *   Subscribers belong to no thread and are left alone.
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
  HOUSEKEEPING_WORD,
  type HooksGeometry,
  hooksThreadWord,
  LOG_HEAD_WORD,
  REG_MM_ATTACH,
  REG_NONE,
  REG_REGISTERING,
  REG_SET_CREATE,
  S_DOOMED,
  S_ID,
  SUB_SLOT_MASK,
  SUBK_GLOBAL,
  SUBK_MM,
  SUBK_SET,
  subWord,
} from './hooks-layout.js';
import { mirrorRepair, mirrorSync } from './hooks-mirror.js';
import {
  type ChainsEnv,
  chainsRebuildLocked,
  housekeepingLocked,
  mmAttachLocked,
  type SubSpec,
  subFind,
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
import { SET_TYPE_MM, setCountOf, setInfo, setWord } from './sets.js';
import { SET_COUNT, SET_DEAD, SET_QUOTA, SET_SEQ, type SpaceGeometry } from './space-layout.js';
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
      mirror: (wait) => (wait ? this.mirror() : this.mirrorRepair()),
    });
  }

  /**
   * Mirror HOOKS into the sets' COUNT words (hooks-mirror.ts mirrorSync): called after every
   * change of HOOKS, before the change is reported.
   *
   * Context: any attached thread; takes the mirror lock (a leaf; may block briefly).
   */
  mirror(): void {
    mirrorSync(this.#i32, this.#g, this.hk, this.tag);
  }

  /**
   * An alloc met SET_HOOKED while HOOKS was 0: sweep it away if no one else is sweeping
   * (hooks-mirror.ts mirrorRepair).
   *
   * Context: any attached thread; never blocks.
   */
  mirrorRepair(): void {
    mirrorRepair(this.#i32, this.#g, this.hk, this.tag);
  }

  /** Does any set hold a quota unit? (The default allocator has ids, or is allocating one.) */
  #unitsHeld(): boolean {
    for (let set = 0; set < this.#g.maxSets; set++) if (this.#setUnits(set) > 0) return true;
    return false;
  }

  /**
   * The live incarnation of `set` (its SEQ word, bumped by each setAlloc of the slot), or -1
   * when it is dead. Stable while the caller holds a quota unit of the set (or a live record
   * of it): a set holding units cannot die, so its slot cannot be re-created.
   *
   * Context: any thread; two loads.
   */
  setGen(set: number): number {
    const base = setWord(this.#g, set);
    if ((Atomics.load(this.#i32, base + SET_COUNT) & SET_DEAD) !== 0) return -1;
    return Atomics.load(this.#i32, base + SET_SEQ);
  }

  /** Units `set` holds (live, free-pending and in-flight ids); 0 when dead. */
  #setUnits(set: number): number {
    const base = setWord(this.#g, set);
    const w = Atomics.load(this.#i32, base + SET_COUNT);
    if ((w & SET_DEAD) !== 0) return 0;
    return setCountOf(w, Atomics.load(this.#i32, base + SET_QUOTA));
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
    if (Atomics.load(hk, HOUSEKEEPING_WORD) !== 0) this.housekeepingLocked();
    if (op !== REG_NONE) {
      // Atomics: subFind (notifier-chains.ts subBeingRegistered) loads ARG and OP from other
      // threads. Before DOP_MEMBERSHIP, and the operands before the op: a kill among these
      // calls leaves DLOCK held with no membership change begun, as a kill at the HOUSEKEEPING
      // load above does, and the op before this one (NONE, or setCreating's SET_CREATE, whose
      // token and LOG_HEAD are rewritten with the same values).
      Atomics.store(hk, hts + HK_REG_ARG, a);
      Atomics.store(hk, hts + HK_REG_ARG2, b);
      Atomics.store(hk, hts + HK_REG_ARG3, c);
      Atomics.store(hk, hts + HK_REG_ARG4, d);
      Atomics.store(hk, hts + HK_REG_OP, op);
    }
    hk[DIST_OP_WORD] = DOP_MEMBERSHIP; // plain (DLOCK); no call since the op's store
  }

  #unlockMembership(): void {
    this.mirror(); // HOOKS may have changed (a registration syncs earlier too: #registerLocked)
    this.hk[DIST_OP_WORD] = DOP_NONE;
    lockRelease(this.hk, DLOCK_WORD);
    tryDistribute(this);
    // Last: until here recovery undoes a registration whose id it cannot know was returned.
    // Atomics: subFind loads it from other threads (a kill at this call is before its effect).
    Atomics.store(this.hk, this.hts + HK_REG_OP, REG_NONE);
  }

  /**
   * Subscribe to the global chain (`set` -1) or to live set `set`'s chain.
   *
   * Context: takes DLOCK (may block briefly).
   * @returns the sub id; -EINVAL the set is not live; -ENOSPC no slot. On error nothing changes.
   */
  register(set: number, prio: number, owner: number): number {
    const setGen = set < 0 ? -1 : this.setGen(set);
    if (set >= 0 && setGen < 0) return -Errno.EINVAL;
    this.#lockMembership(REG_NONE);
    const v = this.#registerLocked({
      kind: set < 0 ? SUBK_GLOBAL : SUBK_SET,
      set,
      setGen,
      token: -1,
      prio,
      owner,
    });
    this.#unlockMembership();
    return v;
  }

  #registerLocked(spec: SubSpec): number {
    const slot = subFreeSlotLocked(this.hk, this.hg);
    if (slot < 0) return slot;
    // A set subscriber's set may have died since we looked: then it is attached to a dead
    // generation and the rebuild orphans it at once (as if the set died right after).
    // Atomics: subFind loads both from other threads. The slot first: a kill between the two
    // leaves REG_NONE (nothing filled yet).
    Atomics.store(this.hk, this.hts + HK_REG_ARG, slot);
    Atomics.store(this.hk, this.hts + HK_REG_OP, REG_REGISTERING);
    const sub = subRegisterLocked(this, slot, spec);
    // Before registerMmLocked looks at the set's count again: an alloc whose reservation comes
    // after this sync finds SET_HOOKED and looks at the chain; one before it is counted there.
    this.mirror();
    return sub;
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
  registerMmLocked(token: number, prio: number, mmSet: number, owner: number): number {
    if (mmSet >= 0 && this.#setUnits(mmSet) > 0) return -Errno.EBUSY;
    this.#lockMembership(REG_NONE);
    const setGen = mmSet < 0 ? -1 : this.setGen(mmSet);
    let v = this.#registerLocked({ kind: SUBK_MM, set: mmSet, setGen, token, prio, owner });
    // Attach, then look at the count again: an alloc that took its unit after the registration's
    // mirror sync sees the subscriber (the hooked path checks the chain after its unit); one
    // before is seen here.
    if (v >= 0 && mmSet >= 0 && this.#setUnits(mmSet) > 0) {
      subUnregisterLocked(this, v);
      v = -Errno.EBUSY;
    }
    this.#unlockMembership();
    return v;
  }

  /**
   * The subscriber a returned registration made on the global chain (`set` -1), on live set
   * `set`'s chain (its current incarnation), or (`token` >= 0, `set` ignored) for MM token
   * `token`, with priority `prio` and owner tag `owner` (notifier-chains.ts subFind).
   *
   * Context: any thread; never blocks; reads only. Stale on return.
   * @returns the sub id, or -ENOENT (none, or the set is not live)
   */
  find(set: number, token: number, prio: number, owner: number): number {
    if (token >= 0)
      return subFind(this.hk, this.hg, { kind: SUBK_MM, set: -1, setGen: -1, token, prio, owner });
    const setGen = set < 0 ? -1 : this.setGen(set);
    if (set >= 0 && setGen < 0) return -Errno.ENOENT;
    const kind = set < 0 ? SUBK_GLOBAL : SUBK_SET;
    return subFind(this.hk, this.hg, { kind, set, setGen, token: -1, prio, owner });
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
   * Membership work dead threads left (see notifier-chains.ts housekeepingLocked).
   *
   * Context: the caller holds DLOCK; never blocks.
   */
  housekeepingLocked(): void {
    housekeepingLocked(this, (token: number) => this.#findMmLockFree(token));
  }

  /** The live MM set of `token`, or -1, read lock-free (setInfo's seqlock). */
  #findMmLockFree(token: number): number {
    for (let set = 0; set < this.#g.maxSets; set++) {
      const info = setInfo(this.#i32, this.#g, set);
      if (info !== undefined && info.type === SET_TYPE_MM && info.token === token) return set;
    }
    return -1;
  }

  /**
   * Settle what dead thread `slot` left in the hooks (module notes). Follows the engine's
   * order-free recovery rule (thread-recovery.ts): it waits for nothing and takes no lock (a
   * lock the dead thread held is taken over, or force-released, by CAS; membership work that
   * needs DLOCK is left to its next holder), and each step is recorded in the dead thread's
   * own words right after it, so a recoverer killed anywhere leaves a state the next one
   * continues exactly.
   *
   * @param published - false when the dead thread's engine intent is an unfinished alloc (read
   *   before the engine continues that intent)
   *
   * Context: releaseThread/attach recovery (thread-recovery.ts), before the engine continues
   * the dead thread's intent; never blocks.
   * @returns how many things were settled
   */
  recoverSlot(slot: number, published: boolean): number {
    const { hk, hg } = this;
    const dts = hooksThreadWord(hg, slot);
    const deadTag = slot + 1;
    let n = 0;
    // 1. DLOCK: a dead holder's lock is taken over and the membership change it was making
    // finished (work, no wait); a half-distributed entry is resumed by the next distributor.
    if (lockTakeOver(hk, DLOCK_WORD, deadTag, this.tag)) {
      n++;
      const op = hk[DIST_OP_WORD]!;
      const reg = Atomics.load(hk, dts + HK_REG_OP);
      if (op === DOP_MEMBERSHIP || reg === REG_REGISTERING || reg === REG_MM_ATTACH)
        this.#finishMembershipLocked(dts);
      hk[DIST_OP_WORD] = DOP_NONE;
      Atomics.store(hk, HOUSEKEEPING_WORD, 1); // whatever it had left half done
      lockRelease(hk, DLOCK_WORD);
      wakeAllReaders(hk, hg); // it may have died before ringing a bell
    }
    // A change it was making without the lock (or one the takeover left: an MM attach it
    // owed before taking the lock) goes to the next DLOCK holder.
    if (this.#oweMembership(dts)) n++;
    // 2. An event it owed (its operation took effect) or claimed: emitted, or voided for an
    // ALLOC whose publish did not happen.
    let kind = Atomics.load(hk, dts + HK_EV_KIND);
    if (kind === EVK_OWED) kind = logClaimRecorded(this, dts, EVK_COMMIT) ? EVK_COMMIT : 0;
    if (kind !== 0) {
      logCommit(this, dts, kind === EVK_COMMIT || published);
      n++;
    }
    // 3. Its custom allocator intent and members (allocator-registry.ts).
    n += this.allocators.recover(dts, deadTag, published);
    // 4. Distribute, if no one else does (a try-lock): the log must not wait for a reader.
    tryDistribute(this);
    return n;
  }

  /**
   * A membership change the dead thread was making while it did not hold DLOCK (it had not
   * taken it yet, or had released it): leave it to the next DLOCK holder. A registration
   * whose id never returned is doomed (S_DOOMED: unregistered then); an MM attach owed by a
   * setAlloc goes into the ATTACH_OWED table. Each recorded by CAS or store, then the dead
   * thread's REG_OP cleared right after (resumable).
   * @returns true when something was left
   */
  #oweMembership(dts: number): boolean {
    const { hk, hg } = this;
    const op = Atomics.load(hk, dts + HK_REG_OP);
    if (op === REG_REGISTERING) {
      const slot = Atomics.load(hk, dts + HK_REG_ARG) & SUB_SLOT_MASK;
      Atomics.store(hk, subWord(hg, slot) + S_DOOMED, 1);
    } else if (op === REG_MM_ATTACH || op === REG_SET_CREATE) {
      const token = Atomics.load(hk, dts + HK_REG_ARG);
      const from = Atomics.load(hk, dts + HK_REG_ARG4);
      // A NULL set (token -1) only wanted its slot's stale subscribers detached: the next
      // rebuild does that. The table has a row per thread: a free one is always there.
      for (let k = 0; token >= 0 && k < hg.maxThreads; k++) {
        const e = hg.attachBase + 2 * k;
        if (Atomics.compareExchange(hk, e, 0, token + 1) !== 0) continue;
        Atomics.store(hk, e + 1, from);
        break;
      }
    } else return false;
    Atomics.store(hk, HOUSEKEEPING_WORD, 1);
    hk[dts + HK_REG_OP] = REG_NONE; // (a recoverer killed before this owes it twice: harmless)
    return true;
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
    hk[dts + HK_REG_OP] = REG_NONE; // done (the steps above are idempotent)
  }
}
