/**
 * The IOMMU driver holds one reference on a guest PASID for all of its record's bonds (taken
 * by the first bind, given back at P7 of the last: VP_IOMMU_REF). On a VM with mdevs on two
 * PFs, the last bond's P7 may be cut short inside that drop (the word PUTTING) when the VMM's
 * thread is killed; a bind of the same guest PASID on the other PF before the drop is resumed
 * must not take the half-dropped reference for its own (the new bond would hold none, and the
 * PASID was reclaimed under its entry: INV-6 "reclaimed (P8) while pf1's teardown has not
 * reached P1"). It fails EBUSY, as while the old bond is torn down on its own PF.
 */
import { describe, expect, it } from 'vitest';
import { ModelChecker } from '../src/hw-model/checker/checker.js';
import { guestBind, guestUnbind } from '../src/hw-model/guest-iommu.js';
import { HwErrno } from '../src/hw-model/hw-errno.js';
import { dsaPf, Platform } from '../src/hw-model/index.js';
import { TWO_VMS } from './helpers/two-vms.js';
import { Killed, kernelUntilKilled, reapVm0, settleVm0 } from './helpers/vm-engines.js';

const G = 101;

describe('a guest bind on another PF while the last bond drops the driver reference', () => {
  it('is refused (EBUSY) until the drop is resumed; the PASID goes after every teardown', () => {
    const p = Platform.create({
      ...TWO_VMS,
      pfs: [dsaPf('dsa0'), dsaPf('dsa1')],
      mdevsPerVm: 2,
      guestPasidMode: 'spid',
    });
    const hw = p.context;
    const checker = new ModelChecker(hw, {});
    const h = p.guestBindPasid(0, 0, G);
    expect(h).toBeGreaterThan(0);
    expect(guestUnbind(hw, 0, 0, G)).toBe(0);
    // The VMM's thread dies inside the driver's drop: the word PUTTING, the core's put not done.
    const space = hw.space as unknown as { put: (...a: unknown[]) => number };
    const put = space.put.bind(hw.space);
    let killed = false;
    space.put = (...a: unknown[]) => {
      if (!killed && a[1] === h && new Error().stack?.includes('guestDropReference')) {
        killed = true;
        throw new Killed('killed');
      }
      return put(...a);
    };
    kernelUntilKilled(p);
    space.put = put;
    expect(killed).toBe(true);
    // The guest binds the same guest PASID on its other mdev (the other PF).
    expect(guestBind(hw, 0, 1, G)).toBe(-HwErrno.EBUSY);
    reapVm0(p, true);
    settleVm0(p);
    checker.consume();
    if (!checker.first) checker.end();
    const first = checker.first ? `${checker.first.id}: ${checker.first.message}` : 'none';
    checker.close();
    p.detach();
    expect(first).toBe('none');
  });
});
