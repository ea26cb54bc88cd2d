/**
 * A process killed in the middle of its own unbind is reaped: its exit frees the PASID while
 * the driver still holds its reference (free-pending, the core owes the driver one FREE
 * notification), and the teardown the dead process was driving must be finished by the
 * driver's workqueue. The core distributes notifications lazily (a try-lock: an emitter that
 * finds another thread distributing leaves its entry in the log), so the driver may read the
 * FREE late. The teardown must wait for it, as every teardown of an exited mm does: if the
 * workqueue finished it first, its last step (the driver's put) would reclaim the PASID before
 * the driver was told it went free-pending (INV-11: the FREE notification arrives for a
 * reclaimed PASID, or for the next owner of the number). Seen on threads with kill-cpu (seeds
 * 2128304083, 554642303 of `--scenario host-sva`). Replayed here in one thread: the
 * distribution lock is held for a thread that is not there (white-box, as in
 * notifier_chain_rules.test.ts) while the reaper runs and the engines step.
 */
import { describe, expect, it } from 'vitest';
import { DLOCK_WORD } from '../src/core/ioasid/hooks-layout.js';
import type { Actor } from '../src/hw-model/actors/actor.js';
import { buildActors } from '../src/hw-model/actors/fleet.js';
import { ModelChecker } from '../src/hw-model/checker/checker.js';
import { Ev } from '../src/hw-model/event-log.js';
import { dsaPf, Platform, type Profile } from '../src/hw-model/index.js';
import { ModelRng } from '../src/hw-model/rng.js';
import { MODEL_SCENARIOS } from '../src/hw-model/scenarios.js';

const SMALL: Partial<Profile> = { pasidBits: 8, processes: 4, pfs: [dsaPf('a'), dsaPf('b')] };
/** Rounds of engine steps that finish any teardown of this platform many times over. */
const ENGINE_ROUNDS = 20_000;

class Killed extends Error {}

/** The next append of PHASE `phase` dies right after it was appended, once. */
function dieAfterPhase(p: Platform, phase: number): () => boolean {
  const log = p.context.log;
  const emit = log.emit.bind(log);
  let died = false;
  log.emit = (k, pasid, gen, pf, a, b, c) => {
    emit(k, pasid, gen, pf, a, b, c);
    if (k !== Ev.PHASE || a !== phase || died) return;
    died = true;
    throw new Killed(`killed right after the append of P${phase}`);
  };
  return () => died;
}

/** White-box: hold the core's distribution lock for a thread that is not there. */
function holdDistribution(p: Platform, hold: boolean): void {
  Atomics.store(new Int32Array(p.space.handle.hooks), DLOCK_WORD, hold ? 4000 : 0);
}

/** Step the IOMMU, device, PRQ and workqueue actors round robin until none has work left. */
function stepEngines(engines: Actor[], c: ModelChecker, rng: ModelRng): void {
  for (let i = 0; i < ENGINE_ROUNDS; i++) {
    let progress = 0;
    for (const a of engines) progress += a.step(rng);
    c.consume();
    if (progress === 0 && engines.every((a) => a.quiet())) return;
  }
}

describe("a reaped process's unbind teardown", () => {
  it.each([
    0, 2, 5, 6, 7,
  ])('killed after P%i: finished only after the driver read the FREE notification', (phase) => {
    const p = Platform.create(SMALL);
    const c = new ModelChecker(p.context, {});
    const rng = new ModelRng(phase + 1);
    const engines = buildActors(p.context, p.freeChain, MODEL_SCENARIOS['host-sva']!, {
      pids: [],
      iommu: true,
      devices: [0, 1],
      prq: true,
      workqueue: true,
    });
    p.spawn(0);
    const pasid = p.bindSva(0, 0);
    expect(pasid).toBeGreaterThan(0);
    const died = dieAfterPhase(p, phase);
    expect(() => p.unbindSva(0, 0)).toThrow(Killed);
    expect(died()).toBe(true);

    // Another thread is distributing (preempted, under load): the exit's FREE stays in the log.
    holdDistribution(p, true);
    expect(p.reapProcess(0)).toBe(0);
    stepEngines(engines, c, rng);
    const whileHeld = p.space.inspect(pasid).state;

    holdDistribution(p, false);
    stepEngines(engines, c, rng);
    c.end();
    expect(c.first?.message).toBeUndefined();
    // The driver's reference was still held while the notification waited: the teardown did.
    expect(whileHeld).toBe('free-pending');
    expect(p.space.inspect(pasid).state).toBe('free');
  });
});
