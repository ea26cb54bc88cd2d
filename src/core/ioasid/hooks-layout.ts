/**
 * The one place that knows every offset into a space's hooks buffer: notifier chains (the
 * event log, subscriber slots and their queues) and the custom-allocator registry.
 *
 * Why a buffer of its own, next to the space buffer (`space-layout.ts`) and the Rcu's
 * (`../rcu/rcu-layout.ts`): its size depends on other parameters (maxSubscribers,
 * notifyQueueDepth), it has its own version, and the allocator engine reads exactly one of
 * its words (HOOKS) on its hot paths; the two layouts change independently. Conventions
 * (word indices, the access column, "immutable after publish", "plain (owner)") are those of
 * space-layout.ts. "plain (DLOCK)" = ordinary reads/writes by the holder of the distribution
 * lock only, each following the atomic step it records with no call in between (space-core.ts
 * "Kill points"), so that whoever takes a dead holder's lock over resumes exactly.
 *
 * ```text
 * region        word index          words              writer(s)                reader(s)         access
 * header        0                   16                 create() only            attach(), all     immutable after publish
 *   MAGIC 0 'HOOK', VERSION 1, MAX_SUBS 2, QUEUE_DEPTH 3 (power of two), LOG_SIZE 4 (power of two),
 *   MAX_THREADS 5, MAX_SETS 6, FAULT 7 (0 none, 1 notify-no-gating), MAX_GROUPS 8, TAG 9 (the
 *   space's rcuTag: a handle cannot pair a space with another space's hooks)
 * hooks         16                  16 (one line)
 *   HOOKS       16                                     chains (DLOCK): bits 1..   alloc, free, put   CAS loop / Atomics.or, and;
 *                                                      = registered subscribers; (one load each)    bit 0 = a custom allocator
 *                                                      registry (REG lock): bit 0                    group is registered
 * log           32                  16 (one line)
 *   LOG_HEAD    32                                     emitters                 emitters, regs    CAS loop: next seq to claim
 *   LOST_PENDING 33                                    emitters (log full)      distributor       store 1 / exchange 0
 *   GLOBAL_LOST 34                                     emitters (log full)      distributor       Atomics.add / exchange
 *   GLOBAL_COUNT 35                                    chains (DLOCK)           emitters          L/S: subscribers on the
 *                                                                                                 global chain (a hint)
 * distribution  48                  16 (one line)
 *   DLOCK       48                                     distributor, chains      same              futex mutex (space-lock.ts)
 *   DIST        49                                     DLOCK holder             emitters, readers L/S: next seq to distribute
 *   DIST_PHASE  50, DIST_PRIO 51, DIST_ORDER 52,       DLOCK holder             DLOCK holder      plain (DLOCK): how far the
 *   DIST_GATE   53, DIST_OP 54                                                                    entry DIST got (see below)
 *   REG_ORDER   55                                     chains (DLOCK)           chains            L/S: registration counter
 *   ORDER_COUNT 56                                     chains (DLOCK)           DLOCK holder      L/S: length of ORDER
 *   HOUSEKEEPING 57                                    recovery (store 1)       DLOCK holder      exchange 0: membership work
 *                                                                                                 a dead thread left (S_DOOMED
 *                                                                                                 slots, ATTACH_OWED entries)
 * registry      64                  16 (one line)
 *   REG_LOCK    64                                     registry                 registry          futex mutex
 *   ACTIVE      65                                     registry (REG lock)      alloc, free, put  L/S: 0 default, else
 *                                                                                                 group slot + 1 | gen << 8
 *   GROUP_ORDER 66                                     registry (REG lock)      registry          L/S: group counter
 *   DEFER_COUNT 67                                     recovery, deferred free  custom paths      Atomics.add / load (a hint)
 * stats         80                  16 (one line)      see HSTAT_*              stats()           Atomics.add / load
 * groups        96                  32 * MAX_GROUPS    see G_* below; one group per two lines
 *   G_LIVE      +0                                     custom alloc/reclaim     unregister        CAS loop: [DEAD | live ids
 *                                                                                                 of the group, reserved]
 *   G_MEMBERS +1, G_GEN +2, G_ORDER +3, G_NAME_LEN +4   registry (REG lock)      all               L/S under the REG lock
 *   G_NAME      +5 .. +20                              registry (REG lock)      activeAllocator   L/S; 2 UTF-16 units a word
 * defer         groupsBase + 32*G   maxThreads         recovery (CAS 0 -> id)   custom paths      CAS: ids owed a provider
 *                                   (line-rounded)                              (CAS id -> 0)     free(), 0 = empty
 * attach owed   deferBase + ...     2 * maxThreads     recovery (CAS 0 -> tok+1 DLOCK holder      CAS: [token + 1, from] of
 *                                   (line-rounded)     then store from)         (store 0)         an MM attach a dead setAlloc
 *                                                                                                 owed, 0 = empty
 * threads       deferBase + ...     32 * maxThreads    see HK_* below; slot k belongs to the thread whose Rcu reader
 *                                                      slot is k (as the space's thread slots); two lines each
 * set chains    threadsBase + ...   maxSets            chains (DLOCK)           emitters          L/S: subscribers attached
 *                                   (line-rounded)                                                to the set (a hint)
 * set lost      chainsBase + ...    maxSets            emitters (log full)      distributor       Atomics.add / exchange
 * subscribers   lostBase + ...      48 * maxSubs       see S_* below; line A (config, distributor side), a guard
 *                                                      line nothing writes, line B (reader side)
 * order         subsBase + ...      maxSubs            chains (DLOCK)           DLOCK holder      L/S: registered subscriber
 *                                   (line-rounded)                                                slots in chain order
 * log entries   orderBase + ...     8 * LOG_SIZE       emitters                 distributor       E_* words L/S, published by
 *                                                                                                 the Atomics.store of E_SEQ
 * queues        logBase + ...       8 * depth * subs   DLOCK holder             readers           Q_* words L/S, published by
 *                                                                                                 the subscriber's S_TAIL
 * ```
 *
 * Distribution progress (plain (DLOCK)): the holder distributes entry DIST to the set chain
 * (DIST_PHASE 0), then, for FREE, to the global chain (phase 1); within a phase it visits
 * receivers in chain order (priority descending, then registration order ascending), and
 * DIST_PRIO/DIST_ORDER name the last receiver handled (DIST_PRIO -1 = none yet), DIST_GATE
 * the sub id + 1 of the last one that received the entry (0 = none). DIST_OP says what the
 * holder is doing (DOP_*), so that a thread taking a dead holder's lock over knows what to
 * finish.
 *
 * @internal
 */

import { GUARD_WORDS, LINE_WORDS } from '../cache-line.js';

/**
 * Bumped whenever any HOOKS_* index or encoding changes; `IoasidSpace.attach` refuses a
 * mismatch. 3: a subscriber slot is 48 words, its line B (S_HEAD ..) at +32 (see
 * HOOKS_SUB_WORDS).
 */
export const HOOKS_LAYOUT_VERSION = 3;
/** 'HOOK' in ASCII. */
export const HOOKS_MAGIC = 0x484f4f4b;

export const HOOKS_MAGIC_WORD = 0;
export const HOOKS_VERSION_WORD = 1;
export const HOOKS_MAX_SUBS_WORD = 2;
export const HOOKS_QUEUE_DEPTH_WORD = 3;
export const HOOKS_LOG_SIZE_WORD = 4;
export const HOOKS_MAX_THREADS_WORD = 5;
export const HOOKS_MAX_SETS_WORD = 6;
export const HOOKS_FAULT_WORD = 7;
export const HOOKS_MAX_GROUPS_WORD = 8;
/** The space's tag (its header's rcuTag): attach() refuses a hooks buffer of another space. */
export const HOOKS_TAG_WORD = 9;
/** Values of HOOKS_FAULT_WORD (fault injection for the tests that prove checkers can fail). */
export const HOOKS_FAULT_NONE = 0;
/** Readers ignore the gate: a subscriber may read an event before those ahead of it. */
export const HOOKS_FAULT_NO_GATING = 1;

export const HOOKS_WORD = 16;
/** HOOKS bit 0: a custom allocator group is registered (set before ACTIVE, see registry). */
export const HOOKS_CUSTOM = 1;
/** HOOKS bits 1..: registered subscribers (any chain, attached or pending). */
export const HOOKS_SUB_ONE = 2;

export const LOG_HEAD_WORD = 32;
export const LOST_PENDING_WORD = 33;
export const GLOBAL_LOST_WORD = 34;
export const GLOBAL_COUNT_WORD = 35;

export const DLOCK_WORD = 48;
export const DIST_WORD = 49;
export const DIST_PHASE_WORD = 50;
export const DIST_PRIO_WORD = 51;
export const DIST_ORDER_WORD = 52;
export const DIST_GATE_WORD = 53;
export const DIST_OP_WORD = 54;
export const REG_ORDER_WORD = 55;
/** Registered subscribers in chain order (the ORDER region's length); under DLOCK. */
export const ORDER_COUNT_WORD = 56;
/** Membership work a dead thread left for the next DLOCK holder (any non-zero: look). */
export const HOUSEKEEPING_WORD = 57;
/** DIST_OP values: what the DLOCK holder is doing. */
export const DOP_NONE = 0;
export const DOP_DISTRIBUTE = 1;
/** Changing subscriber slots or attachments (register, unregister, MM attach at setAlloc). */
export const DOP_MEMBERSHIP = 2;

export const REG_LOCK_WORD = 64;
export const ACTIVE_WORD = 65;
export const GROUP_ORDER_WORD = 66;
export const DEFER_COUNT_WORD = 67;
/** Set when the registry may hold a memberless, idless group or a stale HOOKS bit 0 (a dead
 * thread's members were taken away without the registry lock): the next holder sweeps. */
export const REG_SWEEP_WORD = 68;
/** ACTIVE encoding: group slot + 1 in the low 8 bits, the group's generation above. */
export const ACTIVE_SLOT_MASK = 0xff;
export const ACTIVE_GEN_SHIFT = 8;

export const HSTAT_EVENTS_WORD = 80;
export const HSTAT_LOST_WORD = 81;
export const HSTAT_OVERFLOWS_WORD = 82;
export const HSTAT_DEFERRED_FREES_WORD = 83;
export const HSTAT_ABANDONED_WORD = 84;

export const HOOKS_GROUPS_WORD = 96;
/** Allocator groups a space can hold at once. */
export const HOOKS_MAX_GROUPS = 8;
export const HOOKS_GROUP_WORDS = 2 * LINE_WORDS;
export const G_LIVE = 0;
export const G_MEMBERS = 1;
export const G_GEN = 2;
export const G_ORDER = 3;
export const G_NAME_LEN = 4;
export const G_NAME = 5;
/** Longest group name, in UTF-16 code units (two per word). */
export const G_NAME_MAX = 32;
/** G_LIVE: the group is gone (or its slot never used); no reservation can succeed. */
export const G_DEAD = 1 << 30;
export const G_LIVE_MASK = G_DEAD - 1;

// Per-thread slot (two lines).
/**
 * No guard line: what a thread writes per operation is HK_EV_* (+0..+7, each emitted event)
 * and HK_CU_* (+8..+10, each custom-allocator call), 22 words or more before the next slot,
 * which no real line spans wherever the buffer starts (src/core/cache-line.ts GUARD_WORDS).
 * HK_REG_* and HK_MEMBERS (+11..+23) are written at registrations only.
 */
export const HOOKS_TS_WORDS = 2 * LINE_WORDS;
/** Seq this thread claimed in the log and has not committed yet (valid when HK_EV_KIND is). */
export const HK_EV_SEQ = 0;
/** What recovery owes for the event in HK_EV_*: 0 nothing, EVK_COMMIT or EVK_IF_PUBLISHED (a
 * seq is claimed), EVK_OWED (the operation took effect, no seq claimed yet). */
export const HK_EV_KIND = 1;
export const HK_EV_EVENT = 2;
export const HK_EV_ID = 3;
export const HK_EV_SPID = 4;
export const HK_EV_SET = 5;
export const HK_EV_SETGEN = 6;
export const HK_EV_DATA = 7;
/** Custom allocator intent (CU_*), its group slot and id. */
export const HK_CU_OP = 8;
export const HK_CU_GROUP = 9;
export const HK_CU_ID = 10;
/** DLOCK work this thread is doing as a subscriber-slot writer: the slot, or token (MM attach). */
export const HK_REG_OP = 11;
export const HK_REG_ARG = 12;
export const HK_REG_ARG2 = 13;
export const HK_REG_ARG3 = 14;
export const HK_REG_ARG4 = 15;
/** This thread's member count in each group slot (HOOKS_MAX_GROUPS words). */
export const HK_MEMBERS = LINE_WORDS;
/** HK_EV_KIND values. */
export const EVK_COMMIT = 1;
export const EVK_IF_PUBLISHED = 2;
export const EVK_OWED = 3;
/** HK_CU_OP values: what recovery must settle for a dead thread. */
export const CU_NONE = 0;
/** Inside member.alloc: one G_LIVE reservation held; the id the provider may hand out is unknown. */
export const CU_IN_ALLOC = 1;
/** member.alloc returned HK_CU_ID, which this thread owes the provider until it is tracked. */
export const CU_HOLDS_ID = 2;
/** Inside member.free(HK_CU_ID) (a reclaim, or a refused value): the free may not have happened. */
export const CU_IN_FREE = 3;
/** Inside member.free(HK_CU_ID) for a deferred free, holding the id's bit meanwhile. */
export const CU_IN_DEFERRED_FREE = 4;
/** member.free returned; the G_LIVE unit is still to be given back. */
export const CU_LIVE_OWED = 5;
/** The custom path tracked its id (bit claimed): nothing owed to the provider any more. */
export const CU_TRACKED = 6;
/** HK_REG_OP values (the DLOCK is held meanwhile). */
export const REG_NONE = 0;
/** Filling subscriber slot HK_REG_ARG; not yet returned to the caller. */
export const REG_REGISTERING = 1;
/** Attaching the MM subscribers of token HK_REG_ARG to set HK_REG_ARG2 (gen HK_REG_ARG3, from
 * seq HK_REG_ARG4); also used with token -1 for a NULL set (only the stale ones are detached). */
export const REG_MM_ATTACH = 2;
/** setAlloc of token HK_REG_ARG (-1: a NULL set) under the set lock, LOG_HEAD HK_REG_ARG4 read
 * before the publish: the new set's pending MM subscribers are owed their attach. */
export const REG_SET_CREATE = 3;

// Subscriber slot: line A (written under DLOCK, read by the distributor and readers), a guard
// line, line B (written by readers).
/**
 * Why the guard: per delivered event the distributor stores S_TAIL and adds S_BELL (+9, +11),
 * and per event read a reader CASes S_HEAD and S_READ_SEQ (line B). A SharedArrayBuffer may
 * start 16, 32 or 48 bytes past a real line (src/core/cache-line.ts GUARD_WORDS), so with line
 * B right after line A the two sides' words shared one real line for two of the four base
 * offsets; a line nothing writes between them keeps them apart, and line B's words sit in its
 * first 16 bytes, so the next slot's line A is clear of them too.
 */
export const HOOKS_SUB_WORDS = 2 * LINE_WORDS + GUARD_WORDS;
/** Current sub id (gen << SUB_SLOT_BITS | slot) while registered, else -1. */
export const S_ID = 0;
/** Generation of the slot's last registration (persists while free). */
export const S_GEN = 1;
/** SUBK_*: which chain. */
export const S_KIND = 2;
/** Attached set (set chains), or -1 (global chain, or MM subscriber pending). */
export const S_SET = 3;
/** Generation of the attached set when attached: events of other incarnations are not for it. */
export const S_SETGEN = 4;
/** MM token (MM subscribers), else -1. */
export const S_TOKEN = 5;
export const S_PRIO = 6;
/** Registration order (REG_ORDER when registered): breaks priority ties, earlier first. */
export const S_ORDER = 7;
/** First seq it may receive (LOG_HEAD when it (re)attached). */
export const S_FROM = 8;
/** Queue write index (monotonic, wraps as int32); published by Atomics.store. */
export const S_TAIL = 9;
/** Events dropped since the last read (queue or log full). */
export const S_LOST = 10;
/** Doorbell: bumped at each delivery, loss and unregistration; readers wait on it. */
export const S_BELL = 11;
export const S_WAITERS = 12;
/** Set by recovery: a registration that never returned; the next DLOCK holder unregisters it. */
export const S_DOOMED = 13;
/** The owner tag the registration passed (0: none); with the chain and priority it is what
 * `findNotifier` finds a registration by. Written at registration, before S_ID. */
export const S_OWNER = 14;
/** Queue read index (monotonic); consumers advance it by CAS. First word of line B. */
export const S_HEAD = LINE_WORDS + GUARD_WORDS;
/** Seq of the last event read (serial order); gated subscribers compare against it. */
export const S_READ_SEQ = S_HEAD + 1;
/** Readers waiting on S_READ_SEQ (gated behind this subscriber). */
export const S_RS_WAITERS = S_HEAD + 2;
/** S_KIND values. */
export const SUBK_GLOBAL = 1;
export const SUBK_SET = 2;
export const SUBK_MM = 3;
/** Sub id = gen << SUB_SLOT_BITS | slot, gen in 1 .. SUB_GEN_MAX. */
export const SUB_SLOT_BITS = 12;
export const SUB_SLOT_MASK = (1 << SUB_SLOT_BITS) - 1;
export const SUB_GEN_MAX = (1 << (31 - SUB_SLOT_BITS)) - 1;
/** Most subscriber slots (the slot must fit SUB_SLOT_BITS). */
export const HOOKS_MAX_SUBS = 1 << SUB_SLOT_BITS;

// Log entry and queue entry (8 words each).
export const HOOKS_ENTRY_WORDS = 8;
/** Log entry: E_SEQ is its seq once committed (the publishing store), E_EVENT 0 = void. */
export const E_SEQ = 0;
export const E_EVENT = 1;
export const E_ID = 2;
export const E_SPID = 3;
export const E_SET = 4;
export const E_SETGEN = 5;
export const E_DATA = 6;
/** Queue entry: a log entry's words at the same offsets, plus Q_GATE: sub id + 1 of the
 * receiver ahead of this one on its chain (0 none). */
export const Q_SEQ = E_SEQ;
export const Q_EVENT = E_EVENT;
export const Q_ID = E_ID;
export const Q_SPID = E_SPID;
export const Q_SET = E_SET;
export const Q_DATA = E_DATA;
export const Q_GATE = 7;
/** An event's payload, EVENT .. DATA: six consecutive words in HK_EV_*, log and queue entries. */
export const EVENT_PAYLOAD_WORDS = 6;

/** Word indices of the variable-size regions of one hooks buffer. */
export interface HooksGeometry {
  readonly maxSubs: number;
  readonly depth: number;
  readonly logSize: number;
  readonly maxThreads: number;
  readonly maxSets: number;
  readonly maxGroups: number;
  readonly groupsBase: number;
  readonly deferBase: number;
  readonly attachBase: number;
  readonly threadsBase: number;
  readonly chainsBase: number;
  readonly lostBase: number;
  readonly subsBase: number;
  readonly orderBase: number;
  readonly logBase: number;
  readonly queuesBase: number;
  readonly totalWords: number;
}

function lineUp(words: number): number {
  return Math.ceil(words / LINE_WORDS) * LINE_WORDS;
}

/** The log holds this many queue depths of entries (at least LOG_MIN). */
const LOG_DEPTHS = 4;
const LOG_MIN = 4096;

/**
 * Compute the region offsets of a hooks buffer; pure, identical in create() and attach().
 *
 * @param maxSubs - subscriber slots (0 .. HOOKS_MAX_SUBS)
 * @param depth - per-subscriber queue depth (a power of two)
 * @param maxThreads - thread slots (the space's)
 * @param maxSets - set slots (the space's)
 *
 * Context: pure; any thread.
 * @returns the geometry
 */
export function hooksGeometry(
  maxSubs: number,
  depth: number,
  maxThreads: number,
  maxSets: number,
): HooksGeometry {
  let logSize = LOG_MIN;
  while (logSize < LOG_DEPTHS * depth) logSize *= 2;
  const maxGroups = HOOKS_MAX_GROUPS;
  const groupsBase = HOOKS_GROUPS_WORD;
  const deferBase = groupsBase + maxGroups * HOOKS_GROUP_WORDS;
  const attachBase = deferBase + lineUp(maxThreads);
  const threadsBase = attachBase + lineUp(2 * maxThreads);
  const chainsBase = threadsBase + maxThreads * HOOKS_TS_WORDS;
  const lostBase = chainsBase + lineUp(maxSets);
  const subsBase = lostBase + lineUp(maxSets);
  const orderBase = subsBase + maxSubs * HOOKS_SUB_WORDS;
  const logBase = orderBase + lineUp(maxSubs);
  const queuesBase = logBase + logSize * HOOKS_ENTRY_WORDS;
  return {
    maxSubs,
    depth,
    logSize,
    maxThreads,
    maxSets,
    maxGroups,
    groupsBase,
    deferBase,
    attachBase,
    threadsBase,
    chainsBase,
    lostBase,
    subsBase,
    orderBase,
    logBase,
    queuesBase,
    totalWords: queuesBase + maxSubs * depth * HOOKS_ENTRY_WORDS,
  };
}

/**
 * The geometry recorded in a hooks buffer's header (immutable after create()).
 *
 * @param hk - the hooks buffer's view
 *
 * Context: any thread.
 * @returns the geometry
 */
export function hooksHeaderGeometry(hk: Int32Array<SharedArrayBuffer>): HooksGeometry {
  return hooksGeometry(
    Atomics.load(hk, HOOKS_MAX_SUBS_WORD),
    Atomics.load(hk, HOOKS_QUEUE_DEPTH_WORD),
    Atomics.load(hk, HOOKS_MAX_THREADS_WORD),
    Atomics.load(hk, HOOKS_MAX_SETS_WORD),
  );
}

/** First word of hooks thread slot `slot`. Context: pure. */
export function hooksThreadWord(hg: HooksGeometry, slot: number): number {
  return hg.threadsBase + slot * HOOKS_TS_WORDS;
}

/** First word of subscriber slot `slot`. Context: pure. */
export function subWord(hg: HooksGeometry, slot: number): number {
  return hg.subsBase + slot * HOOKS_SUB_WORDS;
}

/** First word of the log entry of `seq`. Context: pure. */
export function logEntryWord(hg: HooksGeometry, seq: number): number {
  return hg.logBase + (seq & (hg.logSize - 1)) * HOOKS_ENTRY_WORDS;
}

/** First word of queue entry `index` (monotonic) of subscriber slot `slot`. Context: pure. */
export function queueEntryWord(hg: HooksGeometry, slot: number, index: number): number {
  return hg.queuesBase + (slot * hg.depth + (index & (hg.depth - 1))) * HOOKS_ENTRY_WORDS;
}

/** First word of group slot `g`. Context: pure. */
export function groupWord(hg: HooksGeometry, g: number): number {
  return hg.groupsBase + g * HOOKS_GROUP_WORDS;
}
