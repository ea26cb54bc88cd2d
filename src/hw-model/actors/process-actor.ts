/**
 * A process of the host (§7.10 scenario 1): an mm with its threads, on a CPU. Each step it
 * does one thing its mix picks: bind a PF for SVA (and map a SWQ portal), open a DWQ, submit
 * from one of its threads (ENQCMD to a SWQ, MOVDIR64B to its DWQ), touch a page, unbind a PF
 * (then drives that teardown, one sub-step per step, before anything else), or exit. A
 * process that exited is spawned again (a new mm) on its next step.
 */

import { enqcmd, movdir64b } from '../cpu.js';
import { wqCfg, wqOccupancy } from '../device.js';
import type { FreeChain } from '../free-notifier.js';
import type { HwContext } from '../hw-context.js';
import { DF_BOF, WQ_MODE, WQ_SIZE, WQM_SHARED } from '../hw-layout.js';
import { bindSva, dwqOpen, mapPortal, mmExit, unbindStart } from '../iommu-driver.js';
import { bondOf, dwqsOf, firstThread, mapPage, mmOfProcess, portals, spawn } from '../mm.js';
import type { ModelRng } from '../rng.js';
import type { ProcessMix } from '../scenarios.js';
import { TD_BLOCKED, TD_DONE, teardownStep } from '../teardown.js';
import type { Actor } from './actor.js';

const BIND = 0;
const SUBMIT = 1;
const TOUCH = 2;
const UNBIND = 3;
const EXIT = 4;
const OPEN_DWQ = 5;

/** One process slot's actor. */
export class ProcessActor implements Actor {
  readonly kind = 'process' as const;
  readonly id: number;
  readonly name: string;
  readonly pid: number;
  readonly #hw: HwContext;
  readonly #chain: FreeChain;
  readonly #weights: number[];
  readonly #bofOneIn: number;
  /** The bond this process is tearing down (its unbind), or -1. */
  #bond = -1;
  #finishing = false;

  constructor(
    hw: HwContext,
    chain: FreeChain,
    pid: number,
    id: number,
    mix: ProcessMix,
    bofOneIn: number,
  ) {
    this.#hw = hw;
    this.#chain = chain;
    this.pid = pid;
    this.id = id;
    this.name = `process ${pid}`;
    this.#weights = [mix.bind, mix.submit, mix.touch, mix.unbind, mix.exit, mix.openDwq];
    this.#bofOneIn = bofOneIn;
  }

  step(rng: ModelRng): number {
    const hw = this.#hw;
    hw.log.actor = this.id;
    if (this.#bond >= 0) {
      const r = teardownStep(hw, this.#bond);
      if (r === TD_DONE) this.#bond = -1;
      return r === TD_BLOCKED ? 0 : 1;
    }
    const rec = mmOfProcess(hw, this.pid);
    if (rec < 0) return this.#finishing ? 0 : spawn(hw, this.pid) > 0 ? 1 : 0;
    if (this.#finishing) return this.#windDown(rng);
    switch (rng.weighted(this.#weights)) {
      case BIND:
        return this.#bind(rng);
      case SUBMIT:
        return this.#submit(rng, rec);
      case TOUCH:
        mapPage(hw, rec, rng.below(hw.g.shape.pagesPerMm));
        return 1;
      case UNBIND:
        return this.#unbind(rng, rec);
      case EXIT:
        mmExit(hw, this.pid, this.#chain, false);
        return 1;
      case OPEN_DWQ: {
        const pf = this.#boundPf(rng, rec);
        return pf >= 0 && dwqOpen(hw, pf, this.pid) >= 0 ? 1 : 0;
      }
      default:
        return 0;
    }
  }

  /** Half the processes unbind before exiting, half exit with their bonds (exception path). */
  #windDown(rng: ModelRng): number {
    const rec = mmOfProcess(this.#hw, this.pid);
    if (this.pid % 2 === 0 && this.#unbind(rng, rec) === 1) return 1;
    mmExit(this.#hw, this.pid, this.#chain, false);
    return 1;
  }

  #bind(rng: ModelRng): number {
    const hw = this.#hw;
    const pf = rng.below(hw.g.pf.length);
    const r = bindSva(hw, pf, this.pid);
    if (r <= 0) return 1;
    const shared = hw.g.pf[pf]!.wqCfg.flatMap((_, w) =>
      hw.ld(wqCfg(hw, pf, w, WQ_MODE)) === WQM_SHARED ? [w] : [],
    );
    if (shared.length > 0) mapPortal(hw, pf, this.pid, shared[rng.below(shared.length)]!);
    return 1;
  }

  #submit(rng: ModelRng, rec: number): number {
    const hw = this.#hw;
    const pf = this.#boundPf(rng, rec);
    if (pf < 0) return 0;
    const mask = portals(hw, rec, pf);
    if (mask === 0) return 0;
    const ws: number[] = [];
    for (let w = 0; w < 31; w++) if (mask & (1 << w)) ws.push(w);
    const w = ws[rng.below(ws.length)]!;
    const tid = firstThread(hw, this.pid) + rng.below(hw.g.shape.threadsPerProcess);
    const page = rng.below(hw.g.shape.pagesPerMm);
    const flags = rng.oneIn(this.#bofOneIn) ? DF_BOF : 0;
    if (dwqsOf(hw, rec, pf) & (1 << w)) {
      // Software flow control of a DWQ: never post into a full one.
      if (wqOccupancy(hw, pf, w) >= hw.ld(wqCfg(hw, pf, w, WQ_SIZE))) return 0;
      movdir64b(hw, tid, pf, w, page, flags);
      return 1;
    }
    enqcmd(hw, tid, pf, w, page, flags);
    return 1;
  }

  #unbind(rng: ModelRng, rec: number): number {
    const pf = this.#boundPf(rng, rec);
    if (pf < 0) return 0;
    const b = unbindStart(this.#hw, pf, this.pid, this.id);
    if (b >= 0) this.#bond = b;
    return 1;
  }

  /** A random PF this process is bound to, or -1. */
  #boundPf(rng: ModelRng, rec: number): number {
    const n = this.#hw.g.pf.length;
    const start = rng.below(n);
    for (let i = 0; i < n; i++) {
      const pf = (start + i) % n;
      if (bondOf(this.#hw, rec, pf) >= 0) return pf;
    }
    return -1;
  }

  /** The process was killed: forget what it was doing (the reaper takes over). */
  killed(): void {
    this.#bond = -1;
  }

  finish(): void {
    this.#finishing = true;
  }

  quiet(): boolean {
    return this.#bond < 0 && mmOfProcess(this.#hw, this.pid) < 0;
  }
}
