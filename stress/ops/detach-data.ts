/**
 * `detachData(id)`: clear an id's private data and wait for a grace period, so no reader
 * still uses it. A CPU detaches data from ids it holds that have some.
 */
import { Errno } from '../../src/core/ioasid/errno.js';
import { defineOp, expectResult, type StressOp } from './op.js';
import type { View } from './view.js';

export interface DetachDataCall {
  id: number;
}

function predicted(v: View, c: DetachDataCall): number | undefined {
  if (!v.heldId(c.id)) return v.complete ? -Errno.ENOENT : undefined;
  return 0;
}

export const detachData: StressOp<DetachDataCall, 'detachData'> = defineOp<
  DetachDataCall,
  'detachData'
>({
  name: 'detachData',
  fallback: 'attachData',
  legal: (r) => r === 0,
  pick(v) {
    const h = v.pickHeld((x) => x.data !== 0);
    return h && { id: h.id };
  },
  call: (space, c) => space.detachData(c.id), // waits for a grace period
  logSet: () => -1,
  logId: (c) => c.id,
  check: (v, c, r) => expectResult(detachData, predicted(v, c), r, v.heldId(c.id)),
  apply(v, c, r) {
    const h = v.heldId(c.id);
    if (h && r === 0) h.data = 0;
  },
  show: (c) => `detachData(${c.id})`,
});
