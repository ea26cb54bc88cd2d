/**
 * System PASID capacity: how many ids all sets together may reserve.
 *
 * `CAPACITY` is the total, `AVAILABLE` what no set (and no `reserveCapacity` caller) has
 * reserved. Invariant, at every instant: the sum of live reservations + AVAILABLE ==
 * CAPACITY, so the sum of live set quotas never exceeds CAPACITY.
 *
 * Developer notes: reservations take units out of AVAILABLE by a CAS loop that never lets
 * it go negative (reserve-then-commit; no check-then-act). Returning units is a plain
 * `Atomics.add`: the caller owns what it returns, and ownership is always recorded: a set's
 * quota in its slot, units a destroyed set owes in the destroyer's TS_CAP, units reserved
 * outside sets in the reserving thread's TS_RESERVED (so they cannot be returned twice, and a
 * dead thread's come back through its recovery). Rejected: a lock around the counters
 * (setAlloc already holds the set lock, but reserveCapacity callers need not).
 *
 * @internal
 */
import { Errno } from './errno.js';
import {
  SPACE_AVAILABLE_WORD,
  SPACE_CAPACITY_WORD,
  SPACE_INSTALLED_WORD,
  TS_AUX,
  TS_INSTALL_SWUNG,
  TS_OP,
  TS_OP_NONE,
  TS_RESERVED,
} from './space-layout.js';

type I32 = Int32Array<SharedArrayBuffer>;

/** Total capacity. Lock-free read; stale as soon as it returns. */
export function capacityTotal(i32: I32): number {
  return Atomics.load(i32, SPACE_CAPACITY_WORD);
}

/** Unreserved capacity. Lock-free read; stale as soon as it returns. */
export function capacityAvailable(i32: I32): number {
  return Atomics.load(i32, SPACE_AVAILABLE_WORD);
}

/**
 * Take `n` units (0 = everything available) out of AVAILABLE.
 *
 * CAS loop: retries only when another thread changed AVAILABLE (progress); no ABA hazard,
 * the word is a plain count and the check is re-done on each value.
 *
 * Context: any thread; never blocks.
 * @returns the number of units reserved (> 0); -ENOSPC when `n` > AVAILABLE, or when
 * `n` == 0 and nothing is available. On error nothing changes.
 */
export function capacityReserve(i32: I32, n: number): number {
  for (;;) {
    const avail = Atomics.load(i32, SPACE_AVAILABLE_WORD);
    const take = n === 0 ? avail : n;
    if (take === 0 || take > avail) return -Errno.ENOSPC;
    // Linearisation point of the reservation; pairs with other reservers and capacityReturn.
    if (Atomics.compareExchange(i32, SPACE_AVAILABLE_WORD, avail, avail - take) === avail) {
      return take;
    }
  }
}

/** Give back `n` units the caller owns (set destruction, rollback). Never fails. Kill point
 * rule: the caller recorded the units in its thread slot and clears them right after. */
export function capacityReturn(i32: I32, n: number): void {
  if (n > 0) Atomics.add(i32, SPACE_AVAILABLE_WORD, n);
}

/**
 * `reserveCapacity`: take `n` units (0 = all available) for the calling thread, which holds
 * them in its slot (TS_RESERVED) until it cancels them, detaches, or dies (its recovery
 * returns them): capacity reserved outside any set belongs to the thread that reserved it.
 *
 * @param ts - the caller's thread slot base word
 *
 * Context: any thread; never blocks. Kill point rule: the units are recorded with no call
 * after capacityReserve's CAS (its last step).
 * @returns the number of units reserved (> 0); -ENOSPC as capacityReserve. On error nothing
 * changes.
 */
export function capacityReserveHeld(i32: I32, ts: number, n: number): number {
  const v = capacityReserve(i32, n);
  if (v > 0) i32[ts + TS_RESERVED]! += v; // plain: the caller's own word
  return v;
}

/**
 * `cancelCapacity`: give back `n` of the units the calling thread holds (capacityReserveHeld).
 * Units a set holds, or another thread, are not the caller's to give: the kernel trusts its
 * caller here; we do not, since a set's quota cancelled and then returned again by the set's
 * destruction would raise AVAILABLE above CAPACITY for good.
 *
 * @param ts - the caller's thread slot base word
 *
 * Context: any thread; never blocks. Kill point rule: the units leave TS_RESERVED with no
 * call after the Atomics.add.
 * @returns the new AVAILABLE; -EINVAL when `n` exceeds what this thread holds. On error
 * nothing changes.
 */
export function capacityCancelHeld(i32: I32, ts: number, n: number): number {
  const held = i32[ts + TS_RESERVED]!;
  if (n > held) return -Errno.EINVAL;
  // Pairs with the CAS loops of capacityReserve; the units are ours, so no check is needed.
  const avail = Atomics.add(i32, SPACE_AVAILABLE_WORD, n) + n;
  i32[ts + TS_RESERVED] = held - n;
  return avail;
}

/**
 * Replace the capacity with `total` (VT-d installs the hardware's PASID count at boot).
 *
 * Model choice (kernel: "ignored with a warning once changed"): allowed once, and only
 * while nothing is reserved, so the invariant above holds across the change.
 *
 * Kill points: after the CAS the caller's thread slot holds an INSTALL intent until
 * CAPACITY and INSTALLED are written; `releaseThread` finishes the install (capacityFinishInstall).
 *
 * Context: caller holds the set lock (which serialises installs); never blocks.
 * @returns 0; -EBUSY when capacity was installed before or some capacity is reserved.
 * On error nothing changes.
 */
export function capacityInstallLocked(i32: I32, total: number, ts: number): number {
  const cap = Atomics.load(i32, SPACE_CAPACITY_WORD);
  if (Atomics.load(i32, SPACE_INSTALLED_WORD) !== 0) return -Errno.EBUSY;
  // Swing AVAILABLE from "all of it" to the new total in one CAS, so that a concurrent
  // reservation either happened before (we fail) or sees the new total.
  if (Atomics.compareExchange(i32, SPACE_AVAILABLE_WORD, cap, total) !== cap) return -Errno.EBUSY;
  i32[ts + TS_AUX] = total;
  i32[ts + TS_OP] = TS_INSTALL_SWUNG;
  capacityFinishInstall(i32, total);
  i32[ts + TS_OP] = TS_OP_NONE;
  return 0;
}

/** Second half of an install (idempotent): CAPACITY = total, INSTALLED = 1. */
export function capacityFinishInstall(i32: I32, total: number): void {
  Atomics.store(i32, SPACE_CAPACITY_WORD, total);
  Atomics.store(i32, SPACE_INSTALLED_WORD, 1);
}
