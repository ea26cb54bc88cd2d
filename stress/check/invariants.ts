/**
 * The invariants a stress run checks, one violation kind each, in report order. Every kind
 * has at least one broken twin (stress/broken-twins.ts) that must trip it, and one test runs
 * a twin per kind (test/stress_every_violation_kind_is_caught_by_its_broken_twin.test.ts):
 * a kind added here without a twin fails that test.
 */

/** One invariant of a stress run. */
export interface Invariant {
  /** The violation kind that names it in reports, logs and JSON. */
  readonly kind: string;
  /** What holds in a correct run, as the report prints it. */
  readonly title: string;
  /** Who checks it, and how (README's table). */
  readonly checkedBy: string;
  /** Checked only in runs with notifier subscribers (--subscribers); n/a otherwise. */
  readonly needsSubscribers?: boolean;
}

export const INVARIANTS = [
  {
    kind: 'id-live-twice',
    title: 'no id live twice',
    checkedBy: 'each CPU: a shadow owner word per id, claimed by CAS after alloc',
  },
  {
    kind: 'quota-exceeded',
    title: 'no set over its quota, at any instant',
    checkedBy: "each CPU (shadow live count per set) and the checker (the set's own count)",
  },
  {
    kind: 'capacity-accounting',
    title: 'capacity accounting exact',
    checkedBy: 'the checker, while every CPU is parked in a stutter, and at the end',
  },
  {
    kind: 'record-recycled-under-reader',
    title: 'no record recycled under a reader',
    checkedBy: "finds that sleep inside their read-side section, against the space's own count",
  },
  {
    kind: 'wrong-data',
    title: 'lookups return the data of the allocation they matched',
    checkedBy: 'each CPU, finding its own ids',
  },
  {
    kind: 'bad-result',
    title: 'every result matches the API contract',
    checkedBy: 'each CPU, exactly (stress/ops); the checker, from the logs',
  },
  {
    kind: 'leak',
    title: 'nothing leaked (after the final free-all and grace period)',
    checkedBy: 'the end-of-run verification',
  },
  {
    kind: 'notify-order',
    title: 'each subscriber reads its events in seq order, each once',
    checkedBy: 'each subscriber CPU, at every read',
    needsSubscribers: true,
  },
  {
    kind: 'notify-gating',
    title: 'no subscriber reads an event before those ahead of it on its chain',
    checkedBy:
      'each subscriber CPU: the subscribers ahead, idle between reads, must have read the event (a logical clock around every read)',
    needsSubscribers: true,
  },
  {
    kind: 'notify-missed',
    title: 'every FREE reaches every global-chain subscriber (or is counted in an overflow entry)',
    checkedBy:
      "the end-of-run verification: each global subscriber's FREE count per id against the frees that left references",
    needsSubscribers: true,
  },
  {
    kind: 'notify-spurious',
    title: 'no event for an id that was not live, no FREE that no free raised',
    checkedBy:
      'each subscriber CPU (a set chain: an id needs its ALLOC first, one FREE per allocation) and the end-of-run FREE count per id',
    needsSubscribers: true,
  },
] as const satisfies readonly Invariant[];

/** A violation kind: which invariant was broken. */
export type ViolationKind = (typeof INVARIANTS)[number]['kind'];

/** Every violation kind, in report order (the index is the kind's number in shared memory). */
export const VIOLATION_KINDS: readonly ViolationKind[] = INVARIANTS.map((i) => i.kind);
