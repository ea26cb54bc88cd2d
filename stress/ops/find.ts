/**
 * `find(set, id, getter?)`: the data of a live id, under an RCU read-side section (the
 * getter runs inside it and may refuse: -EAGAIN). A CPU looks up ids it holds (their data
 * must be exactly theirs) and ids others may hold (any data, or -ENOENT); one lookup in
 * `getterSleepOneIn` sleeps 50 us inside its getter, and if the space counts a record
 * recycled under a reader meanwhile, that lookup names it.
 */
import { Errno } from '../../src/core/ioasid/errno.js';
import {
  defineOp,
  expectOwnData,
  expectResult,
  recycledBreach,
  type StressOp,
  showSet,
  type WatchedLookup,
  watchedFind,
} from './op.js';
import type { Breach, HeldId, View } from './view.js';

export type Getter = 'none' | 'accept' | 'refuse' | 'sleep';

export interface FindCall extends WatchedLookup {
  getter: Getter;
  /**
   * The held id a CPU looks up (from its own pick), so the check need not look it up again;
   * null otherwise (another CPU's id, or a test's call: the check then asks the view).
   */
  own?: HeldId | null;
}

function predicted(v: View, c: FindCall, h = v.heldId(c.id)): number | undefined {
  if (!h) return v.complete ? -Errno.ENOENT : undefined;
  if (c.set !== null && h.set !== c.set) return -Errno.EACCES;
  return c.getter === 'refuse' ? -Errno.EAGAIN : h.data;
}

export const find: StressOp<FindCall, 'find'> = defineOp<FindCall, 'find'>({
  name: 'find',
  fallback: null,
  legal: (r) => r >= 0 || r === -Errno.ENOENT,
  pick(v) {
    const h = v.held.length > 0 && v.rng.oneIn(2) ? v.held[v.rng.below(v.held.length)]! : null;
    return {
      set: null,
      id: h ? h.id : v.foreignId(),
      getter: v.rng.oneIn(v.o.getterSleepOneIn) ? 'sleep' : 'none',
      seen: -1,
      recycled: 0,
      own: h,
    };
  },
  call(space, c, v) {
    switch (c.getter) {
      case 'none':
        return space.find(c.set, c.id);
      case 'accept':
      case 'refuse':
        return space.find(c.set, c.id, (data) => {
          c.seen = data;
          return c.getter === 'accept';
        });
      case 'sleep':
        return watchedFind(space, v, c, v.sleepInGetter);
    }
  },
  logSet: (c) => c.set ?? -1,
  logId: (c) => c.id,
  check(v, c, r): Breach | undefined {
    if (c.recycled !== 0) return recycledBreach(c, 'slept inside its read-side section');
    const h = v.heldId(c.id);
    // The common case first: another CPU's id, any data or -ENOENT.
    if (h === undefined && !v.complete)
      return find.legal(r) ? undefined : expectResult(find, undefined, r);
    const want = predicted(v, c, h);
    // A lookup of an allocation this caller holds: its data, exactly.
    if (h && want === h.data) return expectOwnData(h, r, c.getter === 'none' ? -1 : c.seen);
    return expectResult(find, want, r, h);
  },
  show: (c) =>
    `find(${showSet(c.set)}, ${c.id}${c.getter === 'none' ? '' : `, ${c.getter} getter`})`,
});
