/**
 * `get(set, id)`: take a reference on a live id; refused (-EBUSY) once it is free-pending.
 * A CPU gets ids it holds, naming their set.
 */
import { Errno } from '../../src/core/ioasid/errno.js';
import { defineOp, expectResult, type StressOp, showSet } from './op.js';
import type { View } from './view.js';

export interface GetCall {
  set: number | null;
  id: number;
}

function predicted(v: View, c: GetCall): number | undefined {
  const h = v.heldId(c.id);
  if (!h) return v.complete ? -Errno.EINVAL : undefined;
  if (h.pending) return -Errno.EBUSY;
  if (c.set !== null && h.set !== c.set) return -Errno.EACCES;
  return 0;
}

export const get: StressOp<GetCall, 'get'> = defineOp<GetCall, 'get'>({
  name: 'get',
  fallback: 'alloc',
  legal: (r) => r === 0 || r === -Errno.EBUSY,
  pick(v) {
    const h = v.pickHeld(() => true);
    return h && { set: h.set, id: h.id };
  },
  call: (space, c) => space.get(c.set, c.id),
  logSet: (c) => c.set ?? -1,
  logId: (c) => c.id,
  check: (v, c, r) => expectResult(get, predicted(v, c), r, v.heldId(c.id)),
  apply(v, c, r) {
    const h = v.heldId(c.id);
    if (h && r === 0) h.refs++;
  },
  show: (c) => `get(${showSet(c.set)}, ${c.id})`,
});
