/**
 * `reallocUnderReader`: inside one RCU read-side section, look up an id this CPU holds, free
 * it, and allocate its replacement in the same set (a driver moving a PASID while it still
 * reads the old one). Legal API use (free and alloc never block and may run inside a
 * read-side section) that tests the RCU rule at its sharpest: the freed id's record must not
 * be reused while this very reader still holds it, so the lookup's own recheck must find it
 * unchanged. A record reused at once (the `reclaim-without-gp` twin) is seen here every time,
 * by this CPU, naming the id.
 */
import { Errno } from '../../src/core/ioasid/errno.js';
import { alloc } from './alloc.js';
import { applyFree, predictFree } from './free.js';
import {
  defineOp,
  expectOwnData,
  NOTHING,
  recycledBreach,
  type StressOp,
  showSet,
  type WatchedLookup,
  watchedFind,
} from './op.js';
import { type Breach, showResult, type View } from './view.js';

export interface ReallocUnderReaderCall extends WatchedLookup {
  /** Data of the replacement. */
  data: number;
  /** free's result inside the section (null: not called). */
  freed: number | null;
  /** alloc's result inside the section (null: not called). */
  got: number | null;
}

function predictedLookup(v: View, c: ReallocUnderReaderCall): number | undefined {
  const h = v.heldId(c.id);
  if (!h) return v.complete ? -Errno.ENOENT : undefined;
  if (c.set !== null && h.set !== c.set) return -Errno.EACCES;
  return h.data;
}

export const reallocUnderReader: StressOp<ReallocUnderReaderCall, 'reallocUnderReader'> = defineOp<
  ReallocUnderReaderCall,
  'reallocUnderReader'
>({
  name: 'reallocUnderReader',
  fallback: 'find',
  legal: (r) => r >= 0,
  pick(v) {
    const h = v.pickHeld(
      (x) => !x.pending && x.refs === 1 && !(x.set === v.scratch && v.scratchDying),
    );
    return (
      h && {
        set: h.set,
        id: h.id,
        data: v.nextData(),
        seen: -1,
        freed: null,
        got: null,
        recycled: 0,
      }
    );
  },
  reclaims(v, c) {
    const h = v.heldId(c.id);
    return h &&
      h.refs === 1 &&
      predictedLookup(v, c) === h.data &&
      predictFree(v, c.set, c.id) === 0
      ? [h]
      : NOTHING;
  },
  call: (space, c, v) =>
    watchedFind(space, v, c, () => {
      c.freed = space.free(c.set, c.id);
      if (c.freed === 0 && c.set !== null) {
        v.allocating();
        c.got = space.alloc(c.set, v.o.idMin, v.o.idMax, c.data);
      }
      return true;
    }),
  logSet: (c) => c.set ?? -1,
  logId: (c) => c.id,
  check(v, c, r): Breach | undefined {
    const recycled = recycledBreach(
      c,
      `freed id ${c.id} and allocated ${c.got !== null && c.got > 0 ? `id ${c.got}` : 'again'} ` +
        "inside its read-side section: the freed id's record was reused before the section ended",
    );
    if (recycled) return recycled;
    const h = v.heldId(c.id);
    const want = predictedLookup(v, c);
    if (h && want === h.data) {
      const b = expectOwnData(h, r, c.seen);
      if (b) return b;
    }
    if (want !== undefined && r !== want)
      return { kind: 'bad-result', why: `the lookup should return ${showResult(want)}` };
    if (want === undefined && !reallocUnderReader.legal(r))
      return { kind: 'bad-result', why: 'the lookup should return data' };
    if (c.seen < 0) return undefined; // the getter did not run: nothing freed
    const freeWant = predictFree(v, c.set, c.id);
    if (freeWant !== undefined && c.freed !== freeWant)
      return {
        kind: 'bad-result',
        why: `free inside the section returned ${showResult(c.freed ?? 0)}, expected ${showResult(freeWant)}`,
      };
    // The replacement is checked as alloc's own results are, against what this CPU can tell
    // (a complete view compares the whole state after it instead).
    if (!v.complete && c.got !== null && !alloc.legal(c.got))
      return {
        kind: 'bad-result',
        why: `alloc inside the section returned ${showResult(c.got)}`,
        ...(c.got > 0 ? { id: c.got } : {}),
      };
    return undefined;
  },
  apply(v, c) {
    const h = v.heldId(c.id);
    if (h && c.freed === 0) applyFree(v, h);
    if (c.got !== null && c.got <= 0) v.allocTookNothing();
    if (c.got !== null && c.got > 0 && c.set !== null) {
      v.next = c.got + 1;
      v.adopt(
        { id: c.got, set: c.set, refs: 1, pending: false, spid: null, data: c.data },
        'reallocUnderReader',
      );
    }
  },
  show: (c) => `reallocUnderReader(${showSet(c.set)}, ${c.id}, ${c.data})`,
});
