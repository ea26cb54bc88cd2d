/**
 * What one stress operation is: its name, how it picks arguments from a caller's view, how
 * it calls the space, which results are legal, what the caller expects and how the caller's
 * view changes. Each operation is one file in this folder and one line in index.ts; the CPU
 * loop, the checker's legality table, the model-based test and the multi-worker tests all
 * use these definitions (view.ts says how).
 *
 * ## Developer notes
 * `perform` runs one call in the order kill safety needs (stress/cpu/cpu-view.ts): the ids
 * the call will reclaim are announced (`releasing`) before the call, the result is logged at
 * once, then checked, and only a result that keeps the contract changes the view.
 */
import type { IoasidSpace } from '../../src/core/ioasid/ioasid-space.js';
import { type Breach, describeHeld, type HeldId, showResult, type View } from './view.js';

/** The part of the space's API the stress operations use (a broken twin may wrap it). */
export type StressSpace = Pick<
  IoasidSpace,
  | 'alloc'
  | 'free'
  | 'get'
  | 'put'
  | 'find'
  | 'findBySpid'
  | 'attachSpid'
  | 'detachSpid'
  | 'attachData'
  | 'detachData'
  | 'setAlloc'
  | 'setFree'
  | 'freeAllInSet'
>;

/**
 * The space's methods the ops call, bound to it: a double (a broken twin, a test's logging
 * wrapper) spreads this and overrides one or two.
 *
 * @param space - the space
 *
 * Context: any thread attached to the space.
 * @returns its StressSpace
 */
export function bindSpace(space: IoasidSpace): StressSpace {
  return {
    alloc: space.alloc.bind(space),
    free: space.free.bind(space),
    get: space.get.bind(space),
    put: space.put.bind(space),
    find: space.find.bind(space),
    findBySpid: space.findBySpid.bind(space),
    attachSpid: space.attachSpid.bind(space),
    detachSpid: space.detachSpid.bind(space),
    attachData: space.attachData.bind(space),
    detachData: space.detachData.bind(space),
    setAlloc: space.setAlloc.bind(space),
    setFree: space.setFree.bind(space),
    freeAllInSet: space.freeAllInSet.bind(space),
  };
}

/**
 * Check what a lookup of an allocation the caller holds returned, and what its getter saw:
 * exactly that allocation's data.
 *
 * @param h - the held id
 * @param r - the lookup's result
 * @param seen - the data its getter was given, or -1 when it had no getter
 *
 * Context: pure.
 * @returns undefined when both are h.data; otherwise a wrong-data breach
 */
export function expectOwnData(h: HeldId, r: number, seen: number): Breach | undefined {
  if (r !== h.data)
    return { kind: 'wrong-data', why: `this allocation's data is ${h.data}`, set: h.set };
  if (seen >= 0 && seen !== h.data)
    return {
      kind: 'wrong-data',
      why: `its getter saw data ${seen}, but this allocation's data is ${h.data}`,
      set: h.set,
    };
  return undefined;
}

/** A lookup whose getter does something inside the read-side section, watched for recycling. */
export interface WatchedLookup {
  set: number | null;
  id: number;
  /** The data the getter was given (-1: it did not run). */
  seen: number;
  /** Records the space counted as recycled under a reader while the lookup ran. */
  recycled: number;
}

/**
 * `find(c.set, c.id)` with a getter that records the data and runs `inside` within the
 * read-side section, and the space's count of records recycled under a reader read around it.
 *
 * @param space - the space
 * @param v - the caller's view (reads the count)
 * @param c - the lookup; its `seen` and `recycled` are filled in
 * @param inside - what runs in the section; its answer is the getter's
 *
 * Context: the caller's thread, outside a read-side section; `inside` runs inside the lookup's section (it may free and allocate, never block on a grace period).
 * @returns find's result
 */
export function watchedFind(
  space: StressSpace,
  v: View,
  c: WatchedLookup,
  inside: () => boolean,
): number {
  const before = v.readerRecycles();
  const r = space.find(c.set, c.id, (data) => {
    c.seen = data;
    return inside();
  });
  c.recycled = v.readerRecycles() - before;
  return r;
}

/**
 * The breach of a watched lookup during which a record was recycled under a reader.
 *
 * @param c - the lookup
 * @param what - what the caller did meanwhile
 *
 * Context: pure.
 * @returns the breach, or undefined when nothing was recycled
 */
export function recycledBreach(c: WatchedLookup, what: string): Breach | undefined {
  if (c.recycled === 0) return undefined;
  return {
    kind: 'record-recycled-under-reader',
    why: `the space counted ${c.recycled} record(s) recycled under a reader while this lookup ${what}`,
    detail: c.recycled,
  };
}

/** One stress operation over calls of shape `C`. */
export interface StressOp<C, N extends string = string> {
  readonly name: N;
  /** The op a CPU runs instead when `pick` finds nothing to act on (null: none). */
  readonly fallback: string | null;
  /** Every result a CPU that picks as `pick` does may see (the checker's table). */
  legal(result: number): boolean;
  /** A call made from the view, or undefined when it holds nothing to act on. */
  pick(v: View): C | undefined;
  /** Held ids this call reclaims if it returns what the view predicts. */
  reclaims(v: View, c: C): readonly HeldId[];
  /** What must be published before the call (a stress CPU's kill safety). */
  before(v: View, c: C): void;
  /** Make the call. */
  call(space: StressSpace, c: C, v: View): number;
  /** The set and id a log entry of this call names (-1: none). */
  logSet(c: C): number;
  logId(c: C, result: number): number;
  /** undefined if `result` is what the view predicts (exactly, for a complete view). */
  check(v: View, c: C, result: number): Breach | undefined;
  /** The view after the call returned `result` (only when check passed). */
  apply(v: View, c: C, result: number): void;
  /** Undo `before` when the result broke the contract. */
  abandon(v: View, c: C): void;
  /** The call as code, e.g. `free(3, 17)`. */
  show(c: C): string;
}

/** No held id is reclaimed. */
export const NOTHING: readonly HeldId[] = Object.freeze([]);

/** An op as its file writes it: `reclaims`, `before`, `apply` and `abandon` may be left out. */
export type StressOpDefinition<C, N extends string> = Omit<
  StressOp<C, N>,
  'reclaims' | 'before' | 'apply' | 'abandon'
> &
  Partial<Pick<StressOp<C, N>, 'reclaims' | 'before' | 'apply' | 'abandon'>>;

const nothingToDo = (): void => {};
const reclaimsNothing = (): readonly HeldId[] => NOTHING;

/**
 * Make an op from its definition. Every op gets the same members in the same order, so that
 * `perform`, which runs them all, reads them through one object shape (its property loads
 * stay monomorphic on the CPUs' hot path).
 *
 * @param d - the op's definition
 *
 * Context: pure; at module load.
 * @returns the op
 */
export function defineOp<C, N extends string>(d: StressOpDefinition<C, N>): StressOp<C, N> {
  return {
    name: d.name,
    fallback: d.fallback,
    legal: d.legal,
    pick: d.pick,
    reclaims: d.reclaims ?? reclaimsNothing,
    before: d.before ?? nothingToDo,
    call: d.call,
    logSet: d.logSet,
    logId: d.logId,
    check: d.check,
    apply: d.apply ?? nothingToDo,
    abandon: d.abandon ?? nothingToDo,
    show: d.show,
  };
}

/**
 * Run one call of `op` on `space` for view `v`, in kill-safe order, and check its result.
 *
 * @param op - the operation
 * @param index - its index in the op table (logged)
 * @param space - the space (or a broken twin's double of it)
 * @param v - the caller's view
 * @param c - the call, from `op.pick` or a test's arbitrary
 *
 * Context: the caller's thread; as the called method (detachData waits for a grace period).
 * @returns the result
 */
export function perform<C>(
  op: StressOp<C>,
  index: number,
  space: StressSpace,
  v: View,
  c: C,
): number {
  // The identity tests skip the calls an op left out (the CPUs' hot path: most ops are
  // lookups with nothing to announce, publish or apply); the rest is in performSlow.
  const gone = op.reclaims === reclaimsNothing ? NOTHING : op.reclaims(v, c);
  for (let i = 0; i < gone.length; i++) v.releasing(gone[i]!, op.name);
  if (op.before !== nothingToDo) op.before(v, c);
  const r = op.call(space, c, v);
  v.log(index, op.logSet(c), op.logId(c, r), r);
  const b = op.check(v, c, r);
  if (b !== undefined) breached(op, v, c, r, b, gone);
  else if (op.apply !== nothingToDo) op.apply(v, c, r);
  return r;
}

/** A result broke the contract: report it, keep what the call was to reclaim, undo `before`. */
function breached<C>(
  op: StressOp<C>,
  v: View,
  c: C,
  r: number,
  b: Breach,
  gone: readonly HeldId[],
): void {
  const set = op.logSet(c);
  const id = op.logId(c, r);
  v.breach(
    op.name,
    { ...b, why: `${op.show(c)} returned ${showResult(r)}: ${b.why}`, detail: b.detail ?? r },
    b.id ?? (id >= 0 ? id : null),
    b.set ?? (set >= 0 ? set : null),
  );
  for (let i = 0; i < gone.length; i++) v.kept(gone[i]!);
  op.abandon(v, c);
}

/**
 * Check a result against a prediction.
 *
 * @param op - the operation (for its legal results)
 * @param want - the predicted result, or undefined when the view cannot predict it
 * @param r - the result
 * @param h - the held id the prediction rests on, if any (named in the reason)
 *
 * Context: pure.
 * @returns undefined if it matches (or is legal, when unpredicted); otherwise a bad-result
 */
export function expectResult(
  op: { legal(r: number): boolean },
  want: number | undefined,
  r: number,
  h?: HeldId,
): Breach | undefined {
  if (want === undefined)
    return op.legal(r) ? undefined : { kind: 'bad-result', why: 'not a result it may return here' };
  if (r === want) return undefined;
  return {
    kind: 'bad-result',
    why: `expected ${showResult(want)}${h ? `: ${describeHeld(h)}` : ''}`,
    ...(h ? { id: h.id, set: h.set } : {}),
  };
}

/**
 * Render a set argument.
 *
 * @param set - a set id or null
 *
 * Context: pure.
 * @returns its text
 */
export function showSet(set: number | null): string {
  return set === null ? 'null' : String(set);
}
