/**
 * KVM as a consumer of a VM's IOASID set (spec e; iommu-hw-model.md §2.6, §7.4): priority CPU,
 * first on the chain. Its notifier handler (atomic context) only queues work on the VM's
 * ordered workqueue; the work keeps the VMCS PASID translation table in step with the set:
 *
 * - BIND (a guest PASID's first bind): take a reference on the host PASID and make the VMCS
 *   entry of the guest PASID translate to it (`kvmProgramStep`).
 * - UNBIND (the last unbind) or FREE: invalidate the entry, wait until every vCPU in the guest
 *   has acknowledged the new epoch at a VM entry, then log P0 on each bond of the PASID and
 *   drop the reference (`kvmAckStep`). That wait is what makes P0 mean "no vCPU can submit
 *   with it any more": the VDCM's drain (P1), queued behind, comes after it.
 *
 * KVM's reference lives with the entry (VE_REF, VE_REF_GEN): the PASID it holds one on.
 * An overflow (lost events) makes it rescan every entry and record (`kvmRescan`).
 *
 * @internal
 */
import { bf } from './bonds.js';
import { Ev, RELOGGED } from './event-log.js';
import { HOLDER_KVM } from './guest-bonds.js';
import { teardownsBond, unbindTarget } from './guest-iommu.js';
import type { HwContext } from './hw-context.js';
import {
  B_PHASES,
  B_STATE,
  BS_FREE,
  P0_STOP_SUBMISSION,
  REF_GETTING,
  REF_HELD,
  REF_NONE,
  REF_PUTTING,
  VE_CUR,
  VE_REF,
  VE_REF_GEN,
  VE_REF_STATE,
  VE_VALID,
  VM_LEAF_NEXT,
  VMCS_ENTRY_WORDS,
  VMCS_LEAF_ENTRIES,
  VP_GEN,
  VP_GPASID,
  VP_PASID,
  VP_SPID,
  VP_STATE,
  VPS_LIVE,
  WK_ARG,
  WK_AUX,
  WK_GEN,
  WK_PASID,
  WK_SUB,
  WORK_KVM_ACK,
  WORK_KVM_PROGRAM,
} from './hw-layout.js';
import { M_SKIP_EPOCH_WAIT } from './mutations.js';
import { complete, TD_BLOCKED, TD_DONE, TD_PROGRESS } from './teardown.js';
import {
  recordBond,
  recordOfGeneration,
  recordOfPasid,
  vmField,
  vmSet,
  vmTokenOf,
  vpField,
} from './vm.js';
import {
  NOTIFY_BIND,
  NOTIFY_FREE,
  NOTIFY_OVERFLOW,
  NOTIFY_UNBIND,
  type VmNotification,
} from './vm-chain.js';
import { unrecordedRef } from './vm-refs.js';
import { allAcked, lastChangeAcked, vmcsChange, vmcsEntry, vmcsEntryEnsure } from './vmcs.js';
import { wk, wkSet, workQueue } from './work-ring.js';

/**
 * KVM's notifier handler: queue the work an event asks for (atomic context: no waiting).
 *
 * Context: the VM's kernel (its lock held); never blocks.
 * @returns true when it needs a rescan (the workqueue was full, or events were lost)
 */
export function kvmHandle(hw: HwContext, vm: number, n: VmNotification): boolean {
  if (n.event === NOTIFY_OVERFLOW) return true;
  if (n.event !== NOTIFY_BIND && n.event !== NOTIFY_UNBIND && n.event !== NOTIFY_FREE) return false;
  const r = n.event === NOTIFY_BIND ? recordOfPasid(hw, vm, n.id) : unbindTarget(hw, vm, n);
  if (r < 0) return false;
  const gen = hw.ld(vpField(hw, vm, r, VP_GEN));
  const g = n.spid >= 0 ? n.spid : hw.ld(vpField(hw, vm, r, VP_GPASID));
  const kind = n.event === NOTIFY_BIND ? WORK_KVM_PROGRAM : WORK_KVM_ACK;
  return !workQueue(hw, vm, kind, n.id, gen, g);
}

/**
 * Make the entry of the item's guest PASID translate to its host PASID, with KVM's reference.
 *
 * Context: the VM's kernel (its lock held); never blocks.
 * @returns TD_DONE, or TD_BLOCKED while the entry's last change is not acknowledged by all
 */
export function kvmProgramStep(hw: HwContext, vm: number, w: number): number {
  const pasid = wk(hw, w, WK_PASID);
  const gen = wk(hw, w, WK_GEN);
  const g = wk(hw, w, WK_ARG);
  const r = recordOfGeneration(hw, vm, pasid, gen);
  // Only a PASID still bound, of the generation the BIND was for, for this guest PASID.
  if (r < 0 || hw.ld(vpField(hw, vm, r, VP_STATE)) !== VPS_LIVE) return TD_DONE;
  if (hw.ld(vpField(hw, vm, r, VP_GPASID)) !== g) return TD_DONE;
  if (hw.ld(vpField(hw, vm, r, VP_SPID)) !== 1) return TD_DONE;
  const e = vmcsEntryEnsure(hw, vm, g);
  if (e < 0) return TD_DONE; // no leaf left: the guest's ENQCMD with it exits (72)
  const held = hw.ld(e + VE_REF);
  if (held === pasid && hw.ld(e + VE_REF_GEN) === gen) return TD_DONE;
  if (held !== 0) return TD_DONE; // another PASID's drop is still owed: a rescan fixes it
  if (!lastChangeAcked(hw, vm, e)) return TD_BLOCKED;
  // The intent before the get, the reference named before it is HELD (kvmResolveRefs).
  hw.st(e + VE_REF_STATE, REF_GETTING);
  hw.st(e + VE_REF_GEN, gen);
  hw.st(e + VE_REF, pasid);
  if (hw.space.get(vmSet(hw, vm), pasid) < 0) {
    refCleared(hw, e); // freed meanwhile
    return TD_DONE;
  }
  const token = vmTokenOf(hw, vm);
  hw.log.emit(Ev.GET, pasid, gen, -1, token, HOLDER_KVM);
  hw.st(e + VE_REF_STATE, REF_HELD);
  const epoch = vmcsChange(hw, vm, e, VE_VALID | pasid, gen);
  hw.log.emit(Ev.VMCS_SET, pasid, gen, -1, token, g, epoch);
  return TD_DONE;
}

/**
 * UNBIND or FREE: sub 0 invalidate the entry (if it still translates to the PASID) and note
 * the epoch; sub 1 wait until every vCPU acknowledged it (mutation skip-epoch-wait: no wait);
 * sub 2 log P0 on every bond of the PASID, then drop KVM's reference.
 *
 * Context: the VM's kernel (its lock held); never blocks.
 * @returns TD_PROGRESS, TD_BLOCKED (vCPUs have not acknowledged yet) or TD_DONE
 */
export function kvmAckStep(hw: HwContext, vm: number, w: number): number {
  const pasid = wk(hw, w, WK_PASID);
  const gen = wk(hw, w, WK_GEN);
  const g = wk(hw, w, WK_ARG);
  const sub = wk(hw, w, WK_SUB);
  const e = vmcsEntry(hw, vm, g);
  const mine = e >= 0 && hw.ld(e + VE_REF) === pasid && hw.ld(e + VE_REF_GEN) === gen;
  if (sub === 0) {
    // Nothing to invalidate (never programmed, or done by an earlier item): nothing to wait for.
    let epoch = 0;
    if (mine && hw.ld(e + VE_CUR) === (VE_VALID | pasid)) {
      if (!lastChangeAcked(hw, vm, e)) return TD_BLOCKED;
      epoch = vmcsChange(hw, vm, e, 0, 0);
      hw.log.emit(Ev.VMCS_CLEAR, pasid, gen, -1, vmTokenOf(hw, vm), g, epoch);
    }
    wkSet(hw, w, WK_AUX, epoch);
    wkSet(hw, w, WK_SUB, 1);
    return TD_PROGRESS;
  }
  if (sub === 1) {
    if (hw.mutation !== M_SKIP_EPOCH_WAIT && !allAcked(hw, vm, wk(hw, w, WK_AUX)))
      return TD_BLOCKED;
    wkSet(hw, w, WK_SUB, 2);
    return TD_PROGRESS;
  }
  stopSubmission(hw, vm, pasid, gen);
  if (mine) {
    // PUTTING before the PUT is logged; cleared after the put (kvmResolveRefs).
    hw.st(e + VE_REF_STATE, REF_PUTTING);
    hw.log.emit(Ev.PUT, pasid, gen, -1, vmTokenOf(hw, vm), HOLDER_KVM);
    hw.space.put(null, pasid);
    refCleared(hw, e);
  }
  return TD_DONE;
}

/** Entry `e` holds no reference: VE_REF and its generation cleared, then the state. */
function refCleared(hw: HwContext, e: number): void {
  hw.st(e + VE_REF, 0);
  hw.st(e + VE_REF_GEN, 0);
  hw.st(e + VE_REF_STATE, REF_NONE);
}

/**
 * A reaper finishes KVM's get or put that the dead VMM's thread (which ran the VM's kernel)
 * cut short. GETTING: the core's count tells whether the get happened; if so its GET is
 * logged again (RELOGGED: counted once) and the reference is HELD, else the entry names none.
 * PUTTING: if the core still counts it, the put is done now (its PUT logged again); then the
 * entry names none. The work item that was running resumes from what the words say.
 *
 * Context: a reaper holding the VM's VMM and kernel locks, the VMM's intent resolved; never
 * blocks.
 * @returns entries resolved
 */
export function kvmResolveRefs(hw: HwContext, vm: number): number {
  const leaves = hw.ld(vmField(hw, vm, VM_LEAF_NEXT));
  const base = hw.g.vm[vm]!.vmcsLeafBase;
  const token = vmTokenOf(hw, vm);
  let n = 0;
  for (let i = 0; i < leaves * VMCS_LEAF_ENTRIES; i++) {
    const e = base + i * VMCS_ENTRY_WORDS;
    const st = hw.ld(e + VE_REF_STATE);
    if (st !== REF_GETTING && st !== REF_PUTTING) continue;
    n++;
    const pasid = hw.ld(e + VE_REF);
    const gen = hw.ld(e + VE_REF_GEN);
    // Named only once both words are stored (GETTING first): else nothing happened yet.
    const held = pasid !== 0 && unrecordedRef(hw, vm, pasid, gen);
    if (st === REF_GETTING && held) {
      hw.log.emit(Ev.GET, pasid, gen, -1, token, HOLDER_KVM, RELOGGED);
      hw.st(e + VE_REF_STATE, REF_HELD);
      continue;
    }
    if (st === REF_PUTTING && held) {
      hw.log.emit(Ev.PUT, pasid, gen, -1, token, HOLDER_KVM, RELOGGED);
      hw.space.put(null, pasid);
    }
    refCleared(hw, e);
  }
  return n;
}

/** P0 of every bond of (pasid, gen) that has not reached it: no vCPU submits with it. */
function stopSubmission(hw: HwContext, vm: number, pasid: number, gen: number): void {
  const r = recordOfGeneration(hw, vm, pasid, gen);
  if (r < 0) return;
  for (let pf = 0; pf < hw.g.pf.length; pf++) {
    const b = recordBond(hw, vm, r, pf);
    if (b < 0 || hw.ld(bf(hw, b, B_STATE)) === BS_FREE) continue;
    if (!teardownsBond(hw, vm, r, b)) continue;
    if (hw.ld(bf(hw, b, B_PHASES)) & (1 << P0_STOP_SUBMISSION)) continue;
    complete(hw, b, P0_STOP_SUBMISSION);
  }
}

/**
 * After lost events: queue a drop for every entry whose PASID is no longer bound to it, and a
 * program for every bound PASID without an entry.
 *
 * @param queued - keys `pasid:gen` of drops queued and not started (work-ring.ts
 *   workQueuedKvmAcks): not queued again
 *
 * Context: the VM's kernel (its lock held); never blocks.
 * @returns true when the workqueue filled up before the scan ended (rescan later)
 */
export function kvmRescan(hw: HwContext, vm: number, queued?: Set<string>): boolean {
  const set = vmSet(hw, vm);
  const leaves = hw.ld(vmField(hw, vm, VM_LEAF_NEXT));
  const base = hw.g.vm[vm]!.vmcsLeafBase;
  const programmed = new Set<number>();
  for (let i = 0; i < leaves * VMCS_LEAF_ENTRIES; i++) {
    const e = base + i * VMCS_ENTRY_WORDS;
    const pasid = hw.ld(e + VE_REF);
    if (pasid === 0) continue;
    programmed.add(pasid);
    const s = hw.space.inspect(pasid);
    const g = entryGpasid(hw, vm, i);
    if (s.set === set && s.state !== 'free-pending' && s.spid === g) continue;
    // An ack of this entry queued and not started runs later and sees the same (rescans).
    if (queued?.has(`${pasid}:${hw.ld(e + VE_REF_GEN)}`)) continue;
    if (!workQueue(hw, vm, WORK_KVM_ACK, pasid, hw.ld(e + VE_REF_GEN), g)) return true;
  }
  for (let r = 0; r < hw.g.shape.vm.pasids; r++) {
    if (hw.ld(vpField(hw, vm, r, VP_STATE)) !== VPS_LIVE) continue;
    if (hw.ld(vpField(hw, vm, r, VP_SPID)) !== 1) continue;
    const pasid = hw.ld(vpField(hw, vm, r, VP_PASID));
    if (programmed.has(pasid)) continue;
    const gen = hw.ld(vpField(hw, vm, r, VP_GEN));
    if (!workQueue(hw, vm, WORK_KVM_PROGRAM, pasid, gen, hw.ld(vpField(hw, vm, r, VP_GPASID))))
      return true;
  }
  return false;
}

/** The guest PASID of entry number `i` (leaf-major) of VM `vm`: from the directory. */
function entryGpasid(hw: HwContext, vm: number, i: number): number {
  const leaf = Math.floor(i / VMCS_LEAF_ENTRIES);
  const dir = hw.g.vm[vm]!.vmcsDir;
  for (let d = 0; d < 1024; d++)
    if (hw.ld(dir + d) === leaf + 1) return (d << 10) | (i % VMCS_LEAF_ENTRIES);
  return -1;
}
