/**
 * VM bench (`npm run bench -- --only hw-vm`): the price of asking the hypervisor, measured in
 * one run on one thread, as ratios.
 *
 * - vcmd alloc+free round trips per second: the guest kernel's own space with its vcmd
 *   allocator (VCMD = Allocate, the VMM's handler allocating in the VM's set of the host
 *   space and recording it, VCRSP read back; then the same for Free), against alloc+free on
 *   the host space itself (a NULL set): what a guest PASID costs over a host one.
 * - guest ENQCMD per second (the CPU's VMCS PASID translation, then the SWQ) against host
 *   ENQCMD (IA32_PASID already loaded), each followed by the device executing the descriptor
 *   through the IOMMU (the nested entry for the guest, the first-level one for the host) so
 *   the SWQ never fills.
 *
 * Subjects alternate in ABBA rounds of `ms` each; the figure is the median round.
 */

import { SetType } from '../src/core/ioasid/ioasid-space.js';
import { GuestKernel } from '../src/hw-model/guest-space.js';
import { dsaPf, Platform, type Profile } from '../src/hw-model/index.js';
import { mapPage, mmOfProcess } from '../src/hw-model/mm.js';
import { blackhole, printTable } from './harness.js';

/** One measured figure. */
export interface VmBenchRow {
  /** What was measured. */
  subject: string;
  /** Operations per second (median round). */
  opsPerSec: number;
  /** Per-round figures. */
  samples: number[];
}

const PROFILE: Partial<Profile> = {
  pasidBits: 20,
  processes: 1,
  threadsPerProcess: 1,
  pfs: [dsaPf('dsa0')],
  vms: 1,
  vcpusPerVm: 1,
  mdevsPerVm: 1,
  processesPerVm: 1,
  vmQuota: 1000,
  // Leave capacity for the host set the baseline allocates in.
  svaQuota: 1024,
  pagesPerMm: 32,
  latencies: { invalidation: 0, execution: 0, prqService: 0, vmExit: 0 },
};

/** Run `body` in chunks for `ms`. @returns operations per second */
function timed(ms: number, body: () => number): number {
  const chunk = 256;
  let ops = 0;
  let sink = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < chunk; i++) sink += body();
    ops += chunk;
    t = performance.now();
  }
  if (sink === 0.5) console.log(blackhole);
  return (ops * 1000) / (t - t0);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** ABBA rounds of two subjects. */
function abba(rounds: number, ms: number, a: () => number, b: () => number): [number[], number[]] {
  const ra: number[] = [];
  const rb: number[] = [];
  timed(Math.min(ms, 100), a); // warm both up
  timed(Math.min(ms, 100), b);
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      ra.push(timed(ms, a));
      rb.push(timed(ms, b));
    } else {
      rb.push(timed(ms, b));
      ra.push(timed(ms, a));
    }
  }
  return [ra, rb];
}

/**
 * Measure both pairs.
 *
 * @param o - `ms` per round, `rounds` (ABBA: even is best)
 *
 * Context: main thread; blocks for about 4 * rounds * ms.
 * @returns the rows
 */
export function measureHwVm(o: { ms: number; rounds: number }): VmBenchRow[] {
  const p = Platform.create(PROFILE);
  const space = p.space;
  // vcmd round trips through the guest kernel's own space vs the host space.
  const gk = GuestKernel.attach(p, 0);
  if (gk.enableVcmd() !== 0) throw new Error('vcmd allocator refused');
  const hostSet = space.setAlloc(null, 64, SetType.NULL);
  if (hostSet < 0) throw new Error(`host set: ${hostSet}`);
  const vcmd = () => {
    const id = gk.alloc();
    if (id <= 0) throw new Error(`vcmd alloc: ${id}`);
    gk.free(id);
    return id;
  };
  const host = () => {
    const id = space.alloc(hostSet, 1, 0xfffff);
    if (id <= 0) throw new Error(`host alloc: ${id}`);
    space.free(hostSet, id);
    return id;
  };
  const [rv, rh] = abba(o.rounds, o.ms, vcmd, host);
  // Guest ENQCMD (VMCS lookup) vs host ENQCMD, each executed by the device.
  const g = p.vcmdAlloc(0);
  if (p.guestBindPasid(0, 0, g) !== g) throw new Error('guest bind failed');
  p.spawn(0);
  const pasid = p.bindSva(0, 0);
  if (pasid <= 0 || p.mapPortal(0, 0, 0) !== 0) throw new Error('host bind failed');
  mapPage(p.context, mmOfProcess(p.context, 0), 0); // no page fault on the host side either
  p.enqcmd(0, 0, 0, 0); // the #GP fix-up loads IA32_PASID once
  p.execute(0);
  const guest = () => {
    const zf = p.guestEnqcmd(0, 0, 0, g, 0);
    p.execute(0);
    return zf + 1;
  };
  const hostEnq = () => {
    const zf = p.enqcmd(0, 0, 0, 0);
    p.execute(0);
    return zf + 1;
  };
  const [rg, re] = abba(o.rounds, o.ms, guest, hostEnq);
  gk.detach();
  p.detach();
  const row = (subject: string, samples: number[]): VmBenchRow => ({
    subject,
    opsPerSec: median(samples),
    samples,
  });
  return [
    row('vcmd alloc+free (guest space, VMM)', rv),
    row('host alloc+free (host space)', rh),
    row('guest ENQCMD + execute (VMCS)', rg),
    row('host ENQCMD + execute (IA32_PASID)', re),
  ];
}

/** Print the rows with their ratios. Context: main thread. */
export function printHwVm(rows: VmBenchRow[]): void {
  const [vcmd, host, guest, hostEnq] = rows as [VmBenchRow, VmBenchRow, VmBenchRow, VmBenchRow];
  printTable('VM bench (one thread, ABBA rounds, median)', [
    {
      name: vcmd.subject,
      value: vcmd.opsPerSec,
      unit: 'op/s',
      ratio: `${(vcmd.opsPerSec / host.opsPerSec).toFixed(3)} x host alloc+free`,
    },
    { name: host.subject, value: host.opsPerSec, unit: 'op/s' },
    {
      name: guest.subject,
      value: guest.opsPerSec,
      unit: 'op/s',
      ratio: `${(guest.opsPerSec / hostEnq.opsPerSec).toFixed(3)} x host ENQCMD`,
    },
    { name: hostEnq.subject, value: hostEnq.opsPerSec, unit: 'op/s' },
  ]);
}
