/**
 * The VDCM (iommu-hw-model.md §2.5, §7.4 guestProgramWq / guestMdevClear): the idxd mdev
 * driver that emulates a virtual DSA for each mdev, a consumer of the VM's set at priority
 * DEVICE.
 *
 * - program: the guest writes a guest PASID into its mdev (a vDWQ's WQCFG, or the PASID it
 *   enables on its vSWQ portal): the VDCM looks the host PASID up by SPID in the VM's set,
 *   taking a reference (b.3's 4th), and records it in one of the mdev's PASID slots; a DWQ's
 *   real WQCFG gets the host PASID (one at a time) and the WQ is enabled: the guest's
 *   MOVDIR64B descriptors carry no PASID, the device runs them with WQCFG's (guest-dwq.ts).
 * - clear (guestMdevClear): drain each slot's PASID on the mdev's WQ (a DWQ: disable the WQ,
 *   which drains it and stops taking descriptors), clear it, put.
 * - on UNBIND or FREE of a PASID (its handler queues, the work runs after KVM's epoch wait):
 *   P1 of every bond of the PASID (Drain PASID on the PF: the SWQ is shared with other VMs,
 *   whose PASIDs keep flowing), then every slot holding it is cleared and put.
 *
 * @internal
 */
import { bf } from './bonds.js';
import {
  commandOp,
  commandPost,
  commandRelease,
  commandRepublish,
  commandStatus,
  wqCfg,
  wqOccupancy,
} from './device.js';
import { Ev, PH_DEVICE, RELOGGED } from './event-log.js';
import { HOLDER_VDCM } from './guest-bonds.js';
import { teardownsBond, unbindTarget, underVmmLock } from './guest-iommu.js';
import type { HwContext } from './hw-context.js';
import { HwErrno } from './hw-errno.js';
import {
  B_PHASES,
  B_STATE,
  BS_FREE,
  CMD_DISABLE_WQ,
  CMD_DRAIN_PASID,
  CMD_OWNER_VDCM,
  CMDS_PENDING,
  MD_PF,
  MD_SLOT_COUNT,
  MD_SLOT_WORDS,
  MD_SLOTS,
  MD_TYPE,
  MD_WQ,
  MDT_DWQ,
  P0_STOP_SUBMISSION,
  P1_DEVICE_QUIESCED,
  REF_GETTING,
  REF_HELD,
  REF_NONE,
  REF_PUTTING,
  SL_GEN,
  SL_PASID,
  SL_STATE,
  VM_STATE,
  VMS_RUNNING,
  VP_GEN,
  WK_ARG,
  WK_AUX,
  WK_GEN,
  WK_PASID,
  WK_SUB,
  WORK_VDCM_CLEAR,
  WQ_FLAGS,
  WQ_GEN,
  WQ_PASID,
  WQ_STATE,
  WQF_PASID_EN,
  WQS_DISABLED,
  WQS_ENABLED,
} from './hw-layout.js';
import { complete, quiesceStep, TD_BLOCKED, TD_DONE, TD_PROGRESS } from './teardown.js';
import {
  mdevField,
  mdevsOf,
  recordBond,
  recordOfGeneration,
  recordOfPasid,
  vmField,
  vmSet,
  vmTokenOf,
  vpField,
} from './vm.js';
import { NOTIFY_FREE, NOTIFY_OVERFLOW, NOTIFY_UNBIND, type VmNotification } from './vm-chain.js';
import { unrecordedRef } from './vm-refs.js';
import { wk, wkSet, workQueue } from './work-ring.js';

/** Word of field `f` of PASID slot `s` of mdev `m`. */
function slot(hw: HwContext, m: number, s: number, f: number): number {
  return mdevField(hw, m, MD_SLOTS + s * MD_SLOT_WORDS + f);
}

/**
 * The guest programs guest PASID `g` into mdev `mdev` of VM `vm`.
 *
 * Context: the VMM's thread (the guest's MMIO write trapped: under the VM's VMM lock, as its
 * other trapped operations); never blocks for long.
 * @returns the host PASID (> 0); -ESRCH VM not running; -ENOENT no PASID of the VM has that
 * SPID (the guest sees a virtual SWERR / enable error); -EBUSY the PASID is being freed;
 * -ENOSPC every slot of the mdev is in use; -EEXIST already programmed. Nothing changes on
 * error.
 */
export function vdcmProgram(hw: HwContext, vm: number, mdev: number, g: number): number {
  return underVmmLock(hw, vm, () => programLocked(hw, vm, mdev, g));
}

/**
 * vdcmProgram under the VMM lock. The reference is taken in three recorded steps: the slot
 * names (pasid, gen) and is GETTING before the core's get, its GET is logged, then it is
 * HELD; a reaper finishes a slot left GETTING (vdcmResolveSlots). Under the VMM lock nothing
 * frees the VM's PASIDs, so the PASID found by SPID is still the one the get takes.
 */
function programLocked(hw: HwContext, vm: number, mdev: number, g: number): number {
  const set = vmSet(hw, vm);
  if (set < 0 || hw.ld(vmField(hw, vm, VM_STATE)) !== VMS_RUNNING) return -HwErrno.ESRCH;
  let free = -1;
  for (let s = 0; s < MD_SLOT_COUNT; s++) {
    const st = hw.ld(slot(hw, mdev, s, SL_STATE));
    if (st === REF_NONE && free < 0) free = s;
  }
  if (free < 0) return -HwErrno.ENOSPC;
  const pf = hw.ld(mdevField(hw, mdev, MD_PF));
  const w = hw.ld(mdevField(hw, mdev, MD_WQ));
  const dwq = hw.ld(mdevField(hw, mdev, MD_TYPE)) === MDT_DWQ;
  // A DWQ runs one PASID (WQCFG's): programmed only while idle and disabled.
  if (dwq && (free > 0 || hw.ld(wqCfg(hw, pf, w, WQ_STATE)) !== WQS_DISABLED))
    return -HwErrno.EBUSY;
  if (dwq && wqOccupancy(hw, pf, w) !== 0) return -HwErrno.EBUSY;
  const pasid = hw.space.findBySpid(set, g, false);
  if (pasid < 0) return -HwErrno.ENOENT;
  if (mdevHolds(hw, mdev, pasid)) return -HwErrno.EEXIST;
  const r = recordOfPasid(hw, vm, pasid);
  const gen = r >= 0 ? hw.ld(vpField(hw, vm, r, VP_GEN)) : 0;
  const token = vmTokenOf(hw, vm);
  hw.st(slot(hw, mdev, free, SL_STATE), REF_GETTING);
  hw.st(slot(hw, mdev, free, SL_PASID), pasid);
  hw.st(slot(hw, mdev, free, SL_GEN), gen);
  const e = hw.space.get(set, pasid);
  if (e < 0) {
    hw.st(slot(hw, mdev, free, SL_STATE), REF_NONE);
    return e === -HwErrno.EBUSY ? e : -HwErrno.ENOENT;
  }
  hw.log.emit(Ev.GET, pasid, gen, slotKey(mdev, free), token, HOLDER_VDCM);
  hw.st(slot(hw, mdev, free, SL_STATE), REF_HELD);
  if (dwq) {
    hw.st(wqCfg(hw, pf, w, WQ_GEN), gen);
    hw.st(wqCfg(hw, pf, w, WQ_PASID), pasid);
    hw.st(wqCfg(hw, pf, w, WQ_FLAGS), WQF_PASID_EN);
  }
  hw.log.emit(Ev.MDEV_PROGRAM, pasid, gen, pf, mdev, token, free);
  // Last, after the log: nothing runs with the new WQCFG before the checker knows it.
  if (dwq) hw.st(wqCfg(hw, pf, w, WQ_STATE), WQS_ENABLED);
  return pasid;
}

/**
 * The VDCM's GET and PUT events name the slot in their `pf` operand: a reaper's repeat of
 * one is counted once per slot (the VDCM may hold several references on one PASID).
 */
function slotKey(m: number, s: number): number {
  return m * MD_SLOT_COUNT + s;
}

/** True when mdev `m` has PASID `pasid` programmed (the VDCM let the guest use it there). */
export function mdevHolds(hw: HwContext, m: number, pasid: number): boolean {
  for (let s = 0; s < MD_SLOT_COUNT; s++)
    if (hw.ld(slot(hw, m, s, SL_STATE)) === REF_HELD && hw.ld(slot(hw, m, s, SL_PASID)) === pasid)
      return true;
  return false;
}

/** Slots of mdev `m` in use. */
export function mdevSlotsHeld(hw: HwContext, m: number): number {
  let n = 0;
  for (let s = 0; s < MD_SLOT_COUNT; s++) if (hw.ld(slot(hw, m, s, SL_STATE)) === REF_HELD) n++;
  return n;
}

/** Clear slot `s` of mdev `m`: WQCFG of a DWQ, then the VDCM's put (logged first). */
function releaseSlot(hw: HwContext, vm: number, m: number, s: number): void {
  const pasid = hw.ld(slot(hw, m, s, SL_PASID));
  const gen = hw.ld(slot(hw, m, s, SL_GEN));
  const pf = hw.ld(mdevField(hw, m, MD_PF));
  const w = hw.ld(mdevField(hw, m, MD_WQ));
  const token = vmTokenOf(hw, vm);
  if (hw.ld(mdevField(hw, m, MD_TYPE)) === MDT_DWQ && hw.ld(wqCfg(hw, pf, w, WQ_PASID)) === pasid) {
    hw.st(wqCfg(hw, pf, w, WQ_FLAGS), 0);
    hw.st(wqCfg(hw, pf, w, WQ_PASID), 0);
    hw.st(wqCfg(hw, pf, w, WQ_GEN), 0);
  }
  // PUTTING before the PUT is logged, NONE after the put (vdcmResolveSlots).
  hw.st(slot(hw, m, s, SL_STATE), REF_PUTTING);
  hw.log.emit(Ev.MDEV_CLEAR, pasid, gen, pf, m, token, s);
  hw.log.emit(Ev.PUT, pasid, gen, slotKey(m, s), token, HOLDER_VDCM);
  hw.space.put(null, pasid);
  hw.st(slot(hw, m, s, SL_STATE), REF_NONE);
}

/**
 * A reaper finishes the VDCM's get or put that a dead thread cut short (the guest's in
 * vdcmProgram, the VMM's in a slot's release). GETTING: if the core's count shows the get,
 * its GET is logged again (RELOGGED: counted once for the slot) and the reference given back
 * (the program never returned: the VM is being destroyed); PUTTING: the MDEV_CLEAR logged
 * again (idempotent) and the put done if the core still counts it. The slot ends NONE.
 *
 * Context: a reaper holding the VM's VMM and kernel locks, the VMM's intent resolved; never
 * blocks.
 * @returns slots resolved
 */
export function vdcmResolveSlots(hw: HwContext, vm: number): number {
  const token = vmTokenOf(hw, vm);
  let n = 0;
  for (const m of mdevsOf(hw, vm))
    for (let s = 0; s < MD_SLOT_COUNT; s++) {
      const st = hw.ld(slot(hw, m, s, SL_STATE));
      if (st !== REF_GETTING && st !== REF_PUTTING) continue;
      n++;
      const pasid = hw.ld(slot(hw, m, s, SL_PASID));
      const gen = hw.ld(slot(hw, m, s, SL_GEN));
      // Named once both words are stored: a stale name is another generation's or free.
      const held = unrecordedRef(hw, vm, pasid, gen);
      if (st === REF_PUTTING) {
        const pf = hw.ld(mdevField(hw, m, MD_PF));
        hw.log.emit(Ev.MDEV_CLEAR, pasid, gen, pf, m, token, s);
      }
      if (held) {
        if (st === REF_GETTING)
          hw.log.emit(Ev.GET, pasid, gen, slotKey(m, s), token, HOLDER_VDCM, RELOGGED);
        hw.log.emit(Ev.PUT, pasid, gen, slotKey(m, s), token, HOLDER_VDCM, RELOGGED);
        hw.space.put(null, pasid);
      }
      hw.st(slot(hw, m, s, SL_STATE), REF_NONE);
    }
  return n;
}

/**
 * The VDCM's notifier handler (atomic context: it only queues).
 *
 * Context: the VM's kernel; never blocks.
 * @returns true when the workqueue was full (rescan)
 */
export function vdcmHandle(hw: HwContext, vm: number, n: VmNotification): boolean {
  if (n.event === NOTIFY_OVERFLOW) return true;
  if (n.event !== NOTIFY_UNBIND && n.event !== NOTIFY_FREE) return false;
  const r = unbindTarget(hw, vm, n);
  if (r < 0) return false;
  return !workQueue(hw, vm, WORK_VDCM_CLEAR, n.id, hw.ld(vpField(hw, vm, r, VP_GEN)), -1);
}

/**
 * Queue the clearing of mdev `mdev` (guestMdevClear).
 *
 * Context: any thread of the VM's VMM.
 * @returns 0; -EAGAIN the workqueue is full
 */
export function vdcmQueueClear(hw: HwContext, vm: number, mdev: number): number {
  return workQueue(hw, vm, WORK_VDCM_CLEAR, 0, 0, mdev) ? 0 : -HwErrno.EAGAIN;
}

/**
 * One step of a VDCM work item: an mdev's clearing (WK_ARG = mdev), or a PASID's quiescing
 * (WK_ARG = -1).
 *
 * Context: the VM's kernel (its lock held); never blocks.
 * @returns TD_DONE, TD_BLOCKED or TD_PROGRESS
 */
export function vdcmStep(hw: HwContext, vm: number, w: number): number {
  const mdev = wk(hw, w, WK_ARG);
  return mdev >= 0 ? clearMdevStep(hw, vm, mdev, w) : quiescePasidStep(hw, vm, w);
}

/** guestMdevClear: per slot, Drain PASID on the mdev's PF (sub 0 post, 1 wait), then put. */
function clearMdevStep(hw: HwContext, vm: number, m: number, w: number): number {
  let s = wk(hw, w, WK_AUX);
  while (s < MD_SLOT_COUNT && hw.ld(slot(hw, m, s, SL_STATE)) !== REF_HELD) s++;
  wkSet(hw, w, WK_AUX, s);
  if (s >= MD_SLOT_COUNT) return TD_DONE;
  const pf = hw.ld(mdevField(hw, m, MD_PF));
  const owner = CMD_OWNER_VDCM + m;
  const pasid = hw.ld(slot(hw, m, s, SL_PASID));
  if (wk(hw, w, WK_SUB) === 0) {
    // A DWQ: WQ disable (drain, then refuse descriptors), so nothing runs after WQCFG is cleared.
    const dwqOp = hw.ld(mdevField(hw, m, MD_TYPE)) === MDT_DWQ;
    const [op, operand] = dwqOp
      ? [CMD_DISABLE_WQ, hw.ld(mdevField(hw, m, MD_WQ))]
      : [CMD_DRAIN_PASID, pasid];
    // The register already this mdev's: a post of this step cut short by a kill (claimed, or
    // published before the sub moved on). Posting again would wait for it forever, and with
    // it every command of the PF.
    const mine = commandStatus(hw, pf, owner) !== -HwErrno.ENOENT;
    if (!mine && commandPost(hw, pf, op, operand, owner) < 0) return TD_BLOCKED;
    if (mine && commandOp(hw, pf) === 0) commandRepublish(hw, pf, op, operand, owner);
    wkSet(hw, w, WK_SUB, 1);
    return TD_PROGRESS;
  }
  const st = commandStatus(hw, pf, owner);
  // Published at sub 1, so op 0 is this finished command's release cut short: finish it.
  const withdrawn = st === CMDS_PENDING && commandOp(hw, pf) === 0;
  if (st === CMDS_PENDING && !withdrawn) return TD_BLOCKED;
  if (st >= 0 || withdrawn) commandRelease(hw, pf, owner);
  // Sub 0 before the slot goes: an item resumed after the release skips the slot (no longer
  // HELD) to the next one, which must get a drain of its own, not this one's "posted".
  wkSet(hw, w, WK_SUB, 0);
  releaseSlot(hw, vm, m, s);
  wkSet(hw, w, WK_AUX, s + 1);
  return TD_PROGRESS;
}

/** UNBIND/FREE: P1 of every bond of (pasid, gen), then every slot holding it released. */
function quiescePasidStep(hw: HwContext, vm: number, w: number): number {
  const pasid = wk(hw, w, WK_PASID);
  const gen = wk(hw, w, WK_GEN);
  const r = recordOfGeneration(hw, vm, pasid, gen);
  if (r >= 0)
    for (let pf = 0; pf < hw.g.pf.length; pf++) {
      const b = recordBond(hw, vm, r, pf);
      if (b < 0 || hw.ld(bf(hw, b, B_STATE)) === BS_FREE) continue;
      if (!teardownsBond(hw, vm, r, b)) continue;
      if (reached(hw, b, P1_DEVICE_QUIESCED)) continue;
      if (!reached(hw, b, P0_STOP_SUBMISSION))
        return complete(hw, b, P0_STOP_SUBMISSION, PH_DEVICE);
      return quiesceStep(hw, b);
    }
  for (const m of mdevsOf(hw, vm))
    for (let s = 0; s < MD_SLOT_COUNT; s++)
      if (
        hw.ld(slot(hw, m, s, SL_STATE)) === REF_HELD &&
        hw.ld(slot(hw, m, s, SL_PASID)) === pasid &&
        hw.ld(slot(hw, m, s, SL_GEN)) === gen
      ) {
        const r = dwqStopped(hw, m);
        if (r !== TD_DONE) return r;
        releaseSlot(hw, vm, m, s);
        return TD_PROGRESS;
      }
  return TD_DONE;
}

/**
 * Before a DWQ mdev's slot is released on UNBIND/FREE: its WQ disabled (drained, taking no
 * more descriptors), since the device runs them with WQCFG's PASID. A vSWQ: nothing to do.
 *
 * @returns TD_DONE when stopped; TD_PROGRESS (posted) or TD_BLOCKED otherwise
 */
function dwqStopped(hw: HwContext, m: number): number {
  if (hw.ld(mdevField(hw, m, MD_TYPE)) !== MDT_DWQ) return TD_DONE;
  const pf = hw.ld(mdevField(hw, m, MD_PF));
  const owner = CMD_OWNER_VDCM + m;
  const w = hw.ld(mdevField(hw, m, MD_WQ));
  const st = commandStatus(hw, pf, owner);
  if (st === CMDS_PENDING) {
    // Claimed by a post a kill cut short before it was published: publish it.
    if (commandOp(hw, pf) === 0) commandRepublish(hw, pf, CMD_DISABLE_WQ, w, owner);
    return TD_BLOCKED;
  }
  if (st !== -HwErrno.ENOENT) {
    commandRelease(hw, pf, owner);
    return TD_DONE;
  }
  if (hw.ld(wqCfg(hw, pf, w, WQ_STATE)) === WQS_DISABLED) return TD_DONE;
  return commandPost(hw, pf, CMD_DISABLE_WQ, w, owner) < 0 ? TD_BLOCKED : TD_PROGRESS;
}

function reached(hw: HwContext, b: number, phase: number): boolean {
  return (hw.ld(bf(hw, b, B_PHASES)) & (1 << phase)) !== 0;
}
