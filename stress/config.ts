/**
 * A stress run's configuration: a scenario made concrete (stress/scenarios.ts) with its seed
 * and, for a self-test, a broken twin; what it asks of the space, of the CPUs' buffers, and
 * whether it makes sense at all (`checkConfig`: the CLI turns its problems into exit 2).
 */
import type { IoasidOptions } from '../src/core/ioasid/ioasid-space.js';
import type { RcuFlavor } from '../src/core/rcu/rcu.js';
import type { CpuGeometry } from '../src/workers/run-layout.js';
import { brokenTwin } from './broken-twins.js';
import type { CheckGeometry } from './check/check-layout.js';
import { subscriptionCount } from './notify/subscriptions.js';
import { N_OPS, OP_NAMES } from './ops/index.js';
import type { Scenario } from './scenarios.js';

/** A scenario made concrete: its name, a seed, and optionally a broken twin. */
export interface StressConfig extends Omit<Scenario, 'description'> {
  scenario: string;
  seed: number;
  /** @internal a deliberately broken variant (stress/broken-twins.ts), to prove a check can fail */
  broken?: string | undefined;
  /**
   * The space's RCU flavor (`--rcu`; default 'marks'). With 'qsbr' every thread attached to
   * the space announces quiescent states: the CPUs between operations, offline while parked
   * and between tasks; the checker and the main thread stay offline except while they work.
   */
  rcu?: RcuFlavor | undefined;
}

/** Quota of a CPU's scratch set. */
export const SCRATCH_QUOTA = 16;
/** Least time between two kills. */
export const KILL_EVERY_MS = 700;

/**
 * Most kills a run of `seconds` can make (at most one per KILL_EVERY_MS), capped at 1024 so
 * that the set table stays small enough for the checker to scan every few milliseconds (past
 * that, in runs of over 10 minutes, setAlloc may return a legal -ENOSPC more often).
 *
 * @param seconds - the run's length
 *
 * Context: pure.
 * @returns the bound
 */
export function maxKills(seconds: number): number {
  return Math.min(1024, Math.ceil((seconds * 1000) / KILL_EVERY_MS));
}

/**
 * Options the space is created with for this run.
 *
 * @param c - the run's configuration
 *
 * Context: pure.
 * @returns the space's options (its broken twin's core fault included)
 */
export function spaceOptionsFor(c: StressConfig): Partial<IoasidOptions> {
  const cap = 2 ** c.pasidBits - 1;
  return {
    pasidBits: c.pasidBits,
    // A killed CPU leaves its scratch set until the end of the run (verify-at-end.ts): one
    // slot per possible kill, so that setAlloc keeps finding slots in long runs with kills.
    maxSets: c.sets + c.cpus * 2 + 4 + (c.faults.includes('kill-cpu') ? maxKills(c.seconds) : 0),
    // Records of freed ids wait a grace period before reuse: size the pool well above the ids
    // that can be live at once, so -ENOMEM stays a rare runtime condition.
    maxIoasids: Math.min(
      2 ** 20 - 2,
      Math.max(4096, 4 * Math.min(cap, c.cpus * (c.maxHeld + SCRATCH_QUOTA))),
    ),
    maxThreads: c.cpus * 4 + 8,
    // Subscriber CPUs start with the op CPUs and, sharing the cores, fall behind at once: deep
    // queues keep the first seconds of every stream whole, where the checks that hold back
    // after a drop (stream-check.ts) see everything; later, queues still overflow.
    ...(c.subscribers > 0
      ? { maxSubscribers: subscriptionCount(c.sets).subs, notifyQueueDepth: NOTIFY_QUEUE_DEPTH }
      : {}),
    policy: c.policy,
    rcuFlavor: c.rcu ?? 'marks',
    fault: brokenTwin(c.broken)?.spaceFault,
  };
}

/** Queue depth of each subscription in runs with subscriber CPUs (8 of them: 4 MiB). */
const NOTIFY_QUEUE_DEPTH = 16_384;

/**
 * The geometries of the run's two buffers (run-layout.ts, check-layout.ts).
 *
 * @param c - the run's configuration
 *
 * Context: pure.
 * @returns the run buffer's and the check buffer's
 */
export function geometriesFor(c: StressConfig): { run: CpuGeometry; check: CheckGeometry } {
  return {
    run: { cpus: c.cpus, nOps: N_OPS },
    check: {
      cpus: c.cpus,
      pasidBits: c.pasidBits,
      maxSets: spaceOptionsFor(c).maxSets!,
      ...(c.subscribers > 0 ? subscriptionCount(c.sets) : {}),
    },
  };
}

/**
 * Problems with a configuration, as messages for a usage error.
 *
 * @param c - the configuration
 *
 * Context: pure.
 * @returns the problems (empty when it is fine)
 */
export function checkConfig(c: StressConfig): string[] {
  const problems: string[] = [];
  const cap = 2 ** c.pasidBits - 1;
  const scratch = c.mix[OP_NAMES.indexOf('setAlloc')]! > 0 ? c.cpus * SCRATCH_QUOTA : 0;
  if (c.sets * c.quota + scratch > cap)
    problems.push(
      `--sets ${c.sets} x --quota ${c.quota}${scratch ? ` + ${scratch} for scratch sets` : ''} exceeds the ` +
        `capacity of a ${c.pasidBits}-bit PASID space (${cap})`,
    );
  if (c.mix.length !== N_OPS || c.mix.every((w) => w <= 0))
    problems.push('the mix has no positive weight');
  const subs = subscriptionCount(c.sets).subs;
  if (c.subscribers >= c.cpus)
    problems.push(
      `--subscribers ${c.subscribers} leaves no CPU to run operations (--cpus ${c.cpus})`,
    );
  else if (c.subscribers > subs)
    problems.push(
      `--subscribers ${c.subscribers}: a run has ${subs} subscriptions to read, at most one reader each`,
    );
  let twin: ReturnType<typeof brokenTwin>;
  try {
    twin = brokenTwin(c.broken);
  } catch (err) {
    problems.push((err as Error).message);
  }
  const why = twin?.cannotCatch(c);
  if (why)
    problems.push(
      `--broken ${twin!.name} cannot be caught by this configuration (scenario '${c.scenario}'): ${why}`,
    );
  return problems;
}
