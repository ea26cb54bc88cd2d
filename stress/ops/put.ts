/**
 * `put(set, id)`: drop a reference; returns 1 when that reclaimed the id (the allocation's
 * own reference counts too). A CPU puts ids it holds: those with extra references or
 * free-pending, and one in eight of the rest (which reclaims them).
 */
import { Errno } from '../../src/core/ioasid/errno.js';
import { defineOp, expectResult, NOTHING, type StressOp, showSet } from './op.js';
import type { View } from './view.js';

export interface PutCall {
  set: number | null;
  id: number;
}

function predicted(v: View, c: PutCall): number | undefined {
  const h = v.heldId(c.id);
  if (!h) return v.complete ? -Errno.ENOENT : undefined;
  if (c.set !== null && h.set !== c.set) return -Errno.EACCES;
  return h.refs === 1 ? 1 : 0;
}

export const put: StressOp<PutCall, 'put'> = defineOp<PutCall, 'put'>({
  name: 'put',
  fallback: 'get',
  legal: (r) => r === 0 || r === 1,
  pick(v) {
    const h = v.pickHeld((x) => x.refs > 1 || x.pending || v.rng.oneIn(8));
    return h && { set: h.set, id: h.id };
  },
  reclaims(v, c) {
    const h = v.heldId(c.id);
    return h && predicted(v, c) === 1 ? [h] : NOTHING;
  },
  call: (space, c) => space.put(c.set, c.id),
  logSet: (c) => c.set ?? -1,
  logId: (c) => c.id,
  check: (v, c, r) => expectResult(put, predicted(v, c), r, v.heldId(c.id)),
  apply(v, c, r) {
    const h = v.heldId(c.id);
    if (!h) return;
    if (r === 1) v.reclaimed(h);
    else if (r === 0) h.refs--;
  },
  show: (c) => `put(${showSet(c.set)}, ${c.id})`,
});
