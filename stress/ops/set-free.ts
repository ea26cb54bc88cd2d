/**
 * `setFree(set)`: destroy a set and give its quota back; while ids remain (-EBUSY) it turns
 * free-pending and goes with its last id. A CPU frees its own scratch set.
 */
import { Errno } from '../../src/core/ioasid/errno.js';
import { defineOp, type StressOp } from './op.js';
import { type Breach, showResult, type View } from './view.js';

export interface SetFreeCall {
  set: number;
}

function predicted(v: View, c: SetFreeCall): number | undefined {
  const s = v.sets.get(c.set);
  if (!s) return v.complete ? -Errno.EINVAL : undefined;
  return s.count === 0 ? 0 : -Errno.EBUSY;
}

export const setFree: StressOp<SetFreeCall, 'setFree'> = defineOp<SetFreeCall, 'setFree'>({
  name: 'setFree',
  fallback: 'setAlloc',
  legal: (r) => r === 0 || r === -Errno.EBUSY,
  pick(v) {
    if (v.scratch < 0 || v.scratchDying) return undefined;
    return { set: v.scratch };
  },
  call: (space, c) => space.setFree(c.set),
  logSet: (c) => c.set,
  logId: () => -1,
  check(v, c, r): Breach | undefined {
    const want = predicted(v, c);
    if (want === undefined)
      return setFree.legal(r) ? undefined : { kind: 'bad-result', why: 'expected 0 or -EBUSY' };
    if (r === want) return undefined;
    return {
      kind: 'bad-result',
      why: `expected ${showResult(want)}: set ${c.set} holds ${v.sets.get(c.set)?.count ?? 0} ids`,
    };
  },
  apply(v, c, r) {
    const s = v.sets.get(c.set);
    if (!s) return;
    if (r === 0) v.setDestroyed(c.set);
    else if (r === -Errno.EBUSY) {
      s.pending = true;
      if (c.set === v.scratch) v.scratchDying = true;
    }
  },
  show: (c) => `setFree(${c.set})`,
});
