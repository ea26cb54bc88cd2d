/**
 * The checker's guest half (§7.6 INV-4, INV-7, INV-8, INV-12), fed the VM events of the log
 * by the checker, with the same ghost PASIDs (owner = the VM's token, generation = the
 * allocation ticket). It also keeps what the report shows per VM (PASIDs live, guest
 * submissions translated and exits 72) and the reference-count walk of the first PASID a
 * vcmd Allocate handed out.
 *
 * - INV-4 at a guest bind: the PASID is owned by the VM binding it (a VM's entry on a shared
 *   PF never names another tenant's PASID); at a guest submission: the host PASID the CPU put
 *   in the descriptor is the submitting VM's. At rest the quiescent scan checks every present
 *   entry's tenant (scan.ts `scanTables`).
 * - INV-7: SPID maps injective in both directions per VM; a VMCS entry made valid names
 *   (h, gen) with spid(g) = h, owner(h) = the VM, gen current; identity mode: g = h.
 * - INV-8: a translated guest ENQCMD carries a live (allocated, current generation) host
 *   PASID of its VM, and none after P0 of that PASID's teardown on the PF it submits to. A
 *   descriptor a guest wrote to its vDWQ (MOVDIR64B, no PASID of its own) executes with
 *   WQCFG.pasid: the PASID and generation the VDCM programmed there (MDEV_PROGRAM, until its
 *   MDEV_CLEAR), live, of the mdev's VM (INV-4's second clause for DWQs).
 * - INV-12: one command in flight per vIOMMU (the VMM never starts one with IP set); an
 *   Allocate success is in [1, 0xFFFFF] and owned by the VM; a Free names a PASID the VM owns.
 *   A "no PASID" answer only when the quota or the space was exhausted: no-pasid.ts.
 *
 * @internal
 */
import { Ev, type LogEvent } from '../event-log.js';
import { isVmToken, MDT_DWQ, vmOfToken } from '../hw-layout.js';
import type { Ghost } from './ghost.js';
import type { InvariantId } from './invariants.js';

/** The checker's verdict function. */
export type Judge = (id: InvariantId, pasid: number, bad: string | false, e?: LogEvent) => void;

/** What the report shows for one VM. */
export interface VmStats {
  /** The VM. */
  vm: number;
  /** Its PASIDs live at the end (allocated or free-pending in the ghost). */
  pasidsLive: number;
  /** The most it had live at a quiescent point of the run. */
  peakLive: number;
  /** Guest ENQCMDs the CPU translated (accepted or ZF = 1), and MOVDIR64Bs to its vDWQs. */
  submissions: number;
  /** Of those, MOVDIR64Bs to its vDWQ mdevs (the device used WQCFG's PASID). */
  dwqSubmissions: number;
  /** Of those, made in its current life: since its last boot, none from its destroy on. */
  submissionsThisBoot: number;
  /** Of those, ZF = 1 (the WQ was full). */
  retries: number;
  /** VM exits 72 (no valid VMCS entry). */
  exits72: number;
  /** vcmd commands its VMM handled. */
  vcmds: number;
  /** vcmd Allocates answered "no PASID available" (quota or space exhausted). */
  vcmdNoPasid: number;
  /** Its guest kernel's switches to the vcmd allocator refused (EAGAIN). */
  switchRefused: number;
  /** Its guest kernel's switches to the vcmd allocator accepted. */
  switchAccepted: number;
  /** Times it was destroyed (vmDestroy, or a crash in vm-crash). */
  destroys: number;
  /** The most PASIDs it had bound (an entry present on some PF) when it was destroyed. */
  boundAtDestroy: number;
}

/** The reference-count walk of one PASID: refs after each step. */
export interface RefWalk {
  /** The PASID. */
  pasid: number;
  /** The VM. */
  vm: number;
  /** Refs after ALLOC, each GET, PUT and FREE, up to the reclaim (0). */
  refs: number[];
  /** Who moved it at each step ('alloc', 'IOMMU', 'KVM', 'VDCM', 'free'). */
  by: string[];
}

const HOLDERS = ['host', 'IOMMU', 'KVM', 'VDCM'];
const VCMD_ALLOC = 1;
const EAGAIN = 11;
/** References a PASID holds in b.3's walk at its peak (alloc, IOMMU, KVM, VDCM). */
const WALK_PEAK = 4;
/** Walks followed at once. */
const MAX_WALKS = 32;
const SUBMITTER_VM = (vm: number) => -(vm + 1);

/** How much a walk is the one the report should show: b.3's peak first, else the highest. */
function walkScore(w: RefWalk): number {
  const peak = Math.max(...w.refs);
  return peak === WALK_PEAK ? Number.POSITIVE_INFINITY : peak;
}

/** The guest checks of one checker. */
export class GuestChecks {
  readonly #ghost: Ghost;
  readonly #judge: Judge;
  readonly #spidMode: boolean;
  /** Per VM token: guest PASID -> host PASID, and back. */
  readonly #g2h = new Map<number, Map<number, number>>();
  readonly #h2g = new Map<number, Map<number, number>>();
  readonly #stats = new Map<number, VmStats>();
  readonly #tokenVm = new Map<number, number>();
  /** Walks in progress, by PASID (with their generation), and the best finished one. */
  readonly #walks = new Map<number, { gen: number; walk: RefWalk }>();
  #walk: RefWalk | undefined;
  /** The guests' DWQs, `pf:wq` -> mdev and VM; what the VDCM programmed into each. */
  readonly #dwqs = new Map<string, { mdev: number; vm: number }>();
  readonly #wqcfg = new Map<string, { pasid: number; gen: number; token: number }>();

  /**
   * @param mdevs - every mdev's placement (hw.g.shape.vm.mdevs): `type` MDT_DWQ marks a vDWQ
   */
  constructor(
    ghost: Ghost,
    judge: Judge,
    spidMode: boolean,
    mdevs: readonly { vm: number; pf: number; wq: number; type: number }[] = [],
  ) {
    this.#ghost = ghost;
    this.#judge = judge;
    this.#spidMode = spidMode;
    mdevs.forEach((m, i) => {
      if (m.type === MDT_DWQ) this.#dwqs.set(`${m.pf}:${m.wq}`, { mdev: i, vm: m.vm });
    });
  }

  /** Per-VM figures. */
  stats(): VmStats[] {
    const live = this.#live();
    return [...this.#stats.values()]
      .map((s) => ({ ...s, pasidsLive: live.get(s.vm) ?? 0 }))
      .sort((a, b) => a.vm - b.vm);
  }

  /** Note each VM's live PASIDs (a quiescent point): the peak the report shows. */
  sample(): void {
    for (const [vm, n] of this.#live()) {
      const s = this.#vm(vm);
      s.peakLive = Math.max(s.peakLive, n);
    }
  }

  /** Live (allocated or free-pending) PASIDs per VM, from the ghost. */
  #live(): Map<number, number> {
    const out = new Map<number, number>();
    for (const g of this.#ghost.all())
      if (g.state !== 'free' && isVmToken(g.owner)) {
        const vm = vmOfToken(g.owner);
        out.set(vm, (out.get(vm) ?? 0) + 1);
      }
    return out;
  }

  /** How many of VMs 0..vms-1 have made no submission in their current life. */
  idleThisBoot(vms: number): number {
    let n = 0;
    for (let vm = 0; vm < vms; vm++) if ((this.#stats.get(vm)?.submissionsThisBoot ?? 0) === 0) n++;
    return n;
  }

  /** The refcount walk of the first PASID a vcmd Allocate handed out (undefined: none). */
  walk(): RefWalk | undefined {
    return this.#walk && { ...this.#walk, refs: [...this.#walk.refs], by: [...this.#walk.by] };
  }

  /** Count an accepted guest submission by set token `token`; its VM's stats, if a VM's. */
  #submitted(token: number): VmStats | undefined {
    const vm = this.#vmIndex(token);
    if (vm === undefined) return undefined;
    const s = this.#vm(vm);
    s.submissions++;
    s.submissionsThisBoot++;
    return s;
  }

  #vm(vm: number): VmStats {
    let s = this.#stats.get(vm);
    if (!s) {
      s = {
        vm,
        pasidsLive: 0,
        peakLive: 0,
        submissions: 0,
        dwqSubmissions: 0,
        submissionsThisBoot: 0,
        retries: 0,
        exits72: 0,
        vcmds: 0,
        vcmdNoPasid: 0,
        switchRefused: 0,
        switchAccepted: 0,
        destroys: 0,
        boundAtDestroy: 0,
      };
      this.#stats.set(vm, s);
    }
    return s;
  }

  /** Refs of a walked PASID moved (after the checker updated the ghost). */
  track(e: LogEvent, by: string): void {
    const t = this.#walks.get(e.pasid);
    if (!t || t.gen !== e.gen) return;
    const g = this.#ghost.of(e.pasid);
    t.walk.refs.push(g.refs);
    t.walk.by.push(e.kind === Ev.GET || e.kind === Ev.PUT ? (HOLDERS[e.b] ?? by) : by);
    if (g.refs > 0) return;
    this.#walks.delete(e.pasid);
    // Keep b.3's walk (its peak is 4: alloc, IOMMU, KVM, VDCM), else the one that reached the
    // most (a PASID programmed into a vDWQ and, while that clear was queued, a vSWQ reaches 5).
    if (!this.#walk || walkScore(t.walk) > walkScore(this.#walk)) this.#walk = t.walk;
  }

  /** One VM event (the checker calls it for every kind it does not handle itself). */
  onEvent(e: LogEvent): void {
    switch (e.kind) {
      case Ev.VM_BOOT:
        this.#tokenVm.set(e.c, e.a);
        this.#vm(e.a).submissionsThisBoot = 0;
        break;
      case Ev.GBIND:
        this.#gbind(e);
        break;
      case Ev.SPID_ATTACH:
        this.#attach(e);
        break;
      case Ev.SPID_DETACH:
        this.#g2h.get(e.a)?.delete(e.b);
        this.#h2g.get(e.a)?.delete(e.pasid);
        break;
      case Ev.VMCS_SET:
        this.#vmcsSet(e);
        break;
      case Ev.GUEST_SUBMIT:
        this.#submit(e);
        break;
      case Ev.EXIT72:
        this.#vm(e.a).exits72++;
        break;
      case Ev.SUBMIT_RETRY:
        if (e.b < 0) this.#vm(-e.b - 1).retries++;
        break;
      case Ev.VCMD_START:
        this.#vm(e.a).vcmds++;
        this.#judge(
          'INV-12',
          e.pasid,
          e.b & 0x100 ? `VM ${e.a}'s VMM took a vcmd on vIOMMU ${e.c} with IP already set` : false,
          e,
        );
        break;
      case Ev.VCMD_DONE:
        this.#vcmdDone(e);
        break;
      case Ev.VM_DESTROY: {
        const s = this.#vm(e.a);
        s.destroys++;
        s.submissionsThisBoot = 0;
        s.boundAtDestroy = Math.max(s.boundAtDestroy, this.#bound(e.c));
        break;
      }
      case Ev.ALLOC_SWITCH:
        if (e.b === -EAGAIN) this.#vm(e.a).switchRefused++;
        else if (e.b === 0) this.#vm(e.a).switchAccepted++;
        break;
      case Ev.VCMD_FREE:
        this.#vcmdFree(e);
        break;
      case Ev.MDEV_PROGRAM:
        if (this.#dwqs.has(`${e.pf}:${this.#wqOf(e.a)}`))
          this.#wqcfg.set(`${e.pf}:${this.#wqOf(e.a)}`, { pasid: e.pasid, gen: e.gen, token: e.b });
        break;
      case Ev.MDEV_CLEAR:
        this.#wqcfg.delete(`${e.pf}:${this.#wqOf(e.a)}`);
        break;
      case Ev.GUEST_MOVDIR:
        this.#movdir(e);
        break;
      case Ev.EXEC:
        if (this.#dwqs.has(`${e.pf}:${e.a}`)) this.#dwqExec(e);
        break;
      default:
        break;
    }
  }

  /** PASIDs of `token` the log shows bound on some PF (entry not cleared yet). */
  #bound(token: number): number {
    let n = 0;
    for (const g of this.#ghost.all()) {
      if (g.state === 'free' || g.owner !== token) continue;
      for (const b of g.bonds.values())
        if (b.phases[2]! < 0) {
          n++;
          break;
        }
    }
    return n;
  }

  /** The VM a set token is of: booted with it, or a VM token's VM; undefined for an mm's. */
  #vmIndex(token: number): number | undefined {
    return this.#tokenVm.get(token) ?? (isVmToken(token) ? vmOfToken(token) : undefined);
  }

  #owner(pasid: number): string {
    const owner = this.#ghost.of(pasid).owner;
    const vm = this.#vmIndex(owner);
    return vm === undefined ? `owner ${owner}` : `VM ${vm}`;
  }

  #vmOf(token: number): string {
    const vm = this.#vmIndex(token);
    return vm === undefined ? `token ${token}` : `VM ${vm}`;
  }

  #gbind(e: LogEvent): void {
    const g = this.#ghost.of(e.pasid);
    this.#judge(
      'INV-4',
      e.pasid,
      g.state === 'allocated' && g.owner === e.a
        ? false
        : `pasid ${e.pasid} (${g.state}, ${this.#owner(e.pasid)}) bound on shared pf${e.pf} for ${this.#vmOf(e.a)}`,
      e,
    );
  }

  #attach(e: LogEvent): void {
    let g2h = this.#g2h.get(e.a);
    let h2g = this.#h2g.get(e.a);
    if (!g2h || !h2g) {
      g2h = new Map();
      h2g = new Map();
      this.#g2h.set(e.a, g2h);
      this.#h2g.set(e.a, h2g);
    }
    const h = g2h.get(e.b);
    const g = h2g.get(e.pasid);
    let bad: string | false = false;
    if (h !== undefined && h !== e.pasid)
      bad = `${this.#vmOf(e.a)}: guest PASID ${e.b} mapped to host ${e.pasid} while it maps to ${h}`;
    else if (g !== undefined && g !== e.b)
      bad = `${this.#vmOf(e.a)}: host PASID ${e.pasid} mapped from guest ${e.b} while it maps from ${g}`;
    else if (!this.#spidMode && e.b !== e.pasid)
      bad = `${this.#vmOf(e.a)}: identity mode, guest PASID ${e.b} mapped to host ${e.pasid}`;
    this.#judge('INV-7', e.pasid, bad, e);
    g2h.set(e.b, e.pasid);
    h2g.set(e.pasid, e.b);
  }

  #vmcsSet(e: LogEvent): void {
    const g = this.#ghost.of(e.pasid);
    const mapped = this.#g2h.get(e.a)?.get(e.b);
    let bad: string | false = false;
    if (mapped !== e.pasid)
      bad = `${this.#vmOf(e.a)}: VMCS entry of guest PASID ${e.b} made valid for host ${e.pasid}, whose SPID map says ${mapped ?? 'nothing'}`;
    // Free-pending is still the VM's (a FREE racing KVM's BIND work: KVM invalidates after).
    else if (g.owner !== e.a || g.state === 'free' || g.gen !== e.gen)
      bad = `${this.#vmOf(e.a)}: VMCS entry of guest PASID ${e.b} names pasid ${e.pasid} gen ${e.gen}, ${g.state} gen ${g.gen} of ${this.#owner(e.pasid)}`;
    this.#judge('INV-7', e.pasid, bad, e);
  }

  #submit(e: LogEvent): void {
    const g = this.#ghost.of(e.pasid);
    this.#submitted(e.b);
    const gpasid = e.c & 0xfffff;
    const vcpu = e.c >>> 20;
    const who = `${this.#vmOf(e.b)} vCPU ${vcpu}`;
    this.#judge(
      'INV-4',
      e.pasid,
      g.state !== 'free' && g.owner !== e.b
        ? `${who} submitted pasid ${e.pasid} of ${this.#owner(e.pasid)} to shared pf${e.pf} wq ${e.a}`
        : false,
      e,
    );
    let bad: string | false = false;
    if (g.state !== 'allocated' || g.gen !== e.gen || g.owner !== e.b)
      bad = `${who}: ENQCMD with guest PASID ${gpasid} accepted as pasid ${e.pasid} gen ${e.gen}, which is ${g.state} gen ${g.gen} of ${this.#owner(e.pasid)}`;
    else {
      const b = g.bonds.get(e.pf);
      if (b && b.phases[0]! >= 0)
        bad = `${who}: ENQCMD with guest PASID ${gpasid} accepted as pasid ${e.pasid} after P0 of its teardown on pf${e.pf} (event #${b.phases[0]}): a vCPU had not acknowledged the VMCS epoch`;
    }
    this.#judge('INV-8', e.pasid, bad, e);
  }

  /** The WQ of mdev `m` (its placement is fixed at create()). */
  #wqOf(m: number): number {
    for (const [k, d] of this.#dwqs) if (d.mdev === m) return Number(k.split(':')[1]);
    return -1;
  }

  /** A guest's MOVDIR64B: WQCFG's PASID at submission is the VM's (INV-4). */
  #movdir(e: LogEvent): void {
    const s = this.#submitted(e.b);
    if (s) s.dwqSubmissions++;
    const g = this.#ghost.of(e.pasid);
    this.#judge(
      'INV-4',
      e.pasid,
      g.state !== 'free' && g.owner !== e.b
        ? `${this.#vmOf(e.b)} vCPU ${e.c >>> 20} wrote to its vDWQ (pf${e.pf} wq ${e.a}), whose WQCFG names pasid ${e.pasid} of ${this.#owner(e.pasid)}`
        : false,
      e,
    );
  }

  /** A descriptor executed on a guest's DWQ: with the PASID the VDCM programmed (INV-8, INV-4). */
  #dwqExec(e: LogEvent): void {
    const d = this.#dwqs.get(`${e.pf}:${e.a}`)!;
    const cfg = this.#wqcfg.get(`${e.pf}:${e.a}`);
    const g = this.#ghost.of(e.pasid);
    const where = `a descriptor of VM ${d.vm}'s vDWQ (mdev ${d.mdev}, pf${e.pf} wq ${e.a})`;
    let bad: string | false = false;
    if (!cfg)
      bad = `${where} executed with pasid ${e.pasid} while the VDCM had no PASID programmed there`;
    else if (cfg.pasid !== e.pasid || cfg.gen !== e.gen)
      bad = `${where} executed with pasid ${e.pasid} gen ${e.gen}, not WQCFG's pasid ${cfg.pasid} gen ${cfg.gen}`;
    else if (g.state === 'free' || g.gen !== e.gen)
      bad = `${where} executed with pasid ${e.pasid} gen ${e.gen}, which is ${g.state} gen ${g.gen}`;
    this.#judge('INV-8', e.pasid, bad, e);
    const mine = g.state === 'free' || (isVmToken(g.owner) && vmOfToken(g.owner) === d.vm);
    this.#judge(
      'INV-4',
      e.pasid,
      mine ? false : `${where} executed with pasid ${e.pasid} of ${this.#owner(e.pasid)}`,
      e,
    );
  }

  #vcmdDone(e: LogEvent): void {
    const op = e.b & 0xff;
    const sc = e.b >>> 8;
    if (op === VCMD_ALLOC && sc !== 0 && isVmToken(e.a)) this.#vm(vmOfToken(e.a)).vcmdNoPasid++;
    if (op !== VCMD_ALLOC || sc !== 0) return;
    const g = this.#ghost.of(e.pasid);
    this.#judge(
      'INV-12',
      e.pasid,
      e.pasid >= 1 && e.pasid <= 0xfffff && g.state === 'allocated' && g.owner === e.a
        ? false
        : `vcmd Allocate for ${this.#vmOf(e.a)} returned pasid ${e.pasid} (${g.state}, ${this.#owner(e.pasid)})`,
      e,
    );
    const done = this.#walk !== undefined && Math.max(...this.#walk.refs) === WALK_PEAK;
    if (!done && this.#walks.size < MAX_WALKS)
      this.#walks.set(e.pasid, {
        gen: g.gen,
        walk: { pasid: e.pasid, vm: vmOfToken(e.a), refs: [g.refs], by: ['alloc'] },
      });
  }

  #vcmdFree(e: LogEvent): void {
    const g = this.#ghost.of(e.pasid);
    this.#judge(
      'INV-12',
      e.pasid,
      g.state === 'allocated' && g.owner === e.a
        ? false
        : `vcmd Free of pasid ${e.pasid} accepted for ${this.#vmOf(e.a)} while it is ${g.state} of ${this.#owner(e.pasid)}`,
      e,
    );
  }

  /** Ev.SUBMITTER of a guest: the VM's submitter id in SUBMIT events. */
  static submitter(vm: number): number {
    return SUBMITTER_VM(vm);
  }
}
