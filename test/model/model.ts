/**
 * The sequential reference model for the model-based test: live sets, live ids, capacity.
 * Deliberately simple (maps and linear scans); the spec in issue 3 written as code.
 */
import { expect } from 'vitest';
import { INVALID_IOASID, type IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';

export const PASID_BITS = 4; // ids 1..15
export const ID_MAX = 2 ** PASID_BITS - 1;
export const MAX_SETS = 4;
export const MAX_IOASIDS = 64; // > ID_MAX + what limbo can hold between drains: no -ENOMEM

export const E = {
  ENOENT: -2,
  EAGAIN: -11,
  EACCES: -13,
  EBUSY: -16,
  EEXIST: -17,
  EINVAL: -22,
  ENOSPC: -28,
  EDQUOT: -122,
};

export interface MSet {
  type: number;
  token: number | null;
  quota: number;
  count: number;
  pending: boolean;
}
export interface MId {
  set: number;
  refs: number;
  pending: boolean;
  data: number;
  spid: number | null;
}
export interface Model {
  cyclic: boolean;
  next: number;
  capacity: number;
  available: number;
  /** Capacity taken by reserveCapacity and not cancelled. */
  reserved: number;
  sets: Map<number, MSet>;
  ids: Map<number, MId>;
}
export interface Real {
  space: IoasidSpace;
}

export function newModel(cyclic: boolean): Model {
  return {
    cyclic,
    next: 0,
    capacity: ID_MAX,
    available: ID_MAX,
    reserved: 0,
    sets: new Map(),
    ids: new Map(),
  };
}

/** refs reached 0: the id goes, its set loses a unit, a pending empty set is destroyed. */
export function reclaim(m: Model, id: number): void {
  const rec = m.ids.get(id)!;
  m.ids.delete(id);
  const s = m.sets.get(rec.set)!;
  s.count--;
  if (s.count === 0 && s.pending) {
    m.sets.delete(rec.set);
    m.available += s.quota;
  }
}

/** The model's `free(set, id)`, shared by FreeCommand and FreeAllInSetCommand. */
export function modelFree(m: Model, set: number | null, id: number): number {
  const rec = m.ids.get(id);
  if (!rec) return E.ENOENT;
  if (set === null || rec.set !== set) return E.EACCES;
  if (rec.pending) return E.EBUSY;
  if (rec.refs === 1) reclaim(m, id);
  else {
    rec.refs--;
    rec.pending = true;
  }
  return 0;
}

/** Every set slot and every id of the real space equals the model. */
export function expectSameState(m: Model, r: Real): void {
  const sp = r.space;
  expect(sp.capacity()).toBe(m.capacity);
  expect(sp.available()).toBe(m.available);
  for (let set = 0; set < MAX_SETS; set++) {
    const s = m.sets.get(set);
    expect(sp.setInfo(set)).toEqual(
      s && { type: s.type, token: s.token, quota: s.quota, count: s.count, freePending: s.pending },
    );
  }
  for (let id = 1; id <= ID_MAX; id++) {
    const rec = m.ids.get(id);
    const want = rec
      ? {
          state: rec.pending ? 'free-pending' : rec.refs > 1 ? 'active' : 'idle',
          set: rec.set,
          refs: rec.refs,
          spid: rec.spid ?? INVALID_IOASID,
          data: rec.data,
        }
      : { state: 'free', set: null, refs: 0, spid: INVALID_IOASID, data: 0 };
    expect(sp.inspect(id), `id ${id}`).toEqual(want);
  }
}

/** Render a set argument for toString. */
export function showSet(set: number | null): string {
  return set === null ? 'null' : String(set);
}
