/**
 * The hardware around VM 0 for the single-threaded VM tests: what runs while the thread under
 * test is stopped or killed.
 */
import type { Platform } from '../../src/hw-model/index.js';
import { vcpuStep } from '../../src/hw-model/vcpu.js';

/** The device engines, the IOMMU's queue and the vCPUs of VM 0 (not the dying thread's). */
export function engines(p: Platform): void {
  const hw = p.context;
  p.processInvQueue(64);
  for (let pf = 0; pf < hw.g.pf.length; pf++) p.execute(pf, 64);
  p.prqService(16);
  for (let c = 0; c < hw.g.shape.vm.vcpus; c++) vcpuStep(hw, 0, c);
}
