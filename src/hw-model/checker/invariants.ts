/**
 * The invariants of iommu-hw-model.md §7.6 that part 1 checks (the host side), with where
 * each is checked, and the counters the report shows.
 *
 * @internal
 */

/** Where an invariant is asserted. */
export type CheckSite = 'online' | 'quiescent' | 'per-translation' | 'end';

/** One checked invariant. */
export interface InvariantSpec {
  /** 'INV-n' as in §7.6. */
  id: InvariantId;
  /** Its name in §7.6. */
  name: string;
  /** Where it is asserted. */
  sites: readonly CheckSite[];
  /** What the checker compares, in one line (for the README and the report). */
  how: string;
}

/** The ids of the invariants part 1 checks. */
export type InvariantId =
  | 'INV-1'
  | 'INV-2'
  | 'INV-3'
  | 'INV-4'
  | 'INV-5'
  | 'INV-6'
  | 'INV-7'
  | 'INV-8'
  | 'INV-9'
  | 'INV-10'
  | 'INV-11'
  | 'INV-12'
  | 'INV-14'
  | 'INV-15'
  | 'INV-16';

/** Every invariant the checker asserts, in report order. */
export const INVARIANTS: readonly InvariantSpec[] = Object.freeze([
  {
    id: 'INV-1',
    name: 'range',
    sites: ['online', 'quiescent'],
    how: 'ALLOC in [1, 2^pasidBits) and not reserved; BIND and every present entry below 2^maxWidth(pf)',
  },
  {
    id: 'INV-2',
    name: 'global uniqueness',
    sites: ['online', 'quiescent'],
    how: 'ALLOC only of a free ghost PASID; each live mm PASID owned by that mm in ghost and core',
  },
  {
    id: 'INV-3',
    name: 'per-table uniqueness',
    sites: ['online', 'quiescent'],
    how: 'no second BIND of a bound (pf, pasid); every present entry has exactly one bond and the owner as binding',
  },
  {
    id: 'INV-4',
    name: 'tenant isolation on a shared PF',
    sites: ['online', 'quiescent'],
    how: 'a guest bind names a PASID its VM owns; a guest submission carries a host PASID of the submitting VM; at rest every present entry is bound for the host or a VM with an mdev on that PF, and names a PASID of that tenant',
  },
  {
    id: 'INV-5',
    name: 'no dangling reference',
    sites: ['online', 'quiescent'],
    how: 'entries, caches, WQ descriptors, WQCFG, MSRs name (pasid, gen) with gen current and the PASID not free',
  },
  {
    id: 'INV-6',
    name: 'no premature reuse',
    sites: ['online'],
    how: 'teardown phases in an allowed order; reclaim (P8) after P7 of every bond; ALLOC after P8',
  },
  {
    id: 'INV-7',
    name: 'guest mapping',
    sites: ['online'],
    how: 'SPID maps injective per VM (identity: g = h); a valid VMCS entry names (h, gen) with spid(g) = h, owned by the VM, gen current',
  },
  {
    id: 'INV-8',
    name: 'guest submission',
    sites: ['online'],
    how: "a translated guest ENQCMD carries a live host PASID of its VM, current generation, and none after P0 of that PASID's teardown",
  },
  {
    id: 'INV-9',
    name: 'cache coherence after invalidation',
    sites: ['online'],
    how: 'when P3/P4/P5 of (pf, pasid, gen) completes, no PASID-cache/IOTLB/device-TLB entry of that generation remains',
  },
  {
    id: 'INV-10',
    name: 'no cross-generation translation',
    sites: ['per-translation'],
    how: 'every successful translation used table/cache entries of the generation the request carries',
  },
  {
    id: 'INV-11',
    name: 'refcount/notifications',
    sites: ['online', 'quiescent'],
    how: 'refs >= 0; no GET while free-pending; exactly one FREE per free-pending transition; ghost refs = core refs',
  },
  {
    id: 'INV-12',
    name: 'vcmd',
    sites: ['online', 'quiescent'],
    how: 'one command in flight per vIOMMU; Allocate success in [1, 0xFFFFF] owned by the VM; Free only of a PASID the VM owns; "no PASID" only when the VM\'s quota or the space was exhausted (upper bounds from the log, judged at the next quiescent point)',
  },
  {
    id: 'INV-14',
    name: 'page requests',
    sites: ['online', 'quiescent'],
    how: 'no PRQ entry or outstanding PRG of (pf, pasid, gen) at or after its P6; one response per PRG',
  },
  {
    id: 'INV-15',
    name: 'RCU',
    sites: ['online'],
    how: 'a bond read inside a PRQ read-side section is not recycled before the section ends',
  },
  {
    id: 'INV-16',
    name: 'liveness',
    sites: ['online', 'end'],
    how: 'every teardown reaches P7 and every free-pending PASID P8 within the step bound; nothing left at the end',
  },
]);

/** Checks and violations of one invariant, as the report shows them. */
export interface InvariantCount {
  /** 'INV-n'. */
  id: InvariantId;
  /** Its name. */
  name: string;
  /** How many times it was evaluated. */
  checks: number;
  /** How many of those failed. */
  violations: number;
}
