/**
 * The IOMMU driver's workqueue (Linux's `ioasid_wq`/svm work): reads the FREE notifications
 * the driver subscribed to and finishes the teardowns handed over to it (exited or killed
 * processes), one sub-step per call, round robin over the bonds.
 *
 * @internal
 */

import { bf } from './bonds.js';
import type { FreeChain } from './free-notifier.js';
import type { HwContext } from './hw-context.js';
import { B_OWNER, DRIVER_WQ_LOCK } from './hw-layout.js';
import { handedOver, handleFree } from './iommu-driver.js';
import { lockGive, lockTry } from './owner-lock.js';
import { TD_BLOCKED, teardownStep } from './teardown.js';

/**
 * One thread's handle on the driver's workqueue. Several threads may step it (a threaded
 * run's workqueue actor, a synchronous operation helping): each step takes the workqueue
 * lock, and every teardown resumes from its bond record, so whoever steps next continues it.
 *
 * @internal
 */
export class DriverWorkqueue {
  readonly #hw: HwContext;
  readonly #chain: FreeChain;
  readonly #actor: number;
  #next = 0;

  constructor(hw: HwContext, chain: FreeChain, actor: number) {
    this.#hw = hw;
    this.#chain = chain;
    this.#actor = actor;
  }

  /**
   * Read pending FREE notifications, then advance one handed-over teardown.
   *
   * Context: the workqueue's thread; never blocks.
   * @returns how much it did (0 = idle)
   */
  step(): number {
    const hw = this.#hw;
    if (!lockTry(hw.i32, DRIVER_WQ_LOCK, hw.tag)) return 0;
    const n = this.#stepLocked();
    lockGive(hw.i32, DRIVER_WQ_LOCK);
    return n;
  }

  #stepLocked(): number {
    const hw = this.#hw;
    let n = this.#chain.read((pasid, data) => {
      handleFree(hw, pasid, data, this.#chain.fromCore);
    }, 16);
    const bonds = hw.g.shape.bonds;
    for (let i = 0; i < bonds; i++) {
      const b = (this.#next + i) % bonds;
      if (!handedOver(hw, b)) continue;
      hw.st(bf(hw, b, B_OWNER), this.#actor + 1);
      const r = teardownStep(hw, b);
      this.#next = r === TD_BLOCKED ? b + 1 : b;
      if (r !== TD_BLOCKED) n++;
      return n;
    }
    return n;
  }

  /** True when no teardown waits for the workqueue. */
  idle(): boolean {
    for (let b = 0; b < this.#hw.g.shape.bonds; b++) if (handedOver(this.#hw, b)) return false;
    return true;
  }
}
