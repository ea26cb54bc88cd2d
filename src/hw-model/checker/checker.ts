/**
 * The checker (the oracle of §7.1): it reads the event log in order, keeps the ghost state,
 * and asserts the host invariants of §7.6: online on every event (and per translation), on
 * table snapshots at quiescent points, and at the end of a run. It names the first violation
 * with the events of that PASID that led to it and the command that replays the run.
 *
 * ```ts
 * const c = new ModelChecker(platform.context, { replay: 'ioasid-stress --scenario host-sva --deterministic --seed 7' });
 * // ... actors step ...
 * c.consume();          // online checks on every new event
 * c.quiescent();        // every actor paused: scan the hardware
 * c.end();              // after the run drained: nothing may be left pending
 * c.first;              // the first violation, or undefined
 * ```
 *
 * ## Developer notes
 * The checker never asks an actor what it thinks: everything comes from the log (whose
 * order the log-order rule of event-log.ts makes meaningful) and from the hardware buffer.
 * Generations are the allocation tickets the driver recorded (event ALLOC); the per-PASID
 * ordinal the trace prints counts the ALLOCs of that value. P8 (reclaim) is not an event: it
 * is the PUT or FREE_CALL that brings the logged references to 0, logged before the call that
 * reclaims, so any ALLOC of the same value comes after it in the log.
 *
 * Phase order (INV-6), per (pf, pasid, gen): on the normal path every phase needs all the
 * phases before it; on the exception path (mm exit) P0 and P2 come first, P1 any time before
 * P6, P3..P7 in order. P8 needs P7 of every bond of the generation.
 *
 * @internal
 */

import { pfField } from '../device.js';
import {
  EV_NAMES,
  Ev,
  EventReader,
  type LogEvent,
  PH_EXCEPTION,
  PH_SKIPPED,
  PR_OVERFLOW,
  PR_STOP,
  RELOGGED,
} from '../event-log.js';
import { HOLDER_VDCM } from '../guest-bonds.js';
import type { HwContext } from '../hw-context.js';
import { H_PASID_BITS, H_RESERVED_IDS, H_VM_QUOTA, PF_WIDTH, RESP_SUCCESS } from '../hw-layout.js';
import { busyParts, firstBusyPasid } from '../quiesce.js';
import { scNoPasid } from '../vcmd-regs.js';
import { type BondGhost, Ghost, type PasidGhost } from './ghost.js';
import { GuestChecks, type RefWalk, type VmStats } from './guest-checks.js';
import { INVARIANTS, type InvariantCount, type InvariantId } from './invariants.js';
import { NoPasidWitness } from './no-pasid.js';
import { cacheHolds, scanAll } from './scan.js';

/** One violation, as reported. */
export interface Violation {
  /** The invariant, 'INV-n'. */
  id: InvariantId;
  /** Its name. */
  name: string;
  /** What was wrong, naming the PF, PASID and generation. */
  message: string;
  /** Log position of the event that revealed it (-1: a quiescent scan or the end check). */
  seq: number;
  /** The PASID it concerns. */
  pasid: number;
  /** The events of that PASID that led to it, oldest first. */
  trace: string[];
  /** The command that replays the run. */
  replay: string;
}

/** A teardown timeline for the report (log positions of P0 .. P8; -1 missing). */
export interface TeardownTimeline {
  /** The PF of the bond. */
  pf: number;
  /** The PASID. */
  pasid: number;
  /** Which allocation of this value (1 = first). */
  ordinal: number;
  /** The exception path (process exit with bonds). */
  exception: boolean;
  /** Log positions of P0 .. P8 (-1: not seen). */
  phases: number[];
}

/** Options of the checker. */
export interface CheckerOptions {
  /** The command that replays this run (printed with a violation). */
  replay?: string;
  /** Events within which a teardown must reach P7 and a free-pending PASID P8 (INV-16). */
  livenessBound?: number;
  /** Scan caches when P3/P4/P5 complete (INV-9); default true. */
  scans?: boolean;
  /** Keep reading the log (attach as its consumer); default true. */
  consume?: boolean;
}

const MAX_VIOLATIONS = 100;
const MAX_TIMELINES = 24;
const NORMAL_PREREQ = [
  [],
  [0],
  [0, 1],
  [0, 1, 2],
  [0, 1, 2, 3],
  [0, 1, 2, 3, 4],
  [0, 1, 2, 3, 4, 5],
  [0, 1, 2, 3, 4, 5, 6],
];
const EXCEPTION_PREREQ = [
  [],
  [],
  [],
  [2],
  [2, 3],
  [2, 3, 4],
  [1, 2, 3, 4, 5],
  [0, 1, 2, 3, 4, 5, 6],
];

/** The ghost-state checker of one platform. */
export class ModelChecker {
  readonly #hw: HwContext;
  readonly #reader: EventReader | undefined;
  readonly #ghost = new Ghost();
  readonly #counts = new Map<InvariantId, InvariantCount>();
  readonly #violations: Violation[] = [];
  readonly #timelines: TeardownTimeline[] = [];
  readonly #replay: string;
  readonly #bound: number;
  readonly #scans: boolean;
  readonly #pasidMax: number;
  /** Started and not finished: teardowns (to P7) and free-pending PASIDs (to P8). */
  readonly #pending = new Map<string, { seq: number; pasid: number; what: string }>();
  readonly #guest: GuestChecks;
  readonly #noPasid: NoPasidWitness;
  #seq = 0;
  #violationCount = 0;

  constructor(hw: HwContext, options: CheckerOptions = {}) {
    this.#hw = hw;
    this.#replay = options.replay ?? '(no replay command given)';
    this.#bound = options.livenessBound ?? 400_000;
    this.#scans = options.scans !== false;
    this.#pasidMax = 2 ** hw.ld(H_PASID_BITS) - 1;
    for (const inv of INVARIANTS)
      this.#counts.set(inv.id, { id: inv.id, name: inv.name, checks: 0, violations: 0 });
    this.#reader = options.consume === false ? undefined : new EventReader(hw.logI32);
    this.#guest = new GuestChecks(this.#ghost, this.#judge, hw.spidMode, hw.g.shape.vm.mdevs);
    this.#noPasid = new NoPasidWitness(
      this.#judge,
      hw.ld(H_VM_QUOTA),
      NoPasidWitness.capacity(hw.ld(H_PASID_BITS), hw.ld(H_RESERVED_IDS)),
      scNoPasid(hw.vcmdRev),
    );
  }

  /** The first violation, or undefined. */
  get first(): Violation | undefined {
    return this.#violations[0];
  }

  /** Violations kept (at most 100; `violationCount` counts them all). */
  get violations(): readonly Violation[] {
    return this.#violations;
  }

  /** Every violation found. */
  get violationCount(): number {
    return this.#violationCount;
  }

  /** Events checked so far. */
  get events(): number {
    return this.#seq;
  }

  /** Checks and violations per invariant, in report order. */
  counts(): InvariantCount[] {
    return INVARIANTS.map((i) => ({ ...this.#counts.get(i.id)! }));
  }

  /** Sampled teardown timelines. */
  timelines(): TeardownTimeline[] {
    return this.#timelines.map((t) => ({ ...t, phases: [...t.phases] }));
  }

  /**
   * Check up to `max` new events of the log.
   *
   * Context: the checker's thread; never blocks.
   * @returns events checked
   */
  consume(max = Number.POSITIVE_INFINITY): number {
    if (!this.#reader) return 0;
    return this.#reader.read((e) => this.onEvent(e), max);
  }

  /** True when a producer claimed a log slot it has not published yet. */
  logBusy(): boolean {
    return this.#reader?.pendingAtHead() ?? false;
  }

  /** Stop consuming the log (producers stop keeping events). */
  close(): void {
    this.#reader?.close();
  }

  /**
   * Scan the hardware at a quiescent point (every actor paused, the log consumed).
   *
   * Context: the checker's thread; takes the IOMMU lock for the cache scan.
   */
  quiescent(): void {
    this.#noPasid.settle();
    this.#guest.sample();
    scanAll(this.#hw, this.#ghost, this.#judge);
  }

  /**
   * The end of a run, after every process exited and the engines went idle: every
   * teardown finished, every PASID reclaimed, nothing allocated in the core.
   *
   * @param scan - scan the hardware first (false: only the log's account, for a checker fed
   *   a hand-written log)
   */
  end(scan = true): void {
    if (scan) {
      this.quiescent();
      // A killed actor must not leak: after the wind-down nothing may be left anywhere.
      const busy = busyParts(this.#hw);
      // With the trace of the first PASID left (its teardown's last events).
      this.#judge(
        'INV-16',
        busy.length ? firstBusyPasid(this.#hw) : 0,
        busy.length ? `the platform did not come to rest: ${busy.join(', ')}` : false,
      );
    }
    this.#noPasid.settle();
    for (const [, p] of this.#pending)
      this.#judge('INV-16', p.pasid, `${p.what} never finished (started at event #${p.seq})`);
    this.#pending.clear();
    for (const g of this.#ghost.all())
      this.#judge(
        'INV-16',
        g.pasid,
        g.state === 'free' ? false : `pasid ${g.pasid} is still ${g.state} at the end`,
      );
  }

  /**
   * Check one event (public so that tests can feed a hand-written log: the test doubles of
   * the invariants no mutation reaches).
   */
  onEvent(e: LogEvent): void {
    const seq = this.#seq++;
    // The reader hands over a fresh object per event: numbering it in place saves a copy.
    const ev = e;
    ev.seq = seq;
    this.#ghost.remember(ev);
    this.#noPasid.observe(ev);
    if ((seq & 255) === 0) this.#checkLiveness();
    switch (ev.kind) {
      case Ev.ALLOC:
        this.#alloc(ev);
        break;
      case Ev.GET:
        if (this.#get(ev)) this.#guest.track(ev, 'get');
        break;
      case Ev.PUT:
        if (this.#drop(ev, 'PUT')) this.#guest.track(ev, 'put');
        break;
      case Ev.FREE_CALL:
        if (this.#drop(ev, 'FREE')) this.#guest.track(ev, 'free');
        break;
      case Ev.NOTIFY_FREE:
        this.#notify(ev);
        break;
      case Ev.BIND:
        this.#bind(ev);
        break;
      case Ev.GBIND:
        this.#guest.onEvent(ev);
        this.#bind(ev);
        break;
      case Ev.UNBIND:
        this.#unbind(ev);
        break;
      case Ev.PHASE:
        this.#phase(ev);
        break;
      case Ev.TRANSLATE:
        this.#judge(
          'INV-10',
          ev.pasid,
          ev.b === ev.gen
            ? false
            : `a translation for pasid ${ev.pasid} gen ${ev.gen} on pf${ev.pf} used an entry of gen ${ev.b} (${['table', 'PASID cache', 'IOTLB', 'device TLB'][ev.c]})`,
          ev,
        );
        break;
      case Ev.SUBMIT:
      case Ev.GP_FIXUP:
      case Ev.WQ_PROGRAM:
        this.#judge('INV-5', ev.pasid, this.#notLive(ev, EV_NAMES[ev.kind]!), ev);
        break;
      case Ev.PAGE_REQ:
        this.#pageRequest(ev);
        break;
      case Ev.PRQ_SERVICE:
        this.#prqService(ev);
        break;
      case Ev.PRG_RESP:
        this.#prgResponse(ev);
        break;
      default:
        this.#guest.onEvent(ev);
        break;
    }
  }

  /** Per-VM figures (PASIDs live, guest submissions, exits 72, vcmds). */
  vmStats(): VmStats[] {
    return this.#guest.stats();
  }

  /**
   * How many of the platform's VMs have made no submission in their current life (since
   * their last boot, and not destroyed since): a threaded run's `untilEveryVmWorked` waits
   * for 0.
   *
   * Context: the checker's thread; never blocks.
   * @returns the count
   */
  vmsIdleThisBoot(): number {
    return this.#guest.idleThisBoot(this.#hw.g.shape.vm.vms);
  }

  /** The reference-count walk of the first PASID a vcmd Allocate handed out. */
  refWalk(): RefWalk | undefined {
    return this.#guest.walk();
  }

  // -------------------------------------------------------------------------------------------
  // handlers
  // -------------------------------------------------------------------------------------------

  #alloc(e: LogEvent): void {
    const g = this.#ghost.of(e.pasid);
    if (g.state !== 'free' && g.gen === e.gen) return; // a reaper re-logging a recorded alloc
    const inRange = e.pasid >= 1 && e.pasid <= this.#pasidMax;
    this.#judge(
      'INV-1',
      e.pasid,
      inRange ? false : `ALLOC returned ${e.pasid}, outside [1, ${this.#pasidMax}]`,
      e,
    );
    this.#judge(
      'INV-2',
      e.pasid,
      g.state === 'free'
        ? false
        : `ALLOC returned pasid ${e.pasid} to mm ${e.a} while it is ${g.state} for mm ${g.owner}`,
      e,
    );
    g.state = 'allocated';
    g.gen = e.gen;
    g.ordinal++;
    g.owner = e.a;
    g.refs = 1;
    g.held = [0, 0, 0, 0];
    g.slots = new Set();
    g.notifyOwed = 0;
    g.notified = 0;
    g.pendingSeq = -1;
    g.bonds = new Map();
    this.#noPasid.allocated(e.a);
  }

  /** @returns false for a reaper's repeat of a GET already counted */
  #get(e: LogEvent): boolean {
    const g = this.#ghost.of(e.pasid);
    // A reaper logs the GET of a thread that died appending it: counted once.
    if (e.c === RELOGGED && holds(g, e) && g.gen === e.gen) return false;
    this.#judge(
      'INV-11',
      e.pasid,
      g.state === 'allocated' && g.gen === e.gen
        ? false
        : `GET succeeded on pasid ${e.pasid} gen ${e.gen} while it is ${g.state} (gen ${g.gen})`,
      e,
    );
    g.refs++;
    g.held[e.b] = (g.held[e.b] ?? 0) + 1;
    if (bySlot(e)) g.slots.add(e.pf);
    return true;
  }

  /**
   * PUT or FREE_CALL: one reference fewer; 0 is P8.
   * @returns false for a reaper's repeat of a PUT or FREE already counted
   */
  #drop(e: LogEvent, what: 'PUT' | 'FREE'): boolean {
    const g = this.#ghost.of(e.pasid);
    // A reaper logs the PUT of a thread that died appending it: counted once.
    if (what === 'PUT' && e.c === RELOGGED && !holds(g, e) && g.gen === e.gen) return false;
    // A reaper logs the FREE of an owner that died appending it: once freed, the generation
    // is no longer 'allocated' (only a FREE leaves it), so the repeat is counted once.
    if (what === 'FREE' && e.c === RELOGGED && g.state !== 'allocated' && g.gen === e.gen)
      return false;
    const ok =
      g.state !== 'free' &&
      g.gen === e.gen &&
      g.refs > 0 &&
      !(what === 'FREE' && g.state === 'free-pending');
    this.#judge(
      'INV-11',
      e.pasid,
      ok
        ? false
        : `${what} of pasid ${e.pasid} gen ${e.gen} with ${g.refs} references, ${g.state} (gen ${g.gen})`,
      e,
    );
    if (!ok) return true;
    g.refs--;
    if (what === 'PUT') g.held[e.b] = Math.max(0, (g.held[e.b] ?? 0) - 1);
    if (what === 'PUT' && bySlot(e)) g.slots.delete(e.pf);
    if (what === 'FREE' && g.refs > 0) {
      g.state = 'free-pending';
      g.notifyOwed++;
      g.pendingSeq = e.seq;
      this.#pending.set(`p8:${g.pasid}:${g.gen}`, {
        seq: e.seq,
        pasid: g.pasid,
        what: `the reclaim of pasid ${g.pasid} gen ${g.gen}`,
      });
    }
    if (g.refs === 0) this.#reclaim(g, e);
    return true;
  }

  /** P8: every bond of the generation must have reached P7. */
  #reclaim(g: PasidGhost, e: LogEvent): void {
    let bad: string | false = false;
    for (const b of g.bonds.values()) {
      if (b.phases[7]! < 0) {
        const missing = b.phases.findIndex((s) => s < 0);
        bad = `pasid ${g.pasid} gen ${g.gen} reclaimed (P8) while pf${b.pf}'s teardown has not reached P${missing}`;
        break;
      }
    }
    this.#judge('INV-6', g.pasid, bad, e);
    this.#judge(
      'INV-11',
      g.pasid,
      g.notified <= g.notifyOwed
        ? false
        : `pasid ${g.pasid}: ${g.notified} FREE notifications for ${g.notifyOwed} transitions`,
      e,
    );
    g.state = 'free';
    this.#noPasid.reclaimed(g.owner, g.pasid);
    this.#pending.delete(`p8:${g.pasid}:${g.gen}`);
    for (const t of this.#timelines)
      if (t.pasid === g.pasid && t.ordinal === g.ordinal && t.phases[8] === -1) t.phases[8] = e.seq;
  }

  #notify(e: LogEvent): void {
    const g = this.#ghost.of(e.pasid);
    g.notified++;
    const ok = g.state === 'free-pending' && g.notified <= g.notifyOwed && e.a === g.owner;
    this.#judge(
      'INV-11',
      e.pasid,
      ok
        ? false
        : `FREE notification #${g.notified} for pasid ${e.pasid} (${g.state}, ${g.notifyOwed} owed, data ${e.a}, owner ${g.owner})`,
      e,
    );
  }

  #bind(e: LogEvent): void {
    const g = this.#ghost.of(e.pasid);
    // A reaper logs the BIND of a thread that died appending it: the bind ticket names it.
    const had = g.bonds.get(e.pf);
    if (had && had.bind === e.c && g.gen === e.gen) return;
    const width = this.#hw.ld(pfField(this.#hw, e.pf, PF_WIDTH));
    this.#judge(
      'INV-1',
      e.pasid,
      e.pasid < 2 ** width
        ? false
        : `pasid ${e.pasid} bound on pf${e.pf}, whose PASIDs have ${width} bits`,
      e,
    );
    const prev = g.bonds.get(e.pf);
    let bad: string | false = false;
    if (prev && prev.phases[2]! < 0)
      bad = `pasid ${e.pasid} bound twice on pf${e.pf} (bonds ${prev.bond} and ${e.b})`;
    else if (g.state !== 'allocated' || g.gen !== e.gen)
      bad = `pasid ${e.pasid} gen ${e.gen} bound while ${g.state} (gen ${g.gen})`;
    else if (e.a !== g.owner) bad = `pasid ${e.pasid} of mm ${g.owner} bound for mm ${e.a}`;
    this.#judge('INV-3', e.pasid, bad, e);
    g.bonds.set(e.pf, Ghost.bond(e.pf, e.b, e.c, e.seq));
  }

  #unbind(e: LogEvent): void {
    if (e.c !== 0) return;
    const b = this.#ghost.of(e.pasid).bonds.get(e.pf);
    if (b) this.#startTeardown(b, e);
  }

  #startTeardown(b: BondGhost, e: LogEvent): void {
    if (b.startSeq >= 0) return;
    b.startSeq = e.seq;
    this.#pending.set(`p7:${b.pf}:${e.pasid}:${e.gen}`, {
      seq: e.seq,
      pasid: e.pasid,
      what: `the teardown of pf${b.pf} pasid ${e.pasid} gen ${e.gen}`,
    });
  }

  #phase(e: LogEvent): void {
    const g = this.#ghost.of(e.pasid);
    const phase = e.a;
    if (g.gen !== e.gen) {
      this.#judge(
        'INV-6',
        e.pasid,
        `P${phase} of pf${e.pf} pasid ${e.pasid} gen ${e.gen} after the value was reallocated (gen ${g.gen})`,
        e,
      );
      return;
    }
    let b = g.bonds.get(e.pf);
    if (!b) {
      b = Ghost.bond(e.pf, e.b, -1, -1);
      g.bonds.set(e.pf, b);
    }
    if (e.c & PH_EXCEPTION) b.exception = true;
    this.#startTeardown(b, e);
    if (b.phases[phase]! >= 0) return; // a resumed teardown logging a phase again
    const prereq = (b.exception ? EXCEPTION_PREREQ : NORMAL_PREREQ)[phase]!;
    const missing = prereq.find((p) => b.phases[p]! < 0);
    this.#judge(
      'INV-6',
      e.pasid,
      missing === undefined
        ? false
        : `pf${e.pf} pasid ${e.pasid} gen ${e.gen} reached P${phase} before P${missing}${phase === 7 ? ' (its reference dropped before the teardown finished)' : ''}`,
      e,
    );
    b.phases[phase] = e.seq;
    if (phase >= 3 && phase <= 5 && !(e.c & PH_SKIPPED)) this.#coherent(e, phase, b.bind);
    if (phase === 6) this.#drained(e);
    if (phase === 7) this.#finished(g, b, e);
  }

  /** INV-9: after P3/P4/P5 no cache entry of the generation is left. */
  #coherent(e: LogEvent, phase: number, bind: number): void {
    if (!this.#scans) return;
    const which = phase === 3 ? 'pasid-cache' : phase === 4 ? 'iotlb' : e.pf;
    const name = phase === 3 ? 'PASID-cache' : phase === 4 ? 'IOTLB' : 'device-TLB';
    const stale = cacheHolds(this.#hw, which, e.pf, e.pasid, e.gen, bind);
    this.#judge(
      'INV-9',
      e.pasid,
      stale
        ? `P${phase} of pf${e.pf} pasid ${e.pasid} gen ${e.gen} completed with a ${name} entry of that generation left`
        : false,
      e,
    );
  }

  /** INV-14 at P6: nothing of (pf, pasid, gen) in the PRQ, no PRG waiting. */
  #drained(e: LogEvent): void {
    const p = this.#ghost.prqOf(e.pf, e.pasid, e.gen);
    this.#judge(
      'INV-14',
      e.pasid,
      p.entries === 0 && p.prgs === 0
        ? false
        : `P6 of pf${e.pf} pasid ${e.pasid} gen ${e.gen} completed with ${p.entries} PRQ entries and ${p.prgs} page-request groups outstanding`,
      e,
    );
  }

  #finished(g: PasidGhost, b: BondGhost, e: LogEvent): void {
    this.#pending.delete(`p7:${b.pf}:${e.pasid}:${e.gen}`);
    const t: TeardownTimeline = {
      pf: b.pf,
      pasid: g.pasid,
      ordinal: g.ordinal,
      exception: b.exception,
      phases: [...b.phases, -1],
    };
    if (this.#timelines.length < MAX_TIMELINES) this.#timelines.push(t);
    else if (g.pasid % 7 === 0)
      this.#timelines[MAX_TIMELINES / 2 + (e.seq % (MAX_TIMELINES / 2))] = t;
  }

  /** After P6 of (pf, pasid, gen), nothing of it may touch the PRQ. */
  #afterP6(e: LogEvent, what: string): string | false {
    const g = this.#ghost.peek(e.pasid);
    const b = g && g.gen === e.gen ? g.bonds.get(e.pf) : undefined;
    return b && b.phases[6]! >= 0
      ? `${what} of pf${e.pf} pasid ${e.pasid} gen ${e.gen} after its P6 (event #${b.phases[6]})`
      : false;
  }

  #pageRequest(e: LogEvent): void {
    this.#judge('INV-14', e.pasid, this.#afterP6(e, 'a page request'), e);
    if (e.c & PR_OVERFLOW) return;
    const p = this.#ghost.prqOf(e.pf, e.pasid, e.gen);
    p.entries++;
    if (!(e.c & PR_STOP)) p.prgs++;
  }

  #prqService(e: LogEvent): void {
    this.#judge(
      'INV-15',
      e.pasid,
      e.c === 1
        ? false
        : `the bond of pf${e.pf} pasid ${e.pasid} was recycled while the PRQ thread read it in a read-side section`,
      e,
    );
    const late = this.#afterP6(e, 'a PRQ entry');
    const wrong = e.b === RESP_SUCCESS && late ? `${late} answered Success` : late;
    this.#judge('INV-14', e.pasid, wrong, e);
    this.#ghost.prqOf(e.pf, e.pasid, e.gen).entries--;
  }

  #prgResponse(e: LogEvent): void {
    const p = this.#ghost.prqOf(e.pf, e.pasid, e.gen);
    p.prgs--;
    const bad =
      p.prgs < 0
        ? `a second response to PRG ${e.a} of pf${e.pf} pasid ${e.pasid} gen ${e.gen}`
        : this.#afterP6(e, 'a page response');
    this.#judge('INV-14', e.pasid, bad, e);
  }

  #notLive(e: LogEvent, what: string): string | false {
    const g = this.#ghost.peek(e.pasid);
    if (!g || g.state === 'free') return `${what} names pasid ${e.pasid}, which is free`;
    if (g.gen !== e.gen)
      return `${what} names pasid ${e.pasid} gen ${e.gen}, the live generation is ${g.gen}`;
    return false;
  }

  #checkLiveness(): void {
    for (const [k, p] of this.#pending) {
      if (this.#seq - p.seq <= this.#bound) break; // oldest first (insertion order)
      this.#judge('INV-16', p.pasid, `${p.what} has not finished within ${this.#bound} events`);
      this.#pending.delete(k);
    }
  }

  /** Count a check of `id`; a message makes it a violation. */
  readonly #judge = (id: InvariantId, pasid: number, bad: string | false, e?: LogEvent): void => {
    const c = this.#counts.get(id)!;
    c.checks++;
    if (bad === false) return;
    c.violations++;
    this.#violationCount++;
    if (this.#violations.length >= MAX_VIOLATIONS) return;
    this.#violations.push({
      id,
      name: c.name,
      message: bad,
      seq: e?.seq ?? -1,
      pasid,
      trace: this.#trace(pasid),
      replay: this.#replay,
    });
  };

  #trace(pasid: number): string[] {
    return this.#ghost.recent(pasid).map(formatEvent);
  }
}

/** One event as a trace line. */
export function formatEvent(e: LogEvent): string {
  const name = EV_NAMES[e.kind] ?? `EV${e.kind}`;
  const where = e.pf >= 0 ? ` pf${e.pf}` : '';
  const ops =
    e.kind === Ev.PHASE ? ` P${e.a} bond=${e.b} flags=${e.c}` : ` a=${e.a} b=${e.b} c=${e.c}`;
  return `#${e.seq} actor ${e.actor} ${name}${where} pasid=${e.pasid} gen=${e.gen}${ops}`;
}

/** A GET or PUT of the VDCM that names its mdev slot (operand pf). */
function bySlot(e: LogEvent): boolean {
  return e.b === HOLDER_VDCM && e.pf >= 0;
}

/** Does the GET/PUT's holder (the VDCM: that very slot) count a reference on the PASID? */
function holds(g: PasidGhost, e: LogEvent): boolean {
  return bySlot(e) ? g.slots.has(e.pf) : (g.held[e.b] ?? 0) > 0;
}
