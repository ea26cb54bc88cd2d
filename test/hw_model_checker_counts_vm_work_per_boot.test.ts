/**
 * The checker's account of a VM's work in its current life (VmStats `submissionsThisBoot`,
 * `vmsIdleThisBoot`), which a threaded run's `untilEveryVmWorked` waits on: a submission
 * counts for the VM's current life; its destroy ends that life (a dying VM has not worked
 * since it came back), and so does a boot.
 */
import { describe, expect, it } from 'vitest';
import { ModelChecker } from '../src/hw-model/checker/checker.js';
import { Platform } from '../src/hw-model/index.js';
import { TWO_VMS } from './helpers/two-vms.js';

describe("the checker's per-boot account of a VM's submissions", () => {
  it('counts a submission for the current life, and none once the VM is destroyed', () => {
    const p = Platform.create(TWO_VMS);
    const checker = new ModelChecker(p.context, {});
    const idle = () => {
      checker.consume();
      return checker.vmsIdleThisBoot();
    };
    expect(idle()).toBe(2);
    const h = p.vcmdAlloc(0);
    expect(p.guestBindPasid(0, 0, h)).toBe(h);
    expect(p.guestProgramWq(0, 0, h)).toBe(h);
    expect(p.guestEnqcmd(0, 0, 0, h)).toBeGreaterThanOrEqual(0);
    expect(idle()).toBe(1);
    expect(checker.vmStats().find((v) => v.vm === 0)?.submissionsThisBoot).toBe(1);
    expect(p.vmDestroy(0, true)).toBe(0);
    expect(idle()).toBe(2);
    expect(p.vmBoot(0)).toBeGreaterThanOrEqual(0);
    expect(idle()).toBe(2);
    expect(checker.vmStats().find((v) => v.vm === 0)?.submissions).toBe(1);
    expect(checker.first).toBeUndefined();
    checker.close();
    p.detach();
  });
});
