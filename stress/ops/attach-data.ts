/**
 * `attachData(id, data)`: give an id its private data, once (-EBUSY while it has some). A
 * CPU attaches fresh data to any id it holds.
 */
import { Errno } from '../../src/core/ioasid/errno.js';
import { defineOp, expectResult, type StressOp } from './op.js';
import type { View } from './view.js';

export interface AttachDataCall {
  id: number;
  data: number;
}

function predicted(v: View, c: AttachDataCall): number | undefined {
  if (c.data < 1) return -Errno.EINVAL;
  const h = v.heldId(c.id);
  if (!h) return v.complete ? -Errno.ENOENT : undefined;
  return h.data !== 0 ? -Errno.EBUSY : 0;
}

export const attachData: StressOp<AttachDataCall, 'attachData'> = defineOp<
  AttachDataCall,
  'attachData'
>({
  name: 'attachData',
  fallback: 'alloc',
  legal: (r) => r === 0 || r === -Errno.EBUSY,
  pick(v) {
    const h = v.pickHeld(() => true);
    return h && { id: h.id, data: v.nextData() };
  },
  call: (space, c) => space.attachData(c.id, c.data),
  logSet: () => -1,
  logId: (c) => c.id,
  check: (v, c, r) => expectResult(attachData, predicted(v, c), r, v.heldId(c.id)),
  apply(v, c, r) {
    const h = v.heldId(c.id);
    if (h && r === 0) h.data = c.data;
  },
  show: (c) => `attachData(${c.id}, ${c.data})`,
});
