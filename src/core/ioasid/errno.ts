/**
 * Kernel errno numbers returned (negated) by the IOASID API.
 *
 * Every runtime failure of an `IoasidSpace` method is reported as `-Errno.X` and leaves ids,
 * sets, references and capacity unchanged, with the exceptions listed in ioasid-space.ts
 * ("What a failure changes": setFree's -EBUSY marks the set free-pending; failure counters);
 * misuse of the TypeScript API itself throws `IoasidError` instead.
 * The numbering is the Linux one, so a log line can be read against kernel sources.
 *
 * Developer notes: this module is a leaf (no imports) so every other module can use it.
 */

/** Linux errno numbers used by this project (positive; the API returns them negated). */
export const Errno = Object.freeze({
  EPERM: 1,
  ENOENT: 2,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  ENOSPC: 28,
  EDQUOT: 122,
} as const);

/** One of the values of {@link Errno}. */
export type ErrnoValue = (typeof Errno)[keyof typeof Errno];

const NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(Errno).map(([name, code]) => [code, name]),
);

/**
 * Name an errno, e.g. `errnoName(-22) === 'EINVAL'`.
 *
 * @param code - an errno, positive or negated (as returned by the API)
 *
 * Context: pure; any thread, any context.
 * @returns the symbolic name, `'OK'` for 0 and non-negative results, or `'E?<n>'` for a number
 * this project does not use.
 */
export function errnoName(code: number): string {
  if (code >= 0 && !NAMES.has(code)) return 'OK';
  const n = Math.abs(code);
  return NAMES.get(n) ?? `E?${n}`;
}
