/**
 * Errors thrown for misuse of the RCU API.
 *
 * Runtime conditions never throw (a grace period that takes long is a stall, counted and
 * warned about, not an error); only calls that break the API contract do. Each message is
 * defined once here, and each error is created at its throw site so its stack is right. A
 * rejected value is described without running user code (describe-value.ts).
 */
import { describeValue } from '../describe-value.js';

/** Stable codes: callers branch on these, never on message text. */
export type RcuErrorCode =
  | 'ERR_RCU_BAD_ARGUMENT'
  | 'ERR_RCU_BAD_HANDLE'
  | 'ERR_RCU_LAYOUT_VERSION'
  | 'ERR_RCU_NO_SLOT'
  | 'ERR_RCU_NOT_REGISTERED'
  | 'ERR_RCU_ALREADY_REGISTERED'
  | 'ERR_RCU_UNLOCK_WITHOUT_LOCK'
  | 'ERR_RCU_IN_READ_SECTION'
  | 'ERR_RCU_NEST_OVERFLOW'
  | 'ERR_RCU_OFFLINE';

/** Thrown when the RCU API is used against its contract. State is unchanged when it is thrown. */
export class RcuError extends Error {
  /** A stable code naming the misuse. */
  readonly code: RcuErrorCode;

  constructor(code: RcuErrorCode, message: string) {
    super(message);
    this.name = 'RcuError';
    this.code = code;
  }
}

/** @internal Factories: one per misuse, so each message exists once. */
export const rcuErrors = {
  badArgument: (name: string, rule: string, value: unknown) =>
    new RcuError('ERR_RCU_BAD_ARGUMENT', `${name} must be ${rule} (got ${describeValue(value)})`),
  badHandle: (why: string) => new RcuError('ERR_RCU_BAD_HANDLE', `not an RCU handle: ${why}`),
  layoutVersion: (got: number, want: number) =>
    new RcuError(
      'ERR_RCU_LAYOUT_VERSION',
      `RCU handle has layout version ${got}, this build understands ${want}: ` +
        'the handle comes from another version of ioasid',
    ),
  noSlot: (maxThreads: number) =>
    new RcuError(
      'ERR_RCU_NO_SLOT',
      `no free RCU reader slot: all ${maxThreads} are claimed (raise maxThreads, or ` +
        'releaseSlot() the slots of dead threads)',
    ),
  notRegistered: () =>
    new RcuError(
      'ERR_RCU_NOT_REGISTERED',
      'readLock() in a thread that has not called registerThread() on this Rcu',
    ),
  alreadyRegistered: (slot: number) =>
    new RcuError(
      'ERR_RCU_ALREADY_REGISTERED',
      `this Rcu instance is already registered (slot ${slot}); attach another instance or unregister first`,
    ),
  unlockWithoutLock: () =>
    new RcuError('ERR_RCU_UNLOCK_WITHOUT_LOCK', 'readUnlock() without a matching readLock()'),
  inReadSection: (what: string) =>
    new RcuError(
      'ERR_RCU_IN_READ_SECTION',
      `${what} inside an RCU read-side section would wait for itself forever`,
    ),
  nestOverflow: (max: number) =>
    new RcuError('ERR_RCU_NEST_OVERFLOW', `readLock() nested deeper than ${max}`),
  offline: (what: string) =>
    new RcuError(
      'ERR_RCU_OFFLINE',
      `${what} in a thread that is offline (qsbr flavor): a grace period does not wait for it; ` +
        'call threadOnline() first',
    ),
};
