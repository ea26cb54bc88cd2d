/**
 * Commands of the notifier/allocator model test, one class each (a file would hold a dozen
 * lines apiece), plus the wrapper that runs a base command and derives its events.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { Errno } from '../../src/core/ioasid/errno.js';
import { IoasidError } from '../../src/core/ioasid/ioasid-space.js';
import { opNamed } from '../../stress/ops/index.js';
import { OpCommand } from './commands.js';
import {
  applyBaseEvents,
  expectHooksState,
  type HModel,
  type HReal,
  ID_MAX,
  MAX_SUBS,
  modelRead,
  OPS_NAMES,
  snap,
  unitsHeld,
} from './hooks-model.js';
import type { ModelView, Real } from './model.js';

type Model = ModelView;
/** Negated errnos, as the commands expect them. */
const E = {
  ENOENT: -Errno.ENOENT,
  EAGAIN: -Errno.EAGAIN,
  EBUSY: -Errno.EBUSY,
  EEXIST: -Errno.EEXIST,
  EINVAL: -Errno.EINVAL,
};

type Cmd = fc.Command<HModel, HReal>;

/** Runs a base command against the base model, then applies the events it raised. */
export class BaseCommand implements Cmd {
  constructor(readonly inner: fc.Command<Model, Real>) {}
  check(m: Readonly<HModel>): boolean {
    return this.inner.check(m.base);
  }
  run(m: HModel, r: HReal): void {
    const before = snap(m.base);
    this.inner.run(m.base, { space: r.space });
    applyBaseEvents(m, before);
    expectHooksState(m, r);
  }
  toString(): string {
    return this.inner.toString();
  }
}

type LiveOp = 'get' | 'free' | 'put' | 'attach' | 'detach';

/**
 * A base command aimed at a live id (the base commands pick ids at random, so they seldom hit
 * one): get, free, put, attachSpid, detachSpid of the id at `pick`, run as a BaseCommand (its
 * events derived the same way).
 */
export class LiveIdCommand implements Cmd {
  constructor(
    readonly op: LiveOp,
    readonly pick: number,
    readonly spid: number,
  ) {}
  check(m: Readonly<HModel>): boolean {
    return m.base.held.length > 0;
  }
  run(m: HModel, r: HReal): void {
    const ids = m.base.held.map((h) => h.id).sort((a, b) => a - b);
    const id = ids[this.pick % ids.length]!;
    const set = m.base.heldId(id)!.set;
    const inner = {
      get: () => new OpCommand(opNamed('get'), { set, id }),
      free: () => new OpCommand(opNamed('free'), { set, id }),
      put: () => new OpCommand(opNamed('put'), { set: null, id }),
      attach: () => new OpCommand(opNamed('attachSpid'), { id, spid: this.spid }),
      detach: () => new OpCommand(opNamed('detachSpid'), { id }),
    }[this.op]();
    new BaseCommand(inner).run(m, r);
  }
  toString(): string {
    return `${this.op}(live id #${this.pick}${this.op === 'attach' ? `, spid ${this.spid}` : ''})`;
  }
}

/** registerNotifier(set | null, priority, owner). */
export class RegisterNotifierCommand implements Cmd {
  constructor(
    readonly set: number | null,
    readonly prio: number,
    readonly owner = 0,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: HModel, r: HReal): void {
    const got = r.space.registerNotifier(this.set, this.prio, this.owner);
    const { set, prio } = this;
    let want: number | 'id';
    if (prio < 0 || prio > 3) want = E.EINVAL;
    else if (set !== null && !m.base.sets.has(set)) want = E.EINVAL;
    else if (m.subs.length >= MAX_SUBS) want = -28;
    else want = 'id';
    if (want !== 'id') expect(got).toBe(want);
    else {
      expect(got).toBeGreaterThanOrEqual(0);
      m.subs.push(
        newSub(
          m,
          got,
          set === null ? 'global' : 'set',
          set === null ? 0 : m.inc.get(set)!,
          -1,
          prio,
          this.owner,
        ),
      );
    }
    expectHooksState(m, r);
  }
  toString(): string {
    return `registerNotifier(${this.set}, ${this.prio}, ${this.owner})`;
  }
}

function newSub(
  m: HModel,
  real: number,
  kind: 'global' | 'set' | 'mm',
  inc: number,
  token: number,
  prio: number,
  owner: number,
) {
  return {
    real,
    kind,
    inc,
    token,
    prio,
    owner,
    order: m.regOrder++,
    queue: [],
    lost: 0,
    received: new Set<number>(),
    read: new Set<number>(),
  };
}

/** registerNotifierMm(token, priority, owner). */
export class RegisterNotifierMmCommand implements Cmd {
  constructor(
    readonly token: number,
    readonly prio: number,
    readonly owner = 0,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: HModel, r: HReal): void {
    const got = r.space.registerNotifierMm(this.token, this.prio, this.owner);
    const mm = [...m.base.sets].find(([, s]) => s.type === 2 && s.token === this.token);
    let want: number | 'id';
    if (this.prio < 0 || this.prio > 3) want = E.EINVAL;
    else if (mm && mm[1].count > 0) want = E.EBUSY;
    else if (m.subs.length >= MAX_SUBS) want = -28;
    else want = 'id';
    if (want !== 'id') expect(got).toBe(want);
    else {
      expect(got).toBeGreaterThanOrEqual(0);
      m.subs.push(newSub(m, got, 'mm', 0, this.token, this.prio, this.owner));
    }
    expectHooksState(m, r);
  }
  toString(): string {
    return `registerNotifierMm(${this.token}, ${this.prio}, ${this.owner})`;
  }
}

/**
 * findNotifier(set | null, priority, owner) or findNotifierMm(token, priority, owner): the
 * earliest registered subscriber of that chain (a set's live incarnation), priority and owner
 * tag, or -ENOENT. Reads only: the hooks state is as before.
 */
export class FindNotifierCommand implements Cmd {
  constructor(
    readonly kind: 'global' | 'set' | 'mm',
    readonly key: number,
    readonly prio: number,
    readonly owner: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: HModel, r: HReal): void {
    const { kind, key, prio, owner } = this;
    const got =
      kind === 'mm'
        ? r.space.findNotifierMm(key, prio, owner)
        : r.space.findNotifier(kind === 'global' ? null : key, prio, owner);
    const inc = m.base.sets.has(key) ? m.inc.get(key) : undefined;
    const found = m.subs
      .filter(
        (s) =>
          s.kind === kind &&
          s.prio === prio &&
          s.owner === owner &&
          (kind === 'global' ||
            (kind === 'mm' && s.token === key) ||
            (kind === 'set' && inc !== undefined && s.inc === inc)),
      )
      .sort((a, b) => a.order - b.order)[0];
    expect(got).toBe(found ? found.real : E.ENOENT);
    expectHooksState(m, r);
  }
  toString(): string {
    return `find(${this.kind} ${this.key}, ${this.prio}, ${this.owner})`;
  }
}

/** unregisterNotifier(a registered subscriber, or a stale id). */
export class UnregisterNotifierCommand implements Cmd {
  constructor(
    readonly pick: number,
    readonly stale: boolean,
  ) {}
  check(m: Readonly<HModel>): boolean {
    return this.stale ? m.stale.length > 0 : m.subs.length > 0;
  }
  run(m: HModel, r: HReal): void {
    if (this.stale) {
      expect(r.space.unregisterNotifier(m.stale[this.pick % m.stale.length]!)).toBe(E.ENOENT);
    } else {
      const i = this.pick % m.subs.length;
      const s = m.subs[i]!;
      expect(r.space.unregisterNotifier(s.real)).toBe(0);
      m.subs.splice(i, 1);
      m.stale.push(s.real);
    }
    expectHooksState(m, r);
  }
  toString(): string {
    return `unregisterNotifier(${this.stale ? 'stale' : 'sub'} #${this.pick})`;
  }
}

/** readNotifications(sub, max): exact records, gating and overflow entries. */
export class ReadNotificationsCommand implements Cmd {
  constructor(
    readonly pick: number,
    readonly max: number | undefined,
    readonly stale: boolean,
  ) {}
  check(m: Readonly<HModel>): boolean {
    return this.stale ? m.stale.length > 0 : m.subs.length > 0;
  }
  run(m: HModel, r: HReal): void {
    if (this.stale) {
      const id = m.stale[this.pick % m.stale.length]!;
      expect(() => r.space.readNotifications(id)).toThrow(IoasidError);
      return;
    }
    const s = m.subs[this.pick % m.subs.length]!;
    const got = r.space.readNotifications(s.real, this.max);
    expect(got).toEqual(modelRead(m, s, this.max ?? Number.POSITIVE_INFINITY));
    expectHooksState(m, r);
  }
  toString(): string {
    return `readNotifications(${this.stale ? 'stale' : 'sub'} #${this.pick}, ${this.max})`;
  }
}

/** registerAllocator(ops #k). */
export class RegisterAllocatorCommand implements Cmd {
  constructor(readonly k: number) {}
  check(): boolean {
    return true;
  }
  run(m: HModel, r: HReal): void {
    const name = OPS_NAMES[this.k]!;
    const got = r.space.registerAllocator(r.ops[this.k]!);
    const g = m.groups.find((x) => x.name === name);
    let want = 0;
    if (m.registered.has(this.k)) want = E.EEXIST;
    else if (g) g.members++;
    else if (m.groups.length === 0 && unitsHeld(m.base)) want = E.EAGAIN;
    else {
      m.groups.push({ name, members: 1, order: m.groupOrder++ });
      if (m.groups.length === 1) m.active = name;
    }
    if (want === 0) m.registered.add(this.k);
    expect(got).toBe(want);
    expectHooksState(m, r);
  }
  toString(): string {
    return `registerAllocator(ops${this.k} '${OPS_NAMES[this.k]}')`;
  }
}

/** unregisterAllocator(ops #k). */
export class UnregisterAllocatorCommand implements Cmd {
  constructor(readonly k: number) {}
  check(): boolean {
    return true;
  }
  run(m: HModel, r: HReal): void {
    const name = OPS_NAMES[this.k]!;
    const got = r.space.unregisterAllocator(r.ops[this.k]!);
    let want = 0;
    const gi = m.groups.findIndex((x) => x.name === name);
    if (!m.registered.has(this.k)) want = E.ENOENT;
    else if (m.groups[gi]!.members === 1 && m.active === name && unitsHeld(m.base)) want = E.EBUSY;
    else {
      m.registered.delete(this.k);
      const g = m.groups[gi]!;
      if (--g.members === 0) {
        m.groups.splice(gi, 1);
        if (m.active === name) m.active = m.groups[0]?.name ?? 'default';
      }
    }
    expect(got).toBe(want);
    expectHooksState(m, r);
  }
  toString(): string {
    return `unregisterAllocator(ops${this.k} '${OPS_NAMES[this.k]}')`;
  }
}

type Fault = 'zero' | 'below' | 'above' | 'live' | 'errno' | 'fraction' | 'throw';

/**
 * With a custom group active: alloc(set, min, max) whose member answers wrongly once. 0 and
 * out-of-range answers are given back with free and refused (-EINVAL); a live id is refused
 * (-EEXIST) without free; a negative errno passes through; a non-integer is -EINVAL; a throw
 * propagates. Nothing else changes.
 */
export class CustomAllocFaultCommand implements Cmd {
  constructor(
    readonly set: number,
    readonly min: number,
    readonly max: number,
    readonly fault: Fault,
  ) {}
  check(m: Readonly<HModel>): boolean {
    return m.active !== 'default';
  }
  run(m: HModel, r: HReal): void {
    const p = m.providers.get(m.active)!;
    const s = m.base.sets.get(this.set);
    const lo = Math.max(this.min, 1);
    const hi = Math.min(this.max, ID_MAX);
    const reaches = s !== undefined && !s.pending && s.count < s.quota && lo <= hi;
    const live = m.base.held.map((h) => h.id).find((id) => id >= lo && id <= hi);
    // Out-of-range answers the provider does not hold (a held one would be a live id here).
    const below = p.allocated.has(lo - 1) ? 0 : lo - 1;
    let above = hi + 1;
    while (p.allocated.has(above)) above++;
    const answers: Record<Fault, (min: number, max: number) => unknown> = {
      zero: () => 0,
      below: () => below,
      above: () => above,
      live: () => live ?? -28,
      errno: () => -28,
      fraction: () => 1.5,
      throw: () => {
        throw new RangeError('provider failed');
      },
    };
    p.override = answers[this.fault];
    const freed = p.freed.length;
    let got: unknown;
    try {
      got = r.space.alloc(this.set, this.min, this.max, 9);
    } catch (e) {
      got = e;
    }
    const overrideUsed = p.override === null;
    p.override = null;
    if (!reaches) {
      expect(overrideUsed).toBe(false);
      expect(typeof got === 'number' && got < 0).toBe(true);
    } else {
      expect(overrideUsed).toBe(true);
      const answer = { zero: 0, below, above } as Record<string, number>;
      if (this.fault === 'throw') expect(got).toBeInstanceOf(RangeError);
      else if (this.fault === 'errno' || (this.fault === 'live' && live === undefined))
        expect(got).toBe(-28);
      else if (this.fault === 'live') expect(got).toBe(E.EEXIST);
      else expect(got).toBe(E.EINVAL);
      expect(p.freed.slice(freed)).toEqual(this.fault in answer ? [answer[this.fault]] : []);
    }
    expectHooksState(m, r);
  }
  toString(): string {
    return `customAllocFault(${this.set}, ${this.min}, ${this.max}, ${this.fault})`;
  }
}

/**
 * A thread with no member of the active group (a second attachment): alloc, and a free or put
 * that would reclaim, return -ENODEV and change nothing; a put that does not reclaim works.
 */
export class NoMemberCommand implements Cmd {
  constructor(readonly pick: number) {}
  check(m: Readonly<HModel>): boolean {
    return m.active !== 'default';
  }
  run(m: HModel, r: HReal): void {
    const set = [...m.base.sets.keys()][0] ?? 0;
    expect(r.other.alloc(set, 1, ID_MAX)).toBe(-19);
    const ids = m.base.held;
    if (ids.length > 0) {
      const rec = ids[this.pick % ids.length]!;
      const id = rec.id;
      if (rec.refs === 1) {
        if (!rec.pending) expect(r.other.free(rec.set, id)).toBe(-19);
        expect(r.other.put(null, id)).toBe(-19);
      } else {
        expect(r.other.put(null, id)).toBe(0);
        rec.refs--;
      }
    }
    expectHooksState(m, r);
  }
  toString(): string {
    return `noMember(#${this.pick})`;
  }
}

const prio = fc.integer({ min: -1, max: 4 });

/** readNotifications of a registered subscriber (exported: the test weighs it up). */
export const readCommand = fc
  .tuple(fc.nat(7), fc.option(fc.nat(3), { freq: 2 }))
  .map(([k, max]) => new ReadNotificationsCommand(k, max ?? undefined, false));
const fewPrios = fc.constantFrom(0, 1, 2, 3, 3, 1);

/** An op on a live id (weighed up in the test: they raise FREE, BIND and UNBIND). */
export const liveIdCommand = fc
  .tuple(
    fc.constantFrom<LiveOp>('get', 'get', 'free', 'put', 'attach', 'detach'),
    fc.nat(15),
    fc.nat(5),
  )
  .map(([op, pick, spid]) => new LiveIdCommand(op, pick, spid));

export const hooksCommands = [
  fc
    .tuple(fc.option(fc.constantFrom(0, 1, 2, 3, 4), { freq: 3 }), fc.oneof(fewPrios, prio))
    .map(([set, p]) => new RegisterNotifierCommand(set, p)),
  fc
    .tuple(fc.constantFrom(0, 1, 2, 3, 4), fewPrios, fc.nat(2))
    .map(([set, p, o]) => new RegisterNotifierCommand(set, p, o)),
  fc
    .tuple(fc.nat(2), fc.oneof(fewPrios, prio), fc.nat(2))
    .map(([t, p, o]) => new RegisterNotifierMmCommand(t, p, o)),
  fc
    .tuple(
      fc.constantFrom<'global' | 'set' | 'mm'>('global', 'set', 'set', 'mm'),
      fc.nat(3),
      fewPrios,
      fc.integer({ min: 1, max: 2 }),
    )
    .map(([k, key, p, o]) => new FindNotifierCommand(k, key, p, o)),
  fc.tuple(fc.nat(7), fc.boolean()).map(([k, st]) => new UnregisterNotifierCommand(k, st)),
  fc
    .tuple(fc.nat(7), fc.option(fc.nat(3), { freq: 2 }), fc.boolean())
    .map(([k, max, st]) => new ReadNotificationsCommand(k, max ?? undefined, st && k % 4 === 0)),
  readCommand,
  fc.nat(3).map((k) => new RegisterAllocatorCommand(k)),
  fc.nat(3).map((k) => new UnregisterAllocatorCommand(k)),
  fc
    .tuple(
      fc.nat(3),
      fc.integer({ min: 1, max: 8 }),
      fc.nat(7),
      fc.constantFrom<Fault>('zero', 'below', 'above', 'live', 'errno', 'fraction', 'throw'),
    )
    .map(([set, min, span, f]) => new CustomAllocFaultCommand(set, min, min + span, f)),
  fc.nat(7).map((k) => new NoMemberCommand(k)),
];
