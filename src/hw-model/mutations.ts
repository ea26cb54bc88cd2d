/**
 * Mutations: deliberately broken drivers, for the checker to catch (`--mutation NAME`). Each
 * is stored as a code in the hardware buffer's header and read by exactly one `if` in one
 * driver function, so the broken path is one branch a reader can find by searching for its
 * constant.
 *
 * | name                   | where the branch is            | what breaks                      | caught as |
 * |------------------------|--------------------------------|----------------------------------|-----------|
 * | reclaim-at-p2          | teardown.ts `stepPhase`        | the driver drops its reference   | INV-6     |
 * |                        |                                | right after the entry is cleared |           |
 * | skip-pasid-cache-inv   | teardown.ts `queueFlush`       | no PASID-cache invalidation (P3) | INV-9     |
 * | skip-iotlb-inv         | teardown.ts `queueFlush`       | no PASID-IOTLB invalidation (P4) | INV-9     |
 * | skip-devtlb-inv        | teardown.ts `queueFlush`       | no device-TLB invalidation (P5,  | INV-9     |
 * |                        |                                | and none in the P6 drain)        |           |
 * | skip-prq-drain         | teardown.ts `stepDrainPrq`     | P6 declared without draining     | INV-14    |
 * | skip-width-check       | iommu-driver.ts `bindSva`      | no EOVERFLOW on a narrow device  | INV-1     |
 * | skip-busy-check        | iommu-driver.ts `bindSva`      | a second bind of (pf, mm)        | INV-3     |
 * |                        |                                | programs the present entry again |           |
 * |                        |                                | under a second bond              |           |
 * | bond-free-without-gp   | teardown.ts `stepRelease`      | the bond is reused with no grace | INV-15    |
 * |                        |                                | period                           |           |
 * | lose-free-notification | iommu-driver.ts `handleFree`   | the FREE notification is dropped | INV-16    |
 */

/** What a mutation is: its code in the hardware buffer's header and the invariant it breaks. */
export interface MutationSpec {
  /** The header word's value. */
  readonly code: number;
  /** The invariant the checker names when it catches it. */
  readonly breaks: string;
}

/** A mutation's name. */
export type MutationName =
  | 'reclaim-at-p2'
  | 'skip-pasid-cache-inv'
  | 'skip-iotlb-inv'
  | 'skip-devtlb-inv'
  | 'skip-prq-drain'
  | 'skip-width-check'
  | 'skip-busy-check'
  | 'bond-free-without-gp'
  | 'lose-free-notification';

/** Every mutation, with its code (the header word's value) and the invariant it breaks. */
export const MUTATIONS: Readonly<Record<MutationName, MutationSpec>> = Object.freeze({
  'reclaim-at-p2': { code: 1, breaks: 'INV-6' },
  'skip-pasid-cache-inv': { code: 2, breaks: 'INV-9' },
  'skip-iotlb-inv': { code: 3, breaks: 'INV-9' },
  'skip-devtlb-inv': { code: 4, breaks: 'INV-9' },
  'skip-prq-drain': { code: 5, breaks: 'INV-14' },
  'skip-width-check': { code: 6, breaks: 'INV-1' },
  'skip-busy-check': { code: 7, breaks: 'INV-3' },
  'bond-free-without-gp': { code: 8, breaks: 'INV-15' },
  'lose-free-notification': { code: 9, breaks: 'INV-16' },
});

/** Header value when no mutation is active. */
export const MUTATION_NONE = 0;

/** Codes, as named constants for the one `if` that reads each. */
export const M_RECLAIM_AT_P2 = MUTATIONS['reclaim-at-p2'].code;
export const M_SKIP_PASID_CACHE_INV = MUTATIONS['skip-pasid-cache-inv'].code;
export const M_SKIP_IOTLB_INV = MUTATIONS['skip-iotlb-inv'].code;
export const M_SKIP_DEVTLB_INV = MUTATIONS['skip-devtlb-inv'].code;
export const M_SKIP_PRQ_DRAIN = MUTATIONS['skip-prq-drain'].code;
export const M_SKIP_WIDTH_CHECK = MUTATIONS['skip-width-check'].code;
export const M_SKIP_BUSY_CHECK = MUTATIONS['skip-busy-check'].code;
export const M_BOND_FREE_WITHOUT_GP = MUTATIONS['bond-free-without-gp'].code;
export const M_LOSE_FREE_NOTIFICATION = MUTATIONS['lose-free-notification'].code;

/** The name of a mutation code (for reports), or undefined for MUTATION_NONE. */
export function mutationName(code: number): MutationName | undefined {
  for (const [name, m] of Object.entries(MUTATIONS))
    if (m.code === code) return name as MutationName;
  return undefined;
}
