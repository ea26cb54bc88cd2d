/**
 * Protocol and checker of the multi-thread notifier test (test/notifier_*_workers.test.ts):
 * emitter threads log the events their own operations must raise, subscriber threads log
 * what they read and when (a shared logical clock around each read), and `checkStreams`
 * compares them. Every invariant reports by name; each has a broken twin in the test.
 */
import type { IoasidHandle } from '../../src/core/ioasid/ioasid-space.js';

/** Shared control words (Int32Array over `control`). */
export const CTL_CLOCK = 0;
export const CTL_STOP = 1;
export const CTL_EMITTERS_DONE = 2;
/** Records read so far by subscriber k: CTL_READ0 + k. */
export const CTL_READ0 = 8;

export interface EmitterData {
  handle: IoasidHandle;
  control: SharedArrayBuffer;
  worker: number;
  seed: number;
  iterations: number;
  /** Sets the emitter allocates in (the watched set first). */
  sets: number[];
  maxId: number;
}

export interface SubscriberData {
  handle: IoasidHandle;
  control: SharedArrayBuffer;
  index: number;
  sub: number;
  /** Sleep this long (ms) between reads: a slow subscriber holds those behind it back. */
  pauseMs: number;
  seed: number;
}

/** An event as an emitter expects it (no seq). */
export interface Expected {
  event: number;
  id: number;
  spid: number;
  set: number;
  data: number;
}

/** A record as a subscriber read it, with the clock before and after its read call. */
export interface Read extends Expected {
  seq: number;
  t0: number;
  t1: number;
}

export interface SubscriberSpec {
  /** 'global' or a set id. */
  chain: 'global' | number;
  prio: number;
  /** Registration order. */
  order: number;
}

export type Violation = { name: string; detail: string };

const key = (e: Expected) => `${e.event}:${e.id}:${e.spid >>> 0}:${e.set}:${e.data}`;

/**
 * Check every subscriber's stream against what the emitters did.
 *
 * @param emitted - per emitter, the events it raised, in its program order
 * @param subs - each subscriber's chain and place in it
 * @param reads - each subscriber's records, in the order it read them
 * @returns the violations, by name: `order` (seq not increasing), `missing`, `duplicate`,
 * `foreign` (an event no emitter raised), `program-order` (one emitter's events out of its
 * order), `seq-mismatch` (one event with two seqs: two chains, or two subscribers),
 * `gating` (read before a subscriber ahead of it on its chain started reading it)
 */
export function checkStreams(
  emitted: Expected[][],
  subs: SubscriberSpec[],
  reads: Read[][],
): Violation[] {
  const out: Violation[] = [];
  const seqOf = new Map<string, number>();
  subs.forEach((spec, k) => {
    const got = reads[k]!;
    for (let i = 1; i < got.length; i++)
      if (got[i]!.seq <= got[i - 1]!.seq)
        out.push({
          name: 'order',
          detail: `sub ${k}: seq ${got[i]!.seq} after ${got[i - 1]!.seq}`,
        });
    // Expected multiset of this chain.
    const want = new Map<string, number>();
    for (const es of emitted)
      for (const e of es)
        if (spec.chain === 'global' ? e.event === 2 : e.set === spec.chain)
          want.set(key(e), (want.get(key(e)) ?? 0) + 1);
    const have = new Map<string, number>();
    for (const r of got) {
      have.set(key(r), (have.get(key(r)) ?? 0) + 1);
      // One event, one seq: across subscribers and chains (identical payloads are distinct
      // events only if their ids were reused; the key includes the unique data).
      const s = seqOf.get(key(r));
      if (s === undefined) seqOf.set(key(r), r.seq);
      else if (s !== r.seq)
        out.push({ name: 'seq-mismatch', detail: `sub ${k}: ${key(r)} seq ${r.seq} vs ${s}` });
    }
    for (const [kk, n] of want) {
      const h = have.get(kk) ?? 0;
      if (h < n) out.push({ name: 'missing', detail: `sub ${k}: ${kk} x${n - h}` });
      if (h > n) out.push({ name: 'duplicate', detail: `sub ${k}: ${kk} x${h - n}` });
    }
    for (const [kk] of have)
      if (!want.has(kk)) out.push({ name: 'foreign', detail: `sub ${k}: ${kk}` });
  });
  // Each emitter's events on one chain keep its program order in seq order.
  for (const [w, es] of emitted.entries()) {
    let last = -1;
    for (const e of es) {
      const s = seqOf.get(key(e));
      if (s === undefined) continue;
      if (s <= last)
        out.push({ name: 'program-order', detail: `emitter ${w}: ${key(e)} seq ${s} <= ${last}` });
      last = s;
    }
  }
  // Gating: for P ahead of S on one chain, S's read of seq d ended after P's read of d began.
  const ahead = (p: SubscriberSpec, s: SubscriberSpec) =>
    p.chain === s.chain && (p.prio > s.prio || (p.prio === s.prio && p.order < s.order));
  const start = reads.map((rs) => new Map(rs.map((r) => [r.seq, r.t0])));
  subs.forEach((s, k) => {
    subs.forEach((p, j) => {
      if (!ahead(p, s)) return;
      for (const r of reads[k]!) {
        const t0 = start[j]!.get(r.seq);
        if (t0 !== undefined && r.t1 < t0)
          out.push({
            name: 'gating',
            detail: `sub ${k} read seq ${r.seq} at ${r.t1}, before sub ${j} (ahead) began at ${t0}`,
          });
      }
    });
  });
  return out;
}
