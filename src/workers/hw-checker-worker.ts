/**
 * The checker thread of a threaded model run: consumes the event log as it is written
 * (online checks), runs a quiescent scan whenever the main thread has parked every actor and
 * asks for one, and at the end drains the log, runs the end checks and posts what it found.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ModelChecker } from '../hw-model/checker/checker.js';
import { Platform, type PlatformHandle } from '../hw-model/platform.js';
import {
  F_CHECK_DONE,
  F_CHECK_REQ,
  F_CHECKER_READY,
  F_END_REQ,
  F_VIOLATIONS,
  F_VMS_IDLE,
} from './hw-fleet-layout.js';

/** What the main thread gives the checker. */
export interface HwCheckerData {
  platform: PlatformHandle;
  control: SharedArrayBuffer;
  replay: string;
  livenessBound: number | undefined;
}

/** What the checker posts at the end. */
export type HwCheckerReport = Pick<ModelChecker, 'first' | 'violationCount' | 'events'> & {
  invariants: ReturnType<ModelChecker['counts']>;
  timelines: ReturnType<ModelChecker['timelines']>;
  vms: ReturnType<ModelChecker['vmStats']>;
  refWalk: ReturnType<ModelChecker['refWalk']>;
};

function main(d: HwCheckerData): void {
  const platform = Platform.attach(d.platform);
  const ctl = new Int32Array(d.control);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const checker = new ModelChecker(platform.context, {
    replay: d.replay,
    livenessBound: d.livenessBound,
  });
  Atomics.store(ctl, F_VMS_IDLE, checker.vmsIdleThisBoot());
  Atomics.store(ctl, F_CHECKER_READY, 1);
  Atomics.notify(ctl, F_CHECKER_READY);
  const drain = () => {
    while (checker.consume(4096) > 0 || checker.logBusy()) Atomics.wait(nap, 0, 0, 0.1);
  };
  for (;;) {
    const n = checker.consume(4096);
    Atomics.store(ctl, F_VIOLATIONS, checker.violationCount);
    if (n > 0) Atomics.store(ctl, F_VMS_IDLE, checker.vmsIdleThisBoot());
    const req = Atomics.load(ctl, F_CHECK_REQ);
    if (req > Atomics.load(ctl, F_CHECK_DONE)) {
      drain();
      checker.quiescent();
      Atomics.store(ctl, F_VIOLATIONS, checker.violationCount);
      Atomics.store(ctl, F_CHECK_DONE, req);
      Atomics.notify(ctl, F_CHECK_DONE);
    }
    if (Atomics.load(ctl, F_END_REQ) !== 0) break;
    if (n === 0) Atomics.wait(nap, 0, 0, 1);
  }
  drain();
  // END_REQ 1: the platform came to rest, so nothing may be left pending; 2: the run
  // stopped early (a violation) and only the online findings count.
  if (Atomics.load(ctl, F_END_REQ) === 1) checker.end();
  checker.close();
  const report: HwCheckerReport = {
    first: checker.first,
    violationCount: checker.violationCount,
    events: checker.events,
    invariants: checker.counts(),
    timelines: checker.timelines(),
    vms: checker.vmStats(),
    refWalk: checker.refWalk(),
  };
  parentPort?.postMessage(report);
  platform.detach();
}

main(workerData as HwCheckerData);
