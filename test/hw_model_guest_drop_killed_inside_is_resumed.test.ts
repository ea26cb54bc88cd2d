/**
 * A thread killed inside the IOMMU driver's drop of a guest bond's reference (teardown P7:
 * the bond marked dropped, then P7 logged, the record's reference word taken, PUT logged, the
 * core's put): whoever resumes the bond's teardown gives the reference back exactly once. The
 * reference is neither leaked (the record never released, the PASID never reclaimed) nor put
 * twice, and the checker counts one PUT. The kill is simulated deterministically: the append
 * of the chosen event throws, before it writes anything or right after, the way
 * `terminate()` stops the thread there; the VM's kernel then resumes its work item.
 */
import { describe, expect, it } from 'vitest';
import { ModelChecker } from '../src/hw-model/checker/checker.js';
import { Ev, EventReader, type LogEvent } from '../src/hw-model/event-log.js';
import { HOLDER_IOMMU } from '../src/hw-model/guest-bonds.js';
import {
  P7_REFS_DROPPED,
  REF_NONE,
  VP_IOMMU_REF,
  VP_STATE,
  VPS_FREE,
} from '../src/hw-model/hw-layout.js';
import { Platform } from '../src/hw-model/index.js';
import { recordOfPasid, vpField } from '../src/hw-model/vm.js';
import { TWO_VMS } from './helpers/two-vms.js';

class Killed extends Error {}

/** Make the first append matching `dies` throw, before (or, `appended`, after) it is written. */
function dieInsideAppend(
  p: Platform,
  dies: (k: number, a: number, b: number) => boolean,
  appended: boolean,
) {
  const log = p.context.log;
  const emit = log.emit.bind(log);
  let died = false;
  log.emit = (k, pasid, gen, pf, a, b, c) => {
    const now = !died && dies(k, a ?? 0, b ?? 0);
    if (now) died = true;
    if (now && !appended) throw new Killed(`killed inside the append of event ${k}`);
    emit(k, pasid, gen, pf, a, b, c);
    if (now) throw new Killed(`killed right after the append of event ${k}`);
  };
  return () => {
    log.emit = emit;
    return died;
  };
}

const P7 = (k: number, a: number) => k === Ev.PHASE && a === P7_REFS_DROPPED;
const IOMMU_PUT = (k: number, _a: number, b: number) => k === Ev.PUT && b === HOLDER_IOMMU;

describe("a thread killed inside the drop of a guest bond's reference", () => {
  it.each([
    ['P7', false],
    ['P7', true],
    ['the PUT', false],
    ['the PUT', true],
  ] as const)('inside the append of %s (appended: %s): the resumed teardown gives the reference back once', (what, appended) => {
    const p = Platform.create(TWO_VMS);
    const hw = p.context;
    const reader = new EventReader(hw.logI32);
    const events: LogEvent[] = [];
    const h = p.vcmdAlloc(0);
    expect(p.guestBindPasid(0, 0, h)).toBe(h);
    const r = recordOfPasid(hw, 0, h);
    const restore = dieInsideAppend(p, what === 'P7' ? P7 : IOMMU_PUT, appended);
    expect(() => p.guestUnbindPasid(0, 0, h)).toThrow(Killed);
    expect(restore()).toBe(true);
    // The VM's kernel (another thread, or the same one later) resumes the teardown item.
    expect(p.guestMdevClear(0, 0)).toBe(0);
    expect(hw.ld(vpField(hw, 0, r, VP_IOMMU_REF))).toBe(REF_NONE);
    expect(p.space.inspect(h).refs).toBe(1); // the record's own, nothing else
    expect(p.vcmdFree(0, h)).toBe(0);
    expect(p.space.inspect(h).state).toBe('free');
    expect(hw.ld(vpField(hw, 0, r, VP_STATE))).toBe(VPS_FREE);
    reader.read((e) => events.push({ ...e }));
    const c = new ModelChecker(hw, { consume: false });
    for (const e of events) c.onEvent({ ...e });
    c.end(true);
    expect(c.first?.message).toBeUndefined();
    p.detach();
  });
});
