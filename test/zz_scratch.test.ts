import { it } from 'vitest';
import { IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import { MAP_IDX_MASK, spaceHeaderGeometry } from '../src/core/ioasid/space-layout.js';

it('x', () => {
  const main = IoasidSpace.create({ pasidBits: 5, maxSets: 1, maxIoasids: 4, maxThreads: 2 });
  const a = IoasidSpace.attach(main.handle);
  const i32 = new Int32Array(main.handle.buffer);
  const g = spaceHeaderGeometry(i32);
  const set = main.setAlloc(null, 8, SetType.NULL);
  console.log(a.alloc(set, 3, 3, 1));
  const hint = Atomics.load(i32, g.mapBase + 3);
  console.log(main.free(set, 3), main.alloc(set, 3, 3, 2));
  const seen: string[] = [];
  for (let k = 0; k < 20; k++) {
    main.flushRecords();
    const y = main.alloc(set, 9, 9, 3);
    const m = Atomics.load(i32, g.mapBase + 9);
    seen.push(`${y}:${m & MAP_IDX_MASK}/${m >>> 20}`);
    main.free(set, 9);
  }
  console.log(hint & MAP_IDX_MASK, seen.join(' '), main.stats());
});
