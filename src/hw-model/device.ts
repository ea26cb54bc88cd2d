/**
 * PCI functions with work queues (§2, §7.3 "Device / PF", "Work queue", "Descriptor"): the
 * WQ rings CPUs submit into, the device command register (enable/disable WQ, Drain PASID,
 * Abort PASID), the PRG slots where a block-on-fault descriptor waits for its page response,
 * SWERR, and the device engine's step, `deviceStep`, which handles the command, retries
 * answered page faults and executes one descriptor through the IOMMU.
 *
 * ## Developer notes
 * A PF's engine state (PRG slots, WQ heads, the rotor) is written only under the PF's device
 * lock, taken with a try-lock by whoever steps the device (its engine worker, or a thread
 * helping a synchronous operation); the IOMMU writes a PRG slot only by CAS on its STATE when a
 * response arrives. The command register is claimed by CAS with the poster's owner id (a bond
 * + 1 for a teardown, CMD_OWNER_API for the public methods) and released by the poster after
 * it read the status, so a teardown resumed by another thread recognises its own command.
 * Each publication takes the next sequence number (1..255 in the register's top byte, from a
 * ghost counter in the log buffer, so a refused command leaves the hardware buffer as it
 * was) and the status word carries the number of the command it belongs to: the engine's
 * re-check of the register after loading status and operand sees a release and a new post
 * of the same owner and op as a change (without the number the word came back the same:
 * ABA), a released status (0) names no command, and its status writes are CASes naming the
 * command, so a step that finished loading an older command never accepts or completes a
 * newer one. Mod 255: an ABA now needs 255 publications while one engine step is
 * descheduled between two loads.
 *
 * Drain PASID completes when every WQ's HEAD passed the TAIL it had when the command was
 * accepted (every descriptor accepted before it has finished) and no descriptor of the PASID
 * waits on a page response. In stop-marker mode (the default) the drain does not wait for
 * those: it completes them as aborted, abandons their PRG slots (a late response frees the
 * slot) and sends a Stop Marker, so page requests of the PASID may still sit in the PRQ
 * after the device stopped: what the IOMMU-side drain (P6) is for.
 *
 * @internal
 */

import {
  RING_FULL,
  ringClaim,
  ringPeek,
  ringPublish,
  ringRelease,
  ringSlot,
} from './claim-ring.js';
import { C } from './counters.js';
import { Ev } from './event-log.js';
import type { HwContext } from './hw-context.js';
import { HwErrno } from './hw-errno.js';
import {
  CMD_ABORT_PASID,
  CMD_DISABLE_WQ,
  CMD_DRAIN_PASID,
  CMD_ENABLE_WQ,
  CMD_OWNER_MASK,
  CMD_OWNER_SHIFT,
  CMD_SEQ_SHIFT,
  CMD_STATUS_MASK,
  CMDERR_DEVICE_DISABLED,
  CMDERR_WQ_PASID,
  CMDERR_WQ_STATE,
  CMDS_ACCEPTED,
  CMDS_DONE,
  CMDS_ERROR,
  CMDS_PENDING,
  D_FLAGS,
  D_GEN,
  D_PAGE,
  D_PASID,
  D_SUBMITTER,
  DF_BOF,
  G_FLAGS,
  G_GEN,
  G_INDEX,
  G_PAGE,
  G_PASID,
  G_RESP,
  G_STATE,
  G_WQ,
  L_CMD_SEQ,
  PF_CMD,
  PF_CMD_MARKS,
  PF_CMD_OPERAND,
  PF_CMD_STATUS,
  PF_DEVICE_LOCK,
  PF_ENABLED,
  PF_FLAGS,
  PF_PRG_NEXT_INDEX,
  PF_SWERR,
  PF_SWERR_GEN,
  PF_SWERR_PASID,
  PF_SWERR_WQ,
  PF_WIDTH,
  PF_WQ_ROTOR,
  PFF_ATS,
  PFF_PRI,
  PRG_ABANDONED,
  PRG_ANSWERED,
  PRG_FREE,
  PRG_WAITING,
  PRG_WORDS,
  RESP_SUCCESS,
  SWERR_CODE_SHIFT,
  SWERR_OVF,
  SWERR_VALID,
  WQ_FLAGS,
  WQ_GEN,
  WQ_MODE,
  WQ_PASID,
  WQ_STATE,
  WQF_PASID_EN,
  WQM_DEDICATED,
  WQS_DISABLED,
  WQS_DISABLING,
  WQS_ENABLED,
} from './hw-layout.js';
import { atsTranslate, translate } from './iommu.js';
import { lockGive, lockTry } from './owner-lock.js';
import { pageRequest } from './prq.js';
import { CompletionStatus, SwerrCode, TR_NOT_MAPPED } from './results.js';

/** Word index of field `f` of WQ `w`'s config line on `pf`. */
export function wqCfg(hw: HwContext, pf: number, w: number, f: number): number {
  return hw.g.pf[pf]!.wqCfg[w]! + f;
}

/** Word index of PF `pf`'s field `f`. */
export function pfField(hw: HwContext, pf: number, f: number): number {
  return hw.g.pf[pf]!.base + f;
}

function prgWord(hw: HwContext, pf: number, slot: number): number {
  return hw.g.pf[pf]!.prgBase + slot * PRG_WORDS;
}

/**
 * Claim a slot of WQ `w` of `pf` if it holds fewer than `limit` and is enabled, and fill it.
 * The descriptor reaches the device only at `wqPublish` (so the submitter can log it first).
 *
 * @param pasidWord - PASID | DESC_PRIV (0 for a DWQ: the device uses WQCFG)
 *
 * Context: any attached thread; lock-free.
 * @returns the ring position, or RING_FULL (nothing queued)
 */
export function wqClaim(
  hw: HwContext,
  pf: number,
  w: number,
  pasidWord: number,
  gen: number,
  flags: number,
  page: number,
  submitter: number,
  limit: number,
): number {
  if (hw.ld(wqCfg(hw, pf, w, WQ_STATE)) !== WQS_ENABLED) return RING_FULL;
  const r = hw.wq[pf]![w]!;
  const pos = ringClaim(r, limit, hw.tag);
  if (pos === RING_FULL) return RING_FULL;
  const d = ringSlot(r, pos);
  hw.st(d + D_PASID, pasidWord);
  hw.st(d + D_GEN, gen);
  hw.st(d + D_FLAGS, flags);
  hw.st(d + D_PAGE, page);
  hw.st(d + D_SUBMITTER, submitter);
  return pos;
}

/** Hand a claimed descriptor to the device. Context: its claimer. */
export function wqPublish(hw: HwContext, pf: number, w: number, pos: number): void {
  ringPublish(hw.wq[pf]![w]!, pos, hw.tag);
}

/**
 * Latch a software error (the completion record could not be written, or a DWQ overflowed).
 *
 * Context: the device engine, or a submitter (DWQ overflow); lock-free.
 */
export function swerrLatch(
  hw: HwContext,
  pf: number,
  code: number,
  w: number,
  pasid: number,
  gen: number,
): void {
  const sw = pfField(hw, pf, PF_SWERR);
  hw.count(C.swerrs);
  hw.log.emit(Ev.SWERR, pasid, gen, pf, code, w);
  if (Atomics.load(hw.i32, sw) & SWERR_VALID) {
    Atomics.or(hw.i32, sw, SWERR_OVF);
    return;
  }
  hw.st(pfField(hw, pf, PF_SWERR_PASID), pasid);
  hw.st(pfField(hw, pf, PF_SWERR_WQ), w);
  hw.st(pfField(hw, pf, PF_SWERR_GEN), gen);
  hw.st(sw, SWERR_VALID | (code << SWERR_CODE_SHIFT));
}

/** The driver's error handler reads and clears SWERR. @returns the SWERR word it cleared */
export function swerrClear(hw: HwContext, pf: number): number {
  return Atomics.exchange(hw.i32, pfField(hw, pf, PF_SWERR), 0);
}

/**
 * A page group response reaches `pf` (from the IOMMU engine, in queue order).
 *
 * Context: the IOMMU engine (under the IOMMU lock).
 */
export function prgDeliver(
  hw: HwContext,
  pf: number,
  slot: number,
  pasid: number,
  index: number,
  gen: number,
  code: number,
): void {
  const slots = hw.g.shape.prgSlots;
  let matched = false;
  if (slot >= 0 && slot < slots) {
    const g = prgWord(hw, pf, slot);
    if (hw.ld(g + G_PASID) === pasid && hw.ld(g + G_INDEX) === index && hw.ld(g + G_GEN) === gen) {
      hw.st(g + G_RESP, code);
      // Hands the slot back to the device engine; pairs with its loads of STATE.
      matched =
        Atomics.compareExchange(hw.i32, g + G_STATE, PRG_WAITING, PRG_ANSWERED) === PRG_WAITING ||
        Atomics.compareExchange(hw.i32, g + G_STATE, PRG_ABANDONED, PRG_FREE) === PRG_ABANDONED;
    }
  }
  if (!matched) hw.count(C.responsesStale);
  hw.log.emit(Ev.PRG_RESP, pasid, gen, pf, index, code, slot);
}

/** The PF_CMD word: `op` of `owner`, publication `seq` (1..255); 0 = idle. */
function cmdWord(seq: number, owner: number, op: number): number {
  return ((seq & 0xff) << CMD_SEQ_SHIFT) | (owner << CMD_OWNER_SHIFT) | op;
}

function cmdOwner(v: number): number {
  return (v >>> CMD_OWNER_SHIFT) & CMD_OWNER_MASK;
}

function cmdSeq(v: number): number {
  return v >>> CMD_SEQ_SHIFT;
}

/** The PF_CMD_STATUS word: `status` of the command published as `seq`. */
function statusWord(seq: number, status: number): number {
  return ((seq & 0xff) << CMD_SEQ_SHIFT) | status;
}

/**
 * Claim the register (its word `v`: idle, or `owner`'s claim) for `owner` under the next
 * sequence number and publish `op operand`.
 *
 * @returns false when the register changed since `v` was loaded (nothing written)
 */
function publish(
  hw: HwContext,
  pf: number,
  v: number,
  op: number,
  operand: number,
  owner: number,
): boolean {
  const cmd = pfField(hw, pf, PF_CMD);
  // A ticket, 1..255, never 0, from one counter for every PF and every attempt (refused
  // posts take one too): two publications on a PF get the same number only when a multiple of
  // 255 tickets were taken between them, which an engine step descheduled between two loads
  // would have to sleep through (no ABA short of that).
  const seq = ((Atomics.add(hw.logI32, L_CMD_SEQ, 1) >>> 0) % 255) + 1;
  const claimed = cmdWord(seq, owner, 0);
  if (Atomics.compareExchange(hw.i32, cmd, v, claimed) !== v) return false;
  hw.st(pfField(hw, pf, PF_CMD_OPERAND), operand);
  hw.st(pfField(hw, pf, PF_CMD_STATUS), statusWord(seq, CMDS_PENDING));
  // Publishes operand and status; pairs with the engine's load of CMD.
  hw.st(cmd, claimed | op);
  return true;
}

/**
 * Post a device command. `owner` is a bond + 1 or CMD_OWNER_API.
 *
 * Context: any attached thread; lock-free.
 * @returns 0 posted; -EBUSY the command register holds another command (nothing changed)
 */
export function commandPost(
  hw: HwContext,
  pf: number,
  op: number,
  operand: number,
  owner: number,
): number {
  return publish(hw, pf, 0, op, operand, owner) ? 0 : -HwErrno.EBUSY;
}

/**
 * The status of `owner`'s command on `pf`: CMDS_PENDING (posted or running), CMDS_DONE,
 * CMDS_ERROR | code; -ENOENT when the register does not hold a command of `owner`.
 */
export function commandStatus(hw: HwContext, pf: number, owner: number): number {
  const cmd = hw.ld(pfField(hw, pf, PF_CMD));
  if (cmdOwner(cmd) !== owner) return -HwErrno.ENOENT;
  if ((cmd & 0xff) === 0) return CMDS_PENDING;
  const w = hw.ld(pfField(hw, pf, PF_CMD_STATUS));
  // Defensive: the status is stored before the op is published, so it names this command.
  if (cmdSeq(w) !== cmdSeq(cmd)) return CMDS_PENDING;
  const st = w & CMD_STATUS_MASK;
  return st === CMDS_ACCEPTED ? CMDS_PENDING : st;
}

/** The op of `owner`'s command on `pf` (0 when claimed but not yet published). */
export function commandOp(hw: HwContext, pf: number): number {
  return hw.ld(pfField(hw, pf, PF_CMD)) & 0xff;
}

/**
 * Release `owner`'s finished command (DONE or ERROR: the engine stores nothing more for it).
 *
 * Context: its poster (or a resumed teardown).
 */
export function commandRelease(hw: HwContext, pf: number, owner: number): void {
  const cmd = pfField(hw, pf, PF_CMD);
  const v = hw.ld(cmd);
  if (cmdOwner(v) !== owner) return;
  // The register goes back to idle as a whole (a refused command leaves no trace), but the
  // command is withdrawn first: held as claimed-but-unpublished (op 0, which the engine skips
  // and other posters see as busy) while operand and status are reset, then freed. Resetting
  // the status first (as this once did) let an engine step that loaded this command right
  // then take it for a new pending one; descheduled before its stores, its ACCEPTED and DONE
  // landed on the next poster's command: a Drain PASID reported done that never ran (a P1
  // that did not quiesce its PASID, whose page requests then came after P6). A poster killed
  // in between leaves its claim, which its resumed teardown re-publishes (commandRepublish).
  // (The sequence numbers now refuse both on their own; the order is kept, it costs nothing.)
  if (Atomics.compareExchange(hw.i32, cmd, v, v & ~0xff) !== v) return;
  hw.st(pfField(hw, pf, PF_CMD_OPERAND), 0);
  // Status 0 names no command (seq 0): a step that loads it takes nothing for it.
  hw.st(pfField(hw, pf, PF_CMD_STATUS), 0);
  hw.st(cmd, 0);
}

/**
 * Re-publish `owner`'s command if its poster died between claiming and publishing (or its
 * release between withdrawing and freeing it), under a new sequence number: an engine step
 * that loaded the command before must not take this one for it.
 *
 * Context: a resumed teardown.
 */
export function commandRepublish(
  hw: HwContext,
  pf: number,
  op: number,
  operand: number,
  owner: number,
): void {
  const v = hw.ld(pfField(hw, pf, PF_CMD));
  if (cmdOwner(v) !== owner || (v & 0xff) !== 0) return;
  publish(hw, pf, v, op, operand, owner);
}

/**
 * One step of `pf`'s device engine: advance the command, retry one answered page fault,
 * execute one descriptor.
 *
 * Context: any attached thread; takes the PF's device lock with a try-lock (returns 0 when
 * another thread is stepping this PF) and the IOMMU lock per translation.
 * @returns how much it did (0 = idle)
 */
export function deviceStep(hw: HwContext, pf: number): number {
  const lock = pfField(hw, pf, PF_DEVICE_LOCK);
  if (!lockTry(hw.i32, lock, hw.tag)) return 0;
  let n = stepCommand(hw, pf);
  n += retryAnswered(hw, pf);
  n += executeNext(hw, pf);
  lockGive(hw.i32, lock);
  return n;
}

function stepCommand(hw: HwContext, pf: number): number {
  const cmd = hw.ld(pfField(hw, pf, PF_CMD));
  const op = cmd & 0xff;
  const stw = pfField(hw, pf, PF_CMD_STATUS);
  const sw = hw.ld(stw);
  const st = sw & CMD_STATUS_MASK;
  if (op === 0 || cmdSeq(sw) !== cmdSeq(cmd)) return 0;
  if (st !== CMDS_PENDING && st !== CMDS_ACCEPTED) return 0;
  const operand = hw.ld(pfField(hw, pf, PF_CMD_OPERAND));
  // Status and operand are this command's only if the register still holds it: released and
  // posted again in between, they may be the release's reset or the next command's, under
  // this one's op. The sequence number makes a new post of the same owner and op a different
  // word (ABA). While it is held with PENDING or ACCEPTED its poster waits; the status writes
  // below are CASes from the status this step read, so a command released anyway (a caller
  // that gave up on it) and posted again is not accepted or completed by this step.
  if (hw.ld(pfField(hw, pf, PF_CMD)) !== cmd) return 0;
  const enabled = hw.ld(pfField(hw, pf, PF_ENABLED)) === 1;
  switch (op) {
    case CMD_DRAIN_PASID:
    case CMD_ABORT_PASID:
      if (!enabled) return fail(hw, stw, sw, CMDERR_DEVICE_DISABLED);
      if (st === CMDS_PENDING && !acceptPasidCommand(hw, pf, op, operand, sw)) return 1;
      if (pasidQuiet(hw, pf, operand)) setStatus(hw, stw, sw, CMDS_ACCEPTED, CMDS_DONE);
      return 1;
    case CMD_DISABLE_WQ: {
      const w = operand;
      if (w < 0 || w >= hw.g.pf[pf]!.wqCfg.length) return fail(hw, stw, sw, CMDERR_WQ_STATE);
      const state = wqCfg(hw, pf, w, WQ_STATE);
      if (st === CMDS_PENDING) {
        if (hw.ld(state) !== WQS_ENABLED) return fail(hw, stw, sw, CMDERR_WQ_STATE);
        hw.st(state, WQS_DISABLING);
        hw.st(pfField(hw, pf, PF_CMD_MARKS + w), Atomics.load(hw.i32, hw.wq[pf]![w]!.meta + 1));
        if (!setStatus(hw, stw, sw, CMDS_PENDING, CMDS_ACCEPTED)) {
          // Given up meanwhile (released, maybe posted again): the disable never happened, so
          // the WQ is enabled again, or a later Enable/Disable would find it DISABLING. A CAS:
          // only this step (under the device lock) moves a WQ out of DISABLING.
          Atomics.compareExchange(hw.i32, state, WQS_DISABLING, WQS_ENABLED);
          return 1;
        }
        hw.count(C.wqDisables);
      }
      if (wqPassedMark(hw, pf, w) && !blockedOn(hw, pf, -1, w)) {
        hw.st(state, WQS_DISABLED);
        setStatus(hw, stw, sw, CMDS_ACCEPTED, CMDS_DONE);
      }
      return 1;
    }
    case CMD_ENABLE_WQ: {
      const w = operand;
      if (!enabled) return fail(hw, stw, sw, CMDERR_DEVICE_DISABLED);
      if (w < 0 || w >= hw.g.pf[pf]!.wqCfg.length) return fail(hw, stw, sw, CMDERR_WQ_STATE);
      const width = hw.ld(pfField(hw, pf, PF_WIDTH));
      const pasid = hw.ld(wqCfg(hw, pf, w, WQ_PASID));
      const pasidEn = hw.ld(wqCfg(hw, pf, w, WQ_FLAGS)) & WQF_PASID_EN;
      if (
        hw.ld(wqCfg(hw, pf, w, WQ_MODE)) === WQM_DEDICATED &&
        pasidEn &&
        (pasid <= 0 || pasid >= 2 ** width)
      )
        return fail(hw, stw, sw, CMDERR_WQ_PASID);
      if (hw.ld(wqCfg(hw, pf, w, WQ_STATE)) !== WQS_DISABLED)
        return fail(hw, stw, sw, CMDERR_WQ_STATE);
      hw.st(wqCfg(hw, pf, w, WQ_STATE), WQS_ENABLED);
      setStatus(hw, stw, sw, st, CMDS_DONE);
      return 1;
    }
    default:
      return fail(hw, stw, sw, CMDERR_WQ_STATE);
  }
}

/**
 * Move the status of the command whose status word this step read (`sw`: its sequence
 * number) from `from` to `to`. A CAS, so that the completion names its command: released and
 * posted again since (a new sequence number), the word is the next command's and is left
 * alone.
 *
 * @returns true when it moved
 */
function setStatus(hw: HwContext, stw: number, sw: number, from: number, to: number): boolean {
  const seq = cmdSeq(sw);
  const was = statusWord(seq, from);
  return Atomics.compareExchange(hw.i32, stw, was, statusWord(seq, to)) === was;
}

function fail(hw: HwContext, stw: number, sw: number, code: number): number {
  setStatus(hw, stw, sw, sw & CMD_STATUS_MASK, CMDS_ERROR | code);
  return 1;
}

/**
 * Drain/Abort PASID accepted: take the marks; stop PRI for the PASID.
 *
 * @returns false when the command was released meanwhile (its status not this step's to set)
 */
function acceptPasidCommand(
  hw: HwContext,
  pf: number,
  op: number,
  pasid: number,
  sw: number,
): boolean {
  const nwq = hw.g.pf[pf]!.wqCfg.length;
  for (let w = 0; w < nwq; w++)
    hw.st(pfField(hw, pf, PF_CMD_MARKS + w), Atomics.load(hw.i32, hw.wq[pf]![w]!.meta + 1));
  hw.count(op === CMD_DRAIN_PASID ? C.drains : C.aborts);
  if (op === CMD_ABORT_PASID || hw.stopMarker) abandonBlocked(hw, pf, pasid, hw.stopMarker);
  return setStatus(hw, pfField(hw, pf, PF_CMD_STATUS), sw, CMDS_PENDING, CMDS_ACCEPTED);
}

/** Complete the descriptors of `pasid` waiting on page responses as aborted. */
function abandonBlocked(hw: HwContext, pf: number, pasid: number, stopMarker: boolean): void {
  let any = false;
  let gen = 0;
  for (let s = 0; s < hw.g.shape.prgSlots; s++) {
    const g = prgWord(hw, pf, s);
    if (hw.ld(g + G_PASID) !== pasid) continue;
    let st = hw.ld(g + G_STATE);
    if (st === PRG_WAITING) {
      // Loses only to a response arriving right now (WAITING -> ANSWERED): then free it.
      st = Atomics.compareExchange(hw.i32, g + G_STATE, PRG_WAITING, PRG_ABANDONED);
      if (st === PRG_WAITING) st = PRG_ABANDONED;
    }
    if (st === PRG_ANSWERED) hw.st(g + G_STATE, PRG_FREE);
    else if (st !== PRG_ABANDONED) continue;
    any = true;
    gen = hw.ld(g + G_GEN);
    complete(hw, pf, hw.ld(g + G_WQ), pasid, gen, CompletionStatus.ABORTED, -1);
  }
  if (any && stopMarker) pageRequest(hw, pf, pasid, gen, 0, 0, -1, true);
}

/** Every WQ passed its mark and no descriptor of `pasid` waits on a page response. */
function pasidQuiet(hw: HwContext, pf: number, pasid: number): boolean {
  const nwq = hw.g.pf[pf]!.wqCfg.length;
  for (let w = 0; w < nwq; w++) if (!wqPassedMark(hw, pf, w)) return false;
  return !blockedOn(hw, pf, pasid, -1);
}

function wqPassedMark(hw: HwContext, pf: number, w: number): boolean {
  const head = Atomics.load(hw.i32, hw.wq[pf]![w]!.meta);
  return ((head - hw.ld(pfField(hw, pf, PF_CMD_MARKS + w))) | 0) >= 0;
}

/** A descriptor of `pasid` (or of WQ `w`) waits in a PRG slot. -1 = any. */
function blockedOn(hw: HwContext, pf: number, pasid: number, w: number): boolean {
  for (let s = 0; s < hw.g.shape.prgSlots; s++) {
    const g = prgWord(hw, pf, s);
    const st = hw.ld(g + G_STATE);
    if (st !== PRG_WAITING && st !== PRG_ANSWERED) continue;
    if ((pasid < 0 || hw.ld(g + G_PASID) === pasid) && (w < 0 || hw.ld(g + G_WQ) === w))
      return true;
  }
  return false;
}

/** Retry one descriptor whose page response arrived. */
function retryAnswered(hw: HwContext, pf: number): number {
  for (let s = 0; s < hw.g.shape.prgSlots; s++) {
    const g = prgWord(hw, pf, s);
    if (hw.ld(g + G_STATE) !== PRG_ANSWERED) continue;
    const pasid = hw.ld(g + G_PASID);
    const gen = hw.ld(g + G_GEN);
    const w = hw.ld(g + G_WQ);
    if (hw.ld(g + G_RESP) !== RESP_SUCCESS) {
      hw.st(g + G_STATE, PRG_FREE);
      complete(hw, pf, w, pasid, gen, CompletionStatus.PAGE_FAULT, -1);
      return 1;
    }
    hw.st(g + G_STATE, PRG_FREE);
    run(hw, pf, w, pasid, gen, hw.ld(g + G_PAGE), hw.ld(g + G_FLAGS), -1);
    return 1;
  }
  return 0;
}

/** Execute the next descriptor of the PF's WQs, round robin. */
function executeNext(hw: HwContext, pf: number): number {
  const nwq = hw.g.pf[pf]!.wqCfg.length;
  const rotor = pfField(hw, pf, PF_WQ_ROTOR);
  const start = hw.ld(rotor);
  for (let i = 0; i < nwq; i++) {
    const w = (start + i) % nwq;
    const r = hw.wq[pf]![w]!;
    const pos = ringPeek(r);
    if (pos < 0) continue;
    hw.st(rotor, (w + 1) % nwq);
    const d = ringSlot(r, pos);
    let pasid = hw.ld(d + D_PASID) & 0xfffff;
    let gen = hw.ld(d + D_GEN);
    const flags = hw.ld(d + D_FLAGS);
    const page = hw.ld(d + D_PAGE);
    if (hw.ld(wqCfg(hw, pf, w, WQ_MODE)) === WQM_DEDICATED) {
      // A DWQ descriptor executes with the PASID in WQCFG (§2.2).
      pasid = hw.ld(wqCfg(hw, pf, w, WQ_PASID));
      gen = hw.ld(wqCfg(hw, pf, w, WQ_GEN));
    }
    if (aborted(hw, pf, w, pos, pasid))
      complete(hw, pf, w, pasid, gen, CompletionStatus.ABORTED, pos);
    else run(hw, pf, w, pasid, gen, page, flags, pos);
    ringRelease(r, pos);
    return 1;
  }
  return 0;
}

function aborted(hw: HwContext, pf: number, w: number, pos: number, pasid: number): boolean {
  const cmd = hw.ld(pfField(hw, pf, PF_CMD));
  // ACCEPTED for this very command (its sequence number).
  const accepted = statusWord(cmdSeq(cmd), CMDS_ACCEPTED);
  if ((cmd & 0xff) !== CMD_ABORT_PASID || hw.ld(pfField(hw, pf, PF_CMD_STATUS)) !== accepted)
    return false;
  if (hw.ld(pfField(hw, pf, PF_CMD_OPERAND)) !== pasid) return false;
  return ((pos - hw.ld(pfField(hw, pf, PF_CMD_MARKS + w))) | 0) < 0;
}

/** Translate and complete one descriptor (or park it on a page request). */
function run(
  hw: HwContext,
  pf: number,
  w: number,
  pasid: number,
  gen: number,
  page: number,
  flags: number,
  pos: number,
): void {
  const pff = hw.ld(pfField(hw, pf, PF_FLAGS));
  const r =
    pff & PFF_ATS ? atsTranslate(hw, pf, pasid, page, gen) : translate(hw, pf, pasid, page, gen);
  if (r >= 0) {
    complete(hw, pf, w, pasid, gen, CompletionStatus.SUCCESS, pos);
    return;
  }
  if (r !== TR_NOT_MAPPED) {
    // The completion record lives in the PASID's address space too: SWERR carries the PASID.
    swerrLatch(hw, pf, SwerrCode.TRANSLATION_FAULT, w, pasid, gen);
    complete(hw, pf, w, pasid, gen, CompletionStatus.TRANSLATION_FAULT, pos);
    return;
  }
  if (pff & PFF_PRI && flags & DF_BOF && parkOnPageRequest(hw, pf, w, pasid, gen, page, flags))
    return;
  hw.count(pff & PFF_PRI ? C.faultPageRequest : C.faultNoPri);
  complete(hw, pf, w, pasid, gen, CompletionStatus.PAGE_FAULT, pos);
}

function parkOnPageRequest(
  hw: HwContext,
  pf: number,
  w: number,
  pasid: number,
  gen: number,
  page: number,
  flags: number,
): boolean {
  for (let s = 0; s < hw.g.shape.prgSlots; s++) {
    const g = prgWord(hw, pf, s);
    if (hw.ld(g + G_STATE) !== PRG_FREE) continue;
    const next = pfField(hw, pf, PF_PRG_NEXT_INDEX);
    const index = hw.ld(next) & 0x1ff;
    hw.st(next, index + 1);
    hw.st(g + G_PASID, pasid);
    hw.st(g + G_GEN, gen);
    hw.st(g + G_INDEX, index);
    hw.st(g + G_PAGE, page);
    hw.st(g + G_FLAGS, flags);
    hw.st(g + G_WQ, w);
    hw.st(g + G_RESP, 0);
    hw.st(g + G_STATE, PRG_WAITING);
    hw.count(C.faultPageRequest);
    pageRequest(hw, pf, pasid, gen, page, index, s, false);
    return true;
  }
  return false;
}

function complete(
  hw: HwContext,
  pf: number,
  w: number,
  pasid: number,
  gen: number,
  status: number,
  pos: number,
): void {
  hw.count(C.executions);
  if (status === CompletionStatus.ABORTED) hw.count(C.executionsAborted);
  else if (status !== CompletionStatus.SUCCESS) hw.count(C.executionsFaulted);
  hw.log.emit(Ev.EXEC, pasid, gen, pf, w, status, pos);
}

/** WQ occupancy (stale on return). */
export function wqOccupancy(hw: HwContext, pf: number, w: number): number {
  const r = hw.wq[pf]![w]!;
  return (Atomics.load(hw.i32, r.meta + 1) - Atomics.load(hw.i32, r.meta)) | 0;
}
