/**
 * A custom allocator's provider may hand out an id that a thread freed with the default
 * allocator before the group was registered: that id is not live, but its bit is still set
 * because it sits in the freeing thread's magazine (src/core/ioasid/id-magazine.ts). The
 * custom alloc must take it out of the magazine, not wait for a reclaim that will never come
 * and give up (-EAGAIN).
 */
import { describe, expect, it } from 'vitest';
import { IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import { inThreadProvider } from './helpers/in-thread-provider.js';

describe('a custom alloc handed an id cached in a magazine', () => {
  it('takes it from the magazine of the thread that freed it', () => {
    const main = IoasidSpace.create({ pasidBits: 5, maxSets: 4, maxIoasids: 64, maxThreads: 4 });
    const other = IoasidSpace.attach(main.handle);
    const set = main.setAlloc(null, 8, SetType.NULL);
    // Id 1, allocated and freed by `other` with the default allocator: cached there.
    expect(other.alloc(set, 1, 31)).toBe(1);
    expect(other.free(set, 1)).toBe(0);
    const { make, held } = inThreadProvider();
    expect(main.registerAllocator(make())).toBe(0);
    // The provider hands out 1, the lowest id it does not hold.
    expect(main.alloc(set, 1, 31, 9)).toBe(1);
    expect(held.has(1)).toBe(true);
    expect(main.find(set, 1)).toBe(9);
    expect(main.free(set, 1)).toBe(0);
    expect(held.has(1)).toBe(false);
    other.detach();
    main.detach();
  });
});
