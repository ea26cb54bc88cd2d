/**
 * `lowest` with a magazine hit (src/core/ioasid/space-core.ts #claimId): a thread whose
 * magazine holds id c must still get a lower id that is free in the bitmap. The hit path
 * checks the bitmap below c with bitmapWordFull (one load and mask when lo and c - 1 share a
 * word) and falls back to bitmapClaim otherwise; both branches are driven here.
 */
import { describe, expect, it } from 'vitest';
import { IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import { bitmapWordFull } from '../src/core/ioasid/pasid-bitmap.js';

describe('bitmapWordFull', () => {
  const i32 = new Int32Array(new SharedArrayBuffer(8));
  it('says full only for a range inside one word with every bit set', () => {
    i32[0] = 0b1110; // ids 1..3 taken, 0 and 4.. free
    expect(bitmapWordFull(i32, 0, 1, 3)).toBe(true);
    expect(bitmapWordFull(i32, 0, 2, 2)).toBe(true);
    expect(bitmapWordFull(i32, 0, 1, 4)).toBe(false);
    expect(bitmapWordFull(i32, 0, 0, 1)).toBe(false);
    i32[0] = -1;
    expect(bitmapWordFull(i32, 0, 0, 31)).toBe(true);
    expect(bitmapWordFull(i32, 0, 31, 31)).toBe(true);
    // Spanning two words: "maybe not", whatever the bits (the caller runs bitmapClaim).
    i32[1] = -1;
    expect(bitmapWordFull(i32, 0, 30, 33)).toBe(false);
  });
});

describe('a magazine hit', () => {
  function setUp() {
    const a = IoasidSpace.create({ pasidBits: 6, maxSets: 4, maxIoasids: 64, maxThreads: 4 });
    const b = IoasidSpace.attach(a.handle);
    const set = a.setAlloc(null, 0, SetType.NULL);
    return { a, b, set };
  }

  it('takes a lower id another thread gave back to the bitmap (same word)', () => {
    const { a, b, set } = setUp();
    expect(b.alloc(set, 1, 63)).toBe(1);
    expect(a.alloc(set, 1, 63)).toBe(2);
    expect(a.alloc(set, 1, 63)).toBe(3);
    expect(a.free(set, 3)).toBe(0); // cached in a's magazine
    expect(b.free(set, 1)).toBe(0); // cached in b's magazine...
    b.detach(); // ...which goes back to the bitmap
    expect(a.alloc(set, 1, 63)).toBe(1);
    expect(a.alloc(set, 1, 63)).toBe(3); // then the cached one
    a.detach();
  });

  it('takes a lower id another thread gave back to the bitmap (an earlier word)', () => {
    const { a, b, set } = setUp();
    expect(b.alloc(set, 1, 63)).toBe(1);
    for (let id = 2; id <= 40; id++) expect(a.alloc(set, 1, 63)).toBe(id);
    expect(a.free(set, 40)).toBe(0); // cached in a's magazine, bitmap word 1
    expect(b.free(set, 1)).toBe(0);
    b.detach();
    expect(a.alloc(set, 1, 63)).toBe(1);
    expect(a.alloc(set, 1, 63)).toBe(40);
    a.detach();
  });

  it('with nothing free below, takes its cached id', () => {
    const { a, b, set } = setUp();
    for (let id = 1; id <= 5; id++) expect(a.alloc(set, 1, 63)).toBe(id);
    expect(a.free(set, 5)).toBe(0);
    expect(a.alloc(set, 1, 63)).toBe(5);
    expect(a.alloc(set, 3, 63)).toBe(6); // range: 5 is live again, 6 from the bitmap
    b.detach();
    a.detach();
  });
});
