/** `detachSpid(id)`: unbind an id's SPID. A CPU unbinds SPIDs it bound. */
import { Errno } from '../../src/core/ioasid/errno.js';
import { defineOp, expectResult, type StressOp } from './op.js';
import type { View } from './view.js';

export interface DetachSpidCall {
  id: number;
}

function predicted(v: View, c: DetachSpidCall): number | undefined {
  const h = v.heldId(c.id);
  if (!h) return v.complete ? -Errno.ENOENT : undefined;
  return h.spid === null ? -Errno.ENOENT : 0;
}

export const detachSpid: StressOp<DetachSpidCall, 'detachSpid'> = defineOp<
  DetachSpidCall,
  'detachSpid'
>({
  name: 'detachSpid',
  fallback: 'attachSpid',
  legal: (r) => r === 0,
  pick(v) {
    const h = v.pickHeld((x) => x.spid !== null);
    return h && { id: h.id };
  },
  call: (space, c) => space.detachSpid(c.id),
  logSet: () => -1,
  logId: (c) => c.id,
  check: (v, c, r) => expectResult(detachSpid, predicted(v, c), r, v.heldId(c.id)),
  apply(v, c, r) {
    const h = v.heldId(c.id);
    if (h && r === 0) v.unbindSpid(h);
  },
  show: (c) => `detachSpid(${c.id})`,
});
