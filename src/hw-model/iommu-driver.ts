/**
 * The host side of the IOMMU driver (§7.4 "Host SVA", spec b.2/b.3/e) and the bits of the
 * device driver that go with it (portal mapping, DWQ PASID programming): a consumer of the
 * `ioasid` core through its public API only.
 *
 * - `bindSva(pf, pid)`: the mm's PASID (allocated on its first bind, in the SVA set, with the
 *   mm's token as private data), the driver's reference while the mm has bonds (mm lifetime),
 *   a bond and a first-level entry (DID 1). Refcounted per (PF, mm).
 * - `unbindStart(pf, pid)`: the last unbind unlinks the bond (the PRQ thread stops resolving
 *   through it) and starts the teardown (teardown.ts), which the caller then steps.
 * - `mmExit(pid)`: the exception path: every portal unmapped (P0), every entry cleared with FPD
 *   (P2), then the mm's own reference freed. If the driver still holds its reference the core
 *   leaves the PASID free-pending and notifies FREE on the global chain; the driver's handler
 *   (`handleFree`, atomic context: it only marks) hands the bonds to its workqueue
 *   (`workqueueStep`), which finishes each teardown and drops the reference with the last.
 *
 * Every failure returns the errno of §7.7 with the hardware buffer as it was.
 *
 * @internal
 */
import { bf, bondClaim, bondUnclaim } from './bonds.js';
import { C } from './counters.js';
import { pfField, wqCfg, wqOccupancy } from './device.js';
import { Ev, PH_EXCEPTION, PH_FPD } from './event-log.js';
import type { FreeChain } from './free-notifier.js';
import type { HwContext } from './hw-context.js';
import { HwErrno } from './hw-errno.js';
import {
  B_BIND,
  B_FLAGS,
  B_GEN,
  B_MM,
  B_OWNER,
  B_PASID,
  B_PHASES,
  B_REFS,
  B_STATE,
  B_TOKEN,
  BF_EXCEPTION,
  BF_FPD,
  BF_HANDED_OVER,
  BOND_WORDS,
  BS_BINDING,
  BS_DYING,
  BS_FREE,
  BS_LIVE,
  FREE_DONE,
  FREE_FREEING,
  FREE_NONE,
  H_SVA_SET,
  isVmToken,
  L_TICKETS,
  MM_BOND,
  MM_DWQ,
  MM_FREE_STATE,
  MM_GEN,
  MM_PASID,
  MM_PENDING_TICKET,
  MM_PORTAL,
  MM_STATE,
  MM_SVM_REF,
  MM_TOKEN,
  MMS_ALIVE,
  MMS_DEAD,
  MMS_EXITING,
  P0_STOP_SUBMISSION,
  P2_ENTRY_CLEARED,
  PF_WIDTH,
  PGTT_FL_ONLY,
  PS_MM,
  processWord,
  QG_PASID_ALL,
  QT_IOTLB_PASID,
  QT_PASID_CACHE,
  SVA_DID,
  SVM_GETTING,
  SVM_HELD,
  SVM_NONE,
  WQ_FLAGS,
  WQ_GEN,
  WQ_MODE,
  WQ_OWNER,
  WQ_PASID,
  WQ_STATE,
  WQF_PASID_EN,
  WQM_DEDICATED,
  WQM_SHARED,
  WQS_DISABLING,
  WQS_ENABLED,
} from './hw-layout.js';
import { qiSubmit } from './inv-queue.js';
import { bondOf, clearMsrs, loadMsrs, mmField, mmOfProcess, recordOfToken } from './mm.js';
import { M_LOSE_FREE_NOTIFICATION, M_SKIP_BUSY_CHECK, M_SKIP_WIDTH_CHECK } from './mutations.js';
import { tableClear, tableProgram } from './pasid-table.js';
import { freeMmIfDone } from './teardown.js';

/** The words of the bond a bind claimed, to undo the claim (thread-local scratch). */
const savedBond = new Int32Array(BOND_WORDS);

function liveMm(hw: HwContext, pid: number): number {
  const rec = mmOfProcess(hw, pid);
  return rec >= 0 && hw.ld(mmField(hw, rec, MM_STATE)) === MMS_ALIVE ? rec : -1;
}

/**
 * Bind process `pid`'s mm to `pf` for SVA.
 *
 * Context: any attached thread (the process's actor); lock-free except the PF's table lock;
 * never blocks.
 * @returns the PASID (> 0); -ESRCH no live process; -EBUSY the bond is being torn down;
 * -EOVERFLOW the mm's PASID is too wide for the device; -ENOSPC/-EDQUOT/-ENOMEM from the
 * core's alloc; -ENOMEM no bond or PASID-table leaf left. On error the hardware buffer is
 * unchanged (an alloc made by this call is freed again).
 */
export function bindSva(hw: HwContext, pf: number, pid: number): number {
  const rec = liveMm(hw, pid);
  if (rec < 0) return failBind(hw, pf, -HwErrno.ESRCH, 0);
  const token = hw.ld(mmField(hw, rec, MM_TOKEN));
  const existing = bondOf(hw, rec, pf);
  if (existing >= 0 && hw.mutation !== M_SKIP_BUSY_CHECK) return bindAgain(hw, pf, existing, token);
  const width = hw.ld(pfField(hw, pf, PF_WIDTH));
  let pasid = hw.ld(mmField(hw, rec, MM_PASID));
  let gen = hw.ld(mmField(hw, rec, MM_GEN));
  const allocated = pasid === 0;
  if (allocated) {
    const max = 2 ** Math.min(width, hw.g.shape.pasidBits) - 1;
    pasid = allocPasid(hw, rec, token, max);
    if (pasid < 0) return failBind(hw, pf, pasid, token);
    gen = hw.ld(mmField(hw, rec, MM_GEN));
  } else if (pasid >= 2 ** width && hw.mutation !== M_SKIP_WIDTH_CHECK) {
    return failBind(hw, pf, -HwErrno.EOVERFLOW, token);
  }
  // The driver's reference before the bond: whenever a bond exists the PASID cannot be
  // reclaimed under it, even if this thread dies right after linking it.
  const tookRef = takeDriverReference(hw, rec, pasid, gen, token);
  if (tookRef < 0) return undoBind(hw, pf, rec, existing, -1, allocated, false, tookRef);
  const b = bondClaim(hw, pf, pasid, gen, rec, token, savedBond);
  if (b < 0) return undoBind(hw, pf, rec, existing, -1, allocated, tookRef === 1, -HwErrno.ENOMEM);
  hw.st(mmField(hw, rec, MM_BOND + pf), b + 1);
  const bind = Atomics.add(hw.logI32, L_TICKETS, 1) + 1;
  hw.st(bf(hw, b, B_BIND), bind);
  const r = tableProgram(
    hw,
    pf,
    pasid,
    { pgtt: PGTT_FL_ONLY, did: SVA_DID, s1: rec, binding: token, gen, bind },
    existing >= 0,
  );
  if (r < 0) return undoBind(hw, pf, rec, existing, b, allocated, tookRef === 1, r);
  if (hw.cachingMode) flushForCachingMode(hw, pasid);
  if (hw.bindLifetime && allocated) loadMsrs(hw, rec, pasid, gen);
  // Logged while the bond is still BINDING: a thread killed inside the append leaves it so,
  // and the reaper logs the BIND again (relogBinds). LIVE first, a kill there would lose the
  // event, and the checker would take this bond's teardown for the finished one of an earlier
  // bond of the same (PF, PASID, generation) (page requests "after its P6").
  hw.log.emit(Ev.BIND, pasid, gen, pf, token, b, bind);
  hw.st(bf(hw, b, B_STATE), BS_LIVE);
  hw.count(C.binds);
  return pasid;
}

/**
 * Caching mode (§7.4 bindSva): the new entry is announced with a PASID-cache and a PASID-IOTLB
 * invalidation (no wait: nothing can be cached for it yet). A full queue only loses the
 * announcement, which the model's IOMMU does not need.
 */
function flushForCachingMode(hw: HwContext, pasid: number): void {
  qiSubmit(hw, QT_PASID_CACHE | (1 << 4), pasid, SVA_DID, -1, -1, 0, 0);
  qiSubmit(hw, QT_IOTLB_PASID | (QG_PASID_ALL << 4), pasid, SVA_DID, -1, -1, 0, 0);
}

function bindAgain(hw: HwContext, pf: number, b: number, token: number): number {
  if (hw.ld(bf(hw, b, B_STATE)) !== BS_LIVE) return failBind(hw, pf, -HwErrno.EBUSY, token);
  const refs = hw.ld(bf(hw, b, B_REFS)) + 1;
  hw.st(bf(hw, b, B_REFS), refs);
  const pasid = hw.ld(bf(hw, b, B_PASID));
  hw.count(C.binds);
  hw.log.emit(Ev.BIND_REF, pasid, hw.ld(bf(hw, b, B_GEN)), pf, token, b, refs);
  return pasid;
}

function failBind(hw: HwContext, pf: number, err: number, token: number): number {
  hw.count(C.bindErrors);
  if (err === -HwErrno.ENOSPC) hw.count(C.bindEnospc);
  else if (err === -HwErrno.EDQUOT) hw.count(C.bindEdquot);
  else if (err === -HwErrno.EOVERFLOW) hw.count(C.bindEoverflow);
  hw.log.emit(Ev.BIND_FAIL, 0, 0, pf, err, token);
  return err;
}

/**
 * The mm's PASID: a ticket (its ghost generation) is recorded before the alloc, so that a
 * thread that dies between the alloc and the record leaves enough for recovery.
 */
function allocPasid(hw: HwContext, rec: number, token: number, max: number): number {
  const ticket = Atomics.add(hw.logI32, L_TICKETS, 1) + 1;
  hw.st(mmField(hw, rec, MM_PENDING_TICKET), ticket);
  const pasid = hw.space.alloc(hw.ld(H_SVA_SET), 1, max, token);
  if (pasid < 0) {
    hw.st(mmField(hw, rec, MM_PENDING_TICKET), 0);
    hw.log.emit(Ev.ALLOC_FAIL, 0, ticket, -1, pasid, token);
    return pasid;
  }
  // Logged before it is recorded: a thread killed in between leaves PENDING_TICKET set and
  // MM_PASID 0, and recovery logs it again (the checker ignores a repeated ALLOC); recorded
  // first, a kill could leave a PASID nobody logged.
  hw.log.emit(Ev.ALLOC, pasid, ticket, -1, token, 0);
  hw.st(mmField(hw, rec, MM_GEN), ticket);
  hw.st(mmField(hw, rec, MM_PASID), pasid);
  hw.st(mmField(hw, rec, MM_FREE_STATE), FREE_NONE);
  hw.st(mmField(hw, rec, MM_PENDING_TICKET), 0);
  return pasid;
}

/** mm lifetime: the driver's reference on the PASID while the mm has bonds. @returns 1 taken, 0 not needed, -errno */
function takeDriverReference(
  hw: HwContext,
  rec: number,
  pasid: number,
  gen: number,
  token: number,
): number {
  const ref = mmField(hw, rec, MM_SVM_REF);
  if (hw.bindLifetime || hw.ld(ref) !== SVM_NONE) return 0;
  hw.st(ref, SVM_GETTING);
  const r = hw.space.get(null, pasid);
  if (r < 0) {
    hw.st(ref, SVM_NONE);
    return r;
  }
  // Logged while still GETTING: a thread killed inside the append leaves GETTING, and
  // recovery logs the GET again (b = 1) if the core holds it; HELD first, a kill there would
  // lose the event and the reaper's PUT would look like a reclaim nobody took.
  hw.log.emit(Ev.GET, pasid, gen, -1, token);
  hw.st(ref, SVM_HELD);
  return 1;
}

/** Roll a failed bind back to the state before it. */
function undoBind(
  hw: HwContext,
  pf: number,
  rec: number,
  prevBond: number,
  b: number,
  allocated: boolean,
  tookRef: boolean,
  err: number,
): number {
  const pasid = hw.ld(mmField(hw, rec, MM_PASID));
  const gen = hw.ld(mmField(hw, rec, MM_GEN));
  const token = hw.ld(mmField(hw, rec, MM_TOKEN));
  if (tookRef) {
    hw.log.emit(Ev.PUT, pasid, gen, -1, token);
    hw.space.put(null, pasid);
    hw.st(mmField(hw, rec, MM_SVM_REF), SVM_NONE);
  }
  if (b >= 0) {
    // Back to the bond it had before (only a broken driver bound over one: skip-busy-check).
    Atomics.compareExchange(hw.i32, mmField(hw, rec, MM_BOND + pf), b + 1, prevBond + 1);
    bondUnclaim(hw, b, savedBond);
  }
  if (allocated) {
    hw.st(mmField(hw, rec, MM_FREE_STATE), FREE_FREEING);
    hw.log.emit(Ev.FREE_CALL, pasid, gen, -1, token);
    hw.space.free(hw.ld(H_SVA_SET), pasid);
    hw.st(mmField(hw, rec, MM_FREE_STATE), FREE_DONE);
    hw.st(mmField(hw, rec, MM_PASID), 0);
    hw.st(mmField(hw, rec, MM_GEN), 0);
    hw.st(mmField(hw, rec, MM_FREE_STATE), FREE_NONE);
  }
  return failBind(hw, pf, err, token);
}

/**
 * Unbind process `pid` from `pf`: drop one reference of the bond; the last one unlinks it and
 * starts its teardown, which the caller drives with `teardownStep(bond)` until TD_DONE.
 *
 * @param actor - id of the actor that will drive the teardown (recorded in the bond)
 *
 * Context: the process's actor; never blocks.
 * @returns the bond to tear down (>= 0); -1 when references remain (nothing to tear down);
 * -ESRCH no live process; -ENOENT not bound to `pf`; -EBUSY already being torn down
 */
export function unbindStart(hw: HwContext, pf: number, pid: number, actor: number): number {
  const rec = liveMm(hw, pid);
  if (rec < 0) return -HwErrno.ESRCH;
  const b = bondOf(hw, rec, pf);
  if (b < 0) return -HwErrno.ENOENT;
  if (hw.ld(bf(hw, b, B_STATE)) !== BS_LIVE) return -HwErrno.EBUSY;
  const refs = hw.ld(bf(hw, b, B_REFS)) - 1;
  const pasid = hw.ld(bf(hw, b, B_PASID));
  const gen = hw.ld(bf(hw, b, B_GEN));
  hw.count(C.unbinds);
  hw.log.emit(Ev.UNBIND, pasid, gen, pf, hw.ld(bf(hw, b, B_TOKEN)), b, refs);
  hw.st(bf(hw, b, B_REFS), refs);
  if (refs > 0) return -1;
  hw.st(bf(hw, b, B_OWNER), actor + 1);
  // Unlink (Linux's list_del_rcu of the sdev): from here the PRQ thread answers Invalid.
  hw.st(bf(hw, b, B_STATE), BS_DYING);
  return b;
}

/**
 * Process `pid` exits (or was killed): the exception path of §1.9 / §7.5.
 *
 * @param reaped - run by a reaper on behalf of a process whose actor died
 *
 * Context: the process's actor, or recovery; never blocks (teardowns continue in the
 * driver's workqueue). The process must not be driving a teardown of its own (an actor
 * finishes its unbind first; a reaper takes over whatever the dead one left).
 * @returns 0; -ESRCH no process in the slot
 */
export function mmExit(hw: HwContext, pid: number, chain: FreeChain, reaped: boolean): number {
  const ps = processWord(hw.g, pid);
  const rec = hw.ld(ps + PS_MM) - 1;
  if (rec < 0) return -HwErrno.ESRCH;
  const token = hw.ld(mmField(hw, rec, MM_TOKEN));
  const pasid = hw.ld(mmField(hw, rec, MM_PASID));
  const gen = hw.ld(mmField(hw, rec, MM_GEN));
  hw.count(C.mmExits);
  hw.log.emit(Ev.MM_EXIT, pasid, gen, -1, token, reaped ? 1 : 0);
  hw.st(mmField(hw, rec, MM_STATE), MMS_EXITING);
  clearMsrs(hw, rec);
  for (let pf = 0; pf < hw.g.pf.length; pf++) {
    hw.st(mmField(hw, rec, MM_PORTAL + pf), 0);
    hw.st(mmField(hw, rec, MM_DWQ + pf), 0);
    const b = bondOf(hw, rec, pf);
    if (b < 0) continue;
    exitBond(hw, pf, b);
  }
  if (pasid !== 0 && !hw.bindLifetime && hw.ld(mmField(hw, rec, MM_FREE_STATE)) !== FREE_DONE) {
    const pending = hw.ld(mmField(hw, rec, MM_SVM_REF)) !== SVM_NONE;
    // FREEING before the append: a thread killed inside it leaves FREEING, and the reaper
    // (resolveFree) logs the FREE_CALL again before it frees; the checker counts it once.
    hw.st(mmField(hw, rec, MM_FREE_STATE), FREE_FREEING);
    hw.log.emit(Ev.FREE_CALL, pasid, gen, -1, token);
    hw.space.free(hw.ld(H_SVA_SET), pasid);
    hw.st(mmField(hw, rec, MM_FREE_STATE), FREE_DONE);
    chain.afterFree(pasid, token, pending);
  }
  hw.st(mmField(hw, rec, MM_STATE), MMS_DEAD);
  hw.st(ps + PS_MM, 0);
  // Always, not only without bonds: the workqueue may have finished the last one before DEAD
  // was stored, when its own check could not free the record. Of the two checks (here after
  // DEAD, there after the bond is free) at least one sees both.
  freeMmIfDone(hw, rec);
  return 0;
}

/** One bond at exit: P0, P2 with FPD, and (bind lifetime) straight to the workqueue. */
function exitBond(hw: HwContext, pf: number, b: number): void {
  const st = hw.ld(bf(hw, b, B_STATE));
  if (st === BS_FREE) return;
  if (st === BS_LIVE || st === BS_BINDING) {
    hw.st(bf(hw, b, B_REFS), 0);
    hw.st(bf(hw, b, B_STATE), BS_DYING);
  }
  Atomics.or(hw.i32, bf(hw, b, B_FLAGS), BF_EXCEPTION);
  const done = hw.ld(bf(hw, b, B_PHASES));
  const pasid = hw.ld(bf(hw, b, B_PASID));
  const gen = hw.ld(bf(hw, b, B_GEN));
  // Each phase is logged before its bit is set (teardown.ts `complete`).
  if (!(done & (1 << P0_STOP_SUBMISSION))) {
    hw.log.emit(Ev.PHASE, pasid, gen, pf, P0_STOP_SUBMISSION, b, PH_EXCEPTION);
    Atomics.or(hw.i32, bf(hw, b, B_PHASES), 1 << P0_STOP_SUBMISSION);
  }
  if (!(done & (1 << P2_ENTRY_CLEARED))) {
    tableClear(hw, pf, pasid, true);
    Atomics.or(hw.i32, bf(hw, b, B_FLAGS), BF_FPD);
    hw.log.emit(Ev.PHASE, pasid, gen, pf, P2_ENTRY_CLEARED, b, PH_EXCEPTION | PH_FPD);
    Atomics.or(hw.i32, bf(hw, b, B_PHASES), 1 << P2_ENTRY_CLEARED);
  }
  hw.st(bf(hw, b, B_OWNER), 0);
  if (hw.bindLifetime) Atomics.or(hw.i32, bf(hw, b, B_FLAGS), BF_HANDED_OVER);
}

/**
 * The driver's FREE handler (atomic context: marks only): hand the bonds of `pasid` still
 * owned by the mm named by `data` to the workqueue.
 *
 * Context: the thread reading the chain; never blocks.
 * @returns bonds handed over
 */
export function handleFree(hw: HwContext, pasid: number, data: number, fromCore: boolean): number {
  if (hw.mutation === M_LOSE_FREE_NOTIFICATION) return 0;
  if (pasid < 0) return handleLostFrees(hw);
  // A VM's PASID: its guest bonds are torn down by the VM's consumers (vm-kernel.ts).
  if (isVmToken(data)) return 0;
  const rec = recordOfToken(data);
  const gen =
    rec < hw.g.shape.mmRecords && hw.ld(mmField(hw, rec, MM_TOKEN)) === data
      ? hw.ld(mmField(hw, rec, MM_GEN))
      : 0;
  hw.log.emit(Ev.NOTIFY_FREE, pasid, gen, -1, data, fromCore ? 0 : 1);
  let n = 0;
  for (let b = 0; b < hw.g.shape.bonds; b++) {
    if (hw.ld(bf(hw, b, B_STATE)) !== BS_DYING) continue;
    if (hw.ld(bf(hw, b, B_PASID)) !== pasid || hw.ld(bf(hw, b, B_TOKEN)) !== data) continue;
    Atomics.or(hw.i32, bf(hw, b, B_FLAGS), BF_HANDED_OVER);
    n++;
  }
  return n;
}

/**
 * FREE notifications were lost (the chain's queue overflowed): hand over every bond of an
 * exited mm that still waits for one. The mm's exit took the bond off its process first, so
 * nothing else drives it.
 */
function handleLostFrees(hw: HwContext): number {
  let n = 0;
  for (let b = 0; b < hw.g.shape.bonds; b++) {
    if (hw.ld(bf(hw, b, B_STATE)) !== BS_DYING) continue;
    const flags = hw.ld(bf(hw, b, B_FLAGS));
    if (!(flags & BF_EXCEPTION) || flags & BF_HANDED_OVER) continue;
    const rec = hw.ld(bf(hw, b, B_MM));
    const st = hw.ld(mmField(hw, rec, MM_STATE));
    if (hw.ld(mmField(hw, rec, MM_TOKEN)) === hw.ld(bf(hw, b, B_TOKEN)) && st === MMS_ALIVE)
      continue;
    Atomics.or(hw.i32, bf(hw, b, B_FLAGS), BF_HANDED_OVER);
    n++;
  }
  return n;
}

/** True when bond `b` waits for the driver's workqueue. */
export function handedOver(hw: HwContext, b: number): boolean {
  return (
    hw.ld(bf(hw, b, B_STATE)) === BS_DYING && (hw.ld(bf(hw, b, B_FLAGS)) & BF_HANDED_OVER) !== 0
  );
}

/**
 * Map the portal of shared WQ `w` of `pf` into process `pid` (mmap of the WQ's device file).
 *
 * Context: the process's actor; never blocks.
 * @returns 0; -ESRCH no live process; -ENOENT not bound to `pf`; -EINVAL not a shared WQ
 */
export function mapPortal(hw: HwContext, pf: number, pid: number, w: number): number {
  const rec = liveMm(hw, pid);
  if (rec < 0) return -HwErrno.ESRCH;
  const b = bondOf(hw, rec, pf);
  if (b < 0 || hw.ld(bf(hw, b, B_STATE)) !== BS_LIVE) return -HwErrno.ENOENT;
  if (hw.ld(wqCfg(hw, pf, w, WQ_MODE)) !== WQM_SHARED) return -HwErrno.EINVAL;
  Atomics.or(hw.i32, mmField(hw, rec, MM_PORTAL + pf), 1 << w);
  return 0;
}

/**
 * Open a dedicated WQ of `pf` for process `pid`: WQCFG.pasid = the mm's PASID (idxd's
 * set_pasid with the WQ idle), then its portal is mapped.
 *
 * Context: the process's actor; lock-free (a CAS on the WQ's owner).
 * @returns the WQ index; -ESRCH; -ENOENT not bound to `pf`; -EBUSY no idle unowned DWQ
 */
export function dwqOpen(hw: HwContext, pf: number, pid: number): number {
  const rec = liveMm(hw, pid);
  if (rec < 0) return -HwErrno.ESRCH;
  const b = bondOf(hw, rec, pf);
  if (b < 0 || hw.ld(bf(hw, b, B_STATE)) !== BS_LIVE) return -HwErrno.ENOENT;
  const token = hw.ld(mmField(hw, rec, MM_TOKEN));
  const n = hw.g.pf[pf]!.wqCfg.length;
  for (let w = 0; w < n; w++) {
    if (hw.ld(wqCfg(hw, pf, w, WQ_MODE)) !== WQM_DEDICATED) continue;
    if (hw.ld(wqCfg(hw, pf, w, WQ_STATE)) === WQS_DISABLING || wqOccupancy(hw, pf, w) !== 0)
      continue;
    if (Atomics.compareExchange(hw.i32, wqCfg(hw, pf, w, WQ_OWNER), 0, token) !== 0) continue;
    const pasid = hw.ld(bf(hw, b, B_PASID));
    const gen = hw.ld(bf(hw, b, B_GEN));
    hw.st(wqCfg(hw, pf, w, WQ_PASID), pasid);
    hw.st(wqCfg(hw, pf, w, WQ_GEN), gen);
    hw.st(wqCfg(hw, pf, w, WQ_FLAGS), WQF_PASID_EN);
    hw.st(wqCfg(hw, pf, w, WQ_STATE), WQS_ENABLED);
    hw.log.emit(Ev.WQ_PROGRAM, pasid, gen, pf, w, b);
    Atomics.or(hw.i32, mmField(hw, rec, MM_DWQ + pf), 1 << w);
    Atomics.or(hw.i32, mmField(hw, rec, MM_PORTAL + pf), 1 << w);
    return w;
  }
  return -HwErrno.EBUSY;
}
