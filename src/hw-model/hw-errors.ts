/**
 * Errors thrown for misuse of the hardware model's API (a non-integer or out-of-range index,
 * a bad profile, a bad handle). Runtime conditions never throw: they return a negative errno
 * or a documented result code and leave hardware state unchanged. The two stalls are the
 * exception: a log (ERR_HW_LOG_STALLED) or a recoverer's lock (ERR_HW_LOCK_STALLED) whose
 * other side stopped is an internal error of the run, thrown where it would otherwise hang.
 * Each message is defined once here and each error is created at its throw site.
 */

/** Stable codes: callers branch on these, never on message text. */
export type HwModelErrorCode =
  | 'ERR_HW_BAD_ARGUMENT'
  | 'ERR_HW_BAD_PROFILE'
  | 'ERR_HW_BAD_HANDLE'
  | 'ERR_HW_LAYOUT_VERSION'
  | 'ERR_HW_DETACHED'
  | 'ERR_HW_LOG_STALLED'
  | 'ERR_HW_LOCK_STALLED';

/** Thrown when the model's API is used against its contract. Shared state is unchanged. */
export class HwModelError extends Error {
  /** A stable code naming the misuse. */
  readonly code: HwModelErrorCode;

  constructor(code: HwModelErrorCode, message: string) {
    super(message);
    this.name = 'HwModelError';
    this.code = code;
  }
}

/** @internal Factories: one per misuse, so each message exists once. */
export const hwErrors = {
  badArgument: (name: string, rule: string, value: unknown) =>
    new HwModelError('ERR_HW_BAD_ARGUMENT', `${name} must be ${rule} (got ${String(value)})`),
  badProfile: (name: string, rule: string, value: unknown) =>
    new HwModelError(
      'ERR_HW_BAD_PROFILE',
      `profile ${name} must be ${rule} (got ${JSON.stringify(value)})`,
    ),
  badHandle: (why: string) =>
    new HwModelError('ERR_HW_BAD_HANDLE', `not a hardware-model handle: ${why}`),
  layoutVersion: (got: number, want: number) =>
    new HwModelError(
      'ERR_HW_LAYOUT_VERSION',
      `hardware buffer has layout version ${got}, this build understands ${want}`,
    ),
  detached: (what: string) =>
    new HwModelError('ERR_HW_DETACHED', `${what} on a platform this thread has detached`),
  logStalled: (ms: number) =>
    new HwModelError(
      'ERR_HW_LOG_STALLED',
      `the event log stayed full for ${ms} ms: its consumer (the checker) stopped reading`,
    ),
  lockStalled: (word: number, holder: number, waits: number) =>
    new HwModelError(
      'ERR_HW_LOCK_STALLED',
      `the lock at word ${word} stayed held by live thread tag ${holder} through ${waits} waits: ` +
        'its holder never gave it back',
    ),
};

/** @internal Throw ERR_HW_BAD_ARGUMENT unless `v` is an integer in [lo, hi]. */
export function checkIndex(name: string, v: unknown, lo: number, hi: number): asserts v is number {
  if (!Number.isInteger(v) || (v as number) < lo || (v as number) > hi)
    throw hwErrors.badArgument(name, `an integer in [${lo}, ${hi}]`, v);
}
