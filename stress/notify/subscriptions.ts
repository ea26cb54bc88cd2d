/**
 * The notifier subscriptions of a stress run with subscriber CPUs (`--subscribers N`): which
 * chains, at which priorities, and which subscriber CPU reads each. The harness registers them
 * all before any CPU starts, so every subscription receives every event of its chain (but
 * what an overflow drops) and the subscribers ahead of it on its chain are exactly the ones
 * registered before it in chain order: the gating check (stream-check.ts) relies on that.
 *
 * - the global chain (FREE of every id): two subscribers, IOMMU registered before CPU, so
 *   priority, not registration, puts the CPU one ahead; they come first (their index is
 *   their FREE tally's, check-layout.ts);
 * - the first shared set's chain: one subscriber per priority, registered in an order unlike
 *   the chain's (LAST, IOMMU, CPU, DEVICE);
 * - the second shared set's chain (if there is one): two at the same priority, DEVICE, where
 *   registration order alone decides.
 * Subscriptions are dealt to the subscriber CPUs in turn.
 */
import { type IoasidSpace, NotifierPriority } from '../../src/core/ioasid/ioasid-space.js';

/** One subscription. Structured-cloneable (it is part of a subscriber CPU's plan). */
export interface Subscription {
  /** Its index: its words in the check buffer (check-layout.ts subOracleBase). */
  index: number;
  /** The set whose chain it is on, or null for the global chain. */
  chain: number | null;
  prio: number;
  /** Registration order among all subscriptions. */
  order: number;
  /** The subscriber id registerNotifier returned. */
  sub: number;
  /** The subscriber CPU that reads it (0 .. subscribers - 1). */
  reader: number;
}

const { LAST, DEVICE, IOMMU, CPU } = NotifierPriority;

/**
 * The chains and priorities of a run, in registration order (global ones first).
 *
 * @param sets - the run's shared sets
 *
 * Context: pure.
 * @returns the chain and priority of each subscription
 */
export function subscriptionSpecs(
  sets: readonly number[],
): Array<{ chain: number | null; prio: number }> {
  const specs: Array<{ chain: number | null; prio: number }> = [
    { chain: null, prio: IOMMU },
    { chain: null, prio: CPU },
  ];
  for (const prio of [LAST, IOMMU, CPU, DEVICE]) specs.push({ chain: sets[0]!, prio });
  if (sets.length > 1) for (let i = 0; i < 2; i++) specs.push({ chain: sets[1]!, prio: DEVICE });
  return specs;
}

/** How many subscriptions a run registers, and how many of them are on the global chain. */
export function subscriptionCount(sets: number): { subs: number; globalSubs: number } {
  return { subs: sets > 1 ? 8 : 6, globalSubs: 2 };
}

/**
 * Register every subscription of a run.
 *
 * @param space - the space (no id allocated yet)
 * @param sets - the shared sets
 * @param readers - how many subscriber CPUs read them
 *
 * Context: main thread, before any CPU starts.
 * @returns the subscriptions; throws when one cannot be registered (a configuration error)
 */
export function registerSubscriptions(
  space: IoasidSpace,
  sets: readonly number[],
  readers: number,
): Subscription[] {
  return subscriptionSpecs(sets).map(({ chain, prio }, index) => {
    const sub = space.registerNotifier(chain, prio);
    if (sub < 0) throw new Error(`registerNotifier(${chain}, ${prio}) returned ${sub}`);
    return { index, chain, prio, order: index, sub, reader: index % readers };
  });
}

/**
 * Is `p` ahead of `s` on their chain (the kernel's call order: higher priority first, then
 * earlier registration)?
 *
 * @param p - a subscription
 * @param s - another one
 *
 * Context: pure.
 * @returns true when s reads an event only after p read it
 */
export function isAhead(p: Subscription, s: Subscription): boolean {
  return p.chain === s.chain && (p.prio > s.prio || (p.prio === s.prio && p.order < s.order));
}

/**
 * The subscriptions in chain order, every chain after the other: reading them in this order
 * never waits for one read later.
 *
 * @param subs - the subscriptions
 *
 * Context: pure.
 * @returns a sorted copy
 */
export function inChainOrder(subs: readonly Subscription[]): Subscription[] {
  return [...subs].sort((a, b) => {
    const ka = a.chain ?? -1;
    const kb = b.chain ?? -1;
    return ka - kb || b.prio - a.prio || a.order - b.order;
  });
}
