/**
 * `setAlloc(token, quota, type)`: a new set with `quota` ids of capacity (0: all that is
 * available). A CPU owns at most one scratch set at a time (type NULL, quota scratchQuota),
 * which it alone allocates in.
 */
import { Errno } from '../../src/core/ioasid/errno.js';
import { SetType } from '../../src/core/ioasid/ioasid-space.js';
import { defineOp, type StressOp } from './op.js';
import { type Breach, showResult, type View } from './view.js';

export interface SetAllocCall {
  token: number | null;
  quota: number;
  type: number;
}

/** The exact result for the only user of the space. */
function predicted(v: View, c: SetAllocCall): number {
  const { token, quota, type } = c;
  if (type !== SetType.NULL && type !== SetType.MM) return -Errno.EINVAL;
  if ((type === SetType.MM) !== (token !== null)) return -Errno.EINVAL;
  for (const s of v.sets.values())
    if (type === SetType.MM && s.type === SetType.MM && s.token === token) return -Errno.EEXIST;
  let set = 0;
  while (set < v.o.maxSets && v.sets.has(set)) set++;
  if (set === v.o.maxSets) return -Errno.ENOSPC;
  const take = quota === 0 ? v.available : quota;
  if (take === 0 || take > v.available) return -Errno.ENOSPC;
  return set;
}

export const setAlloc: StressOp<SetAllocCall, 'setAlloc'> = defineOp<SetAllocCall, 'setAlloc'>({
  name: 'setAlloc',
  fallback: 'alloc',
  legal: (r) => r >= 0 || r === -Errno.ENOSPC,
  pick(v) {
    if (v.scratch >= 0) return undefined;
    return { token: null, quota: v.o.scratchQuota, type: SetType.NULL };
  },
  before: (v) => v.creatingSet(),
  call: (space, c) => space.setAlloc(c.token, c.quota, c.type as SetType),
  logSet: () => -1,
  logId: () => -1,
  check(v, c, r): Breach | undefined {
    if (v.complete) {
      const want = predicted(v, c);
      return r === want ? undefined : { kind: 'bad-result', why: `expected ${showResult(want)}` };
    }
    return setAlloc.legal(r) ? undefined : { kind: 'bad-result', why: 'expected a set or -ENOSPC' };
  },
  apply(v, c, r) {
    if (r < 0) {
      v.setNotCreated();
      return;
    }
    const quota = c.quota === 0 ? v.available : c.quota;
    v.available -= quota;
    v.setCreated(r, { type: c.type, token: c.token, quota, count: 0, pending: false });
  },
  abandon: (v) => v.setNotCreated(),
  show: (c) => `setAlloc(${c.token}, ${c.quota}, ${c.type})`,
});
