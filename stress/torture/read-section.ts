/**
 * One torture read-side section and the three checks made inside it (rcutorture's reader, in
 * spirit): the record found is not poisoned (freed), not torn or recycled (generation and
 * check word), and no grace period that started after the section began has ended before it
 * leaves. Separate from the worker so that a test can drive one section with a delay that
 * frees, rewrites or keeps the record, and see which counter each breakage lands in.
 */
import {
  PIPE_LEN,
  R_COOKIE_ERR,
  R_GENERR,
  R_MBERR,
  REC_CHECK,
  REC_GEN,
  REC_PIPE,
  REC_VALID,
  recordBase,
  recordCheck,
  type TortureGeometry,
  W_CURRENT,
  writerBase,
} from './torture-layout.js';

/** The read side of an Rcu that a section needs. */
export interface SectionRcu {
  readLock(): void;
  readUnlock(): void;
  getState(): number;
  peekState(cookie: number): boolean;
  completedGracePeriods(): number;
}

export interface SectionEnv {
  words: Int32Array;
  g: TortureGeometry;
  rcu: SectionRcu;
  /** Work inside the section, between the first reads and the last (spins, nesting, sleeps). */
  delay: () => void;
}

/**
 * One read-side section on writer `w`'s current record, counting errors into reader slot
 * `base`. Returns pipe age | (grace periods seen inside << 16), or -1 when nothing is
 * published yet.
 */
export function readSection(env: SectionEnv, base: number, w: number): number {
  const { words, g, rcu } = env;
  rcu.readLock();
  const cookie = rcu.getState();
  const gpStart = rcu.completedGracePeriods();
  const rec = Atomics.load(words, writerBase(w) + W_CURRENT);
  if (rec < 0) {
    rcu.readUnlock();
    return -1;
  }
  const r = recordBase(g, rec);
  const gen = Atomics.load(words, r + REC_GEN);
  let poisoned = Atomics.load(words, r + REC_VALID) === 0;
  if (Atomics.load(words, r + REC_CHECK) !== recordCheck(rec, gen))
    Atomics.add(words, base + R_GENERR, 1);
  env.delay();
  const age = Atomics.load(words, r + REC_PIPE);
  if (Atomics.load(words, r + REC_GEN) !== gen) Atomics.add(words, base + R_GENERR, 1);
  // Poison checked again at the section's end: a record freed while any reader that found it
  // is still inside is a broken grace period however late in the section it happens, not only
  // when the free falls between the two loads above (the 'early-recycle' twin's race: missed
  // in 9 writes at load 21 without this check).
  poisoned ||= Atomics.load(words, r + REC_VALID) === 0;
  if (poisoned) Atomics.add(words, base + R_MBERR, 1);
  // Cookie check 3: no grace period that started after we entered may end while we are inside.
  if (rcu.peekState(cookie)) Atomics.add(words, base + R_COOKIE_ERR, 1);
  // Measured before unlocking: grace periods ending after we leave are legal and not counted.
  const completed = rcu.completedGracePeriods() - gpStart;
  rcu.readUnlock();
  return Math.min(age, PIPE_LEN) | (Math.min(completed, PIPE_LEN) << 16);
}
