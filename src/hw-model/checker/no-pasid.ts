/**
 * INV-12's "exactly when" (§7.6): a vcmd Allocate answered "no PASID available" is correct
 * only if, when the VMM's allocation failed, the VM's quota or the global PASID space was
 * exhausted. (The other direction needs no check: the core cannot hand out a PASID past
 * either limit, and INV-1/INV-2 and the core's own tests say so.)
 *
 * The checker cannot look at the core when the VMM's call failed, and a snapshot taken when
 * it reads the answer is racy both ways. So it bounds, from the log alone, how many quota
 * units of the VM's set and how many PASIDs of the space *may* have been in use at that
 * instant, and reports a violation only when even those upper bounds leave room.
 *
 * ## Developer notes
 * Window: VCMD_START (logged after IP was set, before the VMM's allocation) to VCMD_DONE
 * (logged after it returned). The failure instant tf lies inside. A VCMD_DEFER (the core said
 * -ENOMEM: the VMM put the command back unanswered) closes the window with nothing to judge.
 *
 * Upper bound on the units held at tf, U = held(s) + late:
 * - held(s): at VCMD_START, the PASIDs the log shows allocated or free-pending, plus those
 *   whose last reference the log shows dropped but whose reclaim may still be running. PUT
 *   and FREE_CALL are logged *before* the core call that drops the reference (event-log.ts's
 *   rule), and the log's order of two drops need not be their calls' order: the drop that
 *   took the log's count to 0 may have run first, and the reclaim then runs in the call of
 *   another actor whose drop was logged earlier. So a drop to 0 is only known finished once
 *   every actor with a drop of that PASID logged and not yet followed by its next event has
 *   logged again (an actor runs on one thread at a time, and logs nothing between the event
 *   and the call); actor 0 (the public API, reapers on the main thread) is never trusted that
 *   way, and every drop is known finished at a quiescent point (every actor parked, every
 *   reaper done).
 * - late: every ALLOC (and ALLOC_FAIL: a failing call may hold an id bit for a moment) logged
 *   after VCMD_START whose ticket may have been taken before tf. ALLOC is logged *after* the
 *   call returned, so it can come after VCMD_DONE; but every allocation takes its ticket
 *   (L_TICKETS) before calling the core, and the VMM reads the ticket counter after its call
 *   failed into VCMD_DONE's `gen`: an allocation holding anything at tf has a ticket no larger.
 *   Those events are all in the log by the next quiescent point, where the judgement is made.
 * Decreases during the window are ignored (an over-approximation): a bound, never a guess.
 * The VMM's own ALLOC_FAIL is not counted (it is the call that failed; a VM's set is only
 * allocated from by its VMM, under its lock).
 *
 * Space: the VMM asks for [1, 0xFFFFF]; the space has 2^pasidBits - 1 values, of which the
 * profile's reserved ones are held outside the log (H_RESERVED_IDS).
 *
 * @internal
 */
import { Ev, type LogEvent } from '../event-log.js';
import { isVmToken, vmOfToken } from '../hw-layout.js';
import type { Judge } from './guest-checks.js';

const VCMD_ALLOC = 1;
const GUEST_PASID_MAX = 0xfffff;

/** A no-PASID answer waiting for the allocations that may have raced it. */
interface Pending {
  vm: number;
  token: number;
  /** Upper bounds so far: units of the VM's set; PASIDs of the space. */
  set: number;
  all: number;
  /** Allocations with a ticket up to this one may have held something at tf. */
  ticketBound: number;
  e: LogEvent;
}

/** An open window: the VMM took an Allocate and has not answered yet. */
interface Window {
  /** held(s) per token of this VM index (several after reboots: each its own set). */
  heldOfVm: Map<number, number>;
  heldAll: number;
  /** ALLOC / ALLOC_FAIL logged since, per owner token, and in all. */
  lateOf: Map<number, number>;
  lateAll: number;
}

/** The no-PASID witness of one checker. */
export class NoPasidWitness {
  readonly #judge: Judge;
  readonly #quota: number;
  readonly #capacity: number;
  readonly #noPasidSc: number;
  /** Per owner token: PASIDs allocated, free-pending, or whose reclaim may still run. */
  readonly #held = new Map<number, number>();
  #heldAll = 0;
  /** Per actor, the PASIDs whose drop (PUT, FREE_CALL) it logged and may still be calling. */
  readonly #dropping = new Map<number, Set<number>>();
  /** Drops to 0 refs whose reclaim may still run: the owner, and the actors that may run it. */
  readonly #unsettled: { owner: number; actors: Set<number> }[] = [];
  readonly #windows = new Map<number, Window>();
  readonly #pending: Pending[] = [];

  /**
   * @param quota - a VM set's quota (H_VM_QUOTA)
   * @param capacity - PASIDs a VMM's Allocate can get at most: values in [1, 0xFFFFF] of the
   *   space, less the reserved ones
   * @param noPasidSc - the status code of "no PASID" in the run's vcmd encoding
   */
  constructor(judge: Judge, quota: number, capacity: number, noPasidSc: number) {
    this.#judge = judge;
    this.#quota = quota;
    this.#capacity = capacity;
    this.#noPasidSc = noPasidSc;
  }

  /** The space's capacity for a VMM's Allocate. Context: pure. */
  static capacity(pasidBits: number, reserved: number): number {
    return Math.min(GUEST_PASID_MAX, 2 ** pasidBits - 1) - reserved;
  }

  /** An ALLOC the checker took as a new generation: one more held by `owner`. */
  allocated(owner: number): void {
    this.#held.set(owner, (this.#held.get(owner) ?? 0) + 1);
    this.#heldAll++;
  }

  /**
   * The log dropped `owner`'s PASID `pasid` to 0 refs: its reclaim is under way, in the call of
   * any actor whose drop of it may still be running (the one whose event this is included).
   */
  reclaimed(owner: number, pasid: number): void {
    const actors = new Set<number>();
    for (const [actor, pasids] of this.#dropping) if (pasids.has(pasid)) actors.add(actor);
    this.#unsettled.push({ owner, actors });
  }

  /**
   * Every event, before the checker handles it: settles the actor's earlier drops, follows
   * the vcmd windows and the allocations that may race a no-PASID answer.
   */
  observe(e: LogEvent): void {
    if (e.actor !== 0) this.#settleActor(e.actor);
    if (e.kind === Ev.PUT || e.kind === Ev.FREE_CALL) {
      const pasids = this.#dropping.get(e.actor);
      if (pasids) pasids.add(e.pasid);
      else this.#dropping.set(e.actor, new Set([e.pasid]));
    }
    switch (e.kind) {
      case Ev.VCMD_START:
        if ((e.b & 0xff) === VCMD_ALLOC) this.#open(e.a);
        break;
      case Ev.ALLOC:
      case Ev.ALLOC_FAIL:
        this.#late(e);
        break;
      case Ev.VCMD_DONE:
        this.#answered(e);
        break;
      case Ev.VCMD_DEFER:
        // Put back unanswered (the core was short of records): no answer to judge; the next
        // VCMD_START of the command opens a window of its own.
        this.#windows.delete(vmOfToken(e.a));
        break;
      default:
        break;
    }
  }

  /**
   * A quiescent point (or the end): every reclaim logged has finished and every allocation
   * that may have raced a no-PASID answer is logged. Judge the answers still open.
   */
  settle(): void {
    this.#dropping.clear();
    for (const u of this.#unsettled.splice(0)) this.#release(u.owner);
    for (const p of this.#pending.splice(0)) this.#verdict(p, true);
  }

  /** `actor` logged again: its drops returned, and the reclaims only it could run are done. */
  #settleActor(actor: number): void {
    if (!this.#dropping.delete(actor)) return;
    let kept = 0;
    for (const u of this.#unsettled) {
      u.actors.delete(actor);
      if (u.actors.size === 0) this.#release(u.owner);
      else this.#unsettled[kept++] = u;
    }
    this.#unsettled.length = kept;
  }

  #release(owner: number): void {
    const n = (this.#held.get(owner) ?? 0) - 1;
    if (n > 0) this.#held.set(owner, n);
    else this.#held.delete(owner);
    this.#heldAll--;
  }

  #open(vm: number): void {
    const heldOfVm = new Map<number, number>();
    for (const [token, n] of this.#held)
      if (isVmToken(token) && vmOfToken(token) === vm) heldOfVm.set(token, n);
    this.#windows.set(vm, { heldOfVm, heldAll: this.#heldAll, lateOf: new Map(), lateAll: 0 });
  }

  #late(e: LogEvent): void {
    const owner = e.kind === Ev.ALLOC ? e.a : e.b;
    for (const [vm, w] of this.#windows) {
      // The VMM's own failing call (its set is allocated from only under its lock).
      if (e.kind === Ev.ALLOC_FAIL && isVmToken(owner) && vmOfToken(owner) === vm) continue;
      w.lateOf.set(owner, (w.lateOf.get(owner) ?? 0) + 1);
      w.lateAll++;
    }
    for (const p of this.#pending) {
      if (e.gen <= 0 || e.gen > p.ticketBound) continue;
      if (owner === p.token) p.set++;
      p.all++;
    }
  }

  #answered(e: LogEvent): void {
    if ((e.b & 0xff) !== VCMD_ALLOC) return;
    const vm = vmOfToken(e.a);
    const w = this.#windows.get(vm);
    this.#windows.delete(vm);
    if (e.b >>> 8 !== this.#noPasidSc || !w) return;
    const p: Pending = {
      vm,
      token: e.a,
      set: (w.heldOfVm.get(e.a) ?? 0) + (w.lateOf.get(e.a) ?? 0),
      all: w.heldAll + w.lateAll,
      ticketBound: e.gen,
      e,
    };
    if (!this.#verdict(p, false)) this.#pending.push(p);
  }

  /** True when decided (exhausted: fine; or `final`: a violation). */
  #verdict(p: Pending, final: boolean): boolean {
    const exhausted = p.set >= this.#quota || p.all >= this.#capacity;
    if (!exhausted && !final) return false;
    this.#judge(
      'INV-12',
      0,
      exhausted
        ? false
        : `vcmd Allocate for VM ${p.vm} answered "no PASID available" (event #${p.e.seq}) while at most ${p.set} of its quota of ${this.#quota} and at most ${p.all} of the ${this.#capacity} PASIDs of the space were in use`,
      p.e,
    );
    return true;
  }
}
