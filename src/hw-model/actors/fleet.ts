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
import { ProcessActor } from './process-actor.js';

/** The actors one thread hosts. */
export interface ActorSet {
  pids: number[];
  iommu: boolean;
  devices: number[];
  prq: boolean;
  workqueue: boolean;
}

/** Actor ids of a platform with `processes` processes and `pfs` PFs. */
export function actorIds(processes: number, pfs: number) {
  return {
    process: (pid: number) => pid + 1,
    iommu: processes + 1,
    device: (pf: number) => processes + 2 + pf,
    prq: processes + 2 + pfs,
    workqueue: processes + 3 + pfs,
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
  };
}

/** Build the actors of `set` over `hw`. */
export function buildActors(
  hw: HwContext,
  chain: FreeChain,
  scenario: ModelScenario,
  set: ActorSet,
): Actor[] {
  const ids = actorIds(hw.g.shape.processes, hw.g.pf.length);
  const out: Actor[] = set.pids.map(
    (pid) => new ProcessActor(hw, chain, pid, ids.process(pid), scenario.mix, scenario.bofOneIn),
  );
  if (set.iommu) out.push(new IommuActor(hw, ids.iommu));
  for (const pf of set.devices) out.push(new DeviceActor(hw, ids.device(pf), pf));
  if (set.prq) out.push(new PrqActor(hw, ids.prq));
  if (set.workqueue)
    out.push(new WorkqueueActor(hw, ids.workqueue, new DriverWorkqueue(hw, chain, ids.workqueue)));
  return out;
}
