/**
 * `findBySpid(set, spid, get)`: the id bound to `spid` in `set`, taking a reference when
 * `get` (refused, -EBUSY, on a free-pending id). A CPU looks up SPIDs it bound, with a get
 * one time in four on ids that are not free-pending.
 */
import { Errno } from '../../src/core/ioasid/errno.js';
import { defineOp, expectResult, type StressOp } from './op.js';
import type { View } from './view.js';

export interface FindBySpidCall {
  set: number;
  spid: number;
  get: boolean;
}

function predicted(v: View, c: FindBySpidCall): number | undefined {
  const h = v.heldBySpid(c.set, c.spid);
  if (!h) return v.complete ? -Errno.ENOENT : undefined;
  if (c.get && h.pending) return -Errno.EBUSY;
  return h.id;
}

export const findBySpid: StressOp<FindBySpidCall, 'findBySpid'> = defineOp<
  FindBySpidCall,
  'findBySpid'
>({
  name: 'findBySpid',
  fallback: 'find',
  legal: (r) => r > 0,
  pick(v) {
    const h = v.pickHeld((x) => x.spid !== null);
    return h && { set: h.set, spid: h.spid!, get: !h.pending && v.rng.oneIn(4) };
  },
  call: (space, c) => space.findBySpid(c.set, c.spid, c.get),
  logSet: (c) => c.set,
  // The id it returned: a bad entry then names the id, not the SPID.
  logId: (_c, r) => (r > 0 ? r : -1),
  check: (v, c, r) => expectResult(findBySpid, predicted(v, c), r, v.heldBySpid(c.set, c.spid)),
  apply(v, c, r) {
    if (r > 0 && c.get) v.heldId(r)!.refs++;
  },
  show: (c) => `findBySpid(${c.set}, ${c.spid}, ${c.get})`,
});
