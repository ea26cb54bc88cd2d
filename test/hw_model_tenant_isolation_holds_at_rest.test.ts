/**
 * INV-4 (tenant isolation on a shared PF) at rest: the quiescent scan walks every present
 * PASID-table entry and finds one bound for a VM on a PF where that VM has no mdev, or naming
 * a PASID another tenant owns. Broken twins: entries programmed by hand (a hypervisor that
 * wrote them past its own checks), each reported as INV-4; a correct two-VM run reports none.
 */
import { describe, expect, it } from 'vitest';
import { ModelChecker } from '../src/hw-model/checker/checker.js';
import { E_BINDING, E_GEN, PGTT_NESTED } from '../src/hw-model/hw-layout.js';
import { dsaPf, Platform, type Profile } from '../src/hw-model/index.js';
import { entryOf, tableProgram } from '../src/hw-model/pasid-table.js';
import { vmTokenOf } from '../src/hw-model/vm.js';

/** Two VMs with one mdev each on SWQ 0 of dsa0; dsa1 carries no mdev at all. */
const TWO_PFS: Partial<Profile> = {
  pasidBits: 8,
  processes: 2,
  threadsPerProcess: 1,
  pfs: [dsaPf('dsa0'), dsaPf('dsa1')],
  vms: 2,
  vcpusPerVm: 2,
  mdevsPerVm: 1,
  processesPerVm: 4,
  vmQuota: 8,
};

/** A platform where VM 0 got a PASID and bound it on its mdev (on dsa0), under a checker. */
function vm0Bound() {
  const p = Platform.create(TWO_PFS);
  const c = new ModelChecker(p.context, {});
  const pasid = p.vcmdAlloc(0);
  expect(pasid).toBeGreaterThan(0);
  expect(p.guestBindPasid(0, 0, pasid)).toBe(pasid);
  c.consume();
  c.quiescent();
  expect(c.first?.message).toBeUndefined();
  return { p, c, pasid, hw: p.context };
}

/** Copy pf0's entry of `pasid` onto `pf` with `binding`, as a broken hypervisor would. */
function forge(p: Platform, pf: number, pasid: number, binding: number, onto = pasid): void {
  const hw = p.context;
  const e = entryOf(hw, 0, pasid);
  const fields = { pgtt: PGTT_NESTED, did: 1, s1: -1, binding, gen: hw.ld(e + E_GEN), bind: 0 };
  expect(tableProgram(hw, pf, onto, fields)).toBe(0);
}

describe('INV-4 at rest: the quiescent scan of the PASID tables', () => {
  it("a VM's entry on a PF where the VM has no mdev", () => {
    const { p, c, pasid, hw } = vm0Bound();
    forge(p, 1, pasid, hw.ld(entryOf(hw, 0, pasid) + E_BINDING));
    c.quiescent();
    expect(c.first?.id, c.first?.message).toBe('INV-4');
    expect(c.first?.message).toMatch(/bound for VM 0, which has no mdev on pf1/);
  });

  it("an entry bound for VM 1 that names VM 0's PASID on the shared PF", () => {
    const { p, c, pasid, hw } = vm0Bound();
    const other = pasid + 1;
    forge(p, 0, pasid, vmTokenOf(hw, 1), other);
    // `other` is free in the ghost: bound for VM 1 with nobody owning it is INV-3's (no bond);
    // give it to VM 0 first so that only the tenant is wrong.
    expect(p.vcmdAlloc(0)).toBe(other);
    c.consume();
    c.quiescent();
    expect(c.first?.id, c.first?.message).toBe('INV-4');
    expect(c.first?.message).toMatch(/bound for VM 1, but VM 0 owns the PASID/);
  });

  it('an entry bound for a host mm that names a PASID of a VM', () => {
    const { p, c, pasid } = vm0Bound();
    forge(p, 1, pasid, 77);
    c.quiescent();
    expect(c.first?.id, c.first?.message).toBe('INV-4');
    expect(c.first?.message).toMatch(/bound for mm 77, but VM 0 owns the PASID/);
  });

  it('the scan counts its checks and passes on the legitimate entries of both VMs and the host', () => {
    const { p, c } = vm0Bound();
    const q = p.vcmdAlloc(1);
    expect(p.guestBindPasid(1, 1, q)).toBe(q);
    p.spawn(0);
    expect(p.bindSva(1, 0)).toBeGreaterThan(0);
    c.consume();
    const before = c.counts().find((x) => x.id === 'INV-4')!.checks;
    c.quiescent();
    expect(c.first?.message).toBeUndefined();
    expect(c.counts().find((x) => x.id === 'INV-4')!.checks).toBeGreaterThanOrEqual(before + 3);
  });
});
