/**
 * `ioasid/hw-model`: a modelled VT-d host (iommu-hw-model.md §1, §2, §5, §7), in shared
 * memory, whose drivers take their PASIDs from the `ioasid` core; and the checker that says
 * whether the core kept that hardware safe.
 *
 * ```ts
 * import { Platform, runDeterministic } from 'ioasid/hw-model';
 * const p = Platform.create({ pasidBits: 8 });        // knobs of §7.2, defaults otherwise
 * p.spawn(0);
 * const pasid = p.bindSva(0, 0);                      // PF 0, process 0
 * p.mapPortal(0, 0, 0);
 * p.enqcmd(0, 0, 0, 3);                               // #GP fix-up, then ZF = 0
 * p.execute(0);                                       // the device translates through the IOMMU
 * p.unbindSva(0, 0);                                  // teardown P0 .. P7
 * p.mmExit(0);                                        // P8: the core reclaims the PASID
 * const r = runDeterministic({ scenario: 'host-sva', seed: 1, seconds: 5 });
 * r.verdict; r.invariants; r.hardware;
 * ```
 *
 * @module ioasid/hw-model
 *
 * ## Developer notes: the architecture
 *
 * ```text
 *   CPU workers (one per CPU)            kernel threads               hardware engines
 *  +---------------------------+   +-------------------------+   +----------------------+
 *  | process actors: threads   |   | PRQ thread: find() under|   | IOMMU engine: inv    |
 *  | bindSva, ENQCMD/MOVDIR64B,|   | RCU, walk bonds, answer |   | queue in order, wait |
 *  | unbind (drives P0..P7),   |   | via the inv queue       |   | descriptors, PRG     |
 *  | exit (P0, P2 with FPD,    |   | driver workqueue: FREE  |   | responses            |
 *  | free -> FREE notification)|   | notifications, finishes |   | device engine per PF:|
 *  +------------+--------------+   | handed-over teardowns   |   | WQs, commands, ATS   |
 *               |                  +------------+------------+   | translate, PRI       |
 *               |  ioasid core (alloc/get/put/  |                +----------+-----------+
 *               |  free/find, RCU) <------------+                           |
 *               v                                                           v
 *  +------------------------------------------------------------------------------------+
 *  | hardware buffer (hw-layout.ts): PASID dir/leaves per PF, PASID cache, IOTLB,       |
 *  | devTLBs, inv queue, PRQ, fault records, WQ rings + WQCFG, PRG slots, processes,    |
 *  | threads (IA32_PASID), mm records, bonds; every artifact carries its ghost gen      |
 *  +------------------------------------------------------------------------------------+
 *               |  every step appends an event (kind, actor, pasid, gen, pf, a, b, c)
 *               v
 *  +------------------------------------------------------------------------------------+
 *  | log buffer: event ring (lossless, claim ring), counters per thread, ticket counter |
 *  +------------------------------------------------------------------------------------+
 *               |
 *               v
 *        checker thread (or the deterministic scheduler): ghost state per PASID,
 *        INV-1/2/3/5/6/9/10/11/14/15/16 online, per translation, at quiescent points
 * ```
 *
 * - **Hardware state is data.** Two SharedArrayBuffers: the hardware buffer (one layout file,
 *   hw-layout.ts, with its table) and the log buffer (event log, counters, allocation
 *   tickets). Caches are explicit tables with a replacement rule, so a line an invalidation
 *   should have removed is a state the checker can see. A failed operation leaves the
 *   hardware buffer's bytes as they were (counters and the log live in the other buffer).
 * - **One queue shape.** Every ring (event log, invalidation queue, PRQ, work queues, the
 *   FREE shim) is a claim ring (claim-ring.ts): a slot is claimed by a CAS that writes the
 *   claimer's tag, so a thread killed anywhere leaves at most tagged slots that recovery
 *   tombstones.
 * - **Actors are step functions** (actors/): processes, the IOMMU engine, a device engine per
 *   PF, the PRQ thread, the driver's workqueue. A step does one observable thing and never
 *   waits. Threaded mode (src/workers/hw-fleet.ts) runs them on worker threads; deterministic
 *   mode (deterministic.ts) interleaves the same objects in one thread with a seeded
 *   scheduler, so a threaded finding is replayed by seed and read step by step.
 * - **Teardown is a resumable state machine** (teardown.ts): a bond records the phases it
 *   completed and where it is inside the current one, so the unbinding process, the driver's
 *   workqueue after a hand-over, or a reaper can continue it. Linux's orders: P0..P7 normal;
 *   on exit P2 with FPD first (§1.9, §7.5).
 * - **Drivers are consumers of the core** (iommu-driver.ts): PASIDs come from `alloc` in the
 *   SVA set with the mm's token as private data; the driver holds one reference while the mm
 *   has bonds; the mm frees its own reference at exit, and when that leaves the PASID
 *   free-pending the driver learns it from the FREE notification (free-notifier.ts: the
 *   core's global chain once it has one, a shim until then) and finishes the teardown.
 * - **The checker reads the log, not the actors' minds** (checker/): ghost generation per
 *   PASID (the allocation ticket the driver recorded when `alloc` returned), phase order,
 *   cache scans when an invalidation phase completes, table scans at quiescent points. The
 *   log-order rule (event-log.ts) makes its temporal checks race-free on threads.
 * - **Mutations** (mutations.ts) are one `if` each in one driver function.
 * - Arrows point down: src/workers (the fleet) -> src/hw-model -> src/core; nothing here
 *   imports from src/workers or stress.
 *
 * Rejected: postMessage between actors (the deterministic scheduler would need its own
 * channel); a global model lock (the point is to race the core's lock-free paths); ghost
 * generations kept by the checker alone (artifacts must carry them, or a stale cache line
 * could not be told from a fresh one).
 */

export type { TeardownTimeline, Violation } from './checker/checker.js';
export type {
  CheckSite,
  InvariantCount,
  InvariantId,
  InvariantSpec,
} from './checker/invariants.js';
export { INVARIANTS } from './checker/invariants.js';
export { COUNTERS, type CounterName, type Counters } from './counters.js';
export { runDeterministic } from './deterministic.js';
export { HwErrno, hwErrnoName } from './hw-errno.js';
export { HwModelError, type HwModelErrorCode } from './hw-errors.js';
export { MUTATIONS, type MutationName, type MutationSpec } from './mutations.js';
export {
  type InvDescriptor,
  type InvDevTlb,
  type InvIotlb,
  type InvPasidCache,
  type InvWait,
  PLATFORM_MAX_THREADS,
  Platform,
  type PlatformHandle,
} from './platform.js';
export {
  dsaPf,
  type Latencies,
  nicPf,
  type PfProfile,
  PROFILE_DEFAULTS,
  type Profile,
  resolveProfile,
  type WqProfile,
} from './profile.js';
export {
  CompletionStatus,
  FaultReason,
  SwerrCode,
  TR_NOT_MAPPED,
  ZF_ACCEPTED,
  ZF_RETRY,
} from './results.js';
export {
  type ModelRunConfig,
  type ModelRunResult,
  type RunInterruption,
  replayCommand,
} from './run-result.js';
export {
  MODEL_FAULTS,
  MODEL_SCENARIO_NAMES,
  MODEL_SCENARIOS,
  type ModelFault,
  type ModelScenario,
  type ProcessMix,
} from './scenarios.js';
