/**
 * The virtual command channel of a vIOMMU (iommu-hw-model.md §1.6, §7.4 vcmdAlloc/vcmdFree):
 * the guest side writes VCMD and polls VCRSP; the VMM side (QEMU's handler of the trapped
 * write) sets IP, allocates or frees in the VM's IOASID set, writes the result and clears IP.
 * Both register encodings (VT-d 3.0-3.2 and 3.3) go through vcmd-regs.ts.
 *
 * ```text
 *   guest: lock; VCMD = op|operand ----------------------------> poll: VCMD = 0 and IP = 0
 *   VMM:            sees op != 0: VCRSP.IP = 1; handle; VCMD = 0; VCRSP = {SC, result}, IP = 0
 * ```
 *
 * ## Developer notes
 * One command in flight per vIOMMU: the guest's register lock (VI_GUEST_LOCK) serialises the
 * guest's threads, as Linux's register lock does; the VMM serialises itself per VM
 * (VM_VMM_LOCK). The guest knows the response is its own because the VMM clears VCMD before
 * it clears IP: "VCMD = 0 and IP = 0" can only mean "handled". The mutation
 * `vcmd-no-owner-check` is the one branch in `vmmFreeOp` that frees a value in whichever set
 * owns it instead of refusing a value outside the VM's set.
 *
 * @internal
 */
import { C } from './counters.js';
import { Ev } from './event-log.js';
import type { HwContext } from './hw-context.js';
import { HwErrno } from './hw-errno.js';
import {
  L_TICKETS,
  VI_GUEST_LOCK,
  VI_REGS,
  VM_STATE,
  VM_VMM_LOCK,
  VMS_RUNNING,
  VP_PASID,
  VP_STATE,
  VPS_LIVE,
} from './hw-layout.js';
import { M_VCMD_NO_OWNER_CHECK } from './mutations.js';
import { lockGive, lockTry } from './owner-lock.js';
import {
  decodeVcmd,
  decodeVcrsp,
  encodeVcmd,
  encodeVcrsp,
  SC_SUCCESS,
  SC_UNDEFINED,
  scNoPasid,
  VCCAP_PAS,
  VCMD_ALLOC,
  VCMD_FREE,
  vccapWord,
  vcmdWord,
  vcrspWord,
} from './vcmd-regs.js';
import { recordOfPasid, viommuField, vmField, vmSet, vmTokenOf, vpField } from './vm.js';
import { recordAvailable, vmmAlloc, vmmFree } from './vm-pasids.js';

/** What the guest read back: still busy, or the status code and result. */
export const VCMD_BUSY = -1;

/** The register word `reg` (lo; hi is + 1) of vIOMMU `vi` of VM `vm`. */
function reg(hw: HwContext, vm: number, vi: number, word: number): number {
  return viommuField(hw, vm, vi, VI_REGS + word);
}

/**
 * Guest: take the register lock and write VCMD.
 *
 * Context: a guest thread of VM `vm`; never blocks.
 * @returns 0 posted; -EAGAIN another guest thread has a command in flight on this vIOMMU
 */
export function vcmdPost(
  hw: HwContext,
  vm: number,
  vi: number,
  op: number,
  operand: number,
): number {
  if (!lockTry(hw.i32, viommuField(hw, vm, vi, VI_GUEST_LOCK), hw.tag)) return -HwErrno.EAGAIN;
  const [lo, hi] = encodeVcmd(hw.vcmdRev, op, operand);
  const w = reg(hw, vm, vi, vcmdWord(hw.vcmdRev));
  hw.st(w + 1, hi);
  // Last: the opcode in the low word is the write the VMM traps.
  hw.st(w, lo);
  return 0;
}

/**
 * Guest: poll VCRSP for the command this thread posted; when it is done, decode it, release
 * the register lock and log what the guest consumed.
 *
 * Context: the guest thread that posted; never blocks.
 * @returns VCMD_BUSY while in progress; else `sc << 20 | result` (result 20 bits)
 */
export function vcmdPoll(hw: HwContext, vm: number, vi: number): number {
  const cmd = reg(hw, vm, vi, vcmdWord(hw.vcmdRev));
  const rsp = reg(hw, vm, vi, vcrspWord(hw.vcmdRev));
  if (hw.ld(cmd) !== 0) return VCMD_BUSY;
  const r = decodeVcrsp(hw.vcmdRev, hw.ld(rsp), hw.ld(rsp + 1));
  if (r.ip) return VCMD_BUSY;
  hw.log.emit(Ev.VCMD_RESULT, r.result, 0, -1, vm, r.sc, vi);
  lockGive(hw.i32, viommuField(hw, vm, vi, VI_GUEST_LOCK));
  return (r.sc << 20) | r.result;
}

/**
 * VMM: handle the command posted on vIOMMU `vi` of VM `vm`, if any (one step: the whole trap).
 *
 * Context: the VMM's thread (or any thread driving it); takes the VM's VMM lock with a try.
 * @returns 1 a command was handled; 0 none posted, the VMM is busy, or an Allocate was put
 * back (no VMM record free, or the core short of records: -ENOMEM), to be taken again later
 */
export function vmmVcmdStep(hw: HwContext, vm: number, vi: number): number {
  const cmd = reg(hw, vm, vi, vcmdWord(hw.vcmdRev));
  if (hw.ld(cmd) === 0) return 0;
  const lock = vmField(hw, vm, VM_VMM_LOCK);
  if (!lockTry(hw.i32, lock, hw.tag)) return 0;
  const rev = hw.vcmdRev;
  const rsp = reg(hw, vm, vi, vcrspWord(rev));
  const { op, operand } = decodeVcmd(rev, hw.ld(cmd), hw.ld(cmd + 1));
  if (op === 0) {
    lockGive(hw.i32, lock);
    return 0;
  }
  if (hw.ld(vmField(hw, vm, VM_STATE)) !== VMS_RUNNING) {
    // A command of a VM being destroyed (its guest crashed or was killed with it posted): no
    // PASID may join the dying set, so it is dropped; the reboot resets the registers.
    dropCommand(hw, cmd, reg(hw, vm, vi, vcrspWord(hw.vcmdRev)));
    lockGive(hw.i32, lock);
    return 1;
  }
  if (op === VCMD_ALLOC && !recordAvailable(hw, vm)) {
    // Every record is taken, some by PASIDs whose teardown waits for a grace period (their
    // quota units may be back already): answering "no PASID" would be wrong (INV-12), so the
    // command stays posted and is taken at a later step, as a VMM busy elsewhere would.
    lockGive(hw.i32, lock);
    return 0;
  }
  const [lo0, hi0] = [hw.ld(rsp), hw.ld(rsp + 1)];
  const wasBusy = decodeVcrsp(rev, lo0, hi0).ip;
  let [lo, hi] = encodeVcrsp(rev, true, 0, 0);
  hw.st(rsp + 1, hi);
  hw.st(rsp, lo);
  hw.count(C.vcmdCommands);
  hw.log.emit(Ev.VCMD_START, operand, 0, -1, vm, op | (wasBusy ? 0x100 : 0), vi);
  let sc = SC_SUCCESS;
  let result = 0;
  const pas = (hw.ld(reg(hw, vm, vi, vccapWord(rev))) & VCCAP_PAS) !== 0;
  if (!pas || (op !== VCMD_ALLOC && op !== VCMD_FREE)) sc = SC_UNDEFINED;
  else if (op === VCMD_ALLOC) {
    const r = vmmAlloc(hw, vm, -1);
    if (r === -HwErrno.ENOMEM) {
      // The core is short of records (retired ones wait for a grace period, which a stalled or
      // dead reader delays), not of PASIDs: "no PASID" would be wrong (INV-12). As for a VM
      // record above, the command goes back, to be taken at a later step; IP as it was (the
      // guest waits while VCMD is non-zero). vmmAlloc undid its own intent and record.
      hw.log.emit(Ev.VCMD_DEFER, operand, 0, -1, vmTokenOf(hw, vm), op, vi);
      hw.st(rsp + 1, hi0);
      hw.st(rsp, lo0);
      lockGive(hw.i32, lock);
      return 0;
    }
    if (r < 0) sc = scNoPasid(rev);
    else result = hw.ld(vpField(hw, vm, r, VP_PASID));
  } else if (!vmmFreeOp(hw, vm, vi, operand)) sc = scNoPasid(rev);
  else result = operand;
  // gen: the ticket counter after the call (the checker's bound on the allocations that may
  // have raced a no-PASID answer: checker/no-pasid.ts).
  const tickets = Atomics.load(hw.logI32, L_TICKETS);
  hw.log.emit(Ev.VCMD_DONE, result, tickets, -1, vmTokenOf(hw, vm), op | (sc << 8), vi);
  hw.st(cmd, 0);
  hw.st(cmd + 1, 0);
  [lo, hi] = encodeVcrsp(rev, false, sc, result);
  hw.st(rsp + 1, hi);
  // Last: IP = 0 hands the response to the guest.
  hw.st(rsp, lo);
  lockGive(hw.i32, lock);
  return 1;
}

/** Answer the posted command "no PASID" without handling it (VCMD = 0, then IP = 0). */
function dropCommand(hw: HwContext, cmd: number, rsp: number): void {
  hw.st(cmd, 0);
  hw.st(cmd + 1, 0);
  const [lo, hi] = encodeVcrsp(hw.vcmdRev, false, scNoPasid(hw.vcmdRev), 0);
  hw.st(rsp + 1, hi);
  hw.st(rsp, lo);
}

/** Free `pasid` for the guest: refused (false) when it is not the VM's. */
function vmmFreeOp(hw: HwContext, vm: number, vi: number, pasid: number): boolean {
  const set = vmSet(hw, vm);
  const r = recordOfPasid(hw, vm, pasid);
  const mine =
    r >= 0 &&
    hw.ld(vpField(hw, vm, r, VP_STATE)) === VPS_LIVE &&
    hw.space.inspect(pasid).set === set;
  if (mine) {
    hw.log.emit(Ev.VCMD_FREE, pasid, 0, -1, vmTokenOf(hw, vm), vi);
    vmmFree(hw, vm, r);
    return true;
  }
  if (hw.mutation !== M_VCMD_NO_OWNER_CHECK) return false;
  // The broken VMM: frees the value in whatever set holds it.
  const owner = pasid >= 1 && pasid <= hw.space.maxId ? hw.space.inspect(pasid).set : null;
  if (owner === null) return false;
  hw.log.emit(Ev.VCMD_FREE, pasid, 0, -1, vmTokenOf(hw, vm), vi);
  return hw.space.free(owner, pasid) === 0;
}

/** A decoded poll result. */
export interface VcmdResult {
  sc: number;
  result: number;
}

/** Split a `vcmdPoll` value. Context: pure. */
export function vcmdSplit(v: number): VcmdResult {
  return { sc: v >>> 20, result: v & 0xfffff };
}
