/**
 * `attachSpid(id, spid)`: bind a SPID (a guest's PASID) to an id, unique within its set. A
 * CPU binds fresh SPIDs (generation | cpu | sequence, never reused while live) to ids it
 * holds that have none and are not free-pending.
 */
import { Errno } from '../../src/core/ioasid/errno.js';
import { INVALID_IOASID } from '../../src/core/ioasid/ioasid-space.js';
import { defineOp, expectResult, type StressOp } from './op.js';
import type { View } from './view.js';

export interface AttachSpidCall {
  id: number;
  spid: number;
}

function predicted(v: View, c: AttachSpidCall): number | undefined {
  if (c.spid === INVALID_IOASID) return -Errno.EINVAL;
  const h = v.heldId(c.id);
  if (!h) return v.complete ? -Errno.ENOENT : undefined;
  // A partial view holds every id bound to its own SPIDs, which are unique: exact too.
  if (v.heldBySpid(h.set, c.spid)) return -Errno.EINVAL;
  return 0;
}

export const attachSpid: StressOp<AttachSpidCall, 'attachSpid'> = defineOp<
  AttachSpidCall,
  'attachSpid'
>({
  name: 'attachSpid',
  fallback: 'alloc',
  legal: (r) => r === 0,
  pick(v) {
    const h = v.pickHeld((x) => x.spid === null && !x.pending);
    return h && { id: h.id, spid: v.nextSpid() };
  },
  call: (space, c) => space.attachSpid(c.id, c.spid),
  logSet: () => -1,
  logId: (c) => c.id,
  check: (v, c, r) => expectResult(attachSpid, predicted(v, c), r, v.heldId(c.id)),
  apply(v, c, r) {
    const h = v.heldId(c.id);
    if (h && r === 0) v.bindSpid(h, c.spid);
  },
  show: (c) => `attachSpid(${c.id}, ${c.spid})`,
});
