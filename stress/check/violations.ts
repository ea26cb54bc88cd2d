/**
 * Reporting an invariant violation into a check buffer (check-layout.ts): every report is
 * counted per kind and per finder, and the first report of each kind also records what,
 * where, when and why, so that the report can name it with the seed that replays it.
 *
 * ## Developer notes
 * Reporters are CPUs, the checker thread and the main thread, all at once. The first
 * reporter of a kind wins KIND_CLAIM by CAS and alone writes that kind's fields, then
 * publishes them with KIND_READY; the sequence number it takes from CHECK_VIOLATIONS orders
 * the kinds' first reports, so the run's first violation is the lowest sequence among the
 * kinds. A reporter killed between its CAS and READY leaves that kind counted and unnamed
 * (readViolations says so) rather than a half-written record.
 *
 * Times are wall-clock milliseconds modulo 2^31 (`performance.timeOrigin + now()`, which
 * every thread shares), so a report can place a violation on the run's timeline.
 */
import { OP_NAMES, opIndex } from '../ops/index.js';
import {
  CHECK_VIOLATIONS,
  FINDERS,
  type Finder,
  KIND_AT_MS,
  KIND_CLAIM,
  KIND_COUNT,
  KIND_CPU,
  KIND_DETAIL,
  KIND_FINDER,
  KIND_ID,
  KIND_OP,
  KIND_READY,
  KIND_SEQ,
  KIND_SET,
  KIND_WHY,
  KIND_WHY_BYTES,
  kindBase,
  NONE,
  WHY_MAX_BYTES,
} from './check-layout.js';
import { VIOLATION_KINDS, type ViolationKind } from './invariants.js';

/** One violation, as reported and as the report names it. */
export interface Violation {
  kind: ViolationKind;
  /** The operation that saw it; null when found outside any operation (checker, end of run). */
  op: string | null;
  /** The CPU that saw it; null when found by the checker or the end-of-run verification. */
  cpu: number | null;
  /** The id involved; null when it concerns no single id. */
  id: number | null;
  /** The set involved; null when it concerns no single set. */
  set: number | null;
  /** A number `why` explains: the result, a count, the other CPU involved. */
  detail: number;
  /** What was wrong, in words (the first of each kind keeps WHY_MAX_BYTES of it). */
  why: string;
  foundBy: Finder;
}

/** A violation as read back: with when it was reported. */
export interface ReportedViolation extends Violation {
  /** Wall-clock ms modulo 2^31 when it was reported (see `wallMs`). */
  atMs: number;
  /** Order among the reports of the run. */
  seq: number;
}

/** Violations of one kind: how many, who found them, and the first one. */
export interface KindTally {
  kind: ViolationKind;
  count: number;
  byFinder: Record<Finder, number>;
  /** The first report, once its reporter finished writing it. */
  first: ReportedViolation | undefined;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const whyBytes = new Uint8Array(WHY_MAX_BYTES);

/**
 * Wall-clock milliseconds modulo 2^31, the same in every thread.
 *
 * Context: any thread.
 * @returns a non-negative int32
 */
export function wallMs(): number {
  return Math.floor(performance.timeOrigin + performance.now()) % 2 ** 31;
}

/**
 * Milliseconds from `fromMs` to `toMs`, both from `wallMs` (less than 2^31 ms apart).
 *
 * @param fromMs - the earlier time
 * @param toMs - the later time
 *
 * Context: pure.
 * @returns the distance, in ms
 */
export function msBetween(fromMs: number, toMs: number): number {
  return (((toMs - fromMs) % 2 ** 31) + 2 ** 31) % 2 ** 31;
}

/**
 * Report a violation the end-of-run verification found (no operation, no CPU).
 *
 * @param w - the check buffer
 * @param v - what was violated, what it concerns and why
 *
 * Context: main thread, after the run.
 * @returns nothing
 */
export function reportAtEnd(
  w: Int32Array<SharedArrayBuffer>,
  v: Omit<Violation, 'op' | 'cpu' | 'foundBy'>,
): void {
  reportViolation(w, { ...v, op: null, cpu: null, foundBy: 'end-of-run' });
}

/**
 * Count a violation and, if it is the first of its kind, record it.
 *
 * @param w - the check buffer
 * @param v - what was violated, where and why
 *
 * Context: any thread (CPU, checker, main); never blocks.
 * @returns nothing
 */
export function reportViolation(w: Int32Array<SharedArrayBuffer>, v: Violation): void {
  const k = kindBase(VIOLATION_KINDS.indexOf(v.kind));
  const seq = Atomics.add(w, CHECK_VIOLATIONS, 1);
  Atomics.add(w, k + KIND_COUNT + FINDERS.indexOf(v.foundBy), 1);
  if (Atomics.compareExchange(w, k + KIND_CLAIM, 0, 1) !== 0) return;
  Atomics.store(w, k + KIND_SEQ, seq);
  Atomics.store(w, k + KIND_OP, v.op === null ? -1 : opIndex(v.op));
  Atomics.store(w, k + KIND_CPU, v.cpu ?? NONE);
  Atomics.store(w, k + KIND_ID, v.id ?? NONE);
  Atomics.store(w, k + KIND_SET, v.set ?? NONE);
  Atomics.store(w, k + KIND_DETAIL, v.detail | 0);
  Atomics.store(w, k + KIND_AT_MS, wallMs());
  Atomics.store(w, k + KIND_FINDER, FINDERS.indexOf(v.foundBy));
  // Only the claimant writes WHY, before READY's store publishes it; immutable afterwards.
  whyBytes.fill(0);
  const { written } = encoder.encodeInto(v.why, whyBytes);
  for (let i = 0; i < written; i += 4)
    Atomics.store(
      w,
      k + KIND_WHY + i / 4,
      whyBytes[i]! | (whyBytes[i + 1]! << 8) | (whyBytes[i + 2]! << 16) | (whyBytes[i + 3]! << 24),
    );
  Atomics.store(w, k + KIND_WHY_BYTES, written);
  // Publishes the fields above; pairs with the load in readViolations.
  Atomics.store(w, k + KIND_READY, 1);
}

function orNull(x: number): number | null {
  return x === NONE ? null : x;
}

function readFirst(w: Int32Array<SharedArrayBuffer>, kind: ViolationKind): ReportedViolation {
  const k = kindBase(VIOLATION_KINDS.indexOf(kind));
  const n = Atomics.load(w, k + KIND_WHY_BYTES);
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++)
    bytes[i] = (Atomics.load(w, k + KIND_WHY + (i >> 2)) >>> ((i & 3) * 8)) & 0xff;
  const op = Atomics.load(w, k + KIND_OP);
  return {
    kind,
    op: op < 0 ? null : (OP_NAMES[op] ?? `op ${op}`),
    cpu: orNull(Atomics.load(w, k + KIND_CPU)),
    id: orNull(Atomics.load(w, k + KIND_ID)),
    set: orNull(Atomics.load(w, k + KIND_SET)),
    detail: Atomics.load(w, k + KIND_DETAIL),
    why: decoder.decode(bytes),
    foundBy: FINDERS[Atomics.load(w, k + KIND_FINDER)] ?? 'cpu',
    atMs: Atomics.load(w, k + KIND_AT_MS),
    seq: Atomics.load(w, k + KIND_SEQ),
  };
}

/**
 * Every kind's tally.
 *
 * @param w - the check buffer
 *
 * Context: any thread; a snapshot (reporters may add to it meanwhile).
 * @returns one tally per kind, in VIOLATION_KINDS order
 */
export function readViolations(w: Int32Array<SharedArrayBuffer>): KindTally[] {
  return VIOLATION_KINDS.map((kind, i) => {
    const k = kindBase(i);
    const byFinder = Object.fromEntries(
      FINDERS.map((f, j) => [f, Atomics.load(w, k + KIND_COUNT + j)]),
    ) as Record<Finder, number>;
    // Pairs with the reporter's READY store, after which the fields are immutable.
    const ready = Atomics.load(w, k + KIND_READY) === 1;
    return {
      kind,
      count: FINDERS.reduce((a, f) => a + byFinder[f], 0),
      byFinder,
      first: ready ? readFirst(w, kind) : undefined,
    };
  });
}

/**
 * The run's first violation: the earliest of the kinds' first reports.
 *
 * @param tallies - from readViolations
 *
 * Context: pure.
 * @returns it, or undefined when nothing was reported
 */
export function firstViolation(tallies: readonly KindTally[]): ReportedViolation | undefined {
  let first: ReportedViolation | undefined;
  for (const t of tallies) if (t.first && (!first || t.first.seq < first.seq)) first = t.first;
  return first;
}

/**
 * How many violations were reported so far, of every kind.
 *
 * @param w - the check buffer
 *
 * Context: any thread; never blocks.
 * @returns the count
 */
export function violationTotal(w: Int32Array<SharedArrayBuffer>): number {
  return Atomics.load(w, CHECK_VIOLATIONS);
}
