/**
 * The public vocabulary of notifier chains and custom allocators (re-exported by `ioasid`),
 * and the creation and checking of a space's hooks buffer.
 *
 * ```ts
 * const sub = space.registerNotifier(set, NotifierPriority.CPU);   // or null: the global chain
 * space.waitNotifications(sub, 1000);                              // blocks until readable
 * for (const n of space.readNotifications(sub)) {
 *   if (n.event === 'overflow') resync(n.lost);
 *   else if (n.event === NotifyEvent.FREE) teardown(n.id, n.spid);
 * }
 * space.registerAllocator({ name: 'vcmd', alloc: (min, max) => askHost(min, max), free: (id) => tellHost(id) });
 * ```
 *
 * @internal (the module; the exports below marked public are the API)
 */
import { WORD_BYTES } from '../cache-line.js';
import {
  DIST_PRIO_WORD,
  DIST_WORD,
  G_DEAD,
  G_LIVE,
  groupWord,
  HOOKS_FAULT_WORD,
  HOOKS_LAYOUT_VERSION,
  HOOKS_LOG_SIZE_WORD,
  HOOKS_MAGIC,
  HOOKS_MAGIC_WORD,
  HOOKS_MAX_GROUPS_WORD,
  HOOKS_MAX_SETS_WORD,
  HOOKS_MAX_SUBS,
  HOOKS_MAX_SUBS_WORD,
  HOOKS_MAX_THREADS_WORD,
  HOOKS_QUEUE_DEPTH_WORD,
  HOOKS_TAG_WORD,
  HOOKS_VERSION_WORD,
  hooksGeometry,
  hooksHeaderGeometry,
  LOG_HEAD_WORD,
  S_ID,
  subWord,
} from './hooks-layout.js';
import { ioasidErrors } from './ioasid-errors.js';
import type { NotifyRecord, OverflowRecord } from './notifier-queues.js';

export type { AllocatorOps } from './allocator-registry.js';

/** Notifier events, with the kernel's numbering (IOASID_NOTIFY_*). */
export const NotifyEvent = Object.freeze({
  /** An id was allocated (its set's chain). */
  ALLOC: 1,
  /** An id became free-pending: references remain (its set's chain and the global chain). */
  FREE: 2,
  /** A SPID was attached to an id (its set's chain). */
  BIND: 3,
  /** A SPID was detached from an id (its set's chain; the record carries the old SPID). */
  UNBIND: 4,
} as const);
/** One of the values of {@link NotifyEvent}. */
export type NotifyEvent = (typeof NotifyEvent)[keyof typeof NotifyEvent];

/**
 * Notifier priorities, with the kernel's numbering (enum ioasid_notifier_prios): higher is
 * called first, so KVM (CPU) sees an event before the IOMMU driver, which sees it before the
 * device model.
 */
export const NotifierPriority = Object.freeze({
  /** After everyone else. */
  LAST: 0,
  /** Device models (VDCM). */
  DEVICE: 1,
  /** IOMMU drivers. */
  IOMMU: 2,
  /** CPU-side users (KVM): first, to quiesce vCPU work submission before teardown. */
  CPU: 3,
} as const);
/** One of the values of {@link NotifierPriority}. */
export type NotifierPriority = (typeof NotifierPriority)[keyof typeof NotifierPriority];

/**
 * One entry of `readNotifications`: an event (`event` a {@link NotifyEvent}; `spid` is
 * INVALID_IOASID when none is bound; `set` the owning set; `data` the private data when the
 * event was emitted; `seq` one increasing counter per space), or, first, an overflow entry
 * saying how many events were dropped for this subscriber.
 */
export type Notification = NotifyRecord | OverflowRecord;
export type { NotifyRecord, OverflowRecord };

/** Largest notifyQueueDepth. */
export const NOTIFY_QUEUE_DEPTH_MAX = 65536;

/**
 * Create and initialise a hooks buffer.
 *
 * @param maxSubs - subscriber slots
 * @param depth - queue depth (a power of two)
 * @param maxThreads - the space's thread slots
 * @param maxSets - the space's set slots
 * @param fault - HOOKS_FAULT_* (0 in every real system)
 * @param tag - the space's tag (its header's rcuTag): ties this buffer to its space
 *
 * Context: create() only, before the buffer is shared (its handle crosses threads later).
 * @returns the buffer
 */
export function hooksBufferCreate(
  maxSubs: number,
  depth: number,
  maxThreads: number,
  maxSets: number,
  fault: number,
  tag: number,
): SharedArrayBuffer {
  const hg = hooksGeometry(maxSubs, depth, maxThreads, maxSets);
  const buffer = new SharedArrayBuffer(hg.totalWords * WORD_BYTES);
  const hk = new Int32Array(buffer);
  Atomics.store(hk, HOOKS_VERSION_WORD, HOOKS_LAYOUT_VERSION);
  Atomics.store(hk, HOOKS_MAX_SUBS_WORD, maxSubs);
  Atomics.store(hk, HOOKS_QUEUE_DEPTH_WORD, depth);
  Atomics.store(hk, HOOKS_LOG_SIZE_WORD, hg.logSize);
  Atomics.store(hk, HOOKS_MAX_THREADS_WORD, maxThreads);
  Atomics.store(hk, HOOKS_MAX_SETS_WORD, maxSets);
  Atomics.store(hk, HOOKS_FAULT_WORD, fault);
  Atomics.store(hk, HOOKS_MAX_GROUPS_WORD, hg.maxGroups);
  Atomics.store(hk, HOOKS_TAG_WORD, tag);
  // Seqs start at 1; nothing is distributed yet; no receiver handled in entry DIST.
  Atomics.store(hk, LOG_HEAD_WORD, 1);
  Atomics.store(hk, DIST_WORD, 1);
  Atomics.store(hk, DIST_PRIO_WORD, -1);
  for (let slot = 0; slot < maxSubs; slot++) Atomics.store(hk, subWord(hg, slot) + S_ID, -1);
  for (let g = 0; g < hg.maxGroups; g++) Atomics.store(hk, groupWord(hg, g) + G_LIVE, G_DEAD);
  Atomics.store(hk, HOOKS_MAGIC_WORD, HOOKS_MAGIC);
  return buffer;
}

/**
 * Check a hooks buffer received in a handle against its space.
 *
 * @param buffer - `handle.hooks`
 * @param maxThreads - the space's thread slots (from its header)
 * @param maxSets - the space's set slots
 * @param tag - the space's tag (its header's rcuTag)
 *
 * Context: attach(); any thread; reads only.
 * @returns the buffer
 * @throws IoasidError ERR_IOASID_BAD_HANDLE, ERR_IOASID_LAYOUT_VERSION
 */
export function hooksBufferCheck(
  buffer: unknown,
  maxThreads: number,
  maxSets: number,
  tag: number,
): SharedArrayBuffer {
  if (!(buffer instanceof SharedArrayBuffer))
    throw ioasidErrors.badHandle('hooks is not a SharedArrayBuffer');
  const hk = new Int32Array(buffer);
  if (hk.length <= HOOKS_MAGIC_WORD || Atomics.load(hk, HOOKS_MAGIC_WORD) !== HOOKS_MAGIC)
    throw ioasidErrors.badHandle('hooks does not start with the hooks magic word');
  const version = Atomics.load(hk, HOOKS_VERSION_WORD);
  if (version !== HOOKS_LAYOUT_VERSION)
    throw ioasidErrors.layoutVersion(version, HOOKS_LAYOUT_VERSION);
  const subs = Atomics.load(hk, HOOKS_MAX_SUBS_WORD);
  const depth = Atomics.load(hk, HOOKS_QUEUE_DEPTH_WORD);
  // Checked before the geometry is computed from them (create's limits).
  if (
    !(subs >= 0 && subs <= HOOKS_MAX_SUBS) ||
    !(depth >= 1 && depth <= NOTIFY_QUEUE_DEPTH_MAX && (depth & (depth - 1)) === 0)
  )
    throw ioasidErrors.badHandle('hooks header holds values create() never writes');
  const hg = hooksHeaderGeometry(hk);
  if (
    hg.totalWords !== hk.length ||
    hg.maxThreads !== maxThreads ||
    hg.maxSets !== maxSets ||
    Atomics.load(hk, HOOKS_TAG_WORD) !== tag
  )
    throw ioasidErrors.badHandle('its hooks buffer is not the one this space was created with');
  return buffer;
}
