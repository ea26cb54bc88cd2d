/**
 * The checker's scans of the hardware buffer: the state invariants evaluated on table
 * snapshots at quiescent points (every actor paused, the log consumed), and the cache scans
 * that back INV-9 when a teardown phase completes. No scan takes a lock: an engine may be
 * waiting, inside the IOMMU lock, for the checker to drain the event log (caches.ts
 * `cacheForEach` reads each line consistently without it).
 *
 * @internal
 */
import { bf } from '../bonds.js';
import { cacheForEach } from '../caches.js';
import { ringIsPublished, ringSlot } from '../claim-ring.js';
import { pfField } from '../device.js';
import type { HwContext } from '../hw-context.js';
import {
  B_PASID,
  B_PF,
  B_PHASES,
  B_STATE,
  BS_FREE,
  D_GEN,
  D_PASID,
  DIR_LEAF_SHIFT,
  DIR_PRESENT,
  E_BINDING,
  E_CTRL,
  E_GEN,
  EC_PRESENT,
  ENTRY_WORDS,
  G_GEN,
  G_PASID,
  G_STATE,
  isVmToken,
  LEAF_ENTRIES,
  MM_GEN,
  MM_PASID,
  MM_PORTAL,
  MM_STATE,
  MM_TOKEN,
  MMS_ALIVE,
  MSR_VALID,
  mmWord,
  P2_ENTRY_CLEARED,
  PF_WIDTH,
  PQ_GEN,
  PQ_PASID,
  PQ_PF,
  PRG_FREE,
  PRG_WORDS,
  TH_MM,
  TH_MSR,
  TH_MSR_GEN,
  threadWord,
  vmOfToken,
  WQ_FLAGS,
  WQ_GEN,
  WQ_MODE,
  WQ_PASID,
  WQF_PASID_EN,
  WQM_DEDICATED,
} from '../hw-layout.js';
import type { Ghost, PasidGhost } from './ghost.js';
import type { InvariantId } from './invariants.js';

/** Counts a check and, when `bad` is a message, a violation. */
export type Judge = (id: InvariantId, pasid: number, bad: string | false) => void;

/**
 * True when a cache still holds an entry of (pf, pasid, gen) filled through the bond whose
 * bind ticket is `bind` (-1: any bond; a later bind of the same generation refills
 * legitimately, with its own ticket).
 */
export function cacheHolds(
  hw: HwContext,
  which: 'pasid-cache' | 'iotlb' | number,
  pf: number,
  pasid: number,
  gen: number,
  bind: number,
): boolean {
  let found = false;
  cacheForEach(hw, which, (_e, epf, p, g, bd) => {
    if (epf === pf && p === pasid && g === gen && (bind < 0 || bd === bind)) found = true;
  });
  return found;
}

/** Is (pasid, gen) the live generation? The message when not, else false. */
function dangling(ghost: Ghost, pasid: number, gen: number, what: string): string | false {
  const g = ghost.peek(pasid);
  if (!g || g.state === 'free') return `${what} names pasid ${pasid} gen ${gen}, which is free`;
  if (g.gen !== gen)
    return `${what} names pasid ${pasid} gen ${gen}, the live generation is ${g.gen}`;
  return false;
}

/** Every quiescent scan, in order. */
export function scanAll(hw: HwContext, ghost: Ghost, judge: Judge): void {
  scanTables(hw, ghost, judge);
  scanCaches(hw, ghost, judge);
  scanQueues(hw, ghost, judge);
  scanThreads(hw, ghost, judge);
  scanMms(hw, ghost, judge);
}

/**
 * INV-1, INV-3, INV-4, INV-5 on every present PASID-table entry. INV-4 (tenant isolation on a
 * shared PF) at rest: an entry bound for a VM is on a PF where that VM has an mdev, and names
 * a PASID that VM owns; an entry bound for an mm names one the host owns. Checked before
 * INV-3 (which also compares binding and owner) so that a cross-tenant entry is reported as
 * the isolation breach it is.
 */
export function scanTables(hw: HwContext, ghost: Ghost, judge: Judge): void {
  const owners = new Map<number, number>();
  const tenants = pfTenants(hw);
  const bondCount = liveBonds(hw);
  hw.g.pf.forEach((p, pf) => {
    const width = hw.ld(pfField(hw, pf, PF_WIDTH));
    for (let d = 0; d < p.dirEntries; d++) {
      const dir = hw.ld(p.dirBase + d);
      if (!(dir & DIR_PRESENT)) continue;
      const leafBase = p.leafBase + (dir >>> DIR_LEAF_SHIFT) * LEAF_ENTRIES * ENTRY_WORDS;
      for (let j = 0; j < LEAF_ENTRIES; j++) {
        const e = leafBase + j * ENTRY_WORDS;
        if (!(hw.ld(e + E_CTRL) & EC_PRESENT)) continue;
        const pasid = d * LEAF_ENTRIES + j;
        judge(
          'INV-1',
          pasid,
          pasid >= 1 && pasid < 2 ** width
            ? false
            : `pf${pf} has a present entry for pasid ${pasid}, beyond its ${width}-bit width`,
        );
        const binding = hw.ld(e + E_BINDING);
        const g = ghost.peek(pasid);
        judge('INV-4', pasid, tenantBreach(pf, pasid, binding, g, tenants.get(pf)));
        const bonds = bondCount.get(pf * 2 ** 20 + pasid) ?? 0;
        let bad: string | false = false;
        if (bonds !== 1) bad = `pf${pf} pasid ${pasid}: present entry with ${bonds} bonds`;
        else if (g && binding !== g.owner)
          bad = `pf${pf} pasid ${pasid}: entry bound to mm ${binding}, owner is ${g.owner}`;
        else if (owners.has(pasid) && owners.get(pasid) !== binding)
          bad = `pasid ${pasid} present for two owners on two PFs`;
        judge('INV-3', pasid, bad);
        owners.set(pasid, binding);
        judge(
          'INV-5',
          pasid,
          dangling(ghost, pasid, hw.ld(e + E_GEN), `pf${pf}'s PASID-table entry`),
        );
      }
    }
  });
}

/** The VMs that have an mdev on each PF (placed at create(): immutable). */
function pfTenants(hw: HwContext): Map<number, Set<number>> {
  const out = new Map<number, Set<number>>();
  for (const m of hw.g.shape.vm.mdevs) {
    const s = out.get(m.pf) ?? new Set<number>();
    s.add(m.vm);
    out.set(m.pf, s);
  }
  return out;
}

/** INV-4 on one present entry: the message when its tenant may not be there, else false. */
function tenantBreach(
  pf: number,
  pasid: number,
  binding: number,
  g: PasidGhost | undefined,
  vms: Set<number> | undefined,
): string | false {
  const owner = g && g.state !== 'free' ? g.owner : undefined;
  const ownerIsVm = owner !== undefined && isVmToken(owner);
  if (!isVmToken(binding))
    return ownerIsVm
      ? `pf${pf}'s entry for pasid ${pasid} is bound for mm ${binding}, but VM ${vmOfToken(owner!)} owns the PASID`
      : false;
  const vm = vmOfToken(binding);
  if (!vms?.has(vm))
    return `pf${pf} has a present entry for pasid ${pasid} bound for VM ${vm}, which has no mdev on pf${pf}`;
  if (owner !== undefined && owner !== binding)
    return `pf${pf}'s entry for pasid ${pasid} is bound for VM ${vm}, but ${ownerIsVm ? `VM ${vmOfToken(owner)}` : `mm ${owner}`} owns the PASID`;
  return false;
}

/**
 * Bonds whose entry is not cleared yet, per `pf * 2^20 + pasid` (one pass over the pool:
 * with VMs it holds thousands of bonds, too many to walk once per present entry).
 */
function liveBonds(hw: HwContext): Map<number, number> {
  const out = new Map<number, number>();
  for (let b = 0; b < hw.g.shape.bonds; b++) {
    if (hw.ld(bf(hw, b, B_STATE)) === BS_FREE) continue;
    if (hw.ld(bf(hw, b, B_PHASES)) & (1 << P2_ENTRY_CLEARED)) continue;
    const k = hw.ld(bf(hw, b, B_PF)) * 2 ** 20 + hw.ld(bf(hw, b, B_PASID));
    out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
}

/** INV-5 on every PASID-cache, IOTLB and device-TLB entry. */
export function scanCaches(hw: HwContext, ghost: Ghost, judge: Judge): void {
  const which: ('pasid-cache' | 'iotlb' | number)[] = ['pasid-cache', 'iotlb', ...hw.g.pf.keys()];
  for (const w of which) {
    const name = typeof w === 'number' ? `pf${w}'s device-TLB entry` : `${w} entry`;
    cacheForEach(hw, w, (_e, _pf, pasid, gen) => {
      judge('INV-5', pasid, dangling(ghost, pasid, gen, name));
    });
  }
}

/** INV-5 on queued descriptors and DWQ configs; INV-14 on PRQ entries and PRG slots. */
export function scanQueues(hw: HwContext, ghost: Ghost, judge: Judge): void {
  hw.g.pf.forEach((p, pf) => {
    p.wqCfg.forEach((_, w) => {
      const cfg = (f: number) => hw.ld(p.wqCfg[w]! + f);
      const dedicated = cfg(WQ_MODE) === WQM_DEDICATED;
      if (dedicated && cfg(WQ_FLAGS) & WQF_PASID_EN)
        judge(
          'INV-5',
          cfg(WQ_PASID),
          dangling(ghost, cfg(WQ_PASID), cfg(WQ_GEN), `pf${pf} wq${w} WQCFG`),
        );
      if (dedicated) return;
      const r = hw.wq[pf]![w]!;
      forEachQueued(hw, r, (d) => {
        const pasid = hw.ld(d + D_PASID) & 0xfffff;
        judge(
          'INV-5',
          pasid,
          dangling(ghost, pasid, hw.ld(d + D_GEN), `a descriptor queued in pf${pf} wq${w}`),
        );
      });
    });
    for (let s = 0; s < hw.g.shape.prgSlots; s++) {
      const g = p.prgBase + s * PRG_WORDS;
      if (hw.ld(g + G_STATE) === PRG_FREE) continue;
      const pasid = hw.ld(g + G_PASID);
      judge(
        'INV-14',
        pasid,
        prqStale(ghost, pf, pasid, hw.ld(g + G_GEN), `pf${pf}'s outstanding PRG`),
      );
    }
  });
  forEachQueued(hw, hw.prq, (q) => {
    const pasid = hw.ld(q + PQ_PASID);
    judge(
      'INV-14',
      pasid,
      prqStale(ghost, hw.ld(q + PQ_PF), pasid, hw.ld(q + PQ_GEN), 'a PRQ entry'),
    );
  });
}

function forEachQueued(
  hw: HwContext,
  r: { meta: number } & Parameters<typeof ringSlot>[0],
  fn: (w: number) => void,
): void {
  const head = hw.ld(r.meta);
  const tail = hw.ld(r.meta + 1);
  for (let pos = head; pos !== tail; pos = (pos + 1) | 0)
    if (ringIsPublished(r, pos)) fn(ringSlot(r, pos));
}

/** A page request of (pf, pasid, gen) must not outlive P6 of its bond nor its generation. */
function prqStale(
  ghost: Ghost,
  pf: number,
  pasid: number,
  gen: number,
  what: string,
): string | false {
  const g = ghost.peek(pasid);
  if (!g || g.gen !== gen) return `${what} of pasid ${pasid} gen ${gen} outlived its generation`;
  const b = g.bonds.get(pf);
  if (b && b.phases[6]! >= 0) return `${what} of pf${pf} pasid ${pasid} gen ${gen} survived P6`;
  return false;
}

/** INV-5 on IA32_PASID: a valid MSR of a live thread names the live generation of its mm. */
export function scanThreads(hw: HwContext, ghost: Ghost, judge: Judge): void {
  const s = hw.g.shape;
  for (let t = 0; t < s.processes * s.threadsPerProcess; t++) {
    const tw = threadWord(hw.g, t);
    const msr = hw.ld(tw + TH_MSR);
    if (!(msr & MSR_VALID)) continue;
    const rec = hw.ld(tw + TH_MM) - 1;
    // Allowed dead: a thread whose mm maps no portal any more cannot submit (§7.6 INV-5).
    if (rec < 0 || !portalMapped(hw, rec)) continue;
    const pasid = msr & 0xfffff;
    judge(
      'INV-5',
      pasid,
      dangling(ghost, pasid, hw.ld(tw + TH_MSR_GEN), `thread ${t}'s IA32_PASID`),
    );
  }
}

function portalMapped(hw: HwContext, rec: number): boolean {
  for (let pf = 0; pf < hw.g.pf.length; pf++)
    if (hw.ld(mmWord(hw.g, rec) + MM_PORTAL + pf) !== 0) return true;
  return false;
}

/** INV-2 and INV-11: every live mm's PASID is its own in the ghost and in the core. */
export function scanMms(hw: HwContext, ghost: Ghost, judge: Judge): void {
  const seen = new Map<number, number>();
  for (let rec = 0; rec < hw.g.shape.mmRecords; rec++) {
    const base = mmWord(hw.g, rec);
    if (hw.ld(base + MM_STATE) !== MMS_ALIVE) continue;
    const pasid = hw.ld(base + MM_PASID);
    if (pasid === 0) continue;
    const token = hw.ld(base + MM_TOKEN);
    const g = ghost.peek(pasid);
    const core = hw.space.inspect(pasid);
    let bad: string | false = false;
    if (seen.has(pasid)) bad = `mms ${seen.get(pasid)} and ${token} both hold pasid ${pasid}`;
    else if (!g || g.state === 'free' || g.owner !== token)
      bad = `mm ${token} holds pasid ${pasid}, owned by ${g?.owner ?? 'nobody'} in the ghost`;
    else if (core.state === 'free' || core.data !== token)
      bad = `mm ${token} holds pasid ${pasid}, the core says ${core.state} data ${core.data}`;
    else if (g.gen !== hw.ld(base + MM_GEN))
      bad = `mm ${token} holds pasid ${pasid} of gen ${hw.ld(base + MM_GEN)}, live is ${g.gen}`;
    judge('INV-2', pasid, bad);
    seen.set(pasid, token);
  }
  for (const g of ghost.all()) {
    if (g.state === 'free') continue;
    const core = hw.space.inspect(g.pasid);
    judge(
      'INV-11',
      g.pasid,
      core.refs === g.refs
        ? false
        : `pasid ${g.pasid}: ${g.refs} references in the log, ${core.refs} in the core`,
    );
  }
}
