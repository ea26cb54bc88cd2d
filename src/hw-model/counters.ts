/**
 * Hardware counters: what the model did, counted per attached thread in that thread's row of
 * the log buffer (so counting never contends) and summed on demand. They are statistics, not
 * hardware state: they live outside the hardware buffer, whose byte snapshot must not change
 * when an operation fails.
 *
 * @internal
 */
import { L_ROWS, ROW_COUNTERS, ROW_WORDS, rowWord } from './hw-layout.js';

/** Every counter, in row order. */
export const COUNTERS = [
  'translations',
  'translationsOk',
  'faultSpd2',
  'faultSpt2',
  'faultSpt4',
  'faultPageRequest',
  'faultNoPri',
  'faultsSuppressed',
  'faultsLost',
  'pasidCacheHits',
  'pasidCacheMisses',
  'iotlbHits',
  'iotlbMisses',
  'devTlbHits',
  'devTlbMisses',
  'invPasidCache',
  'invIotlb',
  'invDevTlb',
  'invWait',
  'invPageResponse',
  'pageRequests',
  'pageRequestsOverflow',
  'stopMarkers',
  'responsesSuccess',
  'responsesInvalid',
  'responsesStale',
  'drains',
  'aborts',
  'wqDisables',
  'submissions',
  'zfRetries',
  'gpFixups',
  'gpFaults',
  'executions',
  'executionsFaulted',
  'executionsAborted',
  'swerrs',
  'binds',
  'bindErrors',
  'bindEnospc',
  'bindEdquot',
  'bindEoverflow',
  'unbinds',
  'mmExits',
  'teardowns',
  'prqOverflowRetries',
] as const;

/** A counter's name. */
export type CounterName = (typeof COUNTERS)[number];

const INDEX = Object.fromEntries(COUNTERS.map((c, i) => [c, i])) as Record<CounterName, number>;

/** Row word of each counter, by name (for call sites: `count(C.translations)`). */
export const C: Readonly<Record<CounterName, number>> = Object.freeze(
  Object.fromEntries(COUNTERS.map((c) => [c, ROW_COUNTERS + INDEX[c]])) as Record<
    CounterName,
    number
  >,
);

if (ROW_COUNTERS + COUNTERS.length > ROW_WORDS) throw new Error('counters overflow a log row');

/** Counter values by name. */
export type Counters = Record<CounterName, number>;

/**
 * Sum every row of the log buffer.
 *
 * @param log - the log buffer's Int32 view
 *
 * Context: any thread; lock-free; stale on return (exact when every actor is paused).
 * @returns the totals
 */
export function sumCounters(log: Int32Array<SharedArrayBuffer>): Counters {
  const rows = Atomics.load(log, L_ROWS);
  const out = Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Counters;
  for (let r = 0; r < rows; r++) {
    const base = rowWord(r);
    for (const c of COUNTERS) out[c] += Atomics.load(log, base + C[c]);
  }
  return out;
}
