/**
 * Word and cache-line sizes shared by every layout file (`rcu/rcu-layout.ts`,
 * `ioasid/space-layout.ts`, the stress run's `run-layout.ts`).
 */

/** Word size, in bytes, of every shared Int32 view. */
export const WORD_BYTES = 4;
/** One cache line in 32-bit words: per-thread slots are padded to this. */
export const LINE_WORDS = 16;
