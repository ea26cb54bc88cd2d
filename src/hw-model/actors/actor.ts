/**
 * An actor of the model (design notes: "actors are step functions"): a small state machine
 * over shared memory whose `step` does one observable thing and never waits. The same actor
 * objects run in worker threads (a loop of steps per worker) and in the deterministic
 * scheduler (one thread, a seeded choice of the next actor).
 */
import type { ModelRng } from '../rng.js';

/** What kind of actor (for reports and the scheduler's weights). */
export type ActorKind = 'process' | 'iommu' | 'device' | 'prq' | 'workqueue';

/** One actor. */
export interface Actor {
  /** Id written into every event it logs (> 0; 0 is the public API). */
  readonly id: number;
  readonly kind: ActorKind;
  readonly name: string;
  /**
   * Do one observable thing.
   * @returns 0 when idle or blocked on another actor, > 0 when it made progress
   */
  step(rng: ModelRng): number;
  /** Wind down: stop starting work (processes exit; engines just keep serving). */
  finish(): void;
  /** True when it has nothing in flight (after `finish`, nothing left to do). */
  quiet(): boolean;
}
