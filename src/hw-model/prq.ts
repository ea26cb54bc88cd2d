/**
 * Page requests (§1.8, §5): the IOMMU writes a device's page request into the PRQ (or, when
 * it is full, sets PRS.PRO and answers the request itself with Success so that the device
 * retries); the PRQ thread services the queue in two steps with an RCU read-side section
 * spanning them: `prqBegin` looks the PASID up in the core (`find`, its data is the mm's
 * token), checks the mm is alive ("mmget_not_zero") and finds the bond of (PF, mm), and
 * decides; `prqFinish` re-reads the bond's stamp (a change means the bond was recycled under
 * the reader: INV-15), queues the page group response through the invalidation queue,
 * leaves the section and only then releases the PRQ slot. A teardown's drain (P6) waits
 * until no entry of its (PF, PASID) is left between HEAD and TAIL, so every response to a
 * request of that PASID is queued before the drain's wait descriptor.
 *
 * @internal
 */

import { bf } from './bonds.js';
import {
  RING_FULL,
  ringClaim,
  ringCount,
  ringIsPublished,
  ringPeek,
  ringPublish,
  ringRelease,
  ringSlot,
} from './claim-ring.js';
import { C } from './counters.js';
import { Ev, PR_OVERFLOW, PR_STOP } from './event-log.js';
import type { HwContext } from './hw-context.js';
import {
  B_PASID,
  B_PF,
  B_STAMP,
  B_STATE,
  B_TOKEN,
  BS_FREE,
  BS_LIVE,
  G_RESP,
  G_STATE,
  H_SVA_SET,
  MM_STATE,
  MM_TOKEN,
  MMS_ALIVE,
  PQ_GEN,
  PQ_HDR,
  PQ_PAGE,
  PQ_PASID,
  PQ_PF,
  PQ_SLOT,
  PQH_INDEX_SHIFT,
  PQH_LPIG,
  PQH_STOP,
  PRG_ANSWERED,
  PRG_WAITING,
  PRG_WORDS,
  PRQ_LOCK,
  PRQ_PRS,
  PRS_PPR,
  PRS_PRO,
  QT_PAGE_RESPONSE,
  RESP_INVALID,
  RESP_SUCCESS,
} from './hw-layout.js';
import { qiSubmit } from './inv-queue.js';
import { bondOf, mapPage, mmField, recordOfToken } from './mm.js';
import { lockGive, lockTry } from './owner-lock.js';

/**
 * A device's page request (or, with `stop`, a Stop Marker) reaches the IOMMU.
 *
 * @param slot - the PF's PRG slot the requesting descriptor waits in (-1 for a stop marker)
 *
 * Context: a device engine (any attached thread); lock-free.
 * @returns true when queued; false when the PRQ was full (PRO set; a request was answered
 * Success by the IOMMU itself, a stop marker dropped)
 */
export function pageRequest(
  hw: HwContext,
  pf: number,
  pasid: number,
  gen: number,
  page: number,
  index: number,
  slot: number,
  stop: boolean,
): boolean {
  const r = hw.prq;
  const pos = ringClaim(r, r.size, hw.tag);
  if (pos === RING_FULL) {
    Atomics.or(hw.i32, PRQ_PRS, PRS_PRO);
    hw.count(C.pageRequestsOverflow);
    hw.log.emit(Ev.PAGE_REQ, pasid, gen, pf, index, slot, PR_OVERFLOW | (stop ? PR_STOP : 0));
    if (!stop && slot >= 0) autoRespond(hw, pf, slot);
    return false;
  }
  const w = ringSlot(r, pos);
  hw.st(w + PQ_HDR, (stop ? PQH_STOP : PQH_LPIG) | (index << PQH_INDEX_SHIFT));
  hw.st(w + PQ_PASID, pasid);
  hw.st(w + PQ_GEN, gen);
  hw.st(w + PQ_PAGE, page);
  hw.st(w + PQ_PF, pf);
  hw.st(w + PQ_SLOT, slot);
  hw.count(stop ? C.stopMarkers : C.pageRequests);
  // Logged before the entry becomes visible to the PRQ thread (log-order rule).
  hw.log.emit(Ev.PAGE_REQ, pasid, gen, pf, index, slot, stop ? PR_STOP : 0);
  ringPublish(r, pos, hw.tag);
  Atomics.or(hw.i32, PRQ_PRS, PRS_PPR);
  return true;
}

/** [R] VT-d answers a request it cannot queue with Success, so the device simply retries. */
function autoRespond(hw: HwContext, pf: number, slot: number): void {
  const g = hw.g.pf[pf]!.prgBase + slot * PRG_WORDS;
  hw.st(g + G_RESP, RESP_SUCCESS);
  Atomics.compareExchange(hw.i32, g + G_STATE, PRG_WAITING, PRG_ANSWERED);
}

/** The PRQ thread's work on one entry, between `prqBegin` and `prqFinish`. */
export interface PrqJob {
  pos: number;
  pf: number;
  pasid: number;
  gen: number;
  index: number;
  slot: number;
  stop: boolean;
  resp: number;
  /** Bonds walked inside the read-side section and their stamps then (pairs). */
  walked: number[];
  inRead: boolean;
}

/**
 * Take the entry at the PRQ's head and decide its response inside an RCU read-side section
 * that stays open until `prqFinish`.
 *
 * Context: the PRQ thread (one consumer: holds the PRQ lock until prqFinish); never blocks.
 * @returns the job, or null when the queue is empty or another consumer holds it
 */
export function prqBegin(hw: HwContext): PrqJob | null {
  if (!lockTry(hw.i32, PRQ_LOCK, hw.tag)) return null;
  const pos = ringPeek(hw.prq);
  if (pos < 0) {
    lockGive(hw.i32, PRQ_LOCK);
    return null;
  }
  const w = ringSlot(hw.prq, pos);
  const hdr = hw.ld(w + PQ_HDR);
  const job: PrqJob = {
    pos,
    pf: hw.ld(w + PQ_PF),
    pasid: hw.ld(w + PQ_PASID),
    gen: hw.ld(w + PQ_GEN),
    index: hdr >>> PQH_INDEX_SHIFT,
    slot: hw.ld(w + PQ_SLOT),
    stop: (hdr & PQH_STOP) !== 0,
    resp: RESP_INVALID,
    walked: [],
    inRead: false,
  };
  if (job.stop) return job;
  hw.rcu.readLock();
  job.inRead = true;
  resolve(hw, job, hw.ld(w + PQ_PAGE));
  return job;
}

/** Inside the read-side section: find the owner and its bond, handle the fault. */
function resolve(hw: HwContext, job: PrqJob, page: number): void {
  const token = hw.space.find(hw.ld(H_SVA_SET), job.pasid);
  if (token <= 0) return;
  const rec = recordOfToken(token);
  if (rec >= hw.g.shape.mmRecords) return;
  // The getter of Linux's lookup: the mm must still be this one and alive.
  if (hw.ld(mmField(hw, rec, MM_TOKEN)) !== token) return;
  if (hw.ld(mmField(hw, rec, MM_STATE)) !== MMS_ALIVE) return;
  // Walk the mm's bonds as Linux walks svm->devs (list_for_each_entry_rcu) for the requester.
  let b = -1;
  for (let pf = 0; pf < hw.g.pf.length; pf++) {
    const x = bondOf(hw, rec, pf);
    if (x < 0) continue;
    job.walked.push(x, hw.ld(bf(hw, x, B_STAMP)));
    if (hw.ld(bf(hw, x, B_PF)) === job.pf) b = x;
  }
  if (b < 0) return;
  if (hw.ld(bf(hw, b, B_STATE)) !== BS_LIVE) return;
  if (hw.ld(bf(hw, b, B_TOKEN)) !== token || hw.ld(bf(hw, b, B_PASID)) !== job.pasid) return;
  if (page < 0 || page >= hw.g.shape.pagesPerMm) return;
  mapPage(hw, rec, page);
  job.resp = RESP_SUCCESS;
}

/**
 * Finish a job: check the bond was not recycled under the reader, queue the page group
 * response, leave the read-side section, release the PRQ slot, clear PPR/PRO when empty.
 *
 * Context: the thread that called prqBegin; never blocks.
 * @returns false when the invalidation queue is full (nothing changed: call again)
 */
export function prqFinish(hw: HwContext, job: PrqJob): boolean {
  let rcuOk = 1;
  for (let i = 0; i < job.walked.length; i += 2) {
    const b = job.walked[i]!;
    if (hw.ld(bf(hw, b, B_STATE)) === BS_FREE || hw.ld(bf(hw, b, B_STAMP)) !== job.walked[i + 1])
      rcuOk = 0;
  }
  if (!job.stop) {
    const q = qiSubmit(
      hw,
      QT_PAGE_RESPONSE,
      job.pasid,
      job.index,
      job.pf,
      job.slot,
      job.gen,
      job.resp,
    );
    if (q < 0) return false;
    hw.count(job.resp === RESP_SUCCESS ? C.responsesSuccess : C.responsesInvalid);
  }
  if (job.inRead) hw.rcu.readUnlock();
  job.inRead = false;
  // Logged before the slot is released: a drain that sees the slot gone sees this event first.
  hw.log.emit(Ev.PRQ_SERVICE, job.pasid, job.gen, job.pf, job.index, job.resp, rcuOk);
  ringRelease(hw.prq, job.pos);
  if (ringCount(hw.prq) === 0) Atomics.and(hw.i32, PRQ_PRS, ~(PRS_PPR | PRS_PRO));
  lockGive(hw.i32, PRQ_LOCK);
  return true;
}

/**
 * Service up to `max` entries (begin and finish back to back).
 *
 * Context: any attached thread, outside a read-side section; never blocks.
 * @returns entries serviced
 */
export function prqService(hw: HwContext, max: number): number {
  let n = 0;
  while (n < max) {
    const job = prqBegin(hw);
    if (!job) break;
    if (!prqFinish(hw, job)) {
      abandonJob(hw, job);
      break;
    }
    n++;
  }
  return n;
}

/** Leave a job unfinished (the entry stays at the head for the next service). */
export function abandonJob(hw: HwContext, job: PrqJob): void {
  if (job.inRead) hw.rcu.readUnlock();
  job.inRead = false;
  lockGive(hw.i32, PRQ_LOCK);
}

/**
 * True when an entry of (pf, pasid) is still in the PRQ (an unpublished entry counts, its
 * contents unknown).
 *
 * Context: any thread; lock-free; stale on return, but no new entry of a PASID can appear
 * once its device stopped (P1).
 */
export function prqPending(hw: HwContext, pf: number, pasid: number): boolean {
  const r = hw.prq;
  const head = Atomics.load(r.i32, r.meta);
  const n = ringCount(r);
  for (let i = 0; i < n; i++) {
    const pos = (head + i) | 0;
    if (!ringIsPublished(r, pos)) return true;
    const w = ringSlot(r, pos);
    if (hw.ld(w + PQ_PF) === pf && hw.ld(w + PQ_PASID) === pasid) return true;
  }
  return false;
}

/** PRS.PRO: the PRQ overflowed since the PRQ thread last emptied it. */
export function prqOverflowed(hw: HwContext): boolean {
  return (hw.ld(PRQ_PRS) & PRS_PRO) !== 0;
}
