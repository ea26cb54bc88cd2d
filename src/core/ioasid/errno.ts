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
  /** Operation not permitted. */
  EPERM: 1,
  /** No such id or binding. */
  ENOENT: 2,
  /** Try again: a count would overflow, or a getter refused. */
  EAGAIN: 11,
  /** No free record to hold a new id. */
  ENOMEM: 12,
  /** The id belongs to another set. */
  EACCES: 13,
  /** In use: already installed, attached or free-pending, or ids remain. */
  EBUSY: 16,
  /** Already exists (a live MM set with this token, a registered ops object, a live id a
   * custom allocator handed out). */
  EEXIST: 17,
  /** No allocator for this thread: a custom allocator group is active and the thread has no
   * member of it. */
  ENODEV: 19,
  /** An invalid argument: unknown set, empty range, value out of range. */
  EINVAL: 22,
  /** No free id in the range, or no capacity left for a quota. */
  ENOSPC: 28,
  /** The set's quota is reached. */
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
