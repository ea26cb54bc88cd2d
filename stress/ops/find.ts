/**
 * `find(set, id, getter?)`: the data of a live id, under an RCU read-side section (the
 * getter runs inside it and may refuse: -EAGAIN). A CPU looks up ids it holds (their data
 * must be exactly theirs) and ids others may hold (any data, or -ENOENT); one lookup in
 * `getterSleepOneIn` sleeps 50 us inside its getter, and if the space counts a record
 * recycled under a reader meanwhile, that lookup names it.
 */
import { Errno } from '../../src/core/ioasid/errno.js';
import {
  expectOwnData,
  expectResult,
  NOTHING,
  recycledBreach,
  type StressOp,
  showSet,
  type WatchedLookup,
  watchedFind,
} from './op.js';
import type { Breach, View } from './view.js';

export type Getter = 'none' | 'accept' | 'refuse' | 'sleep';

export interface FindCall extends WatchedLookup {
  getter: Getter;
}

function predicted(v: View, c: FindCall): number | undefined {
  const h = v.heldId(c.id);
  if (!h) return v.complete ? -Errno.ENOENT : undefined;
  if (c.set !== null && h.set !== c.set) return -Errno.EACCES;
  return c.getter === 'refuse' ? -Errno.EAGAIN : h.data;
}

export const find: StressOp<FindCall, 'find'> = {
  name: 'find',
  fallback: null,
  legal: (r) => r >= 0 || r === -Errno.ENOENT,
  pick(v) {
    const h = v.held.length > 0 && v.rng.oneIn(2) ? v.held[v.rng.below(v.held.length)] : undefined;
    return {
      set: null,
      id: h ? h.id : v.foreignId(),
      getter: v.rng.oneIn(v.o.getterSleepOneIn) ? 'sleep' : 'none',
      seen: -1,
      recycled: 0,
    };
  },
  reclaims: () => NOTHING,
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
    const recycled = recycledBreach(c, 'slept inside its read-side section');
    if (recycled) return recycled;
    const h = v.heldId(c.id);
    const want = predicted(v, c);
    // A lookup of an allocation this caller holds: its data, exactly.
    if (h && want === h.data) return expectOwnData(h, r, c.getter === 'none' ? -1 : c.seen);
    return expectResult(find, want, r, h);
  },
  apply() {},
  show: (c) =>
    `find(${showSet(c.set)}, ${c.id}${c.getter === 'none' ? '' : `, ${c.getter} getter`})`,
};
