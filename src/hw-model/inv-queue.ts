/**
 * Queued invalidation (§1.7): any thread queues 256-bit descriptors into the ring; the IOMMU
 * engine applies them strictly in order under the IOMMU lock. A wait descriptor with SW
 * writes its value into a status word when every descriptor before it has been applied (FN
 * is implied: the model applies one descriptor at a time). A page-request drain (PD) needs
 * nothing more here: page requests enter the PRQ synchronously and page responses are
 * delivered by this same in-order loop, so at a wait every response queued before it has
 * reached its device. Page group responses travel this queue too (type 0x9).
 *
 * @internal
 */

import { devTlbInvalidate, iotlbInvalidate, pcInvalidate } from './caches.js';
import {
  RING_FULL,
  type Ring,
  ringClaim,
  ringPeek,
  ringPublish,
  ringRelease,
  ringSlot,
} from './claim-ring.js';
import { C } from './counters.js';
import { prgDeliver } from './device.js';
import { Ev } from './event-log.js';
import type { HwContext } from './hw-context.js';
import { HwErrno } from './hw-errno.js';
import {
  FSTS_IQE,
  IOMMU_LOCK,
  QD_ARG,
  QD_AUX1,
  QD_AUX2,
  QD_DID,
  QD_HDR,
  QD_PASID,
  QD_PF,
  QF_SW,
  QG_PAGE,
  QI_FSTS,
  QT_DEVTLB_PASID,
  QT_IOTLB_PASID,
  QT_PAGE_RESPONSE,
  QT_PASID_CACHE,
  QT_WAIT,
} from './hw-layout.js';
import { lockGive, lockTake } from './owner-lock.js';

/**
 * Queue one descriptor.
 *
 * @param hdr - type | granularity << 4 | flags (hw-layout QT_*, QG_*, QF_*)
 *
 * Context: any attached thread; lock-free; never blocks.
 * @returns the queue position (>= 0); -EAGAIN the queue is full (nothing queued)
 */
export function qiSubmit(
  hw: HwContext,
  hdr: number,
  pasid: number,
  did: number,
  pf: number,
  arg: number,
  aux1: number,
  aux2: number,
): number {
  const r = hw.qi;
  const pos = ringClaim(r, r.size, hw.tag);
  if (pos === RING_FULL) return -HwErrno.EAGAIN;
  const w = ringSlot(r, pos);
  hw.st(w + QD_HDR, hdr);
  hw.st(w + QD_PASID, pasid);
  hw.st(w + QD_DID, did);
  hw.st(w + QD_PF, pf);
  hw.st(w + QD_ARG, arg);
  hw.st(w + QD_AUX1, aux1);
  hw.st(w + QD_AUX2, aux2);
  ringPublish(r, pos, hw.tag);
  return pos;
}

/** Free slots in the invalidation queue (stale on return). */
export function qiRoom(hw: HwContext): number {
  const r: Ring = hw.qi;
  return r.size - ((Atomics.load(r.i32, r.meta + 1) - Atomics.load(r.i32, r.meta)) | 0);
}

/**
 * Apply up to `max` queued descriptors in order (the IOMMU engine's step).
 *
 * Context: any attached thread; takes the IOMMU lock, which makes it the one consumer.
 * @returns descriptors applied (bad ones, which set FSTS.IQE, included)
 */
export function processInvQueue(hw: HwContext, max: number): number {
  lockTake(hw.i32, IOMMU_LOCK, hw.tag);
  let n = 0;
  while (n < max) {
    const pos = ringPeek(hw.qi);
    if (pos < 0) break;
    apply(hw, ringSlot(hw.qi, pos));
    ringRelease(hw.qi, pos);
    n++;
  }
  lockGive(hw.i32, IOMMU_LOCK);
  return n;
}

function apply(hw: HwContext, w: number): void {
  const hdr = hw.ld(w + QD_HDR);
  const type = hdr & 0xf;
  const pasid = hw.ld(w + QD_PASID);
  const pf = hw.ld(w + QD_PF);
  const arg = hw.ld(w + QD_ARG);
  const aux1 = hw.ld(w + QD_AUX1);
  switch (type) {
    case QT_PASID_CACHE:
      pcInvalidate(hw, pasid);
      hw.count(C.invPasidCache);
      hw.log.emit(Ev.INV_DONE, pasid, aux1, pf, type);
      return;
    case QT_IOTLB_PASID:
      iotlbInvalidate(hw, pasid, ((hdr >>> 4) & 3) === QG_PAGE ? arg : -1);
      hw.count(C.invIotlb);
      hw.log.emit(Ev.INV_DONE, pasid, aux1, pf, type);
      return;
    case QT_DEVTLB_PASID:
      if (pf >= 0 && pf < hw.g.pf.length) {
        devTlbInvalidate(hw, pf, pasid, ((hdr >>> 4) & 3) === QG_PAGE ? arg : -1);
        hw.count(C.invDevTlb);
        hw.log.emit(Ev.INV_DONE, pasid, aux1, pf, type);
        return;
      }
      break;
    case QT_WAIT:
      hw.count(C.invWait);
      if (!(hdr & QF_SW)) return;
      if (arg >= 0 && arg < hw.g.totalWords) {
        // Publishes completion of everything before it; pairs with the waiter's load.
        hw.st(arg, aux1);
        Atomics.notify(hw.i32, arg);
        return;
      }
      break;
    case QT_PAGE_RESPONSE:
      if (pf >= 0 && pf < hw.g.pf.length) {
        hw.count(C.invPageResponse);
        prgDeliver(hw, pf, arg, pasid, hw.ld(w + QD_DID), aux1, hw.ld(w + QD_AUX2));
        return;
      }
      break;
  }
  Atomics.or(hw.i32, QI_FSTS, FSTS_IQE);
}
