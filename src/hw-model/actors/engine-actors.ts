/**
 * The hardware engines and the kernel threads as actors: the IOMMU engine (invalidation
 * queue), a device engine per PF, the PRQ thread (page requests in two steps around an RCU
 * read-side section, fault records, SWERR), and the IOMMU driver's workqueue. Each idles a
 * random number of steps (up to the profile's latency) after it handled something.
 */
import { deviceStep, swerrClear } from '../device.js';
import type { DriverWorkqueue } from '../driver-workqueue.js';
import type { HwContext } from '../hw-context.js';
import { processInvQueue } from '../inv-queue.js';
import { faultService } from '../iommu.js';
import { abandonJob, type PrqJob, prqBegin, prqFinish } from '../prq.js';
import type { ModelRng } from '../rng.js';
import type { Actor, ActorKind } from './actor.js';

abstract class Engine implements Actor {
  abstract readonly kind: ActorKind;
  readonly id: number;
  readonly name: string;
  protected readonly hw: HwContext;
  readonly #latency: number;
  #idle = 0;

  constructor(hw: HwContext, id: number, name: string, latency: number) {
    this.hw = hw;
    this.id = id;
    this.name = name;
    this.#latency = latency;
  }

  step(rng: ModelRng): number {
    if (this.#idle > 0) {
      this.#idle--;
      return 0;
    }
    this.hw.log.actor = this.id;
    const n = this.work();
    if (n > 0 && this.#latency > 0) this.#idle = rng.below(this.#latency + 1);
    return n;
  }

  protected abstract work(): number;

  finish(): void {}

  quiet(): boolean {
    return true;
  }
}

/** The IOMMU engine: applies queued invalidations in order. */
export class IommuActor extends Engine {
  readonly kind = 'iommu' as const;
  constructor(hw: HwContext, id: number) {
    super(hw, id, 'iommu engine', hw.latencies.invalidation);
  }
  protected work(): number {
    return processInvQueue(this.hw, 4);
  }
}

/** A PF's device engine. */
export class DeviceActor extends Engine {
  readonly kind = 'device' as const;
  readonly pf: number;
  constructor(hw: HwContext, id: number, pf: number) {
    super(hw, id, `device ${pf}`, hw.latencies.execution);
    this.pf = pf;
  }
  protected work(): number {
    return deviceStep(this.hw, this.pf);
  }
}

/**
 * The PRQ thread (and the fault and SWERR handlers). Resolving a fault (Linux's
 * handle_mm_fault under the mm's lock) takes the thread a few steps, up to the profile's
 * PRQ latency, all inside the read-side section that began with the lookup.
 */
export class PrqActor extends Engine {
  readonly kind = 'prq' as const;
  readonly #faultSteps: number;
  #job: PrqJob | null = null;
  #hold = 0;
  constructor(hw: HwContext, id: number) {
    super(hw, id, 'prq thread', 0);
    this.#faultSteps = hw.latencies.prqService;
  }
  override step(rng: ModelRng): number {
    if (this.#job && this.#hold > 0) {
      this.#hold--;
      return 0;
    }
    const n = super.step(rng);
    if (this.#job) this.#hold = rng.below(this.#faultSteps + 1);
    return n;
  }
  protected work(): number {
    const hw = this.hw;
    if (this.#job) {
      if (!prqFinish(hw, this.#job)) return 0;
      this.#job = null;
      return 1;
    }
    let n = faultService(hw, 8);
    for (let pf = 0; pf < hw.g.pf.length; pf++) if (swerrClear(hw, pf) !== 0) n++;
    this.#job = prqBegin(hw);
    return this.#job ? n + 1 : n;
  }
  /** Leave the read-side section and the PRQ lock (the entry stays queued). */
  stop(): void {
    if (this.#job) abandonJob(this.hw, this.#job);
    this.#job = null;
  }
  override quiet(): boolean {
    return this.#job === null;
  }
}

/** The IOMMU driver's workqueue (FREE notifications, handed-over teardowns). */
export class WorkqueueActor extends Engine {
  readonly kind = 'workqueue' as const;
  readonly #wq: DriverWorkqueue;
  constructor(hw: HwContext, id: number, wq: DriverWorkqueue) {
    super(hw, id, 'driver workqueue', 0);
    this.#wq = wq;
  }
  protected work(): number {
    return this.#wq.step();
  }
  override quiet(): boolean {
    return this.#wq.idle();
  }
}
