/**
 * A set's quota holds however often its slot is reborn between a thread's look at the set
 * and its reservation (issue 8, defect 1).
 *
 * `alloc` reserves a quota unit with a CAS on the set's COUNT word against a value the thread
 * remembered (fast path) or loaded a moment earlier (slow path). When the reservation was
 * decided with a quota read apart from that word, a slot destroyed and re-created often
 * enough (256 times with the former 8-bit set generation) could hold the very same COUNT word
 * again, for a new set with a smaller quota, and the CAS took a unit past it: a set of quota 2
 * ended with 3 ids.
 *
 * Both windows are driven deterministically with two attachments of one space in this thread
 * (`a` keeps its guesses; `main` churns the set slot):
 * - across calls: `a` remembers the slot's COUNT, `main` rebirths the slot N times and fills
 *   the new set, then `a` allocates again;
 * - inside one call: the rebirths run at the entry of `a`'s CAS on COUNT (a patched
 *   `Atomics.compareExchange`), after `a` loaded COUNT.
 * N covers the former generation's wrap (256, 512) and its neighbours. The broken twin runs
 * the same audit on a space with the `quota-check-then-act` fault, racing a second alloc
 * into its window, and must see the set over its quota.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Errno, IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import {
  SET_COUNT,
  SPACE_SET_WORDS,
  spaceHeaderGeometry,
} from '../src/core/ioasid/space-layout.js';

const REBIRTHS = [1, 2, 255, 256, 257, 512];
const BIG_QUOTA = 5;
const SMALL_QUOTA = 2;

function spaces(fault?: 'quota-check-then-act') {
  // maxSets 1: every setAlloc reuses slot 0.
  const main = IoasidSpace.create({
    pasidBits: 5,
    maxSets: 1,
    maxIoasids: 64,
    maxThreads: 4,
    fault,
  });
  const a = IoasidSpace.attach(main.handle);
  return { main, a };
}

/** Destroy set `set` (after freeing `ids`), then re-create slot 0 `n` times; the last
 * incarnation has SMALL_QUOTA and is filled to it by `main`. */
function rebirth(main: IoasidSpace, set: number, ids: number[], n: number): number {
  for (const id of ids) expect(main.free(set, id)).toBe(0);
  expect(main.setFree(set)).toBe(0);
  for (let k = 1; k < n; k++) {
    const s = main.setAlloc(null, 1 + (k % 7), SetType.NULL);
    expect(s).toBe(0);
    expect(main.setFree(s)).toBe(0);
  }
  const s = main.setAlloc(null, SMALL_QUOTA, SetType.NULL);
  expect(s).toBe(0);
  for (let i = 0; i < SMALL_QUOTA; i++) expect(main.alloc(s, 1, 31)).toBeGreaterThan(0);
  return s;
}

/** The set's count never exceeds its quota, and `got` (a's alloc) was refused for quota. */
function audit(main: IoasidSpace, set: number, got: number): string[] {
  const info = main.setInfo(set)!;
  const bad: string[] = [];
  if (info.count > info.quota) bad.push(`count ${info.count} > quota ${info.quota}`);
  if (got !== -Errno.EDQUOT) bad.push(`alloc returned ${got}, want -EDQUOT`);
  return bad;
}

/** `a` remembers the slot's COUNT (2 of BIG_QUOTA); main rebirths it n times; `a` allocates. */
function acrossCalls(n: number, fault?: 'quota-check-then-act'): string[] {
  const { main, a } = spaces(fault);
  const set = main.setAlloc(null, BIG_QUOTA, SetType.NULL);
  const ids = [a.alloc(set, 1, 31), a.alloc(set, 1, 31)];
  const reborn = rebirth(main, set, ids, n);
  const bad = audit(main, reborn, a.alloc(reborn, 1, 31));
  a.detach();
  main.detach();
  return bad.map((b) => `${n} rebirths across calls: ${b}`);
}

const realCas = Atomics.compareExchange;
afterEach(() => {
  Atomics.compareExchange = realCas;
});

/** `a` loads COUNT in its alloc; the rebirths run at the entry of its CAS on COUNT. */
function insideOneCall(n: number): string[] {
  const { main, a } = spaces();
  const set = main.setAlloc(null, BIG_QUOTA, SetType.NULL);
  const ids = [main.alloc(set, 1, 31), main.alloc(set, 1, 31)];
  const g = spaceHeaderGeometry(new Int32Array(main.handle.buffer));
  const countWord = g.setsBase + set * SPACE_SET_WORDS + SET_COUNT;
  let armed = true;
  let reborn = -1;
  // `a` has never used the set: its first alloc takes the slow path (load COUNT, then CAS).
  Atomics.compareExchange = ((ta: Int32Array, index: number, expected: number, value: number) => {
    if (armed && index === countWord) {
      armed = false;
      reborn = rebirth(main, set, ids, n);
    }
    return realCas(ta, index, expected, value);
  }) as typeof Atomics.compareExchange;
  const got = a.alloc(set, 1, 31);
  Atomics.compareExchange = realCas;
  expect(armed).toBe(false);
  const bad = audit(main, reborn, got);
  a.detach();
  main.detach();
  return bad.map((b) => `${n} rebirths inside one call: ${b}`);
}

describe("a set's quota survives any number of rebirths of its slot", () => {
  for (const n of REBIRTHS) {
    it(`${n} rebirths between a thread's two calls`, () => {
      expect(acrossCalls(n)).toEqual([]);
    });
    it(`${n} rebirths between a thread's load of COUNT and its CAS`, () => {
      expect(insideOneCall(n)).toEqual([]);
    });
  }

  it('broken twin: with quota-check-then-act the same audit sees the set over its quota', () => {
    // The fault checks the quota with a plain load and adds the unit later without a CAS:
    // `main` takes the last unit inside `a`'s window (at the entry of its id-bit CAS).
    const { main, a } = spaces('quota-check-then-act');
    const set = main.setAlloc(null, SMALL_QUOTA, SetType.NULL);
    expect(main.alloc(set, 1, 31)).toBeGreaterThan(0);
    let armed = true;
    Atomics.compareExchange = ((ta: Int32Array, index: number, exp: number, v: number) => {
      if (armed) {
        armed = false;
        expect(main.alloc(set, 1, 31)).toBeGreaterThan(0);
      }
      return realCas(ta, index, exp, v);
    }) as typeof Atomics.compareExchange;
    const got = a.alloc(set, 1, 31);
    Atomics.compareExchange = realCas;
    const bad = audit(main, set, got);
    console.log(`twin: ${bad.join('; ')}`);
    expect(bad).toContain(`count 3 > quota ${SMALL_QUOTA}`);
    a.detach();
    main.detach();
  });
});
