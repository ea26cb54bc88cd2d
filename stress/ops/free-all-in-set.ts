/**
 * `freeAllInSet(set)`: free every id of a set, as `free` would one by one; returns how many
 * frees succeeded (ids with extra references turn free-pending; free-pending ones are
 * skipped). A CPU empties its scratch set when every id in it would be reclaimed at once (no
 * extra reference, none free-pending).
 */
import { Errno } from '../../src/core/ioasid/errno.js';
import { applyFree, predictFree } from './free.js';
import { defineOp, NOTHING, type StressOp } from './op.js';
import { type Breach, type HeldId, showResult, type View } from './view.js';

export interface FreeAllInSetCall {
  set: number;
}

/** Held ids of `set` that free would reclaim now. */
function reclaimable(v: View, set: number): HeldId[] {
  return v.heldIn(set).filter((h) => !h.pending && h.refs === 1);
}

function predicted(v: View, c: FreeAllInSetCall): number | undefined {
  if (!v.sets.has(c.set)) return v.complete ? -Errno.EINVAL : undefined;
  return v.heldIn(c.set).filter((h) => !h.pending).length;
}

export const freeAllInSet: StressOp<FreeAllInSetCall, 'freeAllInSet'> = defineOp<
  FreeAllInSetCall,
  'freeAllInSet'
>({
  name: 'freeAllInSet',
  fallback: 'alloc',
  legal: (r) => r >= 0,
  pick(v) {
    const set = v.scratch;
    if (set < 0) return undefined;
    // Only when every id would be reclaimed at once, so the count is exact.
    for (const h of v.held) if (h.set === set && (h.pending || h.refs !== 1)) return undefined;
    return { set };
  },
  reclaims: (v, c) => (v.sets.has(c.set) ? reclaimable(v, c.set) : NOTHING),
  call: (space, c) => space.freeAllInSet(c.set),
  logSet: (c) => c.set,
  logId: () => -1,
  check(v, c, r): Breach | undefined {
    const want = predicted(v, c);
    if (want === undefined)
      return freeAllInSet.legal(r) ? undefined : { kind: 'bad-result', why: 'expected a count' };
    return r === want
      ? undefined
      : {
          kind: 'bad-result',
          why: `expected ${showResult(want)} (the ids of the set that are not free-pending)`,
        };
  },
  apply(v, c, r) {
    if (r < 0) return;
    for (const h of v.heldIn(c.set)) if (predictFree(v, c.set, h.id) === 0) applyFree(v, h);
  },
  show: (c) => `freeAllInSet(${c.set})`,
});
