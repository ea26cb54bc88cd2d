/**
 * `setFree` and `setInfo` each act on, or report, one incarnation of a set slot, even when
 * the slot is destroyed and re-created between their loads (sets.ts):
 * - `setFree` decides "empty or not" from COUNT and QUOTA. It holds the set lock, under which
 *   alone a slot is re-created, so a re-creation cannot slip in between its loads and its CAS
 *   (without the lock, a new set whose COUNT word happened to equal the old one was marked
 *   free-pending while empty, a set never to be destroyed);
 * - `setInfo` reads COUNT and the fields between two reads of the slot's seqlock word, and
 *   retries when a re-creation ran in between (without it, the count of the old set was
 *   reported against the quota of the new one).
 * The re-creation is driven deterministically at the entry of the reader's own Atomics call
 * on the slot (patched Atomics.compareExchange / Atomics.load), by a second attachment.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import {
  SET_COUNT,
  SET_QUOTA,
  SPACE_LOCK_OWNER_MASK,
  SPACE_SET_LOCK_WORD,
  SPACE_SET_WORDS,
  spaceHeaderGeometry,
} from '../src/core/ioasid/space-layout.js';

const realCas = Atomics.compareExchange;
const realLoad = Atomics.load;
afterEach(() => {
  Atomics.compareExchange = realCas;
  Atomics.load = realLoad;
});

function spaces() {
  // maxSets 1: every setAlloc reuses slot 0.
  const main = IoasidSpace.create({ pasidBits: 5, maxSets: 1, maxIoasids: 16, maxThreads: 4 });
  const a = IoasidSpace.attach(main.handle);
  const i32 = new Int32Array(main.handle.buffer);
  const g = spaceHeaderGeometry(i32);
  return { main, a, i32, slotWord: g.setsBase + 0 * SPACE_SET_WORDS };
}

/** Every live set: not free-pending while empty, count within quota. */
function auditSets(s: IoasidSpace): string[] {
  const bad: string[] = [];
  const info = s.setInfo(0);
  if (info?.freePending && info.count === 0) bad.push('set 0 is free-pending with no id left');
  if (info && info.count > info.quota) bad.push(`set 0: count ${info.count} > quota ${info.quota}`);
  const quotas = info?.quota ?? 0;
  if (quotas + s.available() !== s.capacity())
    bad.push(`quotas ${quotas} + available ${s.available()} != capacity ${s.capacity()}`);
  return bad;
}

describe('set operations see one incarnation of a slot', () => {
  it('setFree: a re-creation of the slot cannot run between its loads and its CAS', () => {
    const { main, a, i32, slotWord } = spaces();
    const set = main.setAlloc(null, 5, SetType.NULL);
    const id = main.alloc(set, 1, 31); // COUNT: count 1 of quota 5
    let tried = false;
    let recreated = false;
    Atomics.compareExchange = ((ta: Int32Array, index: number, exp: number, v: number) => {
      if (!tried && ta.buffer === i32.buffer && index === slotWord + SET_COUNT) {
        tried = true;
        // Another thread re-creates the slot, if the set lock lets it: free the id, destroy
        // the set, create one of quota 4 (COUNT then equals the word `a` loaded: 1 - 5 = 0 - 4).
        if ((realLoad(i32, SPACE_SET_LOCK_WORD) & SPACE_LOCK_OWNER_MASK) === 0) {
          expect(main.free(set, id)).toBe(0);
          expect(main.setFree(set)).toBe(0);
          expect(main.setAlloc(null, 4, SetType.NULL)).toBe(set);
          recreated = true;
        }
      }
      return realCas(ta, index, exp, v);
    }) as typeof Atomics.compareExchange;
    const got = a.setFree(set);
    Atomics.compareExchange = realCas;
    expect(tried).toBe(true);
    const bad = auditSets(main);
    console.log(
      `re-created inside setFree: ${recreated}; setFree returned ${got}; ${bad.join('; ')}`,
    );
    expect(bad).toEqual([]);
    a.detach();
    main.detach();
  });

  it('setInfo: a re-creation between its loads is never reported as one snapshot', () => {
    const { main, a, i32, slotWord } = spaces();
    const set = main.setAlloc(null, 5, SetType.NULL);
    const id = main.alloc(set, 1, 31); // count 1 of quota 5
    let fired = false;
    Atomics.load = ((ta: Int32Array, index: number) => {
      if (!fired && ta.buffer === i32.buffer && index === slotWord + SET_QUOTA) {
        fired = true; // after `a` read COUNT: re-create the slot with quota 9 and no id
        expect(main.free(set, id)).toBe(0);
        expect(main.setFree(set)).toBe(0);
        expect(main.setAlloc(null, 9, SetType.NULL)).toBe(set);
      }
      return realLoad(ta, index);
    }) as typeof Atomics.load;
    const info = a.setInfo(set);
    Atomics.load = realLoad;
    expect(fired).toBe(true);
    // One incarnation: the new set, quota 9, no id.
    expect(info).toEqual({
      type: SetType.NULL,
      token: null,
      quota: 9,
      count: 0,
      freePending: false,
    });
    a.detach();
    main.detach();
  });
});
