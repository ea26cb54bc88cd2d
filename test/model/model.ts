/**
 * The sequential reference model for the model-based test: a *complete* view of the space
 * (stress/ops/view.ts), which the stress operations themselves predict exactly, bad
 * arguments included. The contract is written once, in stress/ops/; this file only sets the
 * model up and compares it with the real space.
 */
import { expect } from 'vitest';
import { INVALID_IOASID, type IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';
import { Prng } from '../../src/workers/prng.js';
import { View } from '../../stress/ops/view.js';

export const PASID_BITS = 4; // ids 1..15
export const ID_MAX = 2 ** PASID_BITS - 1;
export const MAX_SETS = 4;
export const MAX_IOASIDS = 64; // > ID_MAX + what limbo can hold between drains: no -ENOMEM

export interface Real {
  space: IoasidSpace;
}

/** The model's view: complete, and it checks that getters run inside a read-side section. */
export class ModelView extends View {
  /** The RCU nesting each getter saw (filled by finds with a 'sleep' getter). */
  readonly getterNesting: number[] = [];
  /** Called with each result right after the call, before the view changes. */
  onResult: ((result: number) => void) | undefined;

  constructor(
    cyclic: boolean,
    readonly space: IoasidSpace,
  ) {
    super({
      complete: true,
      cpu: 0,
      generation: 0,
      rng: new Prng(1),
      idMin: 1,
      idMax: ID_MAX,
      maxSets: MAX_SETS,
      capacity: ID_MAX,
      cyclic,
      shared: [],
      subRangeOneIn: 0,
      maxHeld: ID_MAX,
      scratchQuota: 1,
      getterSleepOneIn: 1,
    });
  }

  override log(_op: number, _set: number, _id: number, result: number): void {
    this.onResult?.(result);
  }

  override readonly sleepInGetter = (): boolean => {
    this.getterNesting.push(this.space.rcu.nesting);
    return true;
  };
}

/** Every set slot and every id of the real space equals the model. */
export function expectSameState(m: View, r: Real): void {
  const sp = r.space;
  expect(sp.capacity()).toBe(m.o.capacity);
  expect(sp.available()).toBe(m.available);
  for (let set = 0; set < MAX_SETS; set++) {
    const s = m.sets.get(set);
    expect(sp.setInfo(set)).toEqual(
      s && { type: s.type, token: s.token, quota: s.quota, count: s.count, freePending: s.pending },
    );
  }
  for (let id = 1; id <= ID_MAX; id++) {
    const h = m.heldId(id);
    const want = h
      ? {
          state: h.pending ? 'free-pending' : h.refs > 1 ? 'active' : 'idle',
          set: h.set,
          refs: h.refs,
          spid: h.spid ?? INVALID_IOASID,
          data: h.data,
        }
      : { state: 'free', set: null, refs: 0, spid: INVALID_IOASID, data: 0 };
    expect(sp.inspect(id), `id ${id}`).toEqual(want);
  }
  expect(sp.rcu.nesting).toBe(0);
}
