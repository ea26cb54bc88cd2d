/**
 * Recovery after an actor's thread died (a terminated worker) or its process was killed:
 * `recoverThread` takes back what the thread held in the hardware buffer (ring slots it
 * claimed but never published, locks); `reapProcess` finishes what a dead process left
 * half-done (an alloc, a get, a put or a free whose record was not written) and then runs
 * its exit, as the kernel does for a killed process.
 *
 * ## Developer notes
 * The intents are resolved against the core with `inspect`, which is exact here: the only
 * holders of a host SVA PASID's references are its mm (the alloc reference, until exit) and
 * the IOMMU driver (one reference while the mm has bonds), and both belong to the dead
 * process until its exit runs. A free whose FREE notification the shim chain may or may not
 * have posted is posted again; the driver's handler is idempotent (it only marks bonds), but
 * the checker would count two notifications: a window of two statements that only the shim
 * has (the core's chain emits exactly once).
 *
 * @internal
 */
import { anyBondOf, bf, bondFree } from './bonds.js';
import { type Ring, ringTombstone } from './claim-ring.js';
import { Ev, logRing, RELOGGED } from './event-log.js';
import type { FreeChain } from './free-notifier.js';
import { HOLDER_HOST } from './guest-bonds.js';
import type { HwContext } from './hw-context.js';
import { HwErrno } from './hw-errno.js';
import {
  B_BIND,
  B_CLAIM,
  B_FLAGS,
  B_GEN,
  B_PASID,
  B_PF,
  B_STATE,
  B_TOKEN,
  BF_EXCEPTION,
  BF_HANDED_OVER,
  BS_BINDING,
  BS_DYING,
  BS_FREE,
  E_BIND,
  FREE_DONE,
  FREE_FREEING,
  H_SVA_SET,
  MM_CLAIM,
  MM_FREE_STATE,
  MM_GEN,
  MM_PASID,
  MM_PENDING_TICKET,
  MM_STATE,
  MM_SVM_REF,
  MM_TOKEN,
  MMS_ALIVE,
  MMS_DEAD,
  MMS_FREE,
  SVM_GETTING,
  SVM_HELD,
  SVM_NONE,
  SVM_PUTTING,
} from './hw-layout.js';
import { mmExit } from './iommu-driver.js';
import { bondOf, mmField, mmOfProcess } from './mm.js';
import { entryOf, entryPresent } from './pasid-table.js';
import { freeMmIfDone } from './teardown.js';
import { breakThreadLocks } from './thread-locks.js';
import { workRing } from './work-ring.js';

/**
 * Take back what the thread tagged `tag` held: tombstone its unpublished ring slots, break
 * its locks.
 *
 * Context: any attached thread, after the dead thread stopped.
 * @returns how many things were taken back
 */
export function recoverThread(hw: HwContext, tag: number, shim: Ring): number {
  let n = 0;
  const rings: Ring[] = [hw.qi, hw.prq, logRing(hw.logI32), shim, ...hw.wq.flat()];
  for (let vm = 0; vm < hw.g.shape.vm.vms; vm++) rings.push(workRing(hw, vm));
  for (const r of rings) n += ringTombstone(r, tag);
  return n + breakThreadLocks(hw, tag);
}

/**
 * Finish what the dead process in slot `pid` left half-done, then run its exit.
 *
 * Context: any attached thread, after the process's actor stopped, outside a read-side
 * section; never blocks.
 * @returns 0; -ESRCH no process in the slot
 */
export function reapProcess(hw: HwContext, pid: number, chain: FreeChain): number {
  const rec = mmOfProcess(hw, pid);
  sweepRecords(hw, pid, rec);
  if (rec < 0) return -HwErrno.ESRCH;
  const token = hw.ld(mmField(hw, rec, MM_TOKEN));
  sweepBonds(hw, rec);
  resolveAlloc(hw, rec, token);
  resolveDriverReference(hw, rec, token);
  resolveFree(hw, rec, token, chain);
  dropOrphanReference(hw, rec, token);
  relogBinds(hw, rec, token);
  const pasid = hw.ld(mmField(hw, rec, MM_PASID));
  const r = mmExit(hw, pid, chain, true);
  finishDeadTeardowns(hw, token, pasid);
  return r;
}

/**
 * Teardowns the dead process was driving (an unbind it had started, listed by its mm or
 * already unlinked at P7) go to the driver's workqueue. While the exit's free left the PASID
 * free-pending, the FREE notification the core owes the driver hands them over (`handleFree`
 * marks every dying bond of the PASID and token), as it does every teardown of an exited mm:
 * handing them over here too would let the workqueue drop the driver's reference, reclaiming
 * the PASID, before the driver read that notification (the core distributes lazily, so it may
 * be read late), and a FREE notification would reach the driver after the reclaim (INV-11).
 * They are marked as exit teardowns instead, so that a FREE lost to a queue overflow still
 * finds them (`handleLostFrees`). Otherwise no notification is coming (the driver's reference
 * was dropped already, or the PASID reclaimed or never freed): they are handed over now.
 */
function finishDeadTeardowns(hw: HwContext, token: number, pasid: number): void {
  const s = pasid !== 0 ? hw.space.inspect(pasid) : undefined;
  const notified = s?.state === 'free-pending' && s.data === token;
  for (let b = 0; b < hw.g.shape.bonds; b++)
    if (hw.ld(bf(hw, b, B_STATE)) === BS_DYING && hw.ld(bf(hw, b, B_TOKEN)) === token)
      Atomics.or(hw.i32, bf(hw, b, B_FLAGS), notified ? BF_EXCEPTION : BF_HANDED_OVER);
}

/**
 * Records the dead process claimed but never published (spawn cut short): free again; an
 * exited one whose last step (freeing it) was cut short: free it if nothing refers to it.
 */
function sweepRecords(hw: HwContext, pid: number, current: number): void {
  for (let rec = 0; rec < hw.g.shape.mmRecords; rec++) {
    if (rec === current || hw.ld(mmField(hw, rec, MM_CLAIM)) !== pid + 1) continue;
    const st = hw.ld(mmField(hw, rec, MM_STATE));
    if (st === MMS_FREE || st === MMS_ALIVE) {
      hw.st(mmField(hw, rec, MM_STATE), MMS_FREE);
      hw.st(mmField(hw, rec, MM_CLAIM), 0);
    } else if (st === MMS_DEAD) {
      freeMmIfDone(hw, rec);
    }
  }
}

/**
 * Bonds a bind of the dead process claimed but had not linked to its mm yet (STATE still
 * FREE while the claim fills it, then BINDING): free again.
 */
function sweepBonds(hw: HwContext, rec: number): void {
  for (let b = 0; b < hw.g.shape.bonds; b++) {
    if (hw.ld(bf(hw, b, B_CLAIM)) !== rec + 1) continue;
    const st = hw.ld(bf(hw, b, B_STATE));
    if (st !== BS_BINDING && st !== BS_FREE) continue;
    if (bondOf(hw, rec, hw.ld(bf(hw, b, B_PF))) === b) continue;
    bondFree(hw, b);
  }
}

/** An alloc whose result was not recorded: find the id by its data (the mm's token). */
function resolveAlloc(hw: HwContext, rec: number, token: number): void {
  const ticket = hw.ld(mmField(hw, rec, MM_PENDING_TICKET));
  if (ticket === 0 || hw.ld(mmField(hw, rec, MM_PASID)) !== 0) return;
  const set = hw.ld(H_SVA_SET);
  let found = 0;
  hw.space.setForEachIoasid(set, (id) => {
    if (found === 0 && hw.space.find(set, id) === token) found = id;
  });
  hw.st(mmField(hw, rec, MM_PENDING_TICKET), 0);
  if (found === 0) return;
  hw.st(mmField(hw, rec, MM_GEN), ticket);
  hw.st(mmField(hw, rec, MM_PASID), found);
  hw.log.emit(Ev.ALLOC, found, ticket, -1, token, 1);
}

/**
 * A bind that died after taking its reference (mm lifetime: the driver's; bind lifetime: the
 * PASID itself) and before a bond existed: nothing will ever drop it, so drop it here.
 */
function dropOrphanReference(hw: HwContext, rec: number, token: number): void {
  if (anyBondOf(hw, token)) return;
  for (let pf = 0; pf < hw.g.pf.length; pf++) if (bondOf(hw, rec, pf) >= 0) return;
  const pasid = hw.ld(mmField(hw, rec, MM_PASID));
  const gen = hw.ld(mmField(hw, rec, MM_GEN));
  if (pasid === 0) return;
  const ref = mmField(hw, rec, MM_SVM_REF);
  if (!hw.bindLifetime) {
    if (hw.ld(ref) !== SVM_HELD) return;
    hw.log.emit(Ev.PUT, pasid, gen, -1, token);
    hw.space.put(null, pasid);
    hw.st(ref, SVM_NONE);
    return;
  }
  const fs = mmField(hw, rec, MM_FREE_STATE);
  if (hw.ld(fs) === FREE_DONE) return;
  hw.st(fs, FREE_FREEING);
  hw.log.emit(Ev.FREE_CALL, pasid, gen, -1, token);
  hw.space.free(hw.ld(H_SVA_SET), pasid);
  hw.st(mmField(hw, rec, MM_PASID), 0);
  hw.st(fs, FREE_DONE);
}

/**
 * A bind that died around its BIND event (logged while the bond is BINDING, its entry
 * programmed): log it again; the checker ignores a BIND of the bond it already has.
 */
function relogBinds(hw: HwContext, rec: number, token: number): void {
  for (let pf = 0; pf < hw.g.pf.length; pf++) {
    const b = bondOf(hw, rec, pf);
    if (b < 0 || hw.ld(bf(hw, b, B_STATE)) !== BS_BINDING) continue;
    const pasid = hw.ld(bf(hw, b, B_PASID));
    const bind = hw.ld(bf(hw, b, B_BIND));
    const e = entryOf(hw, pf, pasid);
    if (bind === 0 || e < 0 || hw.ld(e + E_BIND) !== bind || !entryPresent(hw, pf, pasid)) continue;
    hw.log.emit(Ev.BIND, pasid, hw.ld(bf(hw, b, B_GEN)), pf, token, b, bind);
  }
}

/** References of the PASID other than the driver's: the mm's own, until it is freed. */
function othersRefs(hw: HwContext, rec: number): number {
  return hw.ld(mmField(hw, rec, MM_FREE_STATE)) === FREE_DONE ? 0 : 1;
}

/** A get or put of the driver's reference whose outcome was not recorded. */
function resolveDriverReference(hw: HwContext, rec: number, token: number): void {
  const ref = mmField(hw, rec, MM_SVM_REF);
  const st = hw.ld(ref);
  if (st !== SVM_GETTING && st !== SVM_PUTTING) return;
  const pasid = hw.ld(mmField(hw, rec, MM_PASID));
  const gen = hw.ld(mmField(hw, rec, MM_GEN));
  const held = hw.space.inspect(pasid).refs > othersRefs(hw, rec);
  // Either event may or may not have been appended before the thread died: logged again
  // (RELOGGED), which the checker ignores when it already counted it.
  if (st === SVM_GETTING) {
    if (held) hw.log.emit(Ev.GET, pasid, gen, -1, token, HOLDER_HOST, RELOGGED);
    hw.st(ref, held ? SVM_HELD : SVM_NONE);
    return;
  }
  // PUTTING and still held: the put did not happen (its PUT is appended before the call).
  if (held) {
    hw.log.emit(Ev.PUT, pasid, gen, -1, token, HOLDER_HOST, RELOGGED);
    hw.space.put(null, pasid);
  }
  hw.st(ref, SVM_NONE);
}

/**
 * An exit (or an undone bind) that died around its free: finish the free and post FREE. The
 * FREE_CALL is appended after FREEING is stored and before the free: not freed yet, the dead
 * thread may have died inside that append, so it is logged again (RELOGGED), which the checker
 * ignores when it already counted it. Freed, it was appended.
 */
function resolveFree(hw: HwContext, rec: number, token: number, chain: FreeChain): void {
  const fs = mmField(hw, rec, MM_FREE_STATE);
  if (hw.ld(fs) !== FREE_FREEING) return;
  const pasid = hw.ld(mmField(hw, rec, MM_PASID));
  const s = hw.space.inspect(pasid);
  const freed = s.state === 'free' || s.state === 'free-pending' || s.data !== token;
  if (!freed) {
    hw.log.emit(Ev.FREE_CALL, pasid, hw.ld(mmField(hw, rec, MM_GEN)), -1, token, 0, RELOGGED);
    hw.space.free(hw.ld(H_SVA_SET), pasid);
  }
  hw.st(fs, FREE_DONE);
  chain.afterFree(pasid, token, hw.ld(mmField(hw, rec, MM_SVM_REF)) !== SVM_NONE);
}
