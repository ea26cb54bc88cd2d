/**
 * `free(set, id)` reclaims the allocation of `id` and nothing else, however often the record
 * that once held `id` has been republished since this thread last saw it (issue 8, defect 2).
 *
 * `free`'s fast path trusts this thread's hint: the id-map word it published for `id`. When
 * that allocation was freed by another thread and its record republished for another id Y of
 * the same set, a hint validated only by the record's 12-bit generation matched again after
 * 4096 republishes, and the hinted CAS reclaimed Y's allocation instead: `id`'s new allocation
 * was orphaned, Y could no longer be freed, the set count drifted.
 *
 * Driven deterministically with two attachments of one space in this thread: `a` allocates X
 * (its hint), `main` frees X and churns Y until the record `a` published is Y's with the same
 * 12-bit generation (white-box: the id map, per space-layout.ts), then allocates X again with
 * another record. Then `a.free(set, X)` must free X's current allocation and leave Y alone.
 * The broken twin runs the same scenario on a space with the `narrow-incarnation` fault (the
 * record incarnation wraps with the generation, as before the fix): the audit must see Y
 * reclaimed in place of X.
 */
import { describe, expect, it } from 'vitest';
import { Errno, type IoasidFault, IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import {
  MAP_IDX_MASK,
  mapSlot,
  REC_GEN_BITS,
  spaceHeaderGeometry,
} from '../src/core/ioasid/space-layout.js';

const X = 3;
const Y = 9;
/** A record's generation (12 bits) wraps after this many republishes. */
const GEN_PERIOD = 4096;

interface Outcome {
  bad: string[];
  republishes: number;
}

/**
 * `a` publishes X; main frees it, re-allocates X (when `reallocX`), then republishes records
 * for Y until Y's record is the one `a` published, with the same generation. Then `a` frees X.
 */
function scenario(reallocX: boolean, fault?: IoasidFault): Outcome {
  const main = IoasidSpace.create({
    pasidBits: 5,
    maxSets: 1,
    maxIoasids: 4,
    maxThreads: 2,
    fault,
  });
  const a = IoasidSpace.attach(main.handle);
  const i32 = new Int32Array(main.handle.buffer);
  const g = spaceHeaderGeometry(i32);
  const set = main.setAlloc(null, 8, SetType.NULL);
  expect(a.alloc(set, X, X, 1)).toBe(X);
  const hint = Atomics.load(i32, g.mapBase + mapSlot(g, X)); // the word `a` published (and remembers)
  expect(main.free(set, X)).toBe(0);
  // Republish records for Y until Y's map word is `a`'s hint: same record, same generation
  // (the free pool is LIFO, so Y keeps getting the record X had).
  let republishes = 0;
  for (;;) {
    main.flushRecords(); // every reclaimed record back to the free pool after a grace period
    expect(main.alloc(set, Y, Y, 3)).toBe(Y);
    const m = Atomics.load(i32, g.mapBase + mapSlot(g, Y));
    if ((m & MAP_IDX_MASK) === (hint & MAP_IDX_MASK)) republishes++;
    if (m === hint) break;
    expect(main.free(set, Y)).toBe(0);
    expect(republishes).toBeLessThan(2 * GEN_PERIOD);
  }
  expect(republishes).toBeGreaterThanOrEqual(GEN_PERIOD - 1); // the generation wrapped
  expect(hint & REC_GEN_BITS).toBe(Atomics.load(i32, g.mapBase + mapSlot(g, Y)) & REC_GEN_BITS);
  if (reallocX) expect(main.alloc(set, X, X, 2)).toBe(X); // with another record

  const bad: string[] = [];
  const got = a.free(set, X);
  const want = reallocX ? 0 : -Errno.ENOENT;
  if (got !== want) bad.push(`a.free(set, X) returned ${got}, want ${want}`);
  if (main.inspect(X).state !== 'free') bad.push(`X is ${main.inspect(X).state}, want free`);
  if (main.inspect(Y).state !== 'idle') bad.push(`Y is ${main.inspect(Y).state}, want idle`);
  if (main.find(set, Y) !== 3) bad.push(`find(Y) = ${main.find(set, Y)}, want its data 3`);
  const count = main.setInfo(set)!.count;
  if (count !== 1) bad.push(`set count ${count}, want 1`);
  const freeY = main.free(set, Y);
  if (freeY !== 0) bad.push(`free(set, Y) returned ${freeY}, want 0`);
  // Every id is free again: its bit clear and its map word 0 (once the threads detached:
  // until then a freed id may sit in its freeing thread's magazine, bit set).
  a.detach();
  main.detach();
  for (const id of [X, Y]) {
    const bit = (Atomics.load(i32, g.bitmapBase + (id >>> 5)) >>> (id & 31)) & 1;
    const mapped = Atomics.load(i32, g.mapBase + mapSlot(g, id));
    if (bit !== 0 || mapped !== 0) bad.push(`id ${id} left with bit ${bit}, map word ${mapped}`);
  }
  return { bad, republishes };
}

describe("free reclaims only the id it names, after any number of republishes of the hint's record", () => {
  it('X re-allocated by another thread meanwhile: a stale hint frees X, never Y', () => {
    const { bad, republishes } = scenario(true);
    console.log(`the hinted record was republished ${republishes} times for Y`);
    expect(bad).toEqual([]);
  });

  it('X not re-allocated: a stale hint returns -ENOENT and leaves Y alone', () => {
    expect(scenario(false).bad).toEqual([]);
  });

  it('broken twin: with the incarnation as narrow as the generation, the audit sees Y reclaimed', () => {
    const { bad } = scenario(true, 'narrow-incarnation');
    console.log(`twin: ${bad.join('; ')}`);
    expect(bad).toContain('Y is free, want idle');
  });
});
