/**
 * A stress CPU's view of what it holds (stress/ops/view.ts), plus what the harness needs
 * from it: the shadow oracle (check-layout.ts), the published words a kill must not lose,
 * the operation log for the checker, and its violations, reported with the CPU, the op, the
 * id and the set they concern.
 *
 * ## Developer notes
 * A CPU touches only its own ids with state-changing calls (free, get, put, SPIDs, data);
 * lookups (find) also probe ids held by others, under RCU, where only the shape of the
 * result can be checked. That split is what makes exact expectations possible without a
 * global order of operations: nobody else can change an id this CPU holds. Shared sets are
 * created by the harness and never destroyed during the run; each CPU may also own one
 * scratch set, which exercises setAlloc/setFree/freeAllInSet without disturbing the others.
 *
 * ## Kill safety
 * The harness terminates a CPU at any point of any operation, including while it holds the
 * set lock (setAlloc, setFree) or the SPID lock (attachSpid, detachSpid; the reclaim of an id
 * with a SPID in free, put or freeAllInSet unhashes it without the lock), leads a grace
 * period (detachData, or an alloc driving one) or sits in a read-side section. The space takes all of that back (`releaseThread`).
 * What is left is this CPU's own bookkeeping, which is correct whichever of its statements
 * was the last:
 * - Shadow claim (`adopt`, after alloc returned): claimed, then counted, then held, then
 *   HELD published. A kill in between leaves a live id unclaimed, or claimed but not
 *   counted; the counts stay a lower bound and a claim still implies a live id.
 * - Shadow release (`releasing`, before free, put or freeAllInSet): released, then
 *   uncounted, then the call that reclaims. A kill in between leaves a live id unclaimed,
 *   counted or not; never a claim on a reclaimed id, so a set the allocator destroys has a
 *   shadow count of 0 (`setCreated` checks it when the slot is reused).
 * - HELD is published after an id is held or forgotten, so a dead CPU held at most HELD ids
 *   plus the one its alloc had just returned; a freeAllInSet cut short forgets nothing.
 * - The scratch set: at most one per task (setAlloc only when there is none; a dying one is
 *   destroyed with its last id), published in SCRATCH once setAlloc returned it and until it
 *   is destroyed, CREATING while setAlloc runs. So a dead CPU leaves at most its published
 *   set (live or free-pending, maybe already destroyed by a setFree or reclaim cut short) or,
 *   if it died CREATING, one set nobody knows of (live and empty, or rolled back by
 *   `releaseThread`); the harness empties and frees them at the end.
 * - SPIDs carry the task's generation, so a replacement CPU never collides with the SPIDs of
 *   its predecessor's ids, which stay bound until the harness frees those ids at the end.
 * - A free that leaves references (with subscribers: the FREE the event streams are counted
 *   against, stress/notify/verify-events.ts): FREEING_BEFORE, then FREEING (the id), then the
 *   call, then the ledger's word, then FREEING 0; the harness settles a CPU killed in between
 *   from the id's state.
 * What the harness checks after the run is in stress/verify-at-end.ts.
 */
import type { OpLog } from '../../src/workers/op-log.js';
import {
  CHECK_IDS_GIVEN_BACK,
  CHECK_IDS_TAKEN,
  type CheckGeometry,
  CPU_FREEING,
  CPU_FREEING_BEFORE,
  CPU_HELD,
  CPU_SCRATCH,
  cpuOracleBase,
  freeLedgerBase,
  SCRATCH_CREATING,
  shadowOwnerBase,
  shadowSetBase,
} from '../check/check-layout.js';
import { reportViolation } from '../check/violations.js';
import { type CustomHost, HOST_GROUP } from '../custom-host.js';
import { free } from '../ops/free.js';
import { opIndex } from '../ops/index.js';
import { perform, type StressSpace } from '../ops/op.js';
import { put } from '../ops/put.js';
import { setFree } from '../ops/set-free.js';
import { type Breach, type HeldId, type KnownSet, View, type ViewOptions } from '../ops/view.js';
import type { SpaceProbe } from '../space-probe.js';

/** A stress CPU's view, publishing what a kill must not lose. */
export class CpuView extends View {
  readonly #w: Int32Array<SharedArrayBuffer>;
  readonly #oracle: number;
  readonly #owners: number;
  /** shadowSetBase(g, 0): set `s`'s shadow words are at #sets + 2 * s. */
  readonly #sets: number;
  readonly #me: number;
  readonly #log: OpLog;
  readonly #probe: SpaceProbe | undefined;
  readonly #host: CustomHost | undefined;
  /** The free ledger (freeLedgerBase), or -1 in a run without subscribers. */
  readonly #ledger: number;
  /** The ledger's word of the id in CPU_FREEING, before the call. */
  #freeingBefore = 0;
  /** IDS_GIVEN_BACK read before the current alloc call. */
  #givenBackBefore = 0;

  /**
   * @param o - the view's setup (o.complete must be false)
   * @param check - the run's check buffer
   * @param g - its geometry
   * @param log - this CPU's log ring
   * @param probe - reads the space's count of records recycled under a reader (optional)
   * @param host - the custom allocator every alloc goes through (`--custom-allocator`), if any
   *
   * Context: the CPU's own thread.
   */
  constructor(
    o: ViewOptions,
    check: SharedArrayBuffer,
    g: CheckGeometry,
    log: OpLog,
    probe?: SpaceProbe,
    host?: CustomHost,
  ) {
    super(o);
    this.#host = host;
    this.#ledger = (g.subs ?? 0) > 0 ? freeLedgerBase(g) : -1;
    this.#w = new Int32Array(check);
    this.#oracle = cpuOracleBase(o.cpu);
    this.#owners = shadowOwnerBase(g);
    this.#sets = shadowSetBase(g, 0);
    this.#me = o.cpu + 1;
    this.#log = log;
    this.#probe = probe;
  }

  override adopt(h: HeldId, op: string): void {
    const w = this.#w;
    // Claim the shadow word: taken means another allocation of the id is still live.
    const owner = Atomics.compareExchange(w, this.#owners + h.id, 0, this.#me);
    if (owner !== 0) {
      this.#report(
        'id-live-twice',
        op,
        h.id,
        h.set,
        owner - 1,
        `${op} returned id ${h.id} for set ${h.set}, but CPU ${owner - 1} still holds it ` +
          `(its shadow claim)${owner === this.#me ? ' (this CPU)' : ''}`,
      );
      return; // not this CPU's: it never frees it
    }
    const sb = this.#sets + 2 * h.set;
    const live = Atomics.add(w, sb, 1) + 1;
    const quota = Atomics.load(w, sb + 1);
    if (quota > 0 && live > quota)
      this.#report(
        'quota-exceeded',
        op,
        h.id,
        h.set,
        live,
        `after ${op} returned id ${h.id}, the CPUs hold ${live} live ids of set ${h.set}, ` +
          `over its quota ${quota} (shadow count, a lower bound)`,
      );
    super.adopt(h, op);
    Atomics.store(w, this.#oracle + CPU_HELD, this.held.length);
    // With a custom allocator the id came from the host, which holds it while it is live. (A
    // deferred free, done for a dead thread, may give a re-handed id back once: then skip.)
    if (this.#host && !this.#host.holds(h.id) && this.#probe?.deferredFrees() === 0)
      this.#report(
        'bad-result',
        op,
        h.id,
        h.set,
        h.id,
        `${op} returned id ${h.id}, which the custom allocator '${HOST_GROUP}' did not hand out`,
      );
  }

  override leavingPending(h: HeldId): void {
    if (this.#ledger < 0) return;
    const w = this.#w;
    this.#freeingBefore = Atomics.load(w, this.#ledger + h.id);
    Atomics.store(w, this.#oracle + CPU_FREEING_BEFORE, this.#freeingBefore);
    Atomics.store(w, this.#oracle + CPU_FREEING, h.id);
  }

  override leftPending(h: HeldId, pending: boolean): void {
    if (this.#ledger < 0) return;
    if (pending) Atomics.store(this.#w, this.#ledger + h.id, this.#freeingBefore + 1);
    Atomics.store(this.#w, this.#oracle + CPU_FREEING, 0);
  }

  override releasing(h: HeldId): void {
    // Cannot fail: only the owner releases its claim, and a CPU holds only ids it claimed
    // (adopt does not hold an id whose claim failed). Defensive: the old value is not used.
    Atomics.compareExchange(this.#w, this.#owners + h.id, this.#me, 0);
    Atomics.sub(this.#w, this.#sets + 2 * h.set, 1);
  }

  override kept(h: HeldId): void {
    Atomics.compareExchange(this.#w, this.#owners + h.id, 0, this.#me);
    Atomics.add(this.#w, this.#sets + 2 * h.set, 1);
  }

  override allocating(): void {
    this.#givenBackBefore = Atomics.load(this.#w, CHECK_IDS_GIVEN_BACK);
    Atomics.add(this.#w, CHECK_IDS_TAKEN, 1);
  }

  override allocTookNothing(): void {
    Atomics.add(this.#w, CHECK_IDS_GIVEN_BACK, 1);
  }

  override enospcWhileNotFull(lo: number, hi: number): string | undefined {
    const { idMin, idMax, customAllocator } = this.o;
    // Judged over the whole id range only (the CPUs allocate in no other), and not with a
    // custom allocator, whose host's ids are its own business.
    if (customAllocator || lo > idMin || hi < idMax) return undefined;
    // This call's own count is left out: an alloc that returns -ENOSPC holds no id.
    const taken = (Atomics.load(this.#w, CHECK_IDS_TAKEN) - 1) | 0;
    const most = (taken - this.#givenBackBefore) | 0;
    const size = idMax - idMin + 1;
    if (most >= size) return undefined;
    return (
      `the ${size} ids of [${idMin}, ${idMax}] were never all taken during the call: at most ` +
      `${most} were (ghost: ${taken} taken by other allocs by its end, ${this.#givenBackBefore} ` +
      'given back before it began); an id cached in a magazine must be found'
    );
  }

  override reclaimed(h: HeldId): void {
    Atomics.add(this.#w, CHECK_IDS_GIVEN_BACK, 1);
    super.reclaimed(h);
    Atomics.store(this.#w, this.#oracle + CPU_HELD, this.held.length);
  }

  override creatingSet(): void {
    // Before the call: a CPU killed inside setAlloc may leave a set nobody else knows of.
    Atomics.store(this.#w, this.#oracle + CPU_SCRATCH, SCRATCH_CREATING);
  }

  override setCreated(set: number, s: KnownSet): void {
    const sb = this.#sets + 2 * set;
    const left = Atomics.load(this.#w, sb);
    if (left !== 0)
      this.#report(
        'leak',
        'setAlloc',
        null,
        set,
        left,
        `setAlloc returned set ${set}, which the CPUs still hold ${left} ids of (shadow count): ` +
          'the set was destroyed with live ids',
      );
    Atomics.store(this.#w, sb + 1, s.quota);
    super.setCreated(set, s);
  }

  override ownScratch(set: number): void {
    super.ownScratch(set);
    Atomics.store(this.#w, this.#oracle + CPU_SCRATCH, set + 1);
  }

  override log(op: number, set: number, id: number, result: number): void {
    this.#log.write(op, set, id, result);
  }

  override breach(op: string, b: Breach, id: number | null, set: number | null): void {
    this.#report(b.kind, op, id, set, b.detail ?? 0, b.why);
  }

  override readerRecycles(): number {
    return this.#probe?.recycledUnderReader() ?? 0;
  }

  #report(
    kind: Breach['kind'],
    op: string,
    id: number | null,
    set: number | null,
    detail: number,
    why: string,
  ): void {
    reportViolation(this.#w, { kind, op, cpu: this.o.cpu, id, set, detail, why, foundBy: 'cpu' });
  }

  /**
   * Give back everything held (end of run): free each id, then put every extra reference;
   * then destroy the scratch set (a dying one already went with its last id), so a live CPU
   * leaves nothing behind (verify-at-end.ts counts on it). Each call is checked as in the run.
   *
   * @param space - the space (or the run's broken twin of it)
   *
   * Context: the CPU's own thread, after its loop stopped.
   * @returns nothing
   */
  releaseAll(space: StressSpace): void {
    const iFree = opIndex('free');
    const iPut = opIndex('put');
    for (const h of [...this.held]) {
      if (!h.pending) perform(free, iFree, space, this, { set: h.set, id: h.id });
      // Still held: free-pending (or a free that broke its contract, already reported).
      for (let n = h.refs; n > 0 && this.heldId(h.id) === h && h.pending; n--)
        perform(put, iPut, space, this, { set: h.set, id: h.id });
    }
    if (this.scratch >= 0 && !this.scratchDying)
      perform(setFree, opIndex('setFree'), space, this, { set: this.scratch });
    this.ownScratch(-1);
  }
}
