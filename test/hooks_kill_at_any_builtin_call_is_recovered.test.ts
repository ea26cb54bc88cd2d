/**
 * Kill safety of notifier chains and custom allocators, deterministic: a victim attachment (its
 * own Rcu and thread slot, in this thread) is "killed" at the entry of its K-th call to an
 * Atomics or Math builtin, for every K its operation makes, in every operation that emits an
 * event, distributes the log, changes chain membership, or goes through a custom allocator.
 * After `releaseThread` of its slot: no lock is held, the log does not stall (a later event
 * reaches every subscriber, gated), every subscriber's stream has each event at most once and
 * in seq order, the victim's own event is there exactly once if and only if its operation took
 * effect, no subscriber slot leaks, and a custom group's ids, members and provider end exact.
 * (A kill inside a member's own code is the worker test's: custom_allocator_killed_*.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DLOCK_WORD,
  hooksHeaderGeometry,
  hooksThreadWord,
  REG_LOCK_WORD,
} from '../src/core/ioasid/hooks-layout.js';
import {
  INVALID_IOASID,
  IoasidSpace,
  type Notification,
  NotifierPriority,
  SetType,
} from '../src/core/ioasid/ioasid-space.js';
import { inThreadProvider } from './helpers/in-thread-provider.js';
import { installKillPoints, runKilledAt, uninstallKillPoints } from './helpers/kill-points.js';

beforeAll(installKillPoints);
afterAll(uninstallKillPoints);

interface Sub {
  id: number;
  log: Notification[];
}

function notifierSetup() {
  const main = IoasidSpace.create({
    pasidBits: 5,
    maxSets: 4,
    maxIoasids: 64,
    maxThreads: 4,
    maxSubscribers: 5,
    notifyQueueDepth: 64,
  });
  const victim = IoasidSpace.attach(main.handle);
  const S = main.setAlloc(null, 10, SetType.NULL);
  const sub = (id: number): Sub => ({ id, log: [] });
  const p1 = sub(main.registerNotifier(S, NotifierPriority.CPU));
  const p2 = sub(main.registerNotifier(S, NotifierPriority.LAST));
  const g = sub(main.registerNotifier(null, NotifierPriority.IOMMU));
  const mm = sub(main.registerNotifierMm(5, NotifierPriority.DEVICE));
  const v1 = victim.alloc(S, 1, 31, 11);
  main.get(S, v1);
  const vb = victim.alloc(S, 1, 31, 12);
  victim.attachSpid(vb, 3);
  const f = { main, victim, S, p1, p2, g, mm, v1, vb };
  readAll(f);
  return f;
}
type NF = ReturnType<typeof notifierSetup>;

function read(space: IoasidSpace, s: Sub): Notification[] {
  try {
    const got = space.readNotifications(s.id);
    s.log.push(...got);
    return got;
  } catch {
    return []; // unregistered by the victim
  }
}

function readAll(f: NF): void {
  for (const s of [f.p1, f.p2, f.g, f.mm]) read(f.main, s);
}

const hasData = (log: Notification[], event: number, data: number) =>
  log.filter((n) => n.event === event && 'data' in n && n.data === data).length;

/** Each scenario: optional preparation (before the kill window), the victim's operation, and
 * what must hold after the recovery given whether the operation took effect. */
interface Scenario {
  prep?: (f: NF) => void;
  op: (f: NF) => unknown;
  check: (f: NF) => string[];
}

const once = (name: string, n: number, happened: boolean): string[] =>
  n === (happened ? 1 : 0)
    ? []
    : [`${name}: ${n} copies, operation ${happened ? 'took' : 'took no'} effect`];

const scenarios: Record<string, Scenario> = {
  'alloc (ALLOC)': {
    op: (f) => f.victim.alloc(f.S, 1, 31, 77),
    check: (f) => {
      const happened = liveWithData(f.main, 77);
      return [
        ...once('p1 ALLOC', hasData(f.p1.log, 1, 77), happened),
        ...once('p2 ALLOC', hasData(f.p2.log, 1, 77), happened),
      ];
    },
  },
  'free to free-pending (FREE on both chains)': {
    op: (f) => f.victim.free(f.S, f.v1),
    check: (f) => {
      const happened = f.main.inspect(f.v1).state === 'free-pending';
      return [
        ...once('p1 FREE', hasData(f.p1.log, 2, 11), happened),
        ...once('p2 FREE', hasData(f.p2.log, 2, 11), happened),
        ...once('global FREE', hasData(f.g.log, 2, 11), happened),
      ];
    },
  },
  'attachSpid (BIND)': {
    op: (f) => f.victim.attachSpid(f.v1, 9),
    check: (f) => once('p1 BIND', hasData(f.p1.log, 3, 11), f.main.inspect(f.v1).spid === 9),
  },
  'detachSpid (UNBIND)': {
    op: (f) => f.victim.detachSpid(f.vb),
    check: (f) =>
      once('p2 UNBIND', hasData(f.p2.log, 4, 12), f.main.inspect(f.vb).spid === INVALID_IOASID),
  },
  'registerNotifier (never returned)': {
    op: (f) => f.victim.registerNotifier(f.S, NotifierPriority.IOMMU),
    check: (f) => {
      // The id never reached anyone: its slot is free again, so exactly one is left.
      const a = f.main.registerNotifier(null, 0);
      const b = f.main.registerNotifier(null, 0);
      return a >= 0 && b === -28 ? [] : [`free subscriber slots: got ${a}, then ${b}`];
    },
  },
  unregisterNotifier: {
    op: (f) => f.victim.unregisterNotifier(f.p2.id),
    check: () => [],
  },
  'setAlloc MM (attaches the pending subscriber)': {
    op: (f) => f.victim.setAlloc(5, 2, SetType.MM),
    check: (f) => {
      const set = f.main.findMmSet(5);
      if (set < 0) return [];
      const id = f.main.alloc(set, 1, 31, 55);
      read(f.main, f.mm);
      return once('mm ALLOC', hasData(f.mm.log, 1, 55), id > 0);
    },
  },
  "distributing other threads' entries": {
    prep: (f) => {
      // White-box: hold DLOCK for a thread that is not there, so three events stay in the log.
      const hk = new Int32Array(f.main.handle.hooks);
      Atomics.store(hk, DLOCK_WORD, 4000);
      for (const d of [501, 502, 503]) f.main.alloc(f.S, 1, 31, d);
      Atomics.store(hk, DLOCK_WORD, 0);
    },
    op: (f) => f.victim.alloc(f.S, 1, 31, 78),
    check: (f) =>
      [501, 502, 503].flatMap((d) => [
        ...once(`p1 ALLOC ${d}`, hasData(f.p1.log, 1, d), true),
        ...once(`p2 ALLOC ${d}`, hasData(f.p2.log, 1, d), true),
      ]),
  },
};

function liveWithData(space: IoasidSpace, data: number): boolean {
  for (let id = 1; id <= space.maxId; id++) {
    const st = space.inspect(id);
    if (st.state !== 'free' && st.data === data) return true;
  }
  return false;
}

/** After recovery: locks free, no stall, gating, streams ordered and duplicate-free, counts. */
function audit(f: NF): string[] {
  const bad: string[] = [];
  const hk = new Int32Array(f.main.handle.hooks);
  if (Atomics.load(hk, DLOCK_WORD) !== 0) bad.push('DLOCK held');
  if (Atomics.load(hk, REG_LOCK_WORD) !== 0) bad.push('registry lock held');
  // A later event reaches the set's subscribers, the one behind only after the one ahead.
  const id = f.main.alloc(f.S, 1, 31, 999);
  if (id <= 0) bad.push(`alloc after recovery: ${id}`);
  const p2Early = read(f.main, f.p2);
  if (hasData(p2Early, 1, 999) !== 0) bad.push('gating: LAST read before CPU');
  readAll(f);
  if (hasData(f.p1.log, 1, 999) !== 1) bad.push('stall: CPU subscriber missed the later event');
  let p2registered = true;
  try {
    f.main.readNotifications(f.p2.id);
  } catch {
    p2registered = false;
  }
  if (p2registered && hasData(f.p2.log, 1, 999) !== 1) bad.push('stall: LAST subscriber missed it');
  for (const [name, s] of Object.entries({ p1: f.p1, p2: f.p2, g: f.g, mm: f.mm })) {
    const seqs = s.log.flatMap((n) => ('seq' in n ? [n.seq] : []));
    for (let i = 1; i < seqs.length; i++)
      if (seqs[i]! <= seqs[i - 1]!) bad.push(`${name}: seq ${seqs[i]} after ${seqs[i - 1]}`);
    if (s.log.some((n) => n.event === 'overflow')) bad.push(`${name}: overflow`);
  }
  let live = 0;
  for (let i = 1; i <= f.main.maxId; i++) if (f.main.inspect(i).state !== 'free') live++;
  const count = [...Array(f.main.maxSets).keys()].reduce(
    (a, s) => a + (f.main.setInfo(s)?.count ?? 0),
    0,
  );
  if (live !== count) bad.push(`${live} live ids, set counts ${count}`);
  return bad;
}

type Release = (main: IoasidSpace, slot: number) => unknown;
const release: Release = (m, slot) => m.releaseThread(slot);

/** Broken twin: a recovery that ignores the dead thread's hooks intent words (its event, custom
 * allocator and registration words are wiped before releaseThread reads them). */
const forgetfulRelease: Release = (m, slot) => {
  const hk = new Int32Array(m.handle.hooks);
  const hts = hooksThreadWord(hooksHeaderGeometry(hk), slot);
  for (let w = 0; w < 16; w++) Atomics.store(hk, hts + w, 0);
  return m.releaseThread(slot);
};

function sweep<F extends { main: IoasidSpace; victim: IoasidSpace }>(
  setup: () => F,
  op: (f: F) => unknown,
  check: (f: F) => string[],
  prep?: (f: F) => void,
  rel: Release = release,
) {
  const failures: string[] = [];
  let kills = 0;
  for (let k = 1; k < 5000; k++) {
    const f = setup();
    prep?.(f);
    const slot = f.victim.rcu.slot;
    if (!runKilledAt(k, () => op(f))) break;
    kills++;
    rel(f.main, slot);
    for (const b of check(f)) failures.push(`killed at call ${k}: ${b}`);
  }
  return { failures, kills };
}

describe('notifier chains: a thread killed at any builtin call is recovered exactly', () => {
  for (const [name, s] of Object.entries(scenarios)) {
    it(name, () => {
      const { failures, kills } = sweep(
        notifierSetup,
        s.op,
        (f) => [...audit(f), ...s.check(f)],
        s.prep,
      );
      expect(kills).toBeGreaterThan(0);
      expect(failures.slice(0, 5)).toEqual([]);
    });
  }
});

/** A provider shared by every member of group 'vcmd' (in this thread). */
function customSetup() {
  const main = IoasidSpace.create({ pasidBits: 5, maxSets: 4, maxIoasids: 64, maxThreads: 4 });
  const victim = IoasidSpace.attach(main.handle);
  const { held, make } = inThreadProvider();
  const S = main.setAlloc(null, 10, SetType.NULL);
  const opsMain = make();
  const opsVictim = make();
  expect(main.registerAllocator(opsMain)).toBe(0);
  expect(victim.registerAllocator(opsVictim)).toBe(0);
  const c1 = victim.alloc(S, 1, 31, 1);
  const c2 = victim.alloc(S, 1, 31, 2);
  victim.get(S, c2);
  return { main, victim, S, held, opsMain, opsVictim, c1, c2 };
}
type CF = ReturnType<typeof customSetup>;

/** After recovery: the provider holds exactly the live ids once the main member ran a custom
 * path (deferred frees done), and the group goes when its last member leaves. */
function customAudit(f: CF): string[] {
  const bad: string[] = [];
  const hk = new Int32Array(f.main.handle.hooks);
  if (Atomics.load(hk, REG_LOCK_WORD) !== 0) bad.push('registry lock held');
  const id = f.main.alloc(f.S, 1, 31, 9); // a custom path: runs the deferred frees
  if (id <= 0) bad.push(`alloc after recovery: ${id}`);
  const live: number[] = [];
  for (let i = 1; i <= f.main.maxId; i++) if (f.main.inspect(i).state !== 'free') live.push(i);
  const held = [...f.held].sort((a, b) => a - b);
  if (JSON.stringify(held) !== JSON.stringify(live))
    bad.push(`provider holds ${held}, live ${live}`);
  if ((f.main.setInfo(f.S)?.count ?? -1) !== live.length) bad.push('set count != live ids');
  if (f.main.stats().allocatorAbandoned !== 0) bad.push('abandoned ids');
  for (const i of live) {
    for (let st = f.main.inspect(i); st.state !== 'free'; st = f.main.inspect(i)) {
      if (st.state === 'idle') f.main.free(f.S, i);
      else f.main.put(null, i);
    }
  }
  if (f.held.size !== 0) bad.push(`provider still holds ${[...f.held]}`);
  const u = f.main.unregisterAllocator(f.opsMain);
  if (u !== 0 || f.main.activeAllocator() !== 'default')
    bad.push(`last member's unregister: ${u}, active ${f.main.activeAllocator()}`);
  return bad;
}

describe('custom allocators: a thread killed at any builtin call is recovered exactly', () => {
  const ops: Record<string, (f: CF) => unknown> = {
    'custom alloc': (f) => f.victim.alloc(f.S, 1, 31, 5),
    'custom reclaim (free of the last reference)': (f) => f.victim.free(f.S, f.c1),
    'free to free-pending, then put reclaims': (f) => {
      f.victim.free(f.S, f.c2);
      return f.victim.put(f.S, f.c2);
    },
    'unregister a member': (f) => f.victim.unregisterAllocator(f.opsVictim),
  };
  for (const [name, op] of Object.entries(ops)) {
    it(name, () => {
      const { failures, kills } = sweep(customSetup, op, customAudit);
      expect(kills).toBeGreaterThan(0);
      expect(failures.slice(0, 5)).toEqual([]);
    });
  }

  it('broken twin: a recovery that ignores the hooks intent words fails the same audits', () => {
    const notifier = [
      'free to free-pending (FREE on both chains)',
      'registerNotifier (never returned)',
    ];
    const failures = notifier.flatMap((name) => {
      const sc = scenarios[name]!;
      return sweep(
        notifierSetup,
        sc.op,
        (f) => [...audit(f), ...sc.check(f)],
        sc.prep,
        forgetfulRelease,
      ).failures;
    });
    const custom = sweep(
      customSetup,
      ops['custom reclaim (free of the last reference)']!,
      customAudit,
      undefined,
      forgetfulRelease,
    ).failures;
    console.log(
      `twin: ${failures.length} + ${custom.length} failures, e.g. ${failures[0]}; ${custom[0]}`,
    );
    expect(failures.length).toBeGreaterThan(0);
    expect(custom.length).toBeGreaterThan(0);
  });
});
