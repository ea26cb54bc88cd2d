/**
 * `free(set, id)`: drop the allocation's reference; the id is reclaimed now if that was the
 * last one, else it turns free-pending and the last `put` reclaims it. A CPU frees only ids
 * it holds that are not free-pending, naming their set.
 */
import { Errno } from '../../src/core/ioasid/errno.js';
import { defineOp, expectResult, NOTHING, type StressOp, showSet } from './op.js';
import type { HeldId, View } from './view.js';

export interface FreeCall {
  set: number | null;
  id: number;
}

/**
 * What free(set, id) returns, from the view: exact for an id it holds or for a complete
 * view, undefined (unknown) otherwise. Shared with freeAllInSet.
 */
export function predictFree(v: View, set: number | null, id: number): number | undefined {
  const h = v.heldId(id);
  if (!h) return v.complete ? -Errno.ENOENT : undefined;
  if (set === null || h.set !== set) return -Errno.EACCES;
  if (h.pending) return -Errno.EBUSY;
  return 0;
}

/**
 * The view after a free of `h` that returned 0: reclaimed, or free-pending.
 *
 * @param v - the view
 * @param h - the freed id
 */
export function applyFree(v: View, h: HeldId): void {
  if (h.refs === 1) v.reclaimed(h);
  else {
    h.refs--;
    h.pending = true;
  }
}

export const free: StressOp<FreeCall, 'free'> = defineOp<FreeCall, 'free'>({
  name: 'free',
  fallback: 'alloc',
  legal: (r) => r === 0,
  pick(v) {
    const h = v.pickHeld((x) => !x.pending);
    return h && { set: h.set, id: h.id };
  },
  reclaims(v, c) {
    const h = v.heldId(c.id);
    return h && h.refs === 1 && predictFree(v, c.set, c.id) === 0 ? [h] : NOTHING;
  },
  before(v, c) {
    const h = v.heldId(c.id);
    if (h && h.refs > 1 && predictFree(v, c.set, c.id) === 0) v.leavingPending(h);
  },
  call: (space, c) => space.free(c.set, c.id),
  logSet: (c) => c.set ?? -1,
  logId: (c) => c.id,
  check: (v, c, r) => expectResult(free, predictFree(v, c.set, c.id), r, v.heldId(c.id)),
  apply(v, c, r) {
    const h = v.heldId(c.id);
    if (!h || r !== 0) return;
    const pending = h.refs > 1;
    applyFree(v, h);
    if (pending) v.leftPending(h, true);
  },
  abandon(v, c) {
    const h = v.heldId(c.id);
    if (h) v.leftPending(h, false);
  },
  show: (c) => `free(${showSet(c.set)}, ${c.id})`,
});
