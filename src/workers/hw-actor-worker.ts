/**
 * A worker thread of a threaded model run: attaches the platform, builds the actors it
 * hosts (processes of one CPU, or an engine), and steps them in a loop until the main thread
 * says stop, parking at step boundaries when it says pause and sleeping when it says stutter.
 * The same actor code as the deterministic scheduler: only who calls `step` differs.
 *
 * Kill safety: ROW and RCU_SLOT are published before STATUS = running, so from that store on
 * the main thread may terminate this worker anywhere and recover what it held
 * (`platform.releaseThread(row, rcuSlot)`, then `reapProcess` for each of its processes; a
 * guest's thread also publishes its slot in the guest kernel space, and its VM is destroyed).
 */
import { threadId, workerData } from 'node:worker_threads';
import type { Actor } from '../hw-model/actors/actor.js';
import { PrqActor } from '../hw-model/actors/engine-actors.js';
import { type ActorSet, buildActors } from '../hw-model/actors/fleet.js';
import { GuestActor } from '../hw-model/actors/guest-actor.js';
import { Platform, type PlatformHandle } from '../hw-model/platform.js';
import { ModelRng } from '../hw-model/rng.js';
import type { ModelScenario } from '../hw-model/scenarios.js';
import {
  F_STATE,
  FS_FINISH,
  FS_PAUSE,
  FS_STOP,
  W_GUEST_RCU_SLOT,
  W_ITERS,
  W_PARKED,
  W_QUIET,
  W_RCU_SLOT,
  W_ROW,
  W_STATUS,
  W_STEPS,
  W_STUTTER,
  W_THREAD,
  WS_DONE,
  WS_RUNNING,
  workerSlot,
} from './hw-fleet-layout.js';
import { slowStartForTests } from './start-wait.js';

/** What the main thread gives a worker. Structured-cloneable. */
export interface HwWorkerData {
  platform: PlatformHandle;
  control: SharedArrayBuffer;
  index: number;
  set: ActorSet;
  scenario: ModelScenario;
  seed: number;
  /** Distinct per replacement, so a restarted CPU draws a fresh stream. */
  generation: number;
}

const IDLE_SPINS = 16;
const IDLE_WAIT_MS = 0.2;

function main(d: HwWorkerData): void {
  // A loaded machine's slow start, on demand (IOASID_SLOW_START_MS; start-wait.ts).
  slowStartForTests();
  const platform = Platform.attach(d.platform);
  const ctl = new Int32Array(d.control);
  const slot = workerSlot(d.index);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const actors: Actor[] = buildActors(
    platform.context,
    platform.freeChain,
    d.scenario,
    d.set,
    (vm) => d.platform.guests[vm]!,
  );
  const rngs = actors.map((a) => new ModelRng(d.seed ^ (d.generation * 0x9e3779b1), a.id));
  let guestSlot = -1;
  for (const a of actors)
    if (a instanceof GuestActor) {
      if (d.generation > 0) a.replacing();
      guestSlot = a.attachKernel();
    }
  Atomics.store(ctl, slot + W_GUEST_RCU_SLOT, guestSlot);
  Atomics.store(ctl, slot + W_ROW, platform.row);
  Atomics.store(ctl, slot + W_RCU_SLOT, platform.space.rcu.slot);
  Atomics.store(ctl, slot + W_THREAD, threadId);
  // Publishes ROW and RCU_SLOT; pairs with the main thread's loads before a kill's recovery.
  Atomics.store(ctl, slot + W_STATUS, WS_RUNNING);
  let finishing = false;
  let idle = 0;
  let steps = 0;
  for (let iter = 1; ; iter++) {
    const state = Atomics.load(ctl, F_STATE);
    if (state === FS_STOP) break;
    if (state === FS_PAUSE) {
      Atomics.store(ctl, slot + W_PARKED, 1);
      while (Atomics.load(ctl, F_STATE) === FS_PAUSE) Atomics.wait(ctl, F_STATE, FS_PAUSE, 50);
      Atomics.store(ctl, slot + W_PARKED, 0);
      continue;
    }
    if (state === FS_FINISH && !finishing) {
      finishing = true;
      for (const a of actors) a.finish();
    }
    let progress = 0;
    for (let i = 0; i < actors.length; i++) progress += actors[i]!.step(rngs[i]!);
    steps += progress;
    if ((iter & 255) === 0) {
      Atomics.store(ctl, slot + W_STEPS, steps);
      Atomics.store(ctl, slot + W_ITERS, iter);
      Atomics.store(ctl, slot + W_QUIET, finishing && actors.every((a) => a.quiet()) ? 1 : 0);
      const ms = Atomics.exchange(ctl, slot + W_STUTTER, 0);
      if (ms > 0) Atomics.wait(nap, 0, 0, ms);
    }
    if (progress > 0) idle = 0;
    else if (++idle >= IDLE_SPINS) Atomics.wait(nap, 0, 0, IDLE_WAIT_MS);
  }
  for (const a of actors) if (a instanceof PrqActor || a instanceof GuestActor) a.stop();
  Atomics.store(ctl, slot + W_STEPS, steps);
  Atomics.store(ctl, slot + W_QUIET, actors.every((a) => a.quiet()) ? 1 : 0);
  Atomics.store(ctl, slot + W_STATUS, WS_DONE);
  platform.detach();
}

main(workerData as HwWorkerData);
