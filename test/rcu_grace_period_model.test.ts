/**
 * Model-based test of the grace-period state machine. K "threads" are K Rcu instances
 * attached in this thread, each with its own slot, so every interleaving of lock, unlock,
 * quiescent-state, cookie and poll steps that fast-check generates is executed exactly, and
 * shrinks to a readable script when a property fails.
 *
 * A reader's *open interval* is what a grace period must wait for: in the marks and mb
 * flavors its outermost read-side section; in the qsbr flavor everything it did since it last
 * announced a quiescent state or came online (its sections leave no trace, and it may hold a
 * reference anywhere in between). Properties: (safety) pollState/peekState never report a
 * cookie done while an interval that was open when the cookie was taken is still open;
 * (liveness) with every reader outside any section (qsbr: once each announced a quiescent
 * state), a poll loop completes within a few polls, and synchronize() completes every
 * earlier cookie.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rcu, type RcuFlavor, type RcuOptions } from '../src/core/rcu/rcu.js';
import { testSeed } from './helpers/seed.js';

const K = 4;

interface Model {
  qsbr: boolean;
  /** Per reader: id of its open interval (see the header), or 0 when none. */
  open: number[];
  /** Per reader: read-side nesting depth. */
  nest: number[];
  nextInterval: number;
  /** Cookies taken, each with the intervals open at that moment. */
  cookies: { cookie: number; openAtCookie: [reader: number, interval: number][] }[];
}

interface Real {
  readers: Rcu[];
  updater: Rcu;
}

type Cmd = fc.Command<Model, Real>;

function assertSafe(m: Model, i: number, done: boolean, what: string): void {
  if (!done) return;
  for (const [k, interval] of m.cookies[i]!.openAtCookie)
    if (m.open[k] === interval)
      throw new Error(
        `${what}: cookie #${i} done while reader ${k}'s section ${interval} is still open`,
      );
}

/** qsbr: reader `k` starts a new interval (a quiescent state, or coming online). */
function newInterval(m: Model, k: number): void {
  m.open[k] = ++m.nextInterval;
}

class Lock implements Cmd {
  constructor(readonly k: number) {}
  // qsbr: a section in an offline thread is misuse (a debug attachment throws).
  check = (m: Readonly<Model>) => !m.qsbr || m.open[this.k] !== 0;
  run(m: Model, r: Real): void {
    r.readers[this.k]!.readLock();
    m.nest[this.k]! += 1;
    if (!m.qsbr && m.nest[this.k] === 1) newInterval(m, this.k);
    expect(r.readers[this.k]!.nesting).toBe(m.nest[this.k]);
  }
  toString = () => `lock(${this.k})`;
}

class Unlock implements Cmd {
  constructor(readonly k: number) {}
  check = (m: Readonly<Model>) => m.nest[this.k]! > 0;
  run(m: Model, r: Real): void {
    r.readers[this.k]!.readUnlock();
    m.nest[this.k]! -= 1;
    if (!m.qsbr && m.nest[this.k] === 0) m.open[this.k] = 0;
  }
  toString = () => `unlock(${this.k})`;
}

/** qsbr only: announce a quiescent state (outside any section). */
class Quiescent implements Cmd {
  constructor(readonly k: number) {}
  check = (m: Readonly<Model>) => m.qsbr && m.nest[this.k] === 0;
  run(m: Model, r: Real): void {
    r.readers[this.k]!.quiescentState();
    if (m.open[this.k] !== 0) newInterval(m, this.k); // offline stays offline
  }
  toString = () => `qs(${this.k})`;
}

/** qsbr only: go offline (outside any section). */
class Offline implements Cmd {
  constructor(readonly k: number) {}
  check = (m: Readonly<Model>) => m.qsbr && m.nest[this.k] === 0;
  run(m: Model, r: Real): void {
    r.readers[this.k]!.threadOffline();
    m.open[this.k] = 0;
    expect(r.readers[this.k]!.online).toBe(false);
  }
  toString = () => `offline(${this.k})`;
}

/** qsbr only: come back online. */
class Online implements Cmd {
  constructor(readonly k: number) {}
  check = (m: Readonly<Model>) => m.qsbr;
  run(m: Model, r: Real): void {
    r.readers[this.k]!.threadOnline();
    if (m.open[this.k] === 0) newInterval(m, this.k);
    expect(r.readers[this.k]!.online).toBe(true);
  }
  toString = () => `online(${this.k})`;
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

/**
 * Only when no interval is open (a blocking call would wait for our own readers; in qsbr
 * that means every reader offline).
 */
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

/** With every reader outside any section (qsbr: each online one then announces). */
class PollLoopWhenQuiet implements Cmd {
  check = (m: Readonly<Model>) => m.nest.every((n) => n === 0);
  run(m: Model, r: Real): void {
    const c = r.updater.getState();
    const announce = () => {
      if (!m.qsbr) return;
      for (let k = 0; k < K; k++)
        if (m.open[k] !== 0) {
          r.readers[k]!.quiescentState();
          newInterval(m, k);
        }
    };
    let polls = 0;
    // qsbr: the poll starts the grace period, whose new counter each reader then announces.
    while (!r.updater.pollState(c)) {
      if (++polls > 3) throw new Error('poll loop made no progress');
      announce();
    }
    m.cookies.push({ cookie: c, openAtCookie: [] });
  }
  toString = () => 'pollLoop()';
}

function modelProperty(flavor: RcuFlavor, fault?: RcuOptions['fault']) {
  const qsbr = flavor === 'qsbr';
  const k = fc.nat(K - 1);
  const commands = [
    k.map((i) => new Lock(i)),
    k.map((i) => new Unlock(i)),
    fc.constant(new TakeCookie()),
    fc.nat(1000).map((p) => new Poll(p)),
    fc.constant(new Synchronize()),
    fc.constant(new PollLoopWhenQuiet()),
    ...(qsbr
      ? [k.map((i) => new Quiescent(i)), k.map((i) => new Offline(i)), k.map((i) => new Online(i))]
      : []),
  ];
  return fc.property(fc.commands(commands, { size: '+1' }), (cmds) => {
    const updater = Rcu.create({ maxThreads: K + 1, flavor, fault });
    // Debug attachments: the qsbr readers count their nesting and check the contract.
    const readers = Array.from({ length: K }, () => {
      const r = Rcu.attach(updater.handle, { debug: true });
      r.registerThread();
      return r;
    });
    let next = 0;
    fc.modelRun(
      () => ({
        model: {
          qsbr,
          // A registered qsbr thread is online: an interval is open from the start.
          open: Array.from({ length: K }, () => (qsbr ? ++next : 0)),
          nest: new Array(K).fill(0),
          nextInterval: next,
          cookies: [],
        },
        real: { readers, updater },
      }),
      cmds,
    );
  });
}

describe.each([
  'marks',
  'mb',
  'qsbr',
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
    ...(flavor === 'qsbr' ? [{ mode: 'early-qs' as const }] : []),
  ])('catches the broken variant $mode', (fault) => {
    let failure: unknown;
    try {
      fc.assert(modelProperty(flavor, fault), { seed, numRuns: 300 });
    } catch (err) {
      failure = err;
    }
    // marks/mb: an interval is a section, so a counterexample opens one; qsbr: a registered
    // reader is inside one from the start.
    expect(String(failure)).toMatch(
      flavor === 'qsbr' ? /Counterexample: \[/ : /Counterexample: \[.*lock\(/,
    );
    expect(String((failure as Error).cause)).toMatch(/cookie #\d+ done while reader \d's section/);
  });

  // The liveness twin: synchronize() waits for one grace period fewer than getState()'s
  // cookie asks for, so an earlier cookie is still pending when it returns.
  it('catches the broken variant short-wait', () => {
    let failure: unknown;
    try {
      fc.assert(modelProperty(flavor, { mode: 'short-wait' }), { seed, numRuns: 300 });
    } catch (err) {
      failure = err;
    }
    expect(String(failure)).toMatch(/Counterexample: \[.*synchronize\(\)/);
    expect(String((failure as Error).cause)).toMatch(/synchronize left an earlier cookie pending/);
  });
});
