/**
 * A guest's vDWQ mdev (`dwqMdevs`, §7.4 movdir64b for a guest): MOVDIR64B carries no PASID,
 * the device runs the descriptor with WQCFG.pasid, which the VDCM programmed with the VM's
 * host PASID; before that (and once the mdev is cleared: WQ disabled, drained, WQCFG clear)
 * the portal write is dropped. INV-8's DWQ clause (and INV-4's second clause) hold every
 * execution on a guest's DWQ to that PASID. Broken twins: a WQCFG reprogrammed by hand under
 * queued descriptors with another VM's PASID, and hand-written logs, each reported by name.
 */
import { describe, expect, it } from 'vitest';
import { ModelChecker } from '../src/hw-model/checker/checker.js';
import { wqCfg } from '../src/hw-model/device.js';
import { Ev, type LogEvent } from '../src/hw-model/event-log.js';
import {
  E_GEN,
  vmToken,
  WQ_GEN,
  WQ_PASID,
  WQ_STATE,
  WQS_DISABLED,
} from '../src/hw-model/hw-layout.js';
import { HwErrno, Platform, type Profile } from '../src/hw-model/index.js';
import { entryOf } from '../src/hw-model/pasid-table.js';
import { TWO_VMS } from './helpers/two-vms.js';

/** Each VM: mdev 2v on the shared SWQ 0, mdev 2v+1 a vDWQ of its own (both on dsa0). */
const WITH_DWQS: Partial<Profile> = { ...TWO_VMS, mdevsPerVm: 2, dwqMdevs: 1 };
const SWQ0 = 0;
const DWQ0 = 1;
const SWQ1 = 2;

/** VM `vm` gets a PASID, binds it on its vSWQ (the PF's entry) and programs it into its vDWQ. */
function programmed(p: Platform, vm: number): number {
  const h = p.vcmdAlloc(vm);
  expect(h).toBeGreaterThan(0);
  expect(p.guestBindPasid(vm, 2 * vm, h)).toBe(h);
  expect(p.guestProgramWq(vm, 2 * vm + 1, h)).toBe(h);
  return h;
}

/** Where mdev `m`'s WQ config lives. */
function cfgOf(p: Platform, m: number, f: number): number {
  const d = p.context.g.shape.vm.mdevs[m]!;
  return wqCfg(p.context, d.pf, d.wq, f);
}

describe('a guest MOVDIR64B to its vDWQ', () => {
  it('is dropped until the VDCM programs the WQ, then runs with WQCFG.pasid; cleared, dropped again', () => {
    const p = Platform.create(WITH_DWQS);
    const c = new ModelChecker(p.context, {});
    expect(p.guestMovdir64b(0, 0, DWQ0)).toBe(1); // disabled: no PASID programmed yet
    expect(p.guestMovdir64b(0, 0, SWQ0)).toBe(-HwErrno.EINVAL); // a vSWQ takes ENQCMD only
    const h = programmed(p, 0);
    expect(p.context.ld(cfgOf(p, DWQ0, WQ_PASID))).toBe(h);
    expect(p.guestProgramWq(0, DWQ0, h)).toBe(-HwErrno.EBUSY); // one PASID per DWQ
    for (let i = 0; i < 4; i++) expect(p.guestMovdir64b(0, i % 2, DWQ0, i)).toBe(0);
    expect(p.execute(0, 16)).toBeGreaterThan(0);
    c.consume();
    expect(c.first?.message).toBeUndefined();
    const vm0 = c.vmStats().find((v) => v.vm === 0)!;
    expect(vm0.dwqSubmissions).toBe(4);
    const inv8 = c.counts().find((x) => x.id === 'INV-8')!;
    expect(inv8.checks).toBeGreaterThanOrEqual(4); // one per execution on the vDWQ
    expect(p.guestMdevClear(0, DWQ0)).toBe(0);
    expect(p.context.ld(cfgOf(p, DWQ0, WQ_STATE))).toBe(WQS_DISABLED);
    expect(p.context.ld(cfgOf(p, DWQ0, WQ_PASID))).toBe(0);
    expect(p.guestMovdir64b(0, 0, DWQ0)).toBe(1);
    expect(p.guestUnbindPasid(0, SWQ0, h)).toBe(0);
    expect(p.vcmdFree(0, h)).toBe(0);
    c.consume();
    c.end();
    expect(c.first?.message).toBeUndefined();
  });

  it("broken twin: WQCFG reprogrammed under queued descriptors with another VM's PASID (INV-8, INV-4)", () => {
    const p = Platform.create(WITH_DWQS);
    const c = new ModelChecker(p.context, {});
    programmed(p, 0);
    const other = p.vcmdAlloc(1);
    expect(p.guestBindPasid(1, SWQ1, other)).toBe(other);
    expect(p.guestMovdir64b(0, 0, DWQ0)).toBe(0);
    // A VDCM that rewrote the WQ's PASID without disabling and draining it first.
    const hw = p.context;
    hw.st(cfgOf(p, DWQ0, WQ_PASID), other);
    hw.st(cfgOf(p, DWQ0, WQ_GEN), hw.ld(entryOf(hw, 0, other) + E_GEN)); // its live generation
    p.execute(0, 16);
    c.consume();
    expect(c.first?.id, c.first?.message).toBe('INV-8');
    expect(c.first?.message).toMatch(/vDWQ .* executed with pasid \d+ gen \d+, not WQCFG's pasid/);
    expect(c.violations.some((v) => v.id === 'INV-4')).toBe(true);
  });
});

describe("INV-8's DWQ clause, from a hand-written log", () => {
  const VM0 = vmToken(0, 1);

  function offline() {
    const p = Platform.create(WITH_DWQS);
    const c = new ModelChecker(p.context, { consume: false });
    const d = p.context.g.shape.vm.mdevs[DWQ0]!;
    let seq = 0;
    const feed = (kind: number, pasid: number, gen: number, pf = -1, a = 0, b = 0, k = 0) =>
      c.onEvent({ seq: seq++, kind, actor: 1, pasid, gen, pf, a, b, c: k } satisfies LogEvent);
    feed(Ev.ALLOC, 5, 7, -1, VM0);
    feed(Ev.ALLOC, 6, 8, -1, VM0);
    return { c, feed, pf: d.pf, wq: d.wq };
  }

  it('an execution with WQCFG as programmed passes; with another PASID, or none programmed, trips', () => {
    const ok = offline();
    ok.feed(Ev.MDEV_PROGRAM, 5, 7, ok.pf, DWQ0, VM0, 0);
    ok.feed(Ev.EXEC, 5, 7, ok.pf, ok.wq, 1, 0);
    expect(ok.c.first?.message).toBeUndefined();
    const wrong = offline();
    wrong.feed(Ev.MDEV_PROGRAM, 5, 7, wrong.pf, DWQ0, VM0, 0);
    wrong.feed(Ev.EXEC, 6, 8, wrong.pf, wrong.wq, 1, 0);
    expect(wrong.c.first?.id, wrong.c.first?.message).toBe('INV-8');
    const cleared = offline();
    cleared.feed(Ev.MDEV_PROGRAM, 5, 7, cleared.pf, DWQ0, VM0, 0);
    cleared.feed(Ev.MDEV_CLEAR, 5, 7, cleared.pf, DWQ0, VM0, 0);
    cleared.feed(Ev.EXEC, 5, 7, cleared.pf, cleared.wq, 1, 0);
    expect(cleared.c.first?.id, cleared.c.first?.message).toBe('INV-8');
    expect(cleared.c.first?.message).toMatch(/had no PASID programmed there/);
  });

  it("a MOVDIR64B whose WQCFG names another VM's PASID trips INV-4", () => {
    const { c, feed, pf, wq } = offline();
    feed(Ev.ALLOC, 9, 9, -1, vmToken(1, 1));
    feed(Ev.GUEST_MOVDIR, 9, 9, pf, wq, VM0, DWQ0);
    expect(c.first?.id, c.first?.message).toBe('INV-4');
  });
});
