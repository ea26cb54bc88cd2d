/**
 * Word and cache-line sizes shared by every layout file (`rcu/rcu-layout.ts`,
 * `ioasid/space-layout.ts`, the stress run's `run-layout.ts`).
 */

/** Word size, in bytes, of every shared Int32 view. */
export const WORD_BYTES = 4;
/** One cache line in 32-bit words: per-thread slots are padded to this. */
export const LINE_WORDS = 16;
/**
 * A SharedArrayBuffer's first byte is not where a cache line starts: Node allocates backing
 * stores with calloc, and glibc's large (mmap'd) chunks begin 16 bytes into a page, so word
 * 0 sits 16 bytes past a line and every "line" of a layout straddles two real ones. Measured
 * (two workers storing+loading their own word of one 7 MiB or 4 KiB buffer): words at bytes
 * 108 and 128 cost 14 ns per pair, bytes 112 and 128 cost 53-57 ns: bytes 112..175 are one
 * real line. JavaScript cannot see the address, so a layout cannot align to it; a per-thread
 * slot whose words are written all over its lines is followed by this many untouched words,
 * so that no real line holds written words of two slots wherever the buffer starts. (A
 * one-line slot whose written words fit in its first 16 bytes, like an Rcu reader slot's
 * three, needs no guard: with the 16-byte alignment malloc guarantees, no real line holds
 * written words of two such slots.)
 */
export const GUARD_WORDS = LINE_WORDS;
