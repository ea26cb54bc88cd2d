/**
 * Is the platform at rest: no bond, no mm, nothing queued anywhere, no page request
 * outstanding? What a run waits for after its processes exited, before the end checks.
 *
 * @internal
 */
import { bf } from './bonds.js';
import { ringCount } from './claim-ring.js';
import type { HwContext } from './hw-context.js';
import {
  B_PHASES,
  B_STATE,
  BS_FREE,
  G_STATE,
  MM_BOND,
  MM_CLAIM,
  MM_FREE_STATE,
  MM_PASID,
  MM_PENDING_TICKET,
  MM_STATE,
  MM_SVM_REF,
  MMS_FREE,
  mmWord,
  PRG_FREE,
  PRG_WORDS,
  VM_RECORDS_FREED,
  VM_RESCAN,
  VM_STATE,
  VM_VMM_OP,
  VP_FREE_OWED,
  VP_GEN,
  VP_GPASID,
  VP_IOMMU_REF,
  VP_PASID,
  VP_SPID,
  VP_STATE,
  VPS_FREE,
} from './hw-layout.js';
import { recordBond, recordsFree, vmField, vmSet, vpField } from './vm.js';
import { workPending } from './work-ring.js';

const VP_STATES = ['FREE', 'LIVE', 'FREED'];
const REF_STATES = ['NONE', 'GETTING', 'HELD', 'PUTTING'];
const BOND_STATES = ['FREE', 'BINDING', 'LIVE', 'DYING'];
const VM_STATES = ['OFF', 'RUNNING', 'CRASHED', 'DYING', 'BOOTING'];
/** Records a report names one by one (the rest are counted). */
const RECORDS_SHOWN = 4;

/**
 * The records of VM `vm` that are not free, each with what could hold it: its state, PASID
 * and generation, the IOMMU driver's reference, its bonds, what the core holds, and the VM's
 * state, VMM intent and queued work (the INV-16 message; enough to tell a stuck release from
 * one cut short by the end of the run).
 */
export function vmRecordsLeft(hw: HwContext, vm: number): string {
  const left: string[] = [];
  let n = 0;
  for (let r = 0; r < hw.g.shape.vm.pasids; r++) {
    const v = (f: number) => hw.ld(vpField(hw, vm, r, f));
    if (v(VP_STATE) === VPS_FREE) continue;
    if (++n > RECORDS_SHOWN) continue;
    const bonds = [...hw.g.pf.keys()].map((pf) => {
      const b = recordBond(hw, vm, r, pf);
      return b < 0
        ? '-'
        : `${b} ${BOND_STATES[hw.ld(bf(hw, b, B_STATE))]} phases 0x${hw.ld(bf(hw, b, B_PHASES)).toString(16)}`;
    });
    const core = hw.space.inspect(v(VP_PASID));
    left.push(
      `record ${r}: ${VP_STATES[v(VP_STATE)]} pasid ${v(VP_PASID)} gen ${v(VP_GEN)} gpasid ${v(VP_GPASID)}, IOMMU ref ${REF_STATES[v(VP_IOMMU_REF)]}, spid ${v(VP_SPID)}, free owed ${v(VP_FREE_OWED)}, bonds [${bonds.join(', ')}], core ${core.state} set ${core.set} refs ${core.refs}`,
    );
  }
  if (n > RECORDS_SHOWN) left.push(`${n - RECORDS_SHOWN} more`);
  left.push(vmStateLine(hw, vm));
  return left.join('; ');
}

/**
 * VM `vm`'s life-cycle state, set, VMM intent and queued kernel work, in words.
 *
 * Context: any thread; loads only (safe while the VM's threads run); stale on return.
 */
export function vmStateLine(hw: HwContext, vm: number): string {
  const op = hw.ld(vmField(hw, vm, VM_VMM_OP));
  return `VM ${VM_STATES[hw.ld(vmField(hw, vm, VM_STATE))]}, set ${vmSet(hw, vm)}, records freed ${hw.ld(vmField(hw, vm, VM_RECORDS_FREED))}, VMM op ${op & 0xff} record ${op >>> 8}, rescan ${hw.ld(vmField(hw, vm, VM_RESCAN))}, work queued ${workPending(hw, vm)}`;
}

/**
 * The PASID of the first thing left busy that names one (a VM's record, else an mm record):
 * whose trace an INV-16 report shows. 0 when none does.
 */
export function firstBusyPasid(hw: HwContext): number {
  for (let vm = 0; vm < hw.g.shape.vm.vms; vm++)
    for (let r = 0; r < hw.g.shape.vm.pasids; r++)
      if (hw.ld(vpField(hw, vm, r, VP_STATE)) !== VPS_FREE)
        return hw.ld(vpField(hw, vm, r, VP_PASID));
  for (let r = 0; r < hw.g.shape.mmRecords; r++)
    if (hw.ld(mmWord(hw.g, r) + MM_STATE) !== MMS_FREE) return hw.ld(mmWord(hw.g, r) + MM_PASID);
  return 0;
}

/** What is still busy (empty when the platform is at rest). */
export function busyParts(hw: HwContext): string[] {
  const out: string[] = [];
  let bonds = 0;
  for (let b = 0; b < hw.g.shape.bonds; b++) if (hw.ld(bf(hw, b, B_STATE)) !== BS_FREE) bonds++;
  if (bonds) out.push(`${bonds} bonds`);
  const mms: number[] = [];
  for (let r = 0; r < hw.g.shape.mmRecords; r++)
    if (hw.ld(mmWord(hw.g, r) + MM_STATE) !== MMS_FREE || hw.ld(mmWord(hw.g, r) + MM_CLAIM) !== 0)
      mms.push(r);
  if (mms.length) {
    const w = (f: number) => hw.ld(mmWord(hw.g, mms[0]!) + f);
    out.push(
      `${mms.length} mm records (record ${mms[0]}: state ${w(MM_STATE)}, claim ${w(MM_CLAIM)}, pasid ${w(MM_PASID)}, driver ref ${w(MM_SVM_REF)}, free ${w(MM_FREE_STATE)}, pending ticket ${w(MM_PENDING_TICKET)}, bonds [${[...hw.g.pf.keys()].map((pf) => w(MM_BOND + pf) - 1)}])`,
    );
  }
  for (let vm = 0; vm < hw.g.shape.vm.vms; vm++) {
    if (!recordsFree(hw, vm)) out.push(`VM ${vm} PASID records (${vmRecordsLeft(hw, vm)})`);
    if (workPending(hw, vm)) out.push(`VM ${vm} kernel workqueue (${workPending(hw, vm)} items)`);
  }
  if (ringCount(hw.qi)) out.push('invalidation queue');
  if (ringCount(hw.prq)) out.push('page request queue');
  hw.g.pf.forEach((p, pf) => {
    hw.wq[pf]!.forEach((r, w) => {
      if (ringCount(r)) out.push(`pf${pf} wq${w}`);
    });
    for (let s = 0; s < hw.g.shape.prgSlots; s++)
      if (hw.ld(p.prgBase + s * PRG_WORDS + G_STATE) !== PRG_FREE) {
        out.push(`pf${pf} PRG slots`);
        break;
      }
  });
  return out;
}
