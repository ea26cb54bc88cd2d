/**
 * Model-based test of the grace-period state machine. K "threads" are K Rcu instances
 * attached in this thread, each with its own slot, so every interleaving of lock, unlock,
 * cookie and poll steps that fast-check generates is executed exactly, and shrinks to a
 * readable script when a property fails.
 *
 * Properties: (safety) pollState/peekState never report a cookie done while a reader section
 * that began before the cookie is still open; (liveness) with every reader outside, a poll
 * loop completes within a few polls, and synchronize() completes every earlier cookie.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rcu, type RcuOptions } from '../src/core/rcu/rcu.js';
import { testSeed } from './helpers/seed.js';

const K = 4;

interface Model {
  /** Per reader: id of its open outermost section, or 0 when outside. */
  open: number[];
  nextSection: number;
  /** Cookies taken, each with the sections open at that moment. */
  cookies: { cookie: number; openAtCookie: [reader: number, section: number][] }[];
}

interface Real {
  readers: Rcu[];
  updater: Rcu;
}

type Cmd = fc.Command<Model, Real>;

function assertSafe(m: Model, i: number, done: boolean, what: string): void {
  if (!done) return;
  for (const [k, section] of m.cookies[i]!.openAtCookie)
    if (m.open[k] === section)
      throw new Error(
        `${what}: cookie #${i} done while reader ${k}'s section ${section} is still open`,
      );
}

class Lock implements Cmd {
  constructor(readonly k: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    r.readers[this.k]!.readLock();
    if (r.readers[this.k]!.nesting === 1) m.open[this.k] = ++m.nextSection;
  }
  toString = () => `lock(${this.k})`;
}

class Unlock implements Cmd {
  constructor(readonly k: number) {}
  check = (m: Readonly<Model>) => m.open[this.k] !== 0;
  run(m: Model, r: Real): void {
    r.readers[this.k]!.readUnlock();
    if (r.readers[this.k]!.nesting === 0) m.open[this.k] = 0;
  }
  toString = () => `unlock(${this.k})`;
}

class TakeCookie implements Cmd {
  check = () => true;
  run(m: Model, r: Real): void {
    const openAtCookie = m.open.flatMap((s, k) => (s === 0 ? [] : [[k, s] as [number, number]]));
    m.cookies.push({ cookie: r.updater.getState(), openAtCookie });
  }
  toString = () => 'cookie()';
}

class Poll implements Cmd {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.cookies.length > 0;
  run(m: Model, r: Real): void {
    const i = this.pick % m.cookies.length;
    assertSafe(m, i, r.updater.pollState(m.cookies[i]!.cookie), 'pollState');
    for (let j = 0; j < m.cookies.length; j++)
      assertSafe(m, j, r.updater.peekState(m.cookies[j]!.cookie), 'peekState');
  }
  toString = () => `poll(${this.pick})`;
}

/** Only when every reader is outside (a blocking call would wait for our own readers). */
class Synchronize implements Cmd {
  check = (m: Readonly<Model>) => m.open.every((s) => s === 0);
  run(m: Model, r: Real): void {
    r.updater.synchronize();
    for (const { cookie } of m.cookies)
      if (!r.updater.peekState(cookie))
        throw new Error('synchronize left an earlier cookie pending');
  }
  toString = () => 'synchronize()';
}

class PollLoopWhenQuiet implements Cmd {
  check = (m: Readonly<Model>) => m.open.every((s) => s === 0);
  run(m: Model, r: Real): void {
    const c = r.updater.getState();
    let polls = 0;
    while (!r.updater.pollState(c)) if (++polls > 3) throw new Error('poll loop made no progress');
    m.cookies.push({ cookie: c, openAtCookie: [] });
  }
  toString = () => 'pollLoop()';
}

function modelProperty(flavor: RcuOptions['flavor'], fault?: RcuOptions['fault']) {
  const k = fc.nat(K - 1);
  const commands = [
    k.map((i) => new Lock(i)),
    k.map((i) => new Unlock(i)),
    fc.constant(new TakeCookie()),
    fc.nat(1000).map((p) => new Poll(p)),
    fc.constant(new Synchronize()),
    fc.constant(new PollLoopWhenQuiet()),
  ];
  return fc.property(fc.commands(commands, { size: '+1' }), (cmds) => {
    const updater = Rcu.create({ maxThreads: K + 1, flavor, fault });
    const readers = Array.from({ length: K }, () => {
      const r = Rcu.attach(updater.handle);
      r.registerThread();
      return r;
    });
    fc.modelRun(
      () => ({
        model: { open: new Array(K).fill(0), nextSection: 0, cookies: [] },
        real: { readers, updater },
      }),
      cmds,
    );
  });
}

describe.each([
  'marks',
  'mb',
] as const)('grace-period state machine, %s flavor (model-based, single thread, K simulated readers)', (flavor) => {
  const seed = testSeed('test/rcu_grace_period_model.test.ts');

  it('never ends a grace period under an older reader, and always progresses when quiet', () => {
    fc.assert(modelProperty(flavor), { seed, numRuns: 300 });
  });

  // The broken twins: the same property must catch each deliberately broken grace period.
  it.each([
    { mode: 'skip-gp' as const },
    { mode: 'skip-nth' as const, arg: 3 },
    { mode: 'ignore-reader' as const, arg: 0 },
    { mode: 'lose-snapshot' as const },
  ])('catches the broken variant $mode', (fault) => {
    let failure: unknown;
    try {
      fc.assert(modelProperty(flavor, fault), { seed, numRuns: 300 });
    } catch (err) {
      failure = err;
    }
    expect(String(failure)).toMatch(/Counterexample: \[.*lock\(/);
    expect(String((failure as Error).cause)).toMatch(/cookie #\d+ done while reader \d's section/);
  });
});
