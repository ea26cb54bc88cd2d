/**
 * Errors thrown for misuse of the IOASID API (never for runtime conditions, which return a
 * negative errno). Each message is defined once here; each error is created at its throw site.
 * A rejected value is described without running user code (describe-value.ts).
 */
import { describeValue } from '../describe-value.js';

/** Stable codes: callers branch on these, never on message text. */
export type IoasidErrorCode =
  | 'ERR_IOASID_BAD_ARGUMENT'
  | 'ERR_IOASID_BAD_OPTION'
  | 'ERR_IOASID_BAD_HANDLE'
  | 'ERR_IOASID_LAYOUT_VERSION'
  | 'ERR_IOASID_DETACHED'
  | 'ERR_IOASID_IN_READ_SECTION'
  | 'ERR_IOASID_NOT_SUBSCRIBED';

/** Thrown when the IOASID API is used against its contract. Shared state is unchanged. */
export class IoasidError extends Error {
  /** A stable code naming the misuse. */
  readonly code: IoasidErrorCode;

  constructor(code: IoasidErrorCode, message: string) {
    super(message);
    this.name = 'IoasidError';
    this.code = code;
  }
}

/** @internal Factories: one per misuse, so each message exists once. */
export const ioasidErrors = {
  badArgument: (name: string, rule: string, value: unknown) =>
    new IoasidError(
      'ERR_IOASID_BAD_ARGUMENT',
      `${name} must be ${rule} (got ${describeValue(value)})`,
    ),
  badOption: (name: string, rule: string, value: unknown) =>
    new IoasidError(
      'ERR_IOASID_BAD_OPTION',
      `option ${name} must be ${rule} (got ${describeValue(value)})`,
    ),
  badHandle: (why: string) =>
    new IoasidError('ERR_IOASID_BAD_HANDLE', `not an IOASID space handle: ${why}`),
  layoutVersion: (got: number, want: number) =>
    new IoasidError(
      'ERR_IOASID_LAYOUT_VERSION',
      `space has layout version ${got}, this build understands ${want}: it comes from another version of ioasid`,
    ),
  detached: (what: string) =>
    new IoasidError('ERR_IOASID_DETACHED', `${what} on a space this thread has detached`),
  notSubscribed: (sub: number) =>
    new IoasidError(
      'ERR_IOASID_NOT_SUBSCRIBED',
      `subscriber ${sub} is not registered (never was, or was unregistered)`,
    ),
  inReadSection: (what: string) =>
    new IoasidError(
      'ERR_IOASID_IN_READ_SECTION',
      `${what} waits for a grace period and cannot be called inside an RCU read-side section`,
    ),
};
