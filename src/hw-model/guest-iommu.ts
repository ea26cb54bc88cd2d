/**
 * The IOMMU driver's guest side (iommu-hw-model.md §7.4 guestBindPasid / guestUnbindPasid,
 * spec b.3): the host `bind_gpasid` a VMM calls when it traps the guest's PASID-cache
 * invalidation after the guest wrote a PASID entry, the matching unbind, and the driver's
 * subscriber on the VM's set (priority LAST, behind KVM and the VDCM).
 *
 * - bind: resolve the host PASID (identity: the guest PASID itself; spid: the VMM's record of
 *   the guest PASID, allocated on the first bind), check it is the VM's (EACCES), that the
 *   device has 20-bit PASIDs (EINVAL) and that the entry is not present (EBUSY); then the
 *   driver's reference (first bond), a guest bond, a nested entry, and on the first bind the
 *   SPID (the core notifies BIND: KVM programs the VMCS).
 * - unbind: the bond stops being live; the last bond detaches the SPID (UNBIND: KVM
 *   invalidates the VMCS entry and waits for the vCPUs, the VDCM drains, then this driver's
 *   handler queues the entry's teardown, P2..P7, in that order on the VM's workqueue).
 * - FREE before unbind (a misbehaving guest, b.3's exception flow): the same three handlers in
 *   the same order; the teardown detaches the SPID before the driver's put.
 *
 * The mutation `guest-bind-no-owner-check` is the one branch in `guestBind` that skips the set
 * check (a VM binds another VM's PASID: INV-4).
 *
 * @internal
 */
import { bf, bondClaimIn } from './bonds.js';
import { pfField } from './device.js';
import { Ev, PH_DEVICE } from './event-log.js';
import { guestBondMm, HOLDER_IOMMU } from './guest-bonds.js';
import type { HwContext } from './hw-context.js';
import { HwErrno } from './hw-errno.js';
import {
  B_BIND,
  B_CLAIM,
  B_FLAGS,
  B_PASID,
  B_PF,
  B_PHASES,
  B_REFS,
  B_STAMP,
  B_STATE,
  BF_GUEST,
  BOND_WORDS,
  BS_DYING,
  BS_FREE,
  BS_LIVE,
  GUEST_CLAIM_BASE,
  L_TICKETS,
  MD_PF,
  P0_STOP_SUBMISSION,
  P1_DEVICE_QUIESCED,
  PF_WIDTH,
  PGTT_NESTED,
  REF_GETTING,
  REF_HELD,
  REF_NONE,
  REF_PUTTING,
  SVA_DID,
  VM_KERNEL_LOCK,
  VM_STATE,
  VM_VMM_LOCK,
  VMS_RUNNING,
  VP_BOND,
  VP_FREE_OWED,
  VP_GEN,
  VP_IOMMU_REF,
  VP_PASID,
  VP_SPID,
  VP_STATE,
  VPASID_WORDS,
  VPS_FREE,
  VPS_LIVE,
  WK_AUX,
  WK_AUX2,
  WK_GEN,
  WK_PASID,
  WORK_IOMMU_TEARDOWN,
  WORK_VDCM_CLEAR,
} from './hw-layout.js';
import { M_GUEST_BIND_NO_OWNER_CHECK, M_WRONG_NOTIFIER_ORDER } from './mutations.js';
import { lockGive, lockTake, lockTry } from './owner-lock.js';
import { entryPresent, tableProgram } from './pasid-table.js';
import { complete, TD_DONE, TD_PROGRESS, teardownStep } from './teardown.js';
import {
  claimRecord,
  mdevField,
  recordBond,
  recordOfGeneration,
  recordOfGpasid,
  recordOfPasid,
  vmField,
  vmSet,
  vmTokenOf,
  vpField,
} from './vm.js';
import { NOTIFY_FREE, NOTIFY_OVERFLOW, NOTIFY_UNBIND, type VmNotification } from './vm-chain.js';
import { vmmAlloc, vmmFree } from './vm-pasids.js';
import { wk, wkSet, workQueue } from './work-ring.js';

/** Scratch for bondClaimIn (thread-local). */
const savedBond = new Int32Array(BOND_WORDS);
/** Guest PASIDs are 20-bit: a guest bind needs a PF with 20-bit PASIDs (§7.7). */
const GUEST_WIDTH = 20;

/**
 * Host bind_gpasid for guest PASID `g` of VM `vm` on the PF of `mdev`.
 *
 * Context: the VMM's thread (the guest's PASID-cache invalidation trapped); never blocks.
 * @returns the host PASID (> 0); -ESRCH the VM is not running; -EACCES the PASID is not the
 * VM's; -EINVAL the PF's PASIDs are narrower than 20 bits; -EBUSY already bound on that PF,
 * or an earlier bond of it still being torn down (on that PF, or on another one while it gives
 * the driver's reference back); -EDQUOT/-ENOSPC/-ENOMEM no host PASID, record, bond or leaf. On error nothing changes.
 */
export function guestBind(hw: HwContext, vm: number, mdev: number, g: number): number {
  return underVmmLock(hw, vm, () => bindLocked(hw, vm, mdev, g));
}

/**
 * The VMM handles one trapped guest operation at a time per VM (QEMU's vIOMMU emulation):
 * binds, unbinds, the VDCM's programming of an mdev, vcmds and the owed frees of spid mode
 * exclude each other.
 *
 * @param hw - the platform
 * @param vm - the VM
 * @param fn - the operation
 *
 * Context: the VMM's thread (or the guest's, trapping); spins while another trap runs.
 * @returns what `fn` returns
 */
export function underVmmLock(hw: HwContext, vm: number, fn: () => number): number {
  const lock = vmField(hw, vm, VM_VMM_LOCK);
  lockTake(hw.i32, lock, hw.tag);
  try {
    return fn();
  } finally {
    lockGive(hw.i32, lock);
  }
}

function bindLocked(hw: HwContext, vm: number, mdev: number, g: number): number {
  const set = vmSet(hw, vm);
  // A dying VM keeps its set until its teardown is done: nothing may join it (the VMM's free
  // of the VM's records may have run already).
  if (set < 0 || hw.ld(vmField(hw, vm, VM_STATE)) !== VMS_RUNNING) return -HwErrno.ESRCH;
  const pf = hw.ld(mdevField(hw, mdev, MD_PF));
  if (hw.ld(pfField(hw, pf, PF_WIDTH)) < GUEST_WIDTH) return -HwErrno.EINVAL;
  let r: number;
  let allocated = false;
  let borrowed = false;
  if (hw.spidMode) {
    r = recordOfGpasid(hw, vm, g);
    if (r < 0) {
      r = vmmAlloc(hw, vm, g);
      if (r < 0) return r;
      allocated = true;
    }
  } else {
    const owned = g >= 1 && g <= hw.space.maxId && hw.space.inspect(g).set === set;
    r = owned ? recordOfPasid(hw, vm, g) : -1;
    if (r >= 0 && hw.ld(vpField(hw, vm, r, VP_STATE)) !== VPS_LIVE) r = -1;
    if (r < 0 && hw.mutation === M_GUEST_BIND_NO_OWNER_CHECK) {
      r = borrowRecord(hw, vm, g);
      borrowed = r >= 0;
    }
    if (r < 0) return -HwErrno.EACCES;
  }
  const pasid = hw.ld(vpField(hw, vm, r, VP_PASID));
  const gen = hw.ld(vpField(hw, vm, r, VP_GEN));
  const owed = hw.ld(vpField(hw, vm, r, VP_FREE_OWED));
  // Bound again before the VMM freed it: it stays (a failed bind leaves the free owed).
  hw.st(vpField(hw, vm, r, VP_FREE_OWED), 0);
  const undo = (err: number): number => {
    hw.st(vpField(hw, vm, r, VP_FREE_OWED), owed);
    if (allocated) vmmFree(hw, vm, r);
    if (borrowed) hw.st(vpField(hw, vm, r, VP_STATE), VPS_FREE);
    return err;
  };
  const prev = recordBond(hw, vm, r, pf);
  if (prev >= 0 && hw.ld(bf(hw, prev, B_STATE)) !== BS_FREE) return undo(-HwErrno.EBUSY);
  if (entryPresent(hw, pf, pasid) || tearingDown(hw, pf, pasid)) return undo(-HwErrno.EBUSY);
  // The last bond's P7 (on another PF) is giving the driver's reference back, cut short by a
  // kill: not a reference this bind may share; its unbind has not returned yet.
  if (hw.ld(vpField(hw, vm, r, VP_IOMMU_REF)) === REF_PUTTING) return undo(-HwErrno.EBUSY);
  const token = vmTokenOf(hw, vm);
  const tookRef = takeIommuRef(hw, vm, r, pasid, gen, token);
  if (tookRef < 0) return undo(tookRef);
  const hostBonds = hw.g.shape.vm.hostBonds;
  const claim = GUEST_CLAIM_BASE + (vm << 12) + r;
  const fields = { pf, pasid, gen, mm: guestBondMm(vm, r), token };
  const b = bondClaimIn(hw, hostBonds, hw.g.shape.bonds, claim, fields, savedBond);
  if (b < 0) {
    if (tookRef === 1) putIommuRef(hw, vm, r, pasid, gen, token);
    return undo(-HwErrno.ENOMEM);
  }
  Atomics.or(hw.i32, bf(hw, b, B_FLAGS), BF_GUEST);
  hw.st(bf(hw, b, B_REFS), 1);
  const bind = Atomics.add(hw.logI32, L_TICKETS, 1) + 1;
  hw.st(bf(hw, b, B_BIND), bind);
  const entry = { pgtt: PGTT_NESTED, did: SVA_DID, s1: -1, binding: token, gen, bind };
  const p = tableProgram(hw, pf, pasid, entry);
  if (p < 0) {
    hw.st(bf(hw, b, B_STATE), BS_FREE);
    hw.st(bf(hw, b, B_CLAIM), 0);
    if (tookRef === 1) putIommuRef(hw, vm, r, pasid, gen, token);
    return undo(p);
  }
  hw.st(vpField(hw, vm, r, VP_BOND + pf), b + 1);
  hw.st(bf(hw, b, B_STATE), BS_LIVE);
  hw.log.emit(Ev.GBIND, pasid, gen, pf, token, b, bind);
  if (hw.ld(vpField(hw, vm, r, VP_SPID)) === 0) {
    // The first bind: the SPID (the core notifies BIND on the set's chain: KVM). Under the
    // VM's kernel lock, as the kernel's chain runs inside attach: KVM's VMCS work never sees
    // the SPID word ahead of the log.
    const lock = vmField(hw, vm, VM_KERNEL_LOCK);
    lockTake(hw.i32, lock, hw.tag);
    hw.log.emit(Ev.SPID_ATTACH, pasid, gen, -1, token, g);
    hw.st(vpField(hw, vm, r, VP_SPID), 1);
    hw.space.attachSpid(pasid, g);
    lockGive(hw.i32, lock);
  }
  return pasid;
}

/**
 * True while a guest bond of (pf, pasid) is still being torn down (unlinked from its record
 * at P7, before its grace period ends): the unbind has not returned yet in Linux's terms.
 */
function tearingDown(hw: HwContext, pf: number, pasid: number): boolean {
  for (let b = hw.g.shape.vm.hostBonds; b < hw.g.shape.bonds; b++)
    if (
      hw.ld(bf(hw, b, B_STATE)) !== BS_FREE &&
      hw.ld(bf(hw, b, B_PASID)) === pasid &&
      hw.ld(bf(hw, b, B_PF)) === pf
    )
      return true;
  return false;
}

/** The broken host (mutation): takes another VM's PASID as this VM's. */
function borrowRecord(hw: HwContext, vm: number, pasid: number): number {
  for (let other = 0; other < hw.g.vm.length; other++) {
    if (other === vm) continue;
    const src = recordOfPasid(hw, other, pasid);
    if (src < 0) continue;
    const r = claimRecord(hw, vm);
    if (r < 0) return -1;
    for (let f = 1; f < VPASID_WORDS; f++)
      if (f !== VP_IOMMU_REF && f !== VP_SPID && f < VP_BOND)
        hw.st(vpField(hw, vm, r, f), hw.ld(vpField(hw, other, src, f)));
    return r;
  }
  return -1;
}

/** The driver's reference on the record's PASID (first bond). @returns 1 taken, 0 held, -errno */
function takeIommuRef(
  hw: HwContext,
  vm: number,
  r: number,
  pasid: number,
  gen: number,
  token: number,
): number {
  const ref = vpField(hw, vm, r, VP_IOMMU_REF);
  if (hw.ld(ref) !== REF_NONE) return 0;
  hw.st(ref, REF_GETTING);
  const set = hw.mutation === M_GUEST_BIND_NO_OWNER_CHECK ? null : vmSet(hw, vm);
  const e = hw.space.get(set, pasid);
  if (e < 0) {
    hw.st(ref, REF_NONE);
    return e;
  }
  hw.log.emit(Ev.GET, pasid, gen, -1, token, HOLDER_IOMMU);
  hw.st(ref, REF_HELD);
  return 1;
}

/**
 * Give the IOMMU driver's reference on record `r` back (logged before the put).
 *
 * Context: the VMM's thread in a trap, or a reaper holding the VM's VMM lock; never blocks.
 */
export function putIommuRef(
  hw: HwContext,
  vm: number,
  r: number,
  pasid: number,
  gen: number,
  token: number,
): void {
  hw.log.emit(Ev.PUT, pasid, gen, -1, token, HOLDER_IOMMU);
  hw.space.put(null, pasid);
  hw.st(vpField(hw, vm, r, VP_IOMMU_REF), REF_NONE);
}

/**
 * Host unbind_gpasid of guest PASID `g` of VM `vm` on the PF of `mdev`: the bond stops being
 * live; the last one detaches the SPID (UNBIND on the set's chain: KVM, the VDCM and this
 * driver's handler then do P0, P1 and P2..P7 in that order). A bond that is not the last is
 * torn down at once in the same order, on the VM's workqueue.
 *
 * Context: the VMM's thread; never blocks.
 * @returns 0; -ESRCH VM not running; -ENOENT not bound there (or already freed and
 * reclaimed: a stale unbind); -EBUSY already being torn down
 */
export function guestUnbind(hw: HwContext, vm: number, mdev: number, g: number): number {
  return underVmmLock(hw, vm, () => unbindLocked(hw, vm, mdev, g));
}

function unbindLocked(hw: HwContext, vm: number, mdev: number, g: number): number {
  const set = vmSet(hw, vm);
  if (set < 0) return -HwErrno.ESRCH;
  const pf = hw.ld(mdevField(hw, mdev, MD_PF));
  const r = recordOfGpasid(hw, vm, g);
  if (r < 0) return -HwErrno.ENOENT;
  const b = recordBond(hw, vm, r, pf);
  if (b < 0 || hw.ld(bf(hw, b, B_STATE)) === BS_FREE) return -HwErrno.ENOENT;
  if (hw.ld(bf(hw, b, B_STATE)) !== BS_LIVE) return -HwErrno.EBUSY;
  const pasid = hw.ld(vpField(hw, vm, r, VP_PASID));
  const gen = hw.ld(vpField(hw, vm, r, VP_GEN));
  const token = vmTokenOf(hw, vm);
  hw.log.emit(Ev.UNBIND, pasid, gen, pf, token, b, 0);
  hw.st(bf(hw, b, B_STATE), BS_DYING);
  if (liveBonds(hw, vm, r) === 0 && hw.ld(vpField(hw, vm, r, VP_SPID)) === 1) {
    // Under the VM's kernel lock (as attach): KVM programs the entry before or not at all.
    const lock = vmField(hw, vm, VM_KERNEL_LOCK);
    lockTake(hw.i32, lock, hw.tag);
    hw.st(vpField(hw, vm, r, VP_SPID), 0);
    hw.log.emit(Ev.SPID_DETACH, pasid, gen, -1, token, g);
    hw.space.detachSpid(pasid);
    lockGive(hw.i32, lock);
    return 0;
  }
  // Not the last device: the guest keeps using the PASID elsewhere, the VMCS does not change.
  complete(hw, b, P0_STOP_SUBMISSION, PH_DEVICE);
  workQueue(hw, vm, WORK_VDCM_CLEAR, pasid, gen, -1);
  workQueue(hw, vm, WORK_IOMMU_TEARDOWN, pasid, gen, 0);
  return 0;
}

/**
 * spid mode: free the host PASIDs whose last unbind's teardown is over (VP_FREE_OWED).
 *
 * Context: the VMM's thread (or any thread driving it); takes the VMM lock with a try.
 * @returns PASIDs freed
 */
export function vmmOwedFrees(hw: HwContext, vm: number): number {
  if (!hw.spidMode) return 0;
  const lock = vmField(hw, vm, VM_VMM_LOCK);
  if (!lockTry(hw.i32, lock, hw.tag)) return 0;
  let n = 0;
  for (let r = 0; r < hw.g.shape.vm.pasids; r++) {
    if (hw.ld(vpField(hw, vm, r, VP_FREE_OWED)) === 0) continue;
    hw.st(vpField(hw, vm, r, VP_FREE_OWED), 0);
    if (hw.ld(vpField(hw, vm, r, VP_STATE)) !== VPS_LIVE) continue;
    if (hw.ld(vpField(hw, vm, r, VP_SPID)) !== 0 || anyBond(hw, vm, r)) continue;
    vmmFree(hw, vm, r);
    n++;
  }
  lockGive(hw.i32, lock);
  return n;
}

/** True while the VMM owes a free (spid mode). Context: any thread; stale on return. */
export function freesOwed(hw: HwContext, vm: number): boolean {
  for (let r = 0; r < hw.g.shape.vm.pasids; r++)
    if (hw.ld(vpField(hw, vm, r, VP_FREE_OWED)) !== 0) return true;
  return false;
}

/** True when record `r` has a bond in any state but free. */
function anyBond(hw: HwContext, vm: number, r: number): boolean {
  for (let pf = 0; pf < hw.g.pf.length; pf++) {
    const b = recordBond(hw, vm, r, pf);
    if (b >= 0 && hw.ld(bf(hw, b, B_STATE)) !== BS_FREE) return true;
  }
  return false;
}

/** Live (not dying) bonds of record `r`. */
function liveBonds(hw: HwContext, vm: number, r: number): number {
  let n = 0;
  for (let pf = 0; pf < hw.g.pf.length; pf++) {
    const b = recordBond(hw, vm, r, pf);
    if (b >= 0 && hw.ld(bf(hw, b, B_STATE)) === BS_LIVE) n++;
  }
  return n;
}

/**
 * The driver's notifier handler (atomic context: it only queues): on UNBIND or FREE, the
 * teardown of the PASID's entries.
 *
 * Context: the VM's kernel; never blocks.
 * @returns true when the workqueue was full (rescan)
 */
export function iommuGuestHandle(hw: HwContext, vm: number, n: VmNotification): boolean {
  if (n.event === NOTIFY_OVERFLOW) return true;
  if (n.event !== NOTIFY_UNBIND && n.event !== NOTIFY_FREE) return false;
  const r = unbindTarget(hw, vm, n);
  if (r < 0) return false;
  const gen = hw.ld(vpField(hw, vm, r, VP_GEN));
  return !workQueue(hw, vm, WORK_IOMMU_TEARDOWN, n.id, gen, 0);
}

/** WK_ARG of an IOMMU teardown item queued by a rescan (vm-kernel.ts), not by an event. */
export const IOMMU_RESCANNED = 1;

/**
 * One step of the teardown work of (pasid, gen) (work item `w`): every bond of its record,
 * live ones (FREE before unbind) made dying first, through P2..P7. The bond in progress is
 * kept in the item (WK_AUX = bond + 1): P7 unlinks it from the record. Any item takes a bond
 * only once the VDCM quiesced it (P1), whatever queued the item. Its VDCM item, just ahead,
 * quiesced every bond the teardown was about then; a bond that became the teardown's after
 * that has items of its own behind this one, in chain order: a rescan's VDCM item found the
 * record still live and the VMM freed it in between (the FREE's items), or, in spid mode, the
 * guest bound the same guest PASID again (same record, same generation) once this item freed
 * its bond, and unbound it or the VM's destroy freed the record (the UNBIND's or FREE's).
 *
 * Context: the VM's kernel (its lock held); never blocks.
 * @returns TD_DONE, TD_BLOCKED or TD_PROGRESS
 */
export function iommuTeardownStep(hw: HwContext, vm: number, w: number): number {
  const cur = wk(hw, w, WK_AUX) - 1;
  if (cur >= 0) {
    // The bond this item took, not a later claim of its slot: freed at P7, it may be bound
    // again (same PF, PASID and, in spid mode, generation) before the item moves on (its
    // thread killed right there), and its teardown is that bind's own to start.
    const mine = hw.ld(bf(hw, cur, B_STAMP)) === wk(hw, w, WK_AUX2);
    const s = mine ? teardownStep(hw, cur) : TD_DONE;
    if (s !== TD_DONE) return s;
    wkSet(hw, w, WK_AUX, 0);
    return TD_PROGRESS;
  }
  const pasid = wk(hw, w, WK_PASID);
  const gen = wk(hw, w, WK_GEN);
  const r = recordOfGeneration(hw, vm, pasid, gen);
  if (r < 0) return TD_DONE;
  for (let pf = 0; pf < hw.g.pf.length; pf++) {
    const b = recordBond(hw, vm, r, pf);
    if (b < 0 || hw.ld(bf(hw, b, B_STATE)) === BS_FREE) continue;
    if (!teardownsBond(hw, vm, r, b)) continue;
    // Only a bond the VDCM quiesced (P1, after KVM's P0): one that is not is another
    // teardown's, whose KVM and VDCM items are queued behind this one (the same record and
    // generation bound again after this item freed its bond, then unbound or freed). Mutation
    // wrong-notifier-order: the broken driver does not wait.
    if (!bondReached(hw, b, P1_DEVICE_QUIESCED) && hw.mutation !== M_WRONG_NOTIFIER_ORDER) continue;
    if (hw.ld(bf(hw, b, B_STATE)) === BS_LIVE) {
      hw.log.emit(Ev.UNBIND, pasid, gen, pf, vmTokenOf(hw, vm), b, 0);
      hw.st(bf(hw, b, B_STATE), BS_DYING);
    }
    // The claim's stamp first: a kill between the two leaves no bond named.
    wkSet(hw, w, WK_AUX2, hw.ld(bf(hw, b, B_STAMP)));
    wkSet(hw, w, WK_AUX, b + 1);
    return TD_PROGRESS;
  }
  // spid mode: the host PASID was the VMM's for this guest PASID; it goes once the last
  // unbind's teardown is over (freed earlier, a vCPU that has not acknowledged KVM's epoch
  // could still submit with it). The VMM frees it (vmmOwedFrees), under its own lock, so a
  // bind of the same guest PASID racing this is seen.
  if (hw.spidMode && hw.ld(vpField(hw, vm, r, VP_STATE)) === VPS_LIVE)
    hw.st(vpField(hw, vm, r, VP_FREE_OWED), 1);
  return TD_DONE;
}

/**
 * The VMM record an UNBIND or FREE is about, or -1. An UNBIND names only a value: it is about
 * the record whose SPID was detached (a record still holding its SPID is a later generation
 * of the value, bound again; the event is not its).
 *
 * Context: the VM's kernel.
 */
export function unbindTarget(hw: HwContext, vm: number, n: VmNotification): number {
  const r = recordOfPasid(hw, vm, n.id);
  if (r < 0) return -1;
  if (n.event === NOTIFY_UNBIND && hw.ld(vpField(hw, vm, r, VP_SPID)) !== 0) return -1;
  return r;
}

/**
 * True when a teardown of record `r` (UNBIND or FREE work) is about bond `b`: a dying bond
 * always; a live one only on the FREE path (the VMM freed the record). On the UNBIND path a
 * live bond is a bind made since (the guest PASID bound again): not this teardown's.
 *
 * Context: the VM's kernel.
 */
export function teardownsBond(hw: HwContext, vm: number, r: number, b: number): boolean {
  if (hw.ld(bf(hw, b, B_STATE)) !== BS_LIVE) return true;
  return hw.ld(vpField(hw, vm, r, VP_STATE)) !== VPS_LIVE;
}

/** True when bond `b` has reached `phase`. */
export function bondReached(hw: HwContext, b: number, phase: number): boolean {
  return (hw.ld(bf(hw, b, B_PHASES)) & (1 << phase)) !== 0;
}
