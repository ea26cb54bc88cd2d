/**
 * A quota charge taken out of a magazine and not yet released (a detach's take-back, an
 * alloc that reuses an id parked with another set's charge) is counted in COUNT but is neither
 * a live id nor parked: an alloc of that set meeting it must not answer -EDQUOT, nor setFree
 * -EBUSY, though the set is "full" for an instant with fewer live ids than its quota.
 *
 * Deterministic, in one thread (test/helpers/kill-points.ts): the taker B is paused at every
 * builtin call of its operation in turn; where its slot shows the charge in flight, A acts.
 * B cannot resume while A runs (one thread), so B's release lands during A's wait as a
 * recovery would land it: A's first nap releases B (releaseThread continues B's intent) and B
 * is abandoned as killed there. Without the wait A answers at once, before any nap.
 * The documented window: a taker that never releases (dead, not yet released) keeps the
 * charge, and A answers -EDQUOT after a bounded wait, then succeeds once it is released.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Errno } from '../src/core/ioasid/errno.js';
import { IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import {
  spaceHeaderGeometry,
  TS_ALLOC_XUNIT,
  TS_AUX,
  TS_MAG_RETURN_UNIT,
  TS_MAG_RETURNING,
  TS_OP,
  TS_SET,
  threadSlotWord,
} from '../src/core/ioasid/space-layout.js';
import {
  audit,
  installKillPoints,
  KILL,
  MAX_IOASIDS,
  MAX_THREADS,
  PASID_BITS,
  runInjectedAt,
  uninstallKillPoints,
} from './helpers/kill-points.js';

beforeAll(installKillPoints);
afterAll(uninstallKillPoints);

interface World {
  main: IoasidSpace;
  a: IoasidSpace;
  b: IoasidSpace;
  /** Quota 2: one live id (main's) and one charge parked in B's magazine. */
  s: number;
  /** Another set B allocates in. */
  t: number;
  /** The id parked in B's magazine with a charge of `s`. */
  x: number;
  /** main's live id in `s`. */
  y: number;
}

function world(): World {
  const main = IoasidSpace.create({
    pasidBits: PASID_BITS,
    maxSets: 8,
    maxIoasids: MAX_IOASIDS,
    maxThreads: MAX_THREADS,
  });
  const a = IoasidSpace.attach(main.handle);
  const b = IoasidSpace.attach(main.handle);
  const s = main.setAlloc(null, 2, SetType.NULL);
  const t = main.setAlloc(null, 4, SetType.NULL);
  const y = main.alloc(s, 1, 31);
  const x = b.alloc(s, 20, 20);
  b.free(s, x);
  return { main, a, b, s, t, x, y };
}

/** Does B's slot show a charge of `set` taken and not released (the in-flight intents)? */
function chargeInFlight(w: World, set: number): boolean {
  const i32 = new Int32Array(w.main.handle.buffer);
  const ts = threadSlotWord(spaceHeaderGeometry(i32), w.b.rcu.slot);
  const op = i32[ts + TS_OP]!;
  if (op === TS_ALLOC_XUNIT) return i32[ts + TS_AUX] === set;
  return (op === TS_MAG_RETURNING || op === TS_MAG_RETURN_UNIT) && i32[ts + TS_SET] === set;
}

/** Run `fn` with `onNap` called at each Atomics.wait (the harness's wait returns at once). */
function withNaps<T>(onNap: () => void, fn: () => T): T {
  const A = Atomics as unknown as Record<string, unknown>;
  const wait = A.wait as (...a: unknown[]) => unknown;
  A.wait = (...args: unknown[]) => {
    onNap();
    return wait(...args);
  };
  try {
    return fn();
  } finally {
    A.wait = wait;
  }
}

/** B's operations that take the parked charge of `s` out of its magazine and release it. */
const TAKERS: Record<string, (w: World) => unknown> = {
  'detach (take-back of its magazine)': (w) => w.b.detach(),
  "alloc in another set reusing the id parked with s's charge": (w) => w.b.alloc(w.t, 20, 20),
};

/** A's operations in `s` while B holds the charge in flight, and what each must answer. */
const ACTS: Record<string, { act: (w: World) => number; ok: (v: number) => boolean }> = {
  'alloc in s': { act: (w) => w.a.alloc(w.s, 1, 31), ok: (v) => v > 0 },
  'setFree of s (its live id freed first)': {
    act: (w) => {
      w.a.free(w.s, w.y);
      return w.a.setFree(w.s);
    },
    ok: (v) => v === 0,
  },
};

describe('an answer of the quota waits for a charge release in flight', () => {
  for (const [taker, take] of Object.entries(TAKERS)) {
    for (const [name, { act, ok }] of Object.entries(ACTS)) {
      it(`${name}, while B's ${taker} holds it`, () => {
        const got: string[] = [];
        let windows = 0;
        for (let k = 1; k < 500; k++) {
          const w = world();
          let v: number | undefined;
          let naps = 0;
          let ran = false;
          try {
            ran = runInjectedAt(
              k,
              () => take(w),
              () => {
                if (!chargeInFlight(w, w.s)) return;
                const slot = w.b.rcu.slot;
                // B's release lands during A's first nap (its recoverer continues it).
                v = withNaps(
                  () => {
                    if (naps++ === 0) w.main.releaseThread(slot);
                  },
                  () => act(w),
                );
                throw KILL; // B never resumes: it was released as killed at this call
              },
            );
          } catch (e) {
            if (e !== KILL) throw e;
            ran = true;
          }
          if (!ran) break;
          if (v === undefined) continue; // B was not holding the charge in flight at call k
          windows++;
          if (!ok(v)) got.push(`B paused at call ${k}: ${name} answered ${v} after ${naps} naps`);
          for (const bad of audit(w.main, [w.main, w.a])) got.push(`call ${k}: ${bad}`);
          w.a.detach();
          w.main.detach();
        }
        console.log(`${taker} / ${name}: ${windows} paused calls with the charge in flight`);
        expect(windows).toBeGreaterThan(0);
        expect(got).toEqual([]);
      });
    }
  }

  it('documented window: a taker that never releases keeps the charge until releaseThread', () => {
    let checked = 0;
    for (let k = 1; k < 500; k++) {
      const w = world();
      let v: number | undefined;
      let naps = 0;
      let ran = false;
      try {
        ran = runInjectedAt(
          k,
          () => w.b.detach(),
          () => {
            if (!chargeInFlight(w, w.s)) return;
            v = withNaps(
              () => void naps++,
              () => w.a.alloc(w.s, 1, 31),
            );
            throw KILL;
          },
        );
      } catch (e) {
        if (e !== KILL) throw e;
        ran = true;
      }
      if (!ran) break;
      if (v === undefined) continue;
      checked++;
      // Bounded: it waited, then refused; the dead taker's release is releaseThread's.
      expect(v).toBe(-Errno.EDQUOT);
      expect(naps).toBeGreaterThan(0);
      w.main.releaseThread(w.b.rcu.slot);
      expect(w.a.alloc(w.s, 1, 31)).toBeGreaterThan(0);
      expect(audit(w.main, [w.main, w.a])).toEqual([]);
      w.a.detach();
      w.main.detach();
    }
    expect(checked).toBeGreaterThan(0);
  });
});
