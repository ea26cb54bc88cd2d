/**
 * The errnos the hardware model returns: the core's, plus the few the drivers of §7.7 need
 * (Linux numbering, returned negated like the core's).
 */
import { Errno } from '../core/ioasid/errno.js';

/** Linux errno numbers used by the model (positive; operations return them negated). */
export const HwErrno = Object.freeze({
  ...Errno,
  /** No such process (no mm in the slot, or it is exiting). */
  ESRCH: 3,
  /** A fault delivered to the CPU (#GP on ENQCMD, MOVDIR64B to an unmapped portal). */
  EFAULT: 14,
  /** The mm's PASID does not fit the device's PASID width (§1.1). */
  EOVERFLOW: 75,
} as const);

const NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(HwErrno).map(([name, code]) => [code, name]),
);

/**
 * Name an errno of the model, e.g. `hwErrnoName(-75) === 'EOVERFLOW'`.
 *
 * @param code - positive or negated
 *
 * Context: pure.
 * @returns the name, 'OK' for results >= 0 that are not errnos, or 'E?<n>'
 */
export function hwErrnoName(code: number): string {
  if (code >= 0) return 'OK';
  return NAMES.get(-code) ?? `E?${-code}`;
}
