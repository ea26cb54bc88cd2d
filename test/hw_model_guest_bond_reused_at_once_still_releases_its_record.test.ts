/**
 * The end of a guest bond's teardown (P7) frees the bond and then releases the VMM record it
 * belonged to, if the VMM freed it already. A free bond may be claimed at once by another
 * guest bind (another VM's, on another thread), which rewrites the bond's owner: the release
 * must still be about the record the bond belonged to. Seen on threads under load as INV-16
 * "did not come to rest: VM n PASID records" (a record FREED, no reference, no bond, its
 * PASID long reclaimed). The claim is made deterministically: the store that frees the bond
 * is intercepted and another VM's bind claims the bond right after it.
 */
import { describe, expect, it } from 'vitest';
import { bf, bondClaimIn } from '../src/hw-model/bonds.js';
import { guestBondMm } from '../src/hw-model/guest-bonds.js';
import {
  B_CLAIM,
  BOND_WORDS,
  GUEST_CLAIM_BASE,
  VP_STATE,
  VPS_FREE,
} from '../src/hw-model/hw-layout.js';
import { Platform } from '../src/hw-model/index.js';
import { recordBond, recordOfPasid, vpField } from '../src/hw-model/vm.js';
import { TWO_VMS } from './helpers/two-vms.js';

describe('a guest bond claimed again the moment its teardown frees it', () => {
  it('still releases the record it belonged to (the VMM freed it before the teardown)', () => {
    const p = Platform.create(TWO_VMS);
    const hw = p.context;
    const h = p.vcmdAlloc(0);
    expect(p.guestBindPasid(0, 0, h)).toBe(h);
    const r = recordOfPasid(hw, 0, h);
    const b = recordBond(hw, 0, r, 0);
    expect(b).toBeGreaterThanOrEqual(0);
    // The store that frees bond b (CLAIM 0, its last) is followed at once by VM 1's claim.
    const st = hw.st.bind(hw);
    let claimedBy = -1;
    hw.st = (w: number, v: number) => {
      st(w, v);
      if (claimedBy >= 0 || w !== bf(hw, b, B_CLAIM) || v !== 0) return;
      const fields = { pf: 0, pasid: h, gen: 1, mm: guestBondMm(1, 0), token: 1 };
      const claim = GUEST_CLAIM_BASE + (1 << 12);
      claimedBy = bondClaimIn(hw, b, b + 1, claim, fields, new Int32Array(BOND_WORDS));
    };
    // Free before unbind: the VMM marks the record FREED while the bond stands; the FREE
    // path's teardown then ends with the bond's free and the record's release.
    expect(p.vcmdFree(0, h, 0, false)).toBe(0);
    hw.st = st;
    expect(claimedBy).toBe(b);
    expect(p.space.inspect(h).state).toBe('free');
    expect(hw.ld(vpField(hw, 0, r, VP_STATE))).toBe(VPS_FREE);
    p.detach();
  });
});
