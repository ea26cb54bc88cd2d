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
} from './hw-layout.js';

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
