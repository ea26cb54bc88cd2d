/**
 * A process's thread killed while it appends an event (a terminated worker, or one blocked on
 * a full log) must not leave the checker with a wrong account: the reaper logs again what the
 * dead thread may not have logged, and the checker counts it once. The kill is simulated
 * deterministically: the append of the chosen event throws before it writes anything, the
 * way `terminate()` stops the thread there, and the process is then reaped as the threaded
 * harness does.
 */
import { describe, expect, it } from 'vitest';
import { ModelChecker } from '../src/hw-model/checker/checker.js';
import { Ev } from '../src/hw-model/event-log.js';
import { dsaPf, Platform, type Profile } from '../src/hw-model/index.js';

const SMALL: Partial<Profile> = { pasidBits: 8, processes: 4, pfs: [dsaPf('a'), dsaPf('b')] };

class Killed extends Error {}

/**
 * Make the next append of `kind` die, once: before it writes anything, or (`appended`) right
 * after it was appended, before the caller's next statement. Records every kind appended.
 */
function dieInsideAppendOf(p: Platform, kind: number, appended = false, phase = -1) {
  const log = p.context.log;
  const emit = log.emit.bind(log);
  const kinds: number[] = [];
  let died = false;
  log.emit = (k, pasid, gen, pf, a, b, c) => {
    const dies = k === kind && (phase < 0 || a === phase) && !died;
    if (dies) died = true;
    if (dies && !appended) throw new Killed(`killed inside the append of event ${k}`);
    kinds.push(k);
    emit(k, pasid, gen, pf, a, b, c);
    if (dies) throw new Killed(`killed right after the append of event ${k}`);
  };
  return { kinds, died: () => died };
}

function bindKilled(p: Platform, pid: number, pf: number): void {
  expect(() => p.bindSva(pf, pid)).toThrow(Killed);
}

function reapedCleanly(p: Platform, c: ModelChecker): void {
  expect(p.reapProcess(0)).toBe(0);
  c.consume();
  expect(c.first?.message).toBeUndefined();
}

describe('a kill inside an event append', () => {
  it.each([
    false,
    true,
  ])("GET (appended: %s): the driver's reference the dead bind took is counted once, and given back", (appended) => {
    const p = Platform.create(SMALL);
    const c = new ModelChecker(p.context, {});
    p.spawn(0);
    const k = dieInsideAppendOf(p, Ev.GET, appended);
    bindKilled(p, 0, 0);
    expect(k.died()).toBe(true);
    reapedCleanly(p, c);
    c.end();
    expect(c.first?.message).toBeUndefined();
    expect(p.space.inspect(1).state).toBe('free');
  });

  it.each([
    false,
    true,
  ])('BIND (appended: %s): the bond the dead bind programmed is logged once', (appended) => {
    const p = Platform.create(SMALL);
    const c = new ModelChecker(p.context, {});
    p.spawn(0);
    const k = dieInsideAppendOf(p, Ev.BIND, appended);
    bindKilled(p, 0, 0);
    reapedCleanly(p, c);
    // The reaper logged it (again), before the exit's phases of that bond.
    const binds = k.kinds.filter((x) => x === Ev.BIND).length;
    expect(binds).toBe(appended ? 2 : 1);
    expect(k.kinds.indexOf(Ev.BIND)).toBeLessThan(k.kinds.indexOf(Ev.PHASE));
  });
});

/**
 * Processes 0 and 1 bound on pfs 0 and 1; `before` runs, then `act` on process 0 dies in the
 * append of `kind`; process 0 is reaped, and process 1's exit drives the driver's workqueue,
 * which finishes the handed-over bonds. The checker must have seen nothing wrong.
 * @returns the platform, and the kinds appended up to the end of the reap
 */
function killedAndReaped(
  act: (p: Platform) => unknown,
  kind: number,
  appended: boolean,
  phase = -1,
  before: (p: Platform) => void = () => {},
) {
  const p = Platform.create(SMALL);
  const c = new ModelChecker(p.context, {});
  p.spawn(0);
  p.spawn(1);
  expect(p.bindSva(0, 0)).toBeGreaterThan(0);
  expect(p.bindSva(1, 1)).toBeGreaterThan(0);
  before(p);
  const k = dieInsideAppendOf(p, kind, appended, phase);
  expect(() => act(p)).toThrow(Killed);
  expect(k.died()).toBe(true);
  reapedCleanly(p, c);
  const kinds = [...k.kinds];
  expect(p.mmExit(1)).toBe(0);
  c.consume();
  c.end();
  expect(c.first?.message).toBeUndefined();
  return { p, kinds };
}

describe('a kill inside the teardown of an unbind', () => {
  /** Process 0 bound on pf 0 unbinds; its thread dies in the append of `kind`; reaped. */
  function unbindKilled(kind: number, appended: boolean, phase = -1) {
    return killedAndReaped((p) => p.unbindSva(0, 0), kind, appended, phase).p;
  }

  it.each([
    false,
    true,
  ])("PUT (appended: %s): the driver's reference is put once, and the PASID reclaimed", (appended) => {
    const p = unbindKilled(Ev.PUT, appended);
    expect(p.space.inspect(1).state).toBe('free');
  });

  it.each([
    false,
    true,
  ])("P7 (appended: %s): the resumed teardown drops the driver's reference instead of leaking it", (appended) => {
    const p = unbindKilled(Ev.PHASE, appended, 7);
    expect(p.space.inspect(1).state).toBe('free');
  });

  it.each([
    0, 3, 6,
  ])('P%i: the resumed teardown logs the phase the dead thread did not', (phase) => {
    unbindKilled(Ev.PHASE, false, phase);
  });
});

describe('a kill inside the free of an exit', () => {
  it.each([
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])("FREE_CALL (appended: %s, unbound first: %s): the mm's reference is freed and counted once", (appended, unbound) => {
    // Process 0 (still bound on pf 0 unless unbound first) exits and dies in its FREE_CALL.
    const { p, kinds } = killedAndReaped(
      (p) => p.mmExit(0),
      Ev.FREE_CALL,
      appended,
      -1,
      (p) => {
        if (unbound) expect(p.unbindSva(0, 0)).toBe(0);
      },
    );
    expect(p.space.inspect(1).state).toBe('free');
    // The reaper logged it (again) before it freed.
    expect(kinds.filter((x) => x === Ev.FREE_CALL).length).toBe(appended ? 2 : 1);
  });
});
