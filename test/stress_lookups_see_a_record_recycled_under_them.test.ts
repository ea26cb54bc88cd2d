/**
 * The two stress operations that read under RCU name a record recycled under them, with a
 * space whose reclaim skips the grace period (the core's `reclaim-without-gp` fault), one
 * thread: a sleeping find whose id another CPU frees and reallocates meanwhile (done here
 * inside the sleep), and reallocUnderReader, which does it itself. With the correct space,
 * the same calls see nothing.
 */
import { describe, expect, it } from 'vitest';
import { IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import { Prng } from '../src/workers/prng.js';
import { find } from '../stress/ops/find.js';
import { opIndex } from '../stress/ops/index.js';
import { perform } from '../stress/ops/op.js';
import { reallocUnderReader } from '../stress/ops/realloc-under-reader.js';
import { type Breach, View } from '../stress/ops/view.js';
import { SpaceProbe } from '../stress/space-probe.js';

class Watching extends View {
  readonly breaches: Breach[] = [];
  constructor(
    readonly probe: SpaceProbe,
    private readonly meanwhile: () => void,
  ) {
    super({
      complete: false,
      cpu: 0,
      generation: 0,
      rng: new Prng(1),
      idMin: 1,
      idMax: 31,
      maxSets: 4,
      capacity: 31,
      cyclic: false,
      shared: [],
      maxHeld: 8,
      subRangeOneIn: 0,
      scratchQuota: 1,
      getterSleepOneIn: 1,
    });
  }
  override breach(_op: string, b: Breach): void {
    this.breaches.push(b);
  }
  override readerRecycles(): number {
    return this.probe.recycledUnderReader();
  }
  override readonly sleepInGetter = (): boolean => {
    this.meanwhile();
    return true;
  };
}

function setup(broken: boolean) {
  const space = IoasidSpace.create({
    pasidBits: 5,
    maxSets: 4,
    maxIoasids: 64,
    maxThreads: 4,
    fault: broken ? 'reclaim-without-gp' : undefined,
  });
  const set = space.setAlloc(null, 8, SetType.NULL);
  return { space, set, probe: new SpaceProbe(space) };
}

describe('records recycled under a reader', () => {
  for (const broken of [true, false])
    it(`a sleeping find of an id another CPU frees and reallocates (${broken ? 'broken' : 'correct'} space)`, () => {
      const { space, set, probe } = setup(broken);
      const other = space.alloc(set, 1, 31, 77); // another CPU's id
      const v = new Watching(probe, () => {
        // Meanwhile, the other CPU frees it and allocates again (the record comes back first).
        space.free(set, other);
        space.alloc(set, 1, 31, 78);
      });
      const c = { set: null, id: other, getter: 'sleep' as const, seen: -1, recycled: 0 };
      perform(find, opIndex('find'), space, v, c);
      if (broken) {
        expect(v.breaches).toMatchObject([{ kind: 'record-recycled-under-reader', detail: 1 }]);
        expect(v.breaches[0]?.why).toMatch(/while this lookup slept inside its read-side section/);
      } else expect(v.breaches).toEqual([]);
    });

  for (const broken of [true, false])
    it(`reallocUnderReader (${broken ? 'broken' : 'correct'} space)`, () => {
      const { space, set, probe } = setup(broken);
      const v = new Watching(probe, () => {});
      const id = space.alloc(set, 1, 31, 5);
      v.adopt({ id, set, refs: 1, pending: false, spid: null, data: 5 }, 'alloc');
      const c = reallocUnderReader.pick(v)!;
      perform(reallocUnderReader, opIndex('reallocUnderReader'), space, v, c);
      if (broken) {
        expect(v.breaches).toMatchObject([{ kind: 'record-recycled-under-reader' }]);
        expect(v.breaches[0]?.why).toMatch(/record was reused before the section ended/);
      } else {
        expect(v.breaches).toEqual([]);
        expect(v.held.map((h) => h.data)).toEqual([c.data]); // the replacement is held
      }
    });
});
