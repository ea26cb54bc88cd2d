/**
 * Which real 64-byte cache lines hold words written by two owners, for a buffer whose word 0
 * is at any multiple of 16 bytes past a line (malloc's only promise; measured: 16 bytes,
 * src/core/cache-line.ts GUARD_WORDS). Layout tests list the words each owner writes on its
 * hot paths, for a few adjacent slots, and expect no line to be shared.
 */
import { LINE_WORDS } from '../../src/core/cache-line.js';

/** One word an owner writes (owner: a label such as 'cpu 1' or 'distributor'). */
export interface WrittenWord {
  owner: string;
  word: number;
}

/** Where a real line may start, in words past a layout line (multiples of 16 bytes). */
export const REAL_LINE_STARTS = [0, 4, 8, 12] as const;

/**
 * Lines shared by two owners' written words, over every possible start of the real lines.
 *
 * @param writes - the written words, word indices >= 0 of one buffer
 *
 * Context: pure.
 * @returns one description per shared line ("words 20..35 (start +4): cpu 0 @27, cpu 1 @32"),
 *   empty when no real line holds two owners' words
 */
export function sharedRealLines(writes: readonly WrittenWord[]): string[] {
  const out: string[] = [];
  for (const start of REAL_LINE_STARTS) {
    const lines = new Map<number, WrittenWord[]>();
    for (const w of writes) {
      const line = Math.floor((w.word + LINE_WORDS - start) / LINE_WORDS);
      const held = lines.get(line) ?? [];
      held.push(w);
      lines.set(line, held);
    }
    for (const [line, held] of lines) {
      if (new Set(held.map((w) => w.owner)).size < 2) continue;
      const first = line * LINE_WORDS + start - LINE_WORDS;
      const who = held.map((w) => `${w.owner} @${w.word}`).join(', ');
      out.push(`words ${first}..${first + LINE_WORDS - 1} (start +${start}): ${who}`);
    }
  }
  return out;
}

/**
 * The written words of `slots` adjacent slots of one per-owner array.
 *
 * @param base - word index of slot 0 (on the layout's line grid)
 * @param slotWords - the slot's size in words
 * @param offsets - the words, relative to a slot, its owner writes
 * @param slots - how many slots to lay out (3 covers both neighbours of the middle one)
 * @param owner - the label of slot `k`'s owner
 *
 * Context: pure.
 * @returns the written words of every slot
 */
export function slotWrites(
  base: number,
  slotWords: number,
  offsets: readonly number[],
  slots = 3,
  owner: (k: number) => string = (k) => `slot ${k}`,
): WrittenWord[] {
  const out: WrittenWord[] = [];
  for (let k = 0; k < slots; k++) {
    for (const o of offsets) out.push({ owner: owner(k), word: base + k * slotWords + o });
  }
  return out;
}
