/**
 * The smallest platform with the SWQ-across-two-VMs shape, for the VM operation tests.
 */
import { dsaPf, type Profile } from '../../src/hw-model/index.js';

/** Two VMs whose mdevs 0 (VM 0) and 1 (VM 1) share SWQ 0 of one DSA PF. */
export const TWO_VMS: Partial<Profile> = {
  pasidBits: 8,
  processes: 2,
  threadsPerProcess: 1,
  pfs: [dsaPf('dsa0')],
  vms: 2,
  vcpusPerVm: 2,
  mdevsPerVm: 1,
  processesPerVm: 4,
  vmQuota: 8,
};
