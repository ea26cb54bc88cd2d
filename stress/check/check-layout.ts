/**
 * Layout of a stress run's check buffer: the violations reported so far, what the harness
 * needs to know of each CPU to recover after a kill, and the shadow oracle the CPUs keep
 * outside the allocator. (The CPUs' statistics are in the run buffer, src/workers/run-layout.ts.)
 * Every word is touched with Atomics.
 *
 * ```text
 * region         word index                     words           writer(s)             reader(s)        access
 * header         0                              32
 *   VIOLATIONS     0                                            any reporter          main             Atomics.add (its
 *                                                                                                      value orders reports)
 *   IDS_TAKEN      16                                           CPUs, before each alloc call: add
 *   IDS_GIVEN_BACK 17                                           CPUs, after a failed alloc or a reclaim returned: add
 * kind k         32 + KIND_WORDS * k            KIND_WORDS      reporters of k        main             see below
 *   COUNT          +0..2                                        violations of kind k per finder (FINDERS): add
 *   CLAIM          +3                                           CAS 0 -> 1 by the first reporter of kind k; then
 *   SEQ..FOUND_BY  +4..+11                                      seq, op, cpu, id, set, detail, atMs, finder (stores)
 *   WHY_BYTES      +12                                          length of the UTF-8 reason in WHY
 *   READY          +13                                          1 once the fields above and WHY are written
 *   WHY            +16..+KIND_WORDS                             the reason, UTF-8, 4 bytes a word
 * cpu c          after kinds, 16 * c            16              CPU c; main           main             store / load
 *   HELD           +0                                           ids held (published after each change)
 *   SCRATCH        +1                                           scratch set + 1 (0 none, -1 creating one)
 * shadow owner   after CPUs, one word per id    2^pasidBits     CPUs (CAS)            main             CAS / load
 *                                                               0 free, else cpu + 1: who holds the id
 * shadow sets    after that, 2 words per set    2 * maxSets     CPUs; main            checker, main    add / load
 *                                                               live ids the CPUs hold in the set, quota
 * notify         after that, only with subscriptions (subs > 0):
 *   CLOCK          +0                                           subscriber CPUs, main (add): the logical clock
 *                                                               read before and after each read call
 *   sub i          +16 + 16 * i                   16 * subs     its reader (a subscriber CPU; main at the end)
 *     READING        +0                                         clock value when its read call began, 0 between reads
 *     LAST_SEQ       +1                                         highest seq it read (stored before READING 0)
 *     LOST_BELOW     +2                                         every event dropped for it so far that its reads
 *                                                               reported has a seq below this (same; 0: none)
 *     LOST, READ, FREES +3, +4, +5                              events its overflow entries counted lost; events and
 *                                                               FREE events it read (add)
 *     MAYBE_LOST     +6                                         events its killed readers may have taken untallied
 *   free ledger    after the subs, one per id     2^pasidBits     CPUs, main            main             store / load: FREE
 *                                                               transitions the ops made on the id (free leaving refs)
 *   free tallies   then per global sub i          2^pasidBits     its reader (add)      main             FREE events of
 *                                                  each                                                  the id it read
 * ```
 * The shadow state is the harness's own oracle: a CPU claims the shadow word after `alloc`
 * returned the id and releases it before the call that reclaims it, so a CAS that finds the
 * word taken proves two live allocations of one id. Shadow live counts are a lower bound of
 * the set's real count (incremented after alloc, decremented before the reclaiming call), so
 * one above the quota proves the quota was exceeded. Kill safety of each step:
 * stress/cpu/cpu-view.ts.
 *
 * IDS_TAKEN - IDS_GIVEN_BACK bounds the ids the space's ops hold (live, free-pending, or held
 * by an alloc or a reclaim in flight) from above: a taken id is counted before the call that
 * may take it, given back only after the call that gave it back returned (never for a killed
 * CPU's). So an alloc's -ENOSPC over the whole id range is legal only if IDS_TAKEN read after
 * the call, minus IDS_GIVEN_BACK read before it, reaches the range's size (ops/alloc.ts): ids
 * that sit in a magazine count as free (id-magazine.ts), and an alloc that finds none of them
 * broke the space's promise that cached ids count against nothing a user can see.
 *
 * Null fields of a violation (no CPU, id or set) are stored as NONE.
 *
 * The notify region is the oracle of the event streams (stress/notify/): the free ledger is
 * what the operations did (a CPU's free that left references, published with an intent a kill
 * cannot lose: CPU_FREEING), the tallies what each global-chain subscriber read, and the sub
 * words what the gating check of the subscribers behind each one reads.
 */
import { LINE_WORDS } from '../../src/core/cache-line.js';
import { VIOLATION_KINDS } from './invariants.js';

/** What a check buffer is sized for. */
export interface CheckGeometry {
  cpus: number;
  pasidBits: number;
  maxSets: number;
  /** Notifier subscriptions the harness registered (0: no notify region). */
  subs?: number | undefined;
  /** How many of them, the first ones, are on the global chain (a FREE tally each). */
  globalSubs?: number | undefined;
}

/** Who found a violation. */
export const FINDERS = ['cpu', 'checker', 'end-of-run'] as const;
export type Finder = (typeof FINDERS)[number];

/** A field of a violation that does not apply (no CPU, id or set). */
export const NONE = -0x8000_0000;

export const CHECK_VIOLATIONS = 0;
/** Ids the CPUs' allocs may have taken (counted before each alloc call). */
export const CHECK_IDS_TAKEN = LINE_WORDS;
/** Ids given back: failed allocs and reclaims, counted after the call returned. */
export const CHECK_IDS_GIVEN_BACK = LINE_WORDS + 1;
const HEADER_WORDS = 2 * LINE_WORDS;

export const KIND_WORDS = 4 * LINE_WORDS;
export const KIND_COUNT = 0; // + finder index
export const KIND_CLAIM = 3;
export const KIND_SEQ = 4;
export const KIND_OP = 5;
export const KIND_CPU = 6;
export const KIND_ID = 7;
export const KIND_SET = 8;
export const KIND_DETAIL = 9;
export const KIND_AT_MS = 10;
export const KIND_FINDER = 11;
export const KIND_WHY_BYTES = 12;
export const KIND_READY = 13;
export const KIND_WHY = 16;
/** Bytes of a reason kept with the first violation of a kind. */
export const WHY_MAX_BYTES = (KIND_WORDS - KIND_WHY) * 4;

export const CPU_HELD = 0;
export const CPU_SCRATCH = 1;
export const SCRATCH_CREATING = -1;
/** The id a free that leaves references is about to make free-pending (0: none), and the
 * free ledger's word for it before the call: set before the call, cleared after the ledger. */
export const CPU_FREEING = 2;
export const CPU_FREEING_BEFORE = 3;
const CPU_ORACLE_WORDS = LINE_WORDS;

/**
 * First word of violation kind `k`'s record.
 *
 * @param k - a kind's index in VIOLATION_KINDS
 *
 * Context: pure.
 * @returns a word index into the check buffer
 */
export function kindBase(k: number): number {
  return HEADER_WORDS + k * KIND_WORDS;
}

/**
 * First word of CPU `cpu`'s oracle words (HELD, SCRATCH).
 *
 * @param cpu - a CPU index
 *
 * Context: pure.
 * @returns a word index into the check buffer
 */
export function cpuOracleBase(cpu: number): number {
  return kindBase(VIOLATION_KINDS.length) + cpu * CPU_ORACLE_WORDS;
}

/**
 * The shadow owner words: word `shadowOwnerBase(g) + id` is id's owner (cpu + 1) or 0.
 *
 * @param g - the check buffer's geometry
 *
 * Context: pure.
 * @returns a word index into the check buffer
 */
export function shadowOwnerBase(g: CheckGeometry): number {
  return cpuOracleBase(g.cpus);
}

/**
 * The shadow words of set `set`: live ids the CPUs hold in it, then its quota.
 *
 * @param g - the check buffer's geometry
 * @param set - a set id (maxSets gives the end of the buffer)
 *
 * Context: pure.
 * @returns a word index into the check buffer
 */
export function shadowSetBase(g: CheckGeometry, set: number): number {
  return shadowOwnerBase(g) + 2 ** g.pasidBits + 2 * set;
}

export const NOTIFY_CLOCK = 0;
export const SUB_READING = 0;
export const SUB_LAST_SEQ = 1;
export const SUB_LOST_BELOW = 2;
export const SUB_LOST = 3;
export const SUB_READ = 4;
export const SUB_FREES = 5;
export const SUB_MAYBE_LOST = 6;
const SUB_WORDS = LINE_WORDS;

/**
 * First word of the notify region (its CLOCK).
 *
 * @param g - the check buffer's geometry
 *
 * Context: pure.
 * @returns a word index into the check buffer
 */
export function notifyBase(g: CheckGeometry): number {
  return shadowSetBase(g, g.maxSets);
}

/**
 * First word of subscription `i`'s words (READING ..).
 *
 * @param g - the check buffer's geometry
 * @param i - a subscription's index
 *
 * Context: pure.
 * @returns a word index into the check buffer
 */
export function subOracleBase(g: CheckGeometry, i: number): number {
  return notifyBase(g) + LINE_WORDS + i * SUB_WORDS;
}

/**
 * The free ledger: word `freeLedgerBase(g) + id` counts the FREE transitions made on id.
 *
 * @param g - the check buffer's geometry (with subscriptions)
 *
 * Context: pure.
 * @returns a word index into the check buffer
 */
export function freeLedgerBase(g: CheckGeometry): number {
  return subOracleBase(g, g.subs ?? 0);
}

/**
 * Global subscription `i`'s FREE tally: word `freeTallyBase(g, i) + id`.
 *
 * @param g - the check buffer's geometry
 * @param i - a global subscription's index (below g.globalSubs)
 *
 * Context: pure.
 * @returns a word index into the check buffer
 */
export function freeTallyBase(g: CheckGeometry, i: number): number {
  return freeLedgerBase(g) + (1 + i) * 2 ** g.pasidBits;
}

/**
 * Size of a check buffer.
 *
 * @param g - its geometry
 *
 * Context: pure.
 * @returns its length in 32-bit words
 */
export function checkWords(g: CheckGeometry): number {
  return (g.subs ?? 0) > 0 ? freeTallyBase(g, g.globalSubs ?? 0) : notifyBase(g);
}
