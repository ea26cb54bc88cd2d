/**
 * A SPID binding never outlives the allocation it was made for: when the id is reclaimed
 * while `attachSpid` binds it (the reclaim's unhash takes no lock, spid.ts), no table entry
 * and no SPID word survive, the SPID is free for another id of the set, and the record comes
 * back from recycling without a SPID.
 *
 * Deterministic: another attachment frees the id at the entry of each builtin call that
 * `attachSpid` makes (test/helpers/kill-points.ts runInjectedAt), for a fresh binding and for
 * one that replaces an older SPID.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Errno, INVALID_IOASID, IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import { spaceHeaderGeometry } from '../src/core/ioasid/space-layout.js';
import {
  installKillPoints,
  runAlive,
  runInjectedAt,
  uninstallKillPoints,
} from './helpers/kill-points.js';

beforeAll(installKillPoints);
afterAll(uninstallKillPoints);

const SPID = 7;
const OLD_SPID = 3;

/** Bindings left to id `id`'s record, or of SPID/OLD_SPID in `set`, after the race at call k. */
function race(k: number, replacing: boolean): { ran: boolean; bad: string[] } {
  const main = IoasidSpace.create({ pasidBits: 5, maxSets: 2, maxIoasids: 16, maxThreads: 4 });
  const a = IoasidSpace.attach(main.handle);
  const set = main.setAlloc(null, 8, SetType.NULL);
  const id = a.alloc(set, 1, 31, 1);
  if (replacing) expect(a.attachSpid(id, OLD_SPID)).toBe(0);
  let got = 0;
  const ran = runInjectedAt(
    k,
    () => {
      got = a.attachSpid(id, SPID);
    },
    () => expect(main.free(set, id)).toBe(0),
  );
  const bad: string[] = [];
  if (ran) {
    if (got !== 0 && got !== -Errno.ENOENT) bad.push(`attachSpid returned ${got}`);
    for (const spid of [SPID, OLD_SPID]) {
      const r = main.findBySpid(set, spid, false);
      if (r !== -Errno.ENOENT) bad.push(`findBySpid(${spid}) = ${r} after the id was freed`);
    }
    // White-box: no SPID table entry is left (stress/space-probe counts them the same way).
    const i32 = new Int32Array(main.handle.buffer);
    const entries = liveEntries(i32);
    if (entries !== 0) bad.push(`${entries} SPID table entries left`);
    // The SPID is free for another id of the set, and the record recycles without one.
    main.flushRecords();
    a.flushRecords();
    const other = main.alloc(set, 1, 31, 2);
    if (main.inspect(other).spid !== INVALID_IOASID)
      bad.push(`a recycled record carries SPID ${main.inspect(other).spid}`);
    const again = main.attachSpid(other, SPID);
    if (again !== 0) bad.push(`attachSpid of the SPID to another id returned ${again}`);
  }
  a.detach();
  main.detach();
  return { ran, bad };
}

function liveEntries(i32: Int32Array<SharedArrayBuffer>): number {
  const g = spaceHeaderGeometry(i32);
  let n = 0;
  for (let b = 0; b < g.spidBuckets; b++) if (i32[g.spidBase + b]! > 0) n++; // 0 empty, -1 tomb
  return n;
}

describe('a SPID binding never outlives its record', () => {
  for (const replacing of [false, true]) {
    it(`the id is freed at every call of attachSpid${replacing ? ' replacing a SPID' : ''}`, () => {
      const failures: string[] = [];
      let races = 0;
      for (let k = 1; k < 500; k++) {
        const { ran, bad } = runAlive(() => race(k, replacing));
        if (!ran) break;
        races++;
        for (const b of bad) failures.push(`freed at call ${k}: ${b}`);
      }
      if (failures.length > 0) console.log(`${failures.length} failures, e.g. ${failures[0]}`);
      expect(races).toBeGreaterThan(10);
      expect(failures).toEqual([]);
    });
  }

  it('tombstones left by lock-free unhashes are swept: the table never fills up with them', () => {
    const main = IoasidSpace.create({ pasidBits: 5, maxSets: 2, maxIoasids: 16, maxThreads: 4 });
    const set = main.setAlloc(null, 8, SetType.NULL);
    const i32 = new Int32Array(main.handle.buffer);
    const g = spaceHeaderGeometry(i32);
    let most = 0;
    for (let i = 0; i < 20 * g.spidBuckets; i++) {
      const id = main.alloc(set, 1, 31, 1);
      expect(main.attachSpid(id, i)).toBe(0);
      expect(main.free(set, id)).toBe(0); // the reclaim tombstones the entry, lock-free
      let tombs = 0;
      for (let b = 0; b < g.spidBuckets; b++) if (i32[g.spidBase + b] === -1) tombs++;
      most = Math.max(most, tombs);
    }
    console.log(`most tombstones at once: ${most} of ${g.spidBuckets} buckets`);
    // An insert sweeps once an eighth of the table is tombstones from lock-free removals.
    expect(most).toBeLessThanOrEqual(g.spidBuckets / 8 + 1);
    main.detach();
  });
});
