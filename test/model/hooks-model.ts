/**
 * The reference model of notifier chains and custom allocators, layered on the base model
 * (model.ts) without changing it: every base command is wrapped (hooks-wrap.ts), and the
 * events it raised are derived from the base model's state before and after it, as the spec
 * (issue 10, V4 b.2/e) defines them. Deliberately simple: arrays, sets, linear scans.
 */
import { expect } from 'vitest';
import type { IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';
import type { HeldId, KnownSet } from '../../stress/ops/view.js';
import { ID_MAX, ModelView } from './model.js';

type Model = ModelView;
/** What the snapshot keeps of an id (a copy: the view changes its records in place). */
type MId = Pick<HeldId, 'set' | 'refs' | 'pending' | 'spid' | 'data'>;

/** Subscriber slots and queue depth of the model test's space: small, to reach -ENOSPC and overflow. */
export const MAX_SUBS = 6;
export const QUEUE_DEPTH = 4;
export const INVALID = 0xffffffff;

export interface Ev {
  event: number;
  id: number;
  spid: number;
  set: number;
  data: number;
  seq: number;
}

/** One subscriber: its chain, its queue, and which seqs it received and read. */
export interface MSub {
  real: number;
  kind: 'global' | 'set' | 'mm';
  /** set subscriber: the incarnation it is attached to; mm: its token. */
  inc: number;
  token: number;
  prio: number;
  /** The owner tag it registered with (0: none). */
  owner: number;
  order: number;
  queue: Ev[];
  lost: number;
  received: Set<number>;
  read: Set<number>;
}

/** A custom allocator provider (a hypervisor): one per group name, shared by its ops. */
export interface Provider {
  allocated: Set<number>;
  /** A one-shot wrong answer for the next alloc (custom-alloc-fault.ts). */
  override: null | ((min: number, max: number) => unknown);
  freed: number[];
}

export interface MGroup {
  name: string;
  members: number;
  order: number;
}

export interface HModel {
  base: Model;
  subs: MSub[];
  /** Ids of unregistered subscribers (reads must throw, unregister must say -ENOENT). */
  stale: number[];
  nextSeq: number;
  regOrder: number;
  /** Current incarnation of each live set (bumped at each creation). */
  inc: Map<number, number>;
  nextInc: number;
  /** Allocator groups by registration order, and which ops (pool index) are registered. */
  groups: MGroup[];
  active: string;
  registered: Set<number>;
  groupOrder: number;
  providers: Map<string, Provider>;
}

export interface HReal {
  space: IoasidSpace;
  /** A second attachment in the same thread: never a member of any group. */
  other: IoasidSpace;
  ops: OpsObject[];
}

export interface OpsObject {
  name: string;
  alloc(min: number, max: number): number;
  free(id: number): void;
}

/** Names of the ops pool: two objects share group g0. */
export const OPS_NAMES = ['g0', 'g0', 'g1', 'g2'];

export function newHModel(space: IoasidSpace): HModel {
  const providers = new Map<string, Provider>();
  for (const n of new Set(OPS_NAMES))
    providers.set(n, { allocated: new Set(), override: null, freed: [] });
  return {
    base: new ModelView(false, space),
    subs: [],
    stale: [],
    nextSeq: 1,
    regOrder: 0,
    inc: new Map(),
    nextInc: 1,
    groups: [],
    active: 'default',
    registered: new Set(),
    groupOrder: 0,
    providers,
  };
}

/** The ops pool: provider-backed allocators that hand out the lowest id they do not hold. */
export function makeOps(m: HModel): OpsObject[] {
  return OPS_NAMES.map((name) => {
    const p = m.providers.get(name)!;
    return {
      name,
      alloc(min: number, max: number): number {
        if (p.override) {
          const f = p.override;
          p.override = null;
          const v = f(min, max);
          if (typeof v === 'number' && Number.isInteger(v) && v >= 0) p.allocated.add(v);
          return v as number;
        }
        for (let id = min; id <= max; id++) {
          if (!p.allocated.has(id)) {
            p.allocated.add(id);
            return id;
          }
        }
        return -28;
      },
      free(id: number): void {
        p.freed.push(id);
        p.allocated.delete(id);
      },
    };
  });
}

/** A snapshot of the base model's ids and sets, for deriving events. */
export interface BaseSnap {
  ids: Map<number, MId>;
  /** The view's record of each id (a new object per allocation: a new incarnation). */
  objs: Map<number, HeldId>;
  sets: Map<number, KnownSet>;
}

/** The live ids of the base model, by id. */
export function liveIds(b: Model): Map<number, MId> {
  return new Map(
    b.held.map((h) => [
      h.id,
      { set: h.set, refs: h.refs, pending: h.pending, spid: h.spid, data: h.data },
    ]),
  );
}

export function snap(b: Model): BaseSnap {
  return { ids: liveIds(b), objs: new Map(b.held.map((h) => [h.id, h])), sets: new Map(b.sets) };
}

/** Chain order: priority descending, then registration order. */
function ahead(p: MSub, s: MSub): boolean {
  return p.prio > s.prio || (p.prio === s.prio && p.order < s.order);
}

/** The live MM set of `token` in the base model, or -1. */
function mmSetOf(b: Model, token: number): number {
  for (const [set, s] of b.sets) if (s.type === 2 && s.token === token) return set;
  return -1;
}

/** Subscribers of `set`'s chain (attached now), in chain order. */
export function setChain(m: HModel, set: number): MSub[] {
  const inc = m.inc.get(set);
  return m.subs
    .filter(
      (s) =>
        (s.kind === 'set' && inc !== undefined && s.inc === inc) ||
        (s.kind === 'mm' && mmSetOf(m.base, s.token) === set),
    )
    .sort((a, b) => (ahead(a, b) ? -1 : 1));
}

function globalChain(m: HModel): MSub[] {
  return m.subs.filter((s) => s.kind === 'global').sort((a, b) => (ahead(a, b) ? -1 : 1));
}

/** Emit one event: a seq if anyone listens, then every receiver's queue (or its loss). */
function emit(m: HModel, e: Omit<Ev, 'seq'>): void {
  const chains = [setChain(m, e.set)];
  if (e.event === 2) chains.push(globalChain(m));
  if (chains.every((c) => c.length === 0)) return;
  const ev: Ev = { ...e, seq: m.nextSeq++ };
  for (const chain of chains) {
    for (const s of chain) {
      if (s.queue.length >= QUEUE_DEPTH) s.lost++;
      else {
        s.queue.push(ev);
        s.received.add(ev.seq);
      }
    }
  }
}

/**
 * The events a base command raised, from the state before and after it: ALLOC for a new id
 * (or a new incarnation of one), FREE for an id that became free-pending, BIND/UNBIND for a
 * SPID change; frees before allocs, each in id order. New sets get an incarnation first (their MM subscribers
 * attach), dead ones lose it.
 */
export function applyBaseEvents(m: HModel, before: BaseSnap): void {
  const b = m.base;
  for (const [set, s] of b.sets) if (before.sets.get(set) !== s) m.inc.set(set, m.nextInc++);
  const evs: Array<Omit<Ev, 'seq'>> = [];
  for (const [id, a] of liveIds(b)) {
    // Reclaimed and allocated again within the command (reallocUnderReader): a new ALLOC.
    const p = before.objs.get(id) === b.heldId(id) ? before.ids.get(id) : undefined;
    const base = { id, set: a.set, data: a.data };
    if (!p) {
      evs.push({ event: 1, ...base, spid: INVALID });
      continue;
    }
    if (!p.pending && a.pending) evs.push({ event: 2, ...base, spid: a.spid ?? INVALID });
    if (p.spid !== a.spid) {
      if (a.spid !== null) evs.push({ event: 3, ...base, spid: a.spid });
      else evs.push({ event: 4, ...base, spid: p.spid! });
    }
  }
  // Frees before allocs (reallocUnderReader frees, then allocates the replacement), each in
  // id order (freeAllInSet's order).
  evs.sort((x, y) => Number(x.event === 1) - Number(y.event === 1) || x.id - y.id);
  for (const e of evs) emit(m, e);
  for (const set of [...m.inc.keys()]) if (!b.sets.has(set)) m.inc.delete(set);
}

/** Is `s`'s first queued event held back by a receiver ahead of it that has not read it? */
function gated(m: HModel, s: MSub, e: Ev): boolean {
  return m.subs.some(
    (p) =>
      p !== s &&
      (p.kind === 'global') === (s.kind === 'global') &&
      p.received.has(e.seq) &&
      ahead(p, s) &&
      !p.read.has(e.seq),
  );
}

/** What `read(s, max)` returns, applied to the model. */
export function modelRead(m: HModel, s: MSub, max: number): unknown[] {
  const out: unknown[] = [];
  if (max > 0 && s.lost > 0) {
    out.push({ event: 'overflow', lost: s.lost });
    s.lost = 0;
  }
  while (out.length < max && s.queue.length > 0 && !gated(m, s, s.queue[0]!)) {
    const e = s.queue.shift()!;
    s.read.add(e.seq);
    out.push(e);
  }
  return out;
}

/** How many entries `read(s)` would return now (what waitNotifications(s, 0) says). */
export function modelReadable(m: HModel, s: MSub): number {
  let n = s.lost > 0 ? 1 : 0;
  for (const e of s.queue) {
    if (gated(m, s, e)) break;
    n++;
  }
  return n;
}

/** Does the default allocator have ids (any set holds a unit)? */
export function unitsHeld(b: Model): boolean {
  return [...b.sets.values()].some((s) => s.count > 0);
}

/** After every command: readable counts, the active allocator, the provider's ids. */
export function expectHooksState(m: HModel, r: HReal): void {
  for (const s of m.subs)
    expect(r.space.waitNotifications(s.real, 0), `readable of sub ${s.real}`).toBe(
      modelReadable(m, s),
    );
  expect(r.space.activeAllocator()).toBe(m.active);
  if (m.active !== 'default') {
    const live = m.base.held.map((h) => h.id).sort((a, b) => a - b);
    const held = [...m.providers.get(m.active)!.allocated].sort((a, b) => a - b);
    expect(held, 'ids the active provider holds = live ids').toEqual(live);
  }
  for (const id of m.stale) expect(r.space.unregisterNotifier(id)).toBe(-2);
}

/** A set id argument: live sets, dead ones, out of range. */
export const SET_ARGS = [0, 1, 2, 3, 4, -1];
export { ID_MAX };
