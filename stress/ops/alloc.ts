/**
 * `alloc(set, min, max, data)`: a new id in [min, max] owned by `set`. A CPU allocates in a
 * shared set or its scratch set, over the whole range (or, one time in subRangeOneIn, from a
 * random id up), with fresh data; once it holds maxHeld ids an alloc turns into a free.
 */
import { Errno } from '../../src/core/ioasid/errno.js';
import { defineOp, type StressOp } from './op.js';
import type { Breach, View } from './view.js';

export interface AllocCall {
  set: number;
  min: number;
  max: number;
  data: number;
}

/** The exact result for the only user of the space (the sequential model). */
function predicted(v: View, c: AllocCall): number {
  const { set, min, max, data } = c;
  const idMax = v.o.idMax;
  if (set < 0 || set >= v.o.maxSets || min < 0 || max < min || min > idMax || max < 1)
    return -Errno.EINVAL;
  if (data < 0) return -Errno.EINVAL;
  const s = v.sets.get(set);
  if (!s || s.pending) return -Errno.EINVAL;
  if (s.count >= s.quota) return -Errno.EDQUOT;
  const lo = Math.max(min, 1);
  const hi = Math.min(max, idMax);
  const free = (id: number) => v.heldId(id) === undefined;
  if (v.o.cyclic) {
    const from = v.next > lo && v.next <= hi ? v.next : lo;
    for (let i = from; i <= hi; i++) if (free(i)) return i;
    for (let i = lo; i < from; i++) if (free(i)) return i;
  } else {
    for (let i = lo; i <= hi; i++) if (free(i)) return i;
  }
  return -Errno.ENOSPC;
}

/** What a CPU can tell: the range, and -EDQUOT only at the quota of a set it knows. */
function checkPartial(v: View, c: AllocCall, r: number): Breach | undefined {
  if (r > 0)
    return r >= c.min && r <= c.max
      ? undefined
      : { kind: 'bad-result', why: `id outside [${c.min}, ${c.max}]`, id: r };
  if (r === -Errno.ENOSPC) {
    const why = v.enospcWhileNotFull(Math.max(c.min, 1), Math.min(c.max, v.o.idMax));
    return why === undefined ? undefined : { kind: 'bad-result', why };
  }
  if (r === -Errno.ENOMEM) return undefined;
  // A custom allocator handed out ids whose reclaims had not erased them yet, three times.
  if (r === -Errno.EAGAIN && v.o.customAllocator) return undefined;
  const s = v.sets.get(c.set);
  if (r === -Errno.EDQUOT)
    return s && s.count < s.quota
      ? { kind: 'bad-result', why: `set ${c.set} holds ${s.count} ids, below its quota ${s.quota}` }
      : undefined;
  return {
    kind: 'bad-result',
    why: `expected an id, -EDQUOT, -ENOSPC or -ENOMEM${v.o.customAllocator ? ' or -EAGAIN' : ''}`,
  };
}

export const alloc: StressOp<AllocCall, 'alloc'> = defineOp<AllocCall, 'alloc'>({
  name: 'alloc',
  fallback: 'free',
  // -EAGAIN: only with a custom allocator (a CPU checks that exactly: checkPartial).
  legal: (r) =>
    r > 0 ||
    r === -Errno.EDQUOT ||
    r === -Errno.ENOSPC ||
    r === -Errno.ENOMEM ||
    r === -Errno.EAGAIN,
  pick(v) {
    if (v.held.length >= v.o.maxHeld) return undefined;
    const scratch = v.scratch >= 0 && !v.scratchDying && v.rng.oneIn(4);
    const set = scratch ? v.scratch : v.o.shared[v.rng.below(v.o.shared.length)]!;
    const { idMin, idMax, subRangeOneIn } = v.o;
    const min =
      subRangeOneIn > 0 && v.rng.oneIn(subRangeOneIn)
        ? idMin + v.rng.below(idMax - idMin + 1)
        : idMin;
    return { set, min, max: idMax, data: v.nextData() };
  },
  before: (v) => v.allocating(),
  call: (space, c) => space.alloc(c.set, c.min, c.max, c.data),
  logSet: (c) => c.set,
  logId: (_c, r) => (r > 0 ? r : -1),
  check(v, c, r) {
    if (!v.complete) return checkPartial(v, c, r);
    const want = predicted(v, c);
    return r === want ? undefined : { kind: 'bad-result', why: `expected ${want}` };
  },
  apply(v, c, r) {
    if (r <= 0) return v.allocTookNothing();
    v.next = r + 1;
    v.adopt({ id: r, set: c.set, refs: 1, pending: false, spid: null, data: c.data }, 'alloc');
  },
  show: (c) => `alloc(${c.set}, ${c.min}, ${c.max}, ${c.data})`,
});
