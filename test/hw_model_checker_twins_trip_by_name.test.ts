/**
 * Every invariant the checker asserts has a broken twin that trips it by name. The mutations
 * cover INV-1, 3, 6, 9, 14, 15 and 16 on live runs (hw_model_mutations_are_caught_by_name);
 * here test doubles reach each check directly: a hand-written event log fed to `onEvent` (the
 * online checks), and a hardware buffer corrupted by hand under a live checker (the quiescent
 * scans and the per-translation check).
 */
import { describe, expect, it } from 'vitest';
import { pcFill } from '../src/hw-model/caches.js';
import { ModelChecker } from '../src/hw-model/checker/checker.js';
import type { InvariantId } from '../src/hw-model/checker/invariants.js';
import { Ev, type LogEvent, PH_EXCEPTION, RELOGGED } from '../src/hw-model/event-log.js';
import { HOLDER_HOST, HOLDER_IOMMU, HOLDER_KVM, HOLDER_VDCM } from '../src/hw-model/guest-bonds.js';
import {
  D_GEN,
  E_BINDING,
  E_GEN,
  G_GEN,
  G_PASID,
  G_STATE,
  IOMMU_LOCK,
  MM_CLAIM,
  MM_PAGES,
  MM_PASID,
  MSR_VALID,
  mmWord,
  PRG_WAITING,
  PROCESS_WORDS,
  TH_MSR,
  threadWord,
  vmToken,
  WQ_FLAGS,
  WQ_PASID,
  WQF_PASID_EN,
} from '../src/hw-model/hw-layout.js';
import { dsaPf, Platform, type Profile } from '../src/hw-model/index.js';
import { lockGive, lockTake } from '../src/hw-model/owner-lock.js';
import { entryOf, tableProgram } from '../src/hw-model/pasid-table.js';

const SMALL: Partial<Profile> = { pasidBits: 8, processes: 4, pfs: [dsaPf('a'), dsaPf('b')] };

/** A checker on a fresh platform that reads a hand-written log. */
function offline(profile: Partial<Profile> = SMALL) {
  const p = Platform.create(profile);
  const c = new ModelChecker(p.context, { consume: false, livenessBound: 50 });
  let seq = 0;
  const feed = (kind: number, pasid: number, gen: number, pf = -1, a = 0, b = 0, k = 0) =>
    c.onEvent({ seq: seq++, kind, actor: 1, pasid, gen, pf, a, b, c: k } satisfies LogEvent);
  return { p, c, feed };
}

/** A checker consuming the log of a platform the test drives. */
function online() {
  const p = Platform.create(SMALL);
  const c = new ModelChecker(p.context, {});
  return { p, c };
}

function trips(c: ModelChecker, id: InvariantId): void {
  expect(c.first?.id, c.first?.message).toBe(id);
  expect(c.counts().find((x) => x.id === id)!.violations).toBeGreaterThan(0);
}

/** The normal life of PASID 5 gen 7 on pf 0, phases P0..P7 then the two reference drops. */
function normalLife(feed: ReturnType<typeof offline>['feed']): void {
  feed(Ev.ALLOC, 5, 7, -1, 99);
  feed(Ev.GET, 5, 7, -1, 99);
  feed(Ev.BIND, 5, 7, 0, 99, 0, 1);
  feed(Ev.UNBIND, 5, 7, 0, 99, 0, 0);
  for (let ph = 0; ph < 8; ph++) feed(Ev.PHASE, 5, 7, 0, ph, 0, 0);
  feed(Ev.PUT, 5, 7, -1, 99);
  feed(Ev.FREE_CALL, 5, 7, -1, 99);
}

describe('the online checks, from a hand-written log', () => {
  it('a correct life trips nothing', () => {
    const { c, feed } = offline();
    normalLife(feed);
    feed(Ev.ALLOC, 5, 8, -1, 100);
    feed(Ev.FREE_CALL, 5, 8, -1, 100);
    c.end(false);
    expect(c.first?.message).toBeUndefined();
  });

  it('INV-1: ALLOC out of [1, 2^pasidBits); a BIND beyond the PF width', () => {
    const a = offline();
    a.feed(Ev.ALLOC, 256, 1, -1, 99);
    trips(a.c, 'INV-1');
    const narrow = Platform.create({ ...SMALL, pfs: [{ ...dsaPf('n'), maxPasidWidth: 2 }] });
    const b = new ModelChecker(narrow.context, { consume: false });
    b.onEvent({ seq: 0, kind: Ev.ALLOC, actor: 1, pasid: 5, gen: 1, pf: -1, a: 99, b: 0, c: 0 });
    b.onEvent({ seq: 1, kind: Ev.BIND, actor: 1, pasid: 5, gen: 1, pf: 0, a: 99, b: 0, c: 1 });
    trips(b, 'INV-1');
  });

  it('INV-2: ALLOC of a value still allocated to another mm', () => {
    const { c, feed } = offline();
    feed(Ev.ALLOC, 5, 1, -1, 99);
    feed(Ev.ALLOC, 5, 2, -1, 100);
    trips(c, 'INV-2');
  });

  it('INV-3: a second BIND of a bound (pf, pasid); a BIND for another mm', () => {
    const a = offline();
    a.feed(Ev.ALLOC, 5, 1, -1, 99);
    a.feed(Ev.BIND, 5, 1, 0, 99, 0, 1);
    a.feed(Ev.BIND, 5, 1, 0, 99, 1, 2);
    trips(a.c, 'INV-3');
    const b = offline();
    b.feed(Ev.ALLOC, 5, 1, -1, 99);
    b.feed(Ev.BIND, 5, 1, 1, 100, 0, 1);
    trips(b.c, 'INV-3');
  });

  it('INV-5: a submission or an MSR fix-up naming an old generation', () => {
    const { c, feed } = offline();
    normalLife(feed);
    feed(Ev.ALLOC, 5, 8, -1, 100);
    feed(Ev.SUBMIT, 5, 7, 0, 0, 1, 0);
    trips(c, 'INV-5');
  });

  it('INV-6: a phase before its predecessors; a reclaim before P7; a phase after reallocation', () => {
    const a = offline();
    a.feed(Ev.ALLOC, 5, 1, -1, 99);
    a.feed(Ev.BIND, 5, 1, 0, 99, 0, 1);
    a.feed(Ev.PHASE, 5, 1, 0, 3, 0, 0);
    trips(a.c, 'INV-6');
    const b = offline();
    b.feed(Ev.ALLOC, 5, 1, -1, 99);
    b.feed(Ev.GET, 5, 1, -1, 99);
    b.feed(Ev.BIND, 5, 1, 0, 99, 0, 1);
    b.feed(Ev.PHASE, 5, 1, 0, 0, 0, PH_EXCEPTION);
    b.feed(Ev.PHASE, 5, 1, 0, 2, 0, PH_EXCEPTION);
    b.feed(Ev.FREE_CALL, 5, 1, -1, 99);
    b.feed(Ev.PUT, 5, 1, -1, 99);
    trips(b.c, 'INV-6');
    const d = offline();
    normalLife(d.feed);
    d.feed(Ev.ALLOC, 5, 8, -1, 100);
    d.feed(Ev.PHASE, 5, 7, 0, 6, 0, 0);
    trips(d.c, 'INV-6');
  });

  it('INV-10: a translation that used an entry of another generation', () => {
    const { c, feed } = offline();
    feed(Ev.TRANSLATE, 5, 8, 0, 0, 7, 1);
    trips(c, 'INV-10');
  });

  it('INV-11: a GET while free-pending; a second FREE notification; a PUT with no reference left', () => {
    const a = offline();
    a.feed(Ev.ALLOC, 5, 1, -1, 99);
    a.feed(Ev.GET, 5, 1, -1, 99);
    a.feed(Ev.FREE_CALL, 5, 1, -1, 99);
    a.feed(Ev.GET, 5, 1, -1, 99);
    trips(a.c, 'INV-11');
    const b = offline();
    b.feed(Ev.ALLOC, 5, 1, -1, 99);
    b.feed(Ev.GET, 5, 1, -1, 99);
    b.feed(Ev.FREE_CALL, 5, 1, -1, 99);
    b.feed(Ev.NOTIFY_FREE, 5, 1, -1, 99);
    b.feed(Ev.NOTIFY_FREE, 5, 1, -1, 99);
    trips(b.c, 'INV-11');
    const d = offline();
    d.feed(Ev.ALLOC, 5, 1, -1, 99);
    d.feed(Ev.FREE_CALL, 5, 1, -1, 99);
    d.feed(Ev.PUT, 5, 1, -1, 99);
    trips(d.c, 'INV-11');
  });

  it('INV-14: P6 with a page request outstanding; a response after P6; two responses to one group', () => {
    const a = offline();
    a.feed(Ev.ALLOC, 5, 1, -1, 99);
    a.feed(Ev.BIND, 5, 1, 0, 99, 0, 1);
    a.feed(Ev.PAGE_REQ, 5, 1, 0, 3, 0, 0);
    for (let ph = 0; ph < 7; ph++) a.feed(Ev.PHASE, 5, 1, 0, ph, 0, 0);
    trips(a.c, 'INV-14');
    const b = offline();
    b.feed(Ev.ALLOC, 5, 1, -1, 99);
    b.feed(Ev.BIND, 5, 1, 0, 99, 0, 1);
    for (let ph = 0; ph < 7; ph++) b.feed(Ev.PHASE, 5, 1, 0, ph, 0, 0);
    b.feed(Ev.PRQ_SERVICE, 5, 1, 0, 3, 0, 1);
    trips(b.c, 'INV-14');
    const d = offline();
    d.feed(Ev.PAGE_REQ, 5, 1, 0, 3, 0, 0);
    d.feed(Ev.PRG_RESP, 5, 1, 0, 3, 0, 0);
    d.feed(Ev.PRG_RESP, 5, 1, 0, 3, 0, 0);
    trips(d.c, 'INV-14');
  });

  it('INV-15: the PRQ thread saw a bond recycled inside its read-side section', () => {
    const { c, feed } = offline();
    feed(Ev.PRQ_SERVICE, 5, 1, 0, 3, 0, 0);
    trips(c, 'INV-15');
  });

  it('INV-16: a teardown that never finishes within the bound, online', () => {
    const { c, feed } = offline(); // bound: 50 events
    feed(Ev.ALLOC, 5, 1, -1, 99);
    feed(Ev.BIND, 5, 1, 0, 99, 0, 1);
    feed(Ev.UNBIND, 5, 1, 0, 99, 0, 0);
    for (let i = 0; i < 600; i++) feed(Ev.SPAWN, 0, 0, -1, i, 0);
    trips(c, 'INV-16');
  });

  it('INV-16: a teardown that never finishes, at the end', () => {
    const a = offline();
    a.feed(Ev.ALLOC, 5, 1, -1, 99);
    a.feed(Ev.BIND, 5, 1, 0, 99, 0, 1);
    a.feed(Ev.UNBIND, 5, 1, 0, 99, 0, 0);
    a.c.end(false);
    trips(a.c, 'INV-16');
    expect(a.c.first?.message).toMatch(/teardown of pf0 pasid 5 gen 1 never finished/);
  });
});

describe('the hardware scans and the per-translation check, on corrupted hardware', () => {
  /** Put a PASID-cache line for (pf, pasid) of generation `gen` by hand. */
  function staleLine(p: Platform, pf: number, pasid: number, gen: number, s1: number): void {
    const hw = p.context;
    lockTake(hw.i32, IOMMU_LOCK, hw.tag);
    pcFill(hw, pf, pasid, gen, 1 | (1 << 6), s1, 0);
    lockGive(hw.i32, IOMMU_LOCK);
  }

  it('INV-5: a PASID-cache line naming a PASID that is free, found at a quiescent point', () => {
    const { p, c } = online();
    p.spawn(0);
    const pasid = p.bindSva(0, 0);
    p.unbindSva(0, 0);
    p.mmExit(0);
    c.consume();
    c.quiescent();
    expect(c.first).toBeUndefined();
    staleLine(p, 0, pasid, 1, 0);
    c.quiescent();
    trips(c, 'INV-5');
  });

  it("INV-10: the previous owner's PASID-cache line used to translate for the next owner", () => {
    const { p, c } = online();
    p.spawn(0);
    const pasid = p.bindSva(0, 0);
    p.mmExit(0);
    p.spawn(1);
    expect(p.bindSva(0, 1)).toBe(pasid);
    const hw = p.context;
    const rec = hw.ld(hw.g.processBase + PROCESS_WORDS) - 1;
    staleLine(p, 0, pasid, 1, rec); // generation 1: the first allocation's ticket
    Atomics.or(hw.i32, mmWord(hw.g, rec) + MM_PAGES, 1); // page 0 mapped
    expect(p.translate(0, pasid, 0)).toBe(0);
    c.consume();
    trips(c, 'INV-10');
  });

  it('INV-2 and INV-3: two live mms holding one PASID; an entry bound to the wrong mm', () => {
    const a = online();
    a.p.spawn(0);
    a.p.spawn(1);
    const pasid = a.p.bindSva(0, 0);
    a.p.bindSva(0, 1);
    const hw = a.p.context;
    const rec1 = hw.ld(hw.g.processBase + PROCESS_WORDS) - 1;
    hw.st(mmWord(hw.g, rec1) + MM_PASID, pasid);
    a.c.consume();
    a.c.quiescent();
    trips(a.c, 'INV-2');
    const b = online();
    b.p.spawn(0);
    const q = b.p.bindSva(0, 0);
    b.p.context.st(entryOf(b.p.context, 0, q) + E_BINDING, 777);
    b.c.consume();
    b.c.quiescent();
    trips(b.c, 'INV-3');
  });

  it('INV-1: a present entry beyond its PF width, programmed by hand', () => {
    // 1..19 reserved: the mm gets 20, fine on the 20-bit PF 0, too wide for the 4-bit PF 1.
    const reserved = [0, ...Array.from({ length: 19 }, (_, i) => i + 1)];
    const p = Platform.create({
      ...SMALL,
      reserved,
      pfs: [dsaPf('a'), { ...dsaPf('b'), maxPasidWidth: 4 }],
    });
    const c = new ModelChecker(p.context, {});
    p.spawn(0);
    expect(p.bindSva(0, 0)).toBe(20);
    const e = entryOf(p.context, 0, 20);
    const hw = p.context;
    const fields = {
      pgtt: 1,
      did: 1,
      s1: 0,
      binding: hw.ld(e + E_BINDING),
      gen: hw.ld(e + E_GEN),
      bind: 0,
    };
    expect(tableProgram(hw, 1, 20, fields)).toBe(0);
    c.consume();
    c.quiescent();
    trips(c, 'INV-1');
  });

  it("INV-5: a live thread's IA32_PASID, a DWQ's WQCFG and a queued descriptor naming a PASID that is free", () => {
    const msr = online();
    msr.p.spawn(0);
    const pasid = msr.p.bindSva(0, 0);
    msr.p.mapPortal(0, 0, 0);
    msr.p.enqcmd(0, 0, 0, 0); // the #GP fix-up loads thread 0's MSR
    const hw = msr.p.context;
    hw.st(threadWord(hw.g, 0) + TH_MSR, MSR_VALID | (pasid + 1));
    msr.c.consume();
    msr.c.quiescent();
    trips(msr.c, 'INV-5');
    const wq = online();
    const cfg = wq.p.context.g.pf[0]!.wqCfg[4]!;
    wq.p.context.st(cfg + WQ_FLAGS, WQF_PASID_EN);
    wq.p.context.st(cfg + WQ_PASID, 9);
    wq.c.quiescent();
    trips(wq.c, 'INV-5');
    const d = online();
    d.p.spawn(0);
    d.p.bindSva(0, 0);
    d.p.mapPortal(0, 0, 0);
    d.p.enqcmd(0, 0, 0, 0);
    const slot = d.p.context.g.pf[0]!.wqRing[0]!;
    d.p.context.st(slot + D_GEN, 4242);
    d.c.consume();
    d.c.quiescent();
    trips(d.c, 'INV-5');
  });

  it('INV-14: a page-request group outstanding for a PASID whose generation is gone', () => {
    const { p, c } = online();
    const g = p.context.g.pf[0]!.prgBase;
    p.context.st(g + G_PASID, 7);
    p.context.st(g + G_GEN, 3);
    p.context.st(g + G_STATE, PRG_WAITING);
    c.quiescent();
    trips(c, 'INV-14');
  });

  it('INV-16: the platform does not come to rest (a leaked mm record) at the end', () => {
    const { p, c } = online();
    p.spawn(0);
    p.mmExit(0);
    const hw = p.context;
    hw.st(mmWord(hw.g, 0) + MM_CLAIM, 1); // a record claimed by nobody's spawn
    c.consume();
    c.end();
    trips(c, 'INV-16');
    expect(c.first?.message).toMatch(/did not come to rest: 1 mm records/);
  });

  it('INV-11: a reference the log never showed, found when ghost and core refs are compared', () => {
    const { p, c } = online();
    p.spawn(0);
    const pasid = p.bindSva(0, 0);
    p.space.get(null, pasid);
    c.consume();
    c.quiescent();
    trips(c, 'INV-11');
  });
});

describe('the guest checks, from a hand-written log', () => {
  // Tokens of VM 0 and VM 1 (hw-layout vmToken) and a vCPU field (guest PASID | vcpu << 20).
  const VM0 = vmToken(0, 1);
  const VM1 = vmToken(1, 1);

  /** PASID 5 gen 7 of VM 0, bound on pf 0 and mapped to guest PASID 5 (identity). */
  function boundInVm0(feed: ReturnType<typeof offline>['feed']): void {
    feed(Ev.ALLOC, 5, 7, -1, VM0);
    feed(Ev.GET, 5, 7, -1, VM0, 1);
    feed(Ev.GBIND, 5, 7, 0, VM0, 0, 1);
    feed(Ev.SPID_ATTACH, 5, 7, -1, VM0, 5);
  }

  it('a correct guest life trips nothing', () => {
    const { c, feed } = offline();
    boundInVm0(feed);
    feed(Ev.GET, 5, 7, -1, VM0, 2);
    feed(Ev.VMCS_SET, 5, 7, -1, VM0, 5, 1);
    feed(Ev.GUEST_SUBMIT, 5, 7, 0, 0, VM0, 5);
    feed(Ev.VCMD_START, 0, 0, -1, 0, 1, 0);
    feed(Ev.VCMD_FREE, 5, 0, -1, VM0, 0);
    expect(c.first?.message).toBeUndefined();
  });

  it("references count per holder: KVM's and the VDCM's PUTs before the IOMMU driver's, whose PUT reclaims", () => {
    const { c, feed } = offline();
    boundInVm0(feed);
    feed(Ev.GET, 5, 7, -1, VM0, HOLDER_KVM);
    feed(Ev.GET, 5, 7, -1, VM0, HOLDER_VDCM);
    feed(Ev.FREE_CALL, 5, 7, -1, VM0);
    feed(Ev.PUT, 5, 7, -1, VM0, HOLDER_KVM);
    feed(Ev.PUT, 5, 7, -1, VM0, HOLDER_VDCM);
    for (let ph = 0; ph < 8; ph++) feed(Ev.PHASE, 5, 7, 0, ph, 0, 0);
    feed(Ev.PUT, 5, 7, -1, VM0, HOLDER_IOMMU);
    // Reclaimed: the value may go to the other VM.
    feed(Ev.ALLOC, 5, 8, -1, VM1);
    expect(c.first?.message).toBeUndefined();
  });

  it("a reaper's repeat of a GET or a PUT counts once; a holder's first GET or PUT always counts", () => {
    // The GET repeated: counted twice, the FREE would leave the PASID free-pending.
    const a = offline();
    a.feed(Ev.ALLOC, 5, 1, -1, VM0);
    a.feed(Ev.GET, 5, 1, -1, VM0, HOLDER_IOMMU);
    a.feed(Ev.GET, 5, 1, -1, VM0, HOLDER_IOMMU, RELOGGED);
    a.feed(Ev.PUT, 5, 1, -1, VM0, HOLDER_IOMMU);
    a.feed(Ev.FREE_CALL, 5, 1, -1, VM0);
    a.feed(Ev.ALLOC, 5, 2, -1, VM1);
    // The PUT repeated: counted twice, it would reclaim and the FREE would find no reference.
    a.feed(Ev.GET, 5, 2, -1, VM1, HOLDER_HOST);
    a.feed(Ev.PUT, 5, 2, -1, VM1, HOLDER_HOST);
    a.feed(Ev.PUT, 5, 2, -1, VM1, HOLDER_HOST, RELOGGED);
    a.feed(Ev.FREE_CALL, 5, 2, -1, VM1);
    expect(a.c.first?.message).toBeUndefined();
    // A repeat of a GET the dead thread never appended is the GET.
    const b = offline();
    b.feed(Ev.ALLOC, 5, 1, -1, VM0);
    b.feed(Ev.GET, 5, 1, -1, VM0, HOLDER_KVM);
    b.feed(Ev.GET, 5, 1, -1, VM0, HOLDER_IOMMU, RELOGGED);
    b.feed(Ev.FREE_CALL, 5, 1, -1, VM0);
    b.feed(Ev.PUT, 5, 1, -1, VM0, HOLDER_KVM);
    b.feed(Ev.PUT, 5, 1, -1, VM0, HOLDER_IOMMU);
    b.feed(Ev.PUT, 5, 1, -1, VM0, HOLDER_IOMMU);
    trips(b.c, 'INV-11');
  });

  it("the VDCM's repeats count per mdev slot (operand pf): a slot's first GET or PUT counts while another slot holds one", () => {
    const a = offline();
    a.feed(Ev.ALLOC, 5, 1, -1, VM0);
    a.feed(Ev.GET, 5, 1, 0, VM0, HOLDER_VDCM);
    // Slot 9's GET, which its dead thread never appended: the reaper's is the GET.
    a.feed(Ev.GET, 5, 1, 9, VM0, HOLDER_VDCM, RELOGGED);
    a.feed(Ev.GET, 5, 1, 9, VM0, HOLDER_VDCM, RELOGGED);
    a.feed(Ev.FREE_CALL, 5, 1, -1, VM0);
    a.feed(Ev.PUT, 5, 1, 9, VM0, HOLDER_VDCM);
    a.feed(Ev.PUT, 5, 1, 9, VM0, HOLDER_VDCM, RELOGGED);
    // Slot 0's PUT reclaims; the value goes to the other VM.
    a.feed(Ev.PUT, 5, 1, 0, VM0, HOLDER_VDCM);
    a.feed(Ev.ALLOC, 5, 2, -1, VM1);
    expect(a.c.first?.message).toBeUndefined();
    // Judged by the holder alone, slot 9's GET would be taken for a repeat: its PUT would then
    // reclaim, and slot 0's PUT would find the PASID free.
    const b = offline();
    b.feed(Ev.ALLOC, 5, 1, -1, VM0);
    b.feed(Ev.GET, 5, 1, -1, VM0, HOLDER_VDCM);
    b.feed(Ev.GET, 5, 1, -1, VM0, HOLDER_VDCM, RELOGGED);
    b.feed(Ev.FREE_CALL, 5, 1, -1, VM0);
    b.feed(Ev.PUT, 5, 1, -1, VM0, HOLDER_VDCM);
    b.feed(Ev.PUT, 5, 1, -1, VM0, HOLDER_VDCM);
    trips(b.c, 'INV-11');
  });

  it('INV-4: a VM binds, or submits with, a PASID of another VM on the shared PF', () => {
    const a = offline();
    a.feed(Ev.ALLOC, 5, 7, -1, VM1);
    a.feed(Ev.GBIND, 5, 7, 0, VM0, 0, 1);
    trips(a.c, 'INV-4');
    const b = offline();
    b.feed(Ev.ALLOC, 5, 7, -1, VM1);
    b.feed(Ev.GUEST_SUBMIT, 5, 7, 0, 0, VM0, 5);
    trips(b.c, 'INV-4');
  });

  it('INV-7: a guest PASID mapped to two host PASIDs; identity broken; a VMCS entry the SPID map does not back', () => {
    const a = offline();
    boundInVm0(a.feed);
    a.feed(Ev.ALLOC, 6, 8, -1, VM0);
    a.feed(Ev.SPID_ATTACH, 6, 8, -1, VM0, 5);
    trips(a.c, 'INV-7');
    const b = offline();
    b.feed(Ev.ALLOC, 5, 7, -1, VM0);
    b.feed(Ev.SPID_ATTACH, 5, 7, -1, VM0, 9);
    trips(b.c, 'INV-7');
    const c = offline();
    boundInVm0(c.feed);
    c.feed(Ev.VMCS_SET, 5, 7, -1, VM0, 6, 1);
    trips(c.c, 'INV-7');
    // spid mode: guest 101 -> host 5, then guest 101 -> host 6; host 5 from guest 101 and 102.
    const spid = { ...SMALL, guestPasidMode: 'spid' as const };
    const d = offline(spid);
    d.feed(Ev.ALLOC, 5, 7, -1, VM0);
    d.feed(Ev.ALLOC, 6, 8, -1, VM0);
    d.feed(Ev.SPID_ATTACH, 5, 7, -1, VM0, 101);
    expect(d.c.first).toBeUndefined();
    d.feed(Ev.SPID_ATTACH, 6, 8, -1, VM0, 101);
    trips(d.c, 'INV-7');
    const e = offline(spid);
    e.feed(Ev.ALLOC, 5, 7, -1, VM0);
    e.feed(Ev.SPID_ATTACH, 5, 7, -1, VM0, 101);
    e.feed(Ev.SPID_ATTACH, 5, 7, -1, VM0, 102);
    trips(e.c, 'INV-7');
  });

  it('INV-8: a guest submission with a free PASID, or after P0 of its teardown', () => {
    const a = offline();
    a.feed(Ev.GUEST_SUBMIT, 5, 7, 0, 0, VM0, 5);
    trips(a.c, 'INV-8');
    const b = offline();
    boundInVm0(b.feed);
    b.feed(Ev.UNBIND, 5, 7, 0, VM0, 0, 0);
    b.feed(Ev.PHASE, 5, 7, 0, 0, 0, 0);
    b.feed(Ev.GUEST_SUBMIT, 5, 7, 0, 0, VM0, 5 | (1 << 20));
    trips(b.c, 'INV-8');
  });

  it('INV-12: a second command taken while IP is set; an Allocate of a PASID not the VM; a Free of another VM value', () => {
    const a = offline();
    a.feed(Ev.VCMD_START, 0, 0, -1, 0, 1 | 0x100, 0);
    trips(a.c, 'INV-12');
    const b = offline();
    b.feed(Ev.ALLOC, 5, 7, -1, VM1);
    b.feed(Ev.VCMD_DONE, 5, 0, -1, VM0, 1, 0);
    trips(b.c, 'INV-12');
    const c = offline();
    c.feed(Ev.ALLOC, 5, 7, -1, VM1);
    c.feed(Ev.VCMD_FREE, 5, 0, -1, VM0, 0);
    trips(c.c, 'INV-12');
  });
});
