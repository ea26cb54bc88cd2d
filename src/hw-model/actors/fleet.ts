/**
 * Which actors a run has and their ids: process p is actor p + 1; then the IOMMU engine,
 * one device engine per PF, the PRQ thread and the driver's workqueue. Threaded runs build
 * the subset each worker hosts; the deterministic scheduler builds them all.
 */
import { DriverWorkqueue } from '../driver-workqueue.js';
import type { FreeChain } from '../free-notifier.js';
import type { HwContext } from '../hw-context.js';
import type { ModelScenario } from '../scenarios.js';
import type { Actor } from './actor.js';
import { DeviceActor, IommuActor, PrqActor, WorkqueueActor } from './engine-actors.js';
import { GuestActor, type GuestKernelSource } from './guest-actor.js';
import { ProcessActor } from './process-actor.js';
import { VmmActor } from './vmm-actor.js';

/** The actors one thread hosts. */
export interface ActorSet {
  pids: number[];
  iommu: boolean;
  devices: number[];
  prq: boolean;
  workqueue: boolean;
  /** VMs whose guest (processes, vCPUs) this thread runs. */
  guests?: number[];
  /** VMs whose VMM and host kernel this thread runs. */
  vmms?: number[];
}

/** Actor ids of a platform with `processes` processes, `pfs` PFs and `vms` VMs. */
export function actorIds(processes: number, pfs: number, vms = 0) {
  return {
    process: (pid: number) => pid + 1,
    iommu: processes + 1,
    device: (pf: number) => processes + 2 + pf,
    prq: processes + 2 + pfs,
    workqueue: processes + 3 + pfs,
    guest: (vm: number) => processes + 4 + pfs + vm,
    vmm: (vm: number) => processes + 4 + pfs + vms + vm,
  };
}

/** Every actor of a platform (the deterministic scheduler's set). */
export function allActors(hw: HwContext): ActorSet {
  return {
    pids: [...Array(hw.g.shape.processes).keys()],
    iommu: true,
    devices: [...hw.g.pf.keys()],
    prq: true,
    workqueue: true,
    guests: [...Array(hw.g.shape.vm.vms).keys()],
    vmms: [...Array(hw.g.shape.vm.vms).keys()],
  };
}

/** Build the actors of `set` over `hw`. */
export function buildActors(
  hw: HwContext,
  chain: FreeChain,
  scenario: ModelScenario,
  set: ActorSet,
  guests: GuestKernelSource = () => {
    throw new Error('no guest spaces');
  },
): Actor[] {
  const ids = actorIds(hw.g.shape.processes, hw.g.pf.length, hw.g.shape.vm.vms);
  const out: Actor[] = set.pids.map(
    (pid) => new ProcessActor(hw, chain, pid, ids.process(pid), scenario.mix, scenario.bofOneIn),
  );
  if (set.iommu) out.push(new IommuActor(hw, ids.iommu));
  for (const pf of set.devices) out.push(new DeviceActor(hw, ids.device(pf), pf));
  if (set.prq) out.push(new PrqActor(hw, ids.prq));
  if (set.workqueue)
    out.push(new WorkqueueActor(hw, ids.workqueue, new DriverWorkqueue(hw, chain, ids.workqueue)));
  const guest = scenario.guest;
  if (guest)
    for (const vm of set.guests ?? []) {
      const mix = vm === 0 ? (scenario.crashGuest ?? guest) : guest;
      const procs = vm === 0 ? undefined : scenario.otherVmProcesses;
      out.push(
        new GuestActor(
          hw,
          vm,
          ids.guest(vm),
          mix,
          guests,
          scenario.allocatorSwitch === true,
          procs,
        ),
      );
    }
  const crashAt = Math.min(scenario.crashAtBound ?? 0, Math.floor(0.8 * hw.g.shape.vm.procs));
  for (const vm of set.vmms ?? [])
    out.push(
      new VmmActor(hw, vm, ids.vmm(vm), {
        oneIn: vm === 0 ? (scenario.crashOneIn ?? 0) : 0,
        atBound: vm === 0 ? crashAt : 0,
      }),
    );
  return out;
}
