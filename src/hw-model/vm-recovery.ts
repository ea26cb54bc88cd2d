/**
 * Recovery after a VM's thread died: a guest's vCPU thread or the VMM's handler thread. A VM
 * whose QEMU thread dies is gone (the kernel closes its KVM and vfio files and frees its
 * IOASID set), so the reaper destroys it as a crash; the VMM's thread, alive or replaced,
 * finishes the teardown and boots the VM again, and a replaced guest starts as a new guest.
 *
 * ## Developer notes
 * The order matters. The VM is marked DYING before the dead thread's locks are broken: from
 * then on no thread handles a vcmd of the VM (vcmd.ts drops it) or starts a trapped
 * operation, so the command the dead thread had in flight is never answered twice (INV-12:
 * "IP already set") and no PASID joins the dying set. Then the VMM's intent (VM_VMM_OP) is
 * resolved against the core, and the live records freed through the FREE path as
 * vmDestroyStart does, once every vCPU of the VM is out of the guest: a dead guest thread's
 * at once, a live one's when that thread takes them out (the VMM's thread frees then).
 *
 * @internal
 */
import { bf } from './bonds.js';
import { Ev, RELOGGED } from './event-log.js';
import { guestBondMm, HOLDER_IOMMU } from './guest-bonds.js';
import { putIommuRef } from './guest-iommu.js';
import type { HwContext } from './hw-context.js';
import {
  B_BIND,
  B_CLAIM,
  B_GEN,
  B_MM,
  B_PASID,
  B_PF,
  B_STATE,
  B_TOKEN,
  BS_BINDING,
  BS_FREE,
  BS_LIVE,
  GUEST_CLAIM_BASE,
  L_ROWS,
  REF_GETTING,
  REF_HELD,
  REF_NONE,
  ROW_OWNER,
  rowWord,
  VM_KERNEL_LOCK,
  VM_PENDING_TICKET,
  VM_RESCAN,
  VM_STATE,
  VM_VMM_LOCK,
  VM_VMM_OP,
  VMOP_ALLOC,
  VMOP_FREE,
  VMOP_NONE,
  VMS_DYING,
  VP_BOND,
  VP_GEN,
  VP_IOMMU_REF,
  VP_PASID,
  VP_STATE,
  VPS_FREE,
  VPS_FREED,
  VPS_LIVE,
} from './hw-layout.js';
import { kvmResolveRefs } from './kvm.js';
import { type LockWait, lockGive, lockTakeBounded } from './owner-lock.js';
import { entryPresent } from './pasid-table.js';
import { breakThreadLocks } from './thread-locks.js';
import { vdcmResolveSlots } from './vdcm.js';
import {
  recordHasBonds,
  recordOfPasid,
  releaseRecordIfDone,
  vcpusOffline,
  vmField,
  vmSet,
  vmTokenOf,
  vpField,
} from './vm.js';
import { rescanConsumers } from './vm-kernel.js';
import { vmFreeRecordsOnceStopped, vmMarkDying } from './vm-ops.js';
import { recordPasid } from './vm-pasids.js';
import { unrecordedRef } from './vm-refs.js';

/**
 * How long a reaper waits on a live holder of a VM lock: sleeps of 1 ms at most, about 30 s,
 * the event log's stall bound. A holder runs a trap or a kernel step, a few dozen
 * instructions, so only a holder descheduled for that long, or one that never gives the lock
 * back, reaches it.
 */
export const RECOVERY_LOCK_WAITS = 30_000;

/**
 * The reaper's lock wait: the holders it takes a lock over from are the reaped thread (tag
 * `tag`; breakThreadLocks freed its locks, this covers a race with nothing), any tag whose log
 * row no thread owns (released: its thread is gone and was reaped), and whatever
 * `alsoDead` says (the threaded harness knows which workers exited unreaped, a crash).
 *
 * Context: pure (the returned `dead` loads the log's row owners).
 * @returns the wait for `reapVms`
 */
export function recoveryLockWait(
  hw: HwContext,
  tag: number,
  alsoDead?: (holder: number) => boolean,
  waits = RECOVERY_LOCK_WAITS,
): LockWait {
  const rows = Atomics.load(hw.logI32, L_ROWS);
  const rowFree = (holder: number) =>
    holder >= 1 && holder <= rows && Atomics.load(hw.logI32, rowWord(holder - 1) + ROW_OWNER) === 0;
  return {
    dead: (holder) => holder === tag || rowFree(holder) || (alsoDead?.(holder) ?? false),
    waits,
  };
}

/**
 * VMs `vms` lost their thread (tag `tag`): destroy them as crashes, resolving what the dead
 * thread left half done.
 *
 * @param vmmDied - the VMM's thread died (its intent in VM_VMM_OP is resolved here); false
 *   for a guest thread (a live VMM owns its intent)
 * @param wait - how the VM locks are taken: over from a dead holder, a live one waited for
 *   within a bound (default `recoveryLockWait(hw, tag)`)
 *
 * Context: any attached thread other than the dead one, after it stopped, before the dead
 * thread's `releaseThread`; takes the VM locks (lockTakeBounded), so it blocks only while a
 * live thread holds one, and at most `wait.waits` ms.
 * @throws HwModelError ERR_HW_LOCK_STALLED when a live holder kept a VM lock through the
 * bound (the recovery stops there, the VM left DYING: an internal error of the run)
 * @returns how many VMs this call destroyed (one not running, a destroy already under way or
 * off, is left to the VMM's thread, which finishes or boots it)
 */
export function reapVms(
  hw: HwContext,
  vms: number[],
  tag: number,
  vmmDied: boolean,
  wait: LockWait = recoveryLockWait(hw, tag),
): number {
  const take = (word: number) => void lockTakeBounded(hw.i32, word, hw.tag, wait);
  // Every VM the thread served is DYING before any lock breaks (breakThreadLocks takes the dead
  // thread's locks of every VM).
  const marked = vms.filter((vm) => vmMarkDying(hw, vm, true));
  // Inside a trapped operation (a guest's bind, unbind or vcmd runs under the VMM lock): its
  // intent and a half-made guest bond are the dead thread's to resolve.
  const inTrap = vms.filter((vm) => hw.ld(vmField(hw, vm, VM_VMM_LOCK)) === tag);
  // All the dead thread's locks, platform ones too: a live thread waiting for one of them may
  // hold a VM lock that the takes below wait for (thread-locks.ts).
  breakThreadLocks(hw, tag);
  for (const vm of vms) {
    if (!vmmDied && !inTrap.includes(vm)) continue;
    // The VMM lock, then the kernel's (bindLocked's order): no trap and no teardown work
    // (a bond being freed looks half made) runs meanwhile.
    const lock = vmField(hw, vm, VM_VMM_LOCK);
    const kernel = vmField(hw, vm, VM_KERNEL_LOCK);
    take(lock);
    take(kernel);
    resolveVmmIntent(hw, vm);
    sweepGuestBonds(hw, vm);
    // A get or put of KVM or the VDCM between the core's call and the word recording it.
    kvmResolveRefs(hw, vm);
    vdcmResolveSlots(hw, vm);
    // A free whose last step (releasing the record once nothing holds it) was cut short.
    for (let r = 0; r < hw.g.shape.vm.pasids; r++) releaseRecordIfDone(hw, vm, r);
    lockGive(hw.i32, kernel);
    lockGive(hw.i32, lock);
    if (vmmDied) requeueTeardowns(hw, vm, take);
  }
  for (const vm of vms) {
    // A dead guest thread's vCPUs run no instruction any more: out of the guest now. A dead
    // VMM's VMs keep their guest threads, which take their vCPUs out at their next exit.
    if (!vmmDied && hw.ld(vmField(hw, vm, VM_STATE)) === VMS_DYING) vcpusOffline(hw, vm);
    // The records go once every vCPU is out (else the VMM's thread frees them then).
    vmFreeRecordsOnceStopped(hw, vm, take);
  }
  return marked.length;
}

/**
 * A guest bind cut short (guest-iommu.ts bindLocked): a bond claimed for a record of the VM
 * but not linked to it. With its PASID-table entry programmed, the bind is finished (linked,
 * live, logged) so that the destroy's FREE path tears it down; without, the bond goes back,
 * with the IOMMU driver's reference when it was this bond's to take (the record has no other
 * bond) and the get had happened.
 */
function sweepGuestBonds(hw: HwContext, vm: number): void {
  const base = GUEST_CLAIM_BASE + (vm << 12);
  for (let b = hw.g.shape.vm.hostBonds; b < hw.g.shape.bonds; b++) {
    const claim = hw.ld(bf(hw, b, B_CLAIM));
    if (claim < base || claim >= base + hw.g.shape.vm.pasids) continue;
    const r = claim - base;
    const pf = hw.ld(bf(hw, b, B_PF));
    const st = hw.ld(bf(hw, b, B_STATE));
    if (st !== BS_FREE && st !== BS_BINDING) continue;
    const linked = hw.ld(vpField(hw, vm, r, VP_BOND + pf)) === b + 1;
    const pasid = hw.ld(bf(hw, b, B_PASID));
    const gen = hw.ld(bf(hw, b, B_GEN));
    const token = hw.ld(bf(hw, b, B_TOKEN));
    if (linked || entryPresent(hw, pf, pasid)) {
      hw.st(vpField(hw, vm, r, VP_BOND + pf), b + 1);
      hw.st(bf(hw, b, B_STATE), BS_LIVE);
      hw.log.emit(Ev.GBIND, pasid, gen, pf, token, b, hw.ld(bf(hw, b, B_BIND)));
      continue;
    }
    hw.st(bf(hw, b, B_STATE), BS_FREE);
    hw.st(bf(hw, b, B_CLAIM), 0);
    if (recordHasBonds(hw, vm, r)) continue;
    // The record's PASID, not the bond's: the claim may have died before it filled the bond.
    const rp = hw.ld(vpField(hw, vm, r, VP_PASID));
    giveBackRef(hw, vm, r, rp, hw.ld(vpField(hw, vm, r, VP_GEN)), vmTokenOf(hw, vm));
  }
  // A bind cut short after the driver's get and before it claimed a bond: no bond holds the
  // reference, and no teardown would ever give it back.
  for (let r = 0; r < hw.g.shape.vm.pasids; r++) {
    const ref = hw.ld(vpField(hw, vm, r, VP_IOMMU_REF));
    if (ref !== REF_HELD && ref !== REF_GETTING) continue;
    if (guestBondNamesRecord(hw, vm, r)) continue;
    const pasid = hw.ld(vpField(hw, vm, r, VP_PASID));
    giveBackRef(hw, vm, r, pasid, hw.ld(vpField(hw, vm, r, VP_GEN)), vmTokenOf(hw, vm));
  }
}

/** True when a guest bond in use (linked or not: P7 unlinks first) belongs to record `r`. */
function guestBondNamesRecord(hw: HwContext, vm: number, r: number): boolean {
  for (let b = hw.g.shape.vm.hostBonds; b < hw.g.shape.bonds; b++)
    if (hw.ld(bf(hw, b, B_STATE)) !== BS_FREE && hw.ld(bf(hw, b, B_MM)) === guestBondMm(vm, r))
      return true;
  return false;
}

/** The driver's reference on record `r`, which no bond holds, goes back if it was taken. */
function giveBackRef(
  hw: HwContext,
  vm: number,
  r: number,
  pasid: number,
  gen: number,
  token: number,
): void {
  const ref = vpField(hw, vm, r, VP_IOMMU_REF);
  // GETTING: the core's count against what every holder's word records (vm-refs.ts) tells
  // whether the get happened, as for KVM's and the VDCM's references.
  const got =
    hw.ld(ref) === REF_HELD ||
    (hw.ld(ref) === REF_GETTING && pasid !== 0 && unrecordedRef(hw, vm, pasid, gen));
  if (got && hw.ld(ref) === REF_GETTING)
    hw.log.emit(Ev.GET, pasid, gen, -1, token, HOLDER_IOMMU, RELOGGED);
  if (got) putIommuRef(hw, vm, r, pasid, gen, token);
  else hw.st(ref, REF_NONE);
}

/**
 * The dead VMM's thread ran the VM's kernel: an event it had read from the chains but not
 * handled is lost. As after an overflow, each consumer rescans in chain order
 * (vm-kernel.ts rescanConsumers; a live record is left alone: the FREE that the destroy
 * sends takes it).
 */
function requeueTeardowns(hw: HwContext, vm: number, take: (word: number) => void): void {
  const lock = vmField(hw, vm, VM_KERNEL_LOCK);
  take(lock);
  try {
    if (rescanConsumers(hw, vm)) hw.st(vmField(hw, vm, VM_RESCAN), 1);
  } finally {
    lockGive(hw.i32, lock);
  }
}

/**
 * An alloc or free the dead VMM did not finish recording.
 *
 * Alloc (vm-pasids.ts `vmmAlloc`): the intent names the record before it is claimed. Still
 * FREE: nothing happened. Recorded (VP_GEN is the ticket and VP_PASID set: recordPasid's
 * order): done. Otherwise the claim happened (its words maybe half cleared) and the core may
 * have handed out an id no record names: the record takes it, or goes back to FREE.
 * Free (`vmmFree`): FREED is stored before the free is logged and done; the core's state of
 * the id tells whether it was (an id still allocated to the VM's set with this record's token).
 */
function resolveVmmIntent(hw: HwContext, vm: number): void {
  const op = hw.ld(vmField(hw, vm, VM_VMM_OP));
  const kind = op & 0xff;
  const r = op >>> 8;
  if (kind === VMOP_ALLOC) resolveAlloc(hw, vm, r);
  else if (kind === VMOP_FREE) {
    // FREED is stored and the free logged before the core's free: finish it if it is missing
    // (logged again: the dead VMM died either side of its log, one statement apart from the
    // free; the record is FREED only if it got that far).
    const pasid = hw.ld(vpField(hw, vm, r, VP_PASID));
    const set = vmSet(hw, vm);
    const s = hw.space.inspect(pasid);
    // Allocated (idle: the alloc reference alone; active: others hold some too), not yet
    // free-pending: the free did not happen.
    const allocated = s.state === 'idle' || s.state === 'active';
    if (
      hw.ld(vpField(hw, vm, r, VP_STATE)) === VPS_FREED &&
      allocated &&
      s.set === set &&
      s.data === vmTokenOf(hw, vm)
    ) {
      const gen = hw.ld(vpField(hw, vm, r, VP_GEN));
      // RELOGGED: if the dead VMM's own FREE_CALL made it into the log, the checker counts one.
      hw.log.emit(Ev.FREE_CALL, pasid, gen, -1, vmTokenOf(hw, vm), 0, RELOGGED);
      hw.space.free(set, pasid);
    }
    if (hw.ld(vpField(hw, vm, r, VP_STATE)) === VPS_FREED) releaseRecordIfDone(hw, vm, r);
  }
  hw.st(vmField(hw, vm, VM_VMM_OP), VMOP_NONE);
  hw.st(vmField(hw, vm, VM_PENDING_TICKET), 0);
}

/** The VMOP_ALLOC half of resolveVmmIntent, for record `r`. */
function resolveAlloc(hw: HwContext, vm: number, r: number): void {
  const ticket = hw.ld(vmField(hw, vm, VM_PENDING_TICKET));
  if (hw.ld(vpField(hw, vm, r, VP_STATE)) !== VPS_LIVE) return;
  const recorded =
    hw.ld(vpField(hw, vm, r, VP_GEN)) === ticket && hw.ld(vpField(hw, vm, r, VP_PASID)) !== 0;
  if (recorded) return;
  // Claimed, not recorded: did the core hand out an id no record names?
  const set = vmSet(hw, vm);
  const token = vmTokenOf(hw, vm);
  let found = 0;
  if (set >= 0)
    hw.space.setForEachIoasid(set, (id) => {
      if (found === 0 && recordOfPasid(hw, vm, id) < 0 && hw.space.find(set, id) === token)
        found = id;
    });
  if (found > 0) {
    // Logged again if the dead VMM logged it already (same generation: the checker ignores
    // the repeat).
    hw.log.emit(Ev.ALLOC, found, ticket, -1, token, 1);
    recordPasid(hw, vm, r, found, ticket, found);
  } else hw.st(vpField(hw, vm, r, VP_STATE), VPS_FREE);
}
