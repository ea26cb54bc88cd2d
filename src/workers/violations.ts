/**
 * Reporting an invariant violation into a run buffer: everyone counts, and the first reporter
 * (CAS on RUN_FIRST) also records what, where and when, so the report can name it with the
 * seed to replay.
 */
import {
  OPS,
  type OpName,
  RUN_EPOCH,
  RUN_FIRST,
  RUN_FIRST_CPU,
  RUN_FIRST_DETAIL,
  RUN_FIRST_EPOCH,
  RUN_FIRST_ID,
  RUN_FIRST_KIND,
  RUN_FIRST_OP,
  RUN_FIRST_READY,
  RUN_FIRST_SET,
  RUN_KIND_COUNTS,
  RUN_VIOLATIONS,
  VIOLATIONS,
  type ViolationKind,
} from './run-layout.js';

export interface Violation {
  kind: ViolationKind;
  op: OpName | 'check';
  /** -1 for the checker */
  cpu: number;
  id: number;
  set: number;
  /** the result, count or other cpu involved */
  detail: number;
  why?: string;
  /** the run's timeline epoch when it was reported */
  epoch?: number;
}

export function reportViolation(w: Int32Array<SharedArrayBuffer>, v: Violation): void {
  Atomics.add(w, RUN_VIOLATIONS, 1);
  Atomics.add(w, RUN_KIND_COUNTS + VIOLATIONS.indexOf(v.kind), 1);
  if (Atomics.compareExchange(w, RUN_FIRST, 0, 1) !== 0) return;
  Atomics.store(w, RUN_FIRST_KIND, VIOLATIONS.indexOf(v.kind));
  Atomics.store(w, RUN_FIRST_OP, v.op === 'check' ? -1 : OPS.indexOf(v.op));
  Atomics.store(w, RUN_FIRST_CPU, v.cpu);
  Atomics.store(w, RUN_FIRST_ID, v.id);
  Atomics.store(w, RUN_FIRST_SET, v.set);
  Atomics.store(w, RUN_FIRST_EPOCH, Atomics.load(w, RUN_EPOCH));
  Atomics.store(w, RUN_FIRST_DETAIL, v.detail);
  // Publishes the fields above; pairs with the load in readFirstViolation.
  Atomics.store(w, RUN_FIRST_READY, 1);
}

/** The first violation, once its reporter finished writing it. */
export function readFirstViolation(w: Int32Array<SharedArrayBuffer>): Violation | undefined {
  if (Atomics.load(w, RUN_FIRST_READY) !== 1) return undefined;
  const op = Atomics.load(w, RUN_FIRST_OP);
  return {
    kind: VIOLATIONS[Atomics.load(w, RUN_FIRST_KIND)] ?? 'bad-result',
    op: op < 0 ? 'check' : (OPS[op] ?? 'check'),
    cpu: Atomics.load(w, RUN_FIRST_CPU),
    id: Atomics.load(w, RUN_FIRST_ID),
    set: Atomics.load(w, RUN_FIRST_SET),
    detail: Atomics.load(w, RUN_FIRST_DETAIL),
    epoch: Atomics.load(w, RUN_FIRST_EPOCH),
  };
}

/** Violations counted so far, per kind. */
export function violationCounts(w: Int32Array<SharedArrayBuffer>): Record<ViolationKind, number> {
  return Object.fromEntries(
    VIOLATIONS.map((k, i) => [k, Atomics.load(w, RUN_KIND_COUNTS + i)]),
  ) as Record<ViolationKind, number>;
}
