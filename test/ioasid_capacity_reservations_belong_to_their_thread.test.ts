/**
 * Capacity reserved with `reserveCapacity` belongs to the thread that reserved it, and comes
 * back exactly once (issue 8, defect 9):
 * - `cancelCapacity` gives back only units the calling thread reserved: never units a set
 *   holds (formerly, cancelling a set's quota and then destroying the set returned it twice:
 *   available 41 > capacity 31, and installCapacity was refused forever after);
 * - a thread killed anywhere in `reserveCapacity`, or after it returned, has its reservation
 *   returned by `releaseThread`; a thread that detaches gives its reservation back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Errno, IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import {
  audit,
  installKillPoints,
  runKilledAt,
  setup,
  uninstallKillPoints,
} from './helpers/kill-points.js';

beforeAll(installKillPoints);
afterAll(uninstallKillPoints);

function space(): IoasidSpace {
  return IoasidSpace.create({ pasidBits: 5, maxSets: 4, maxIoasids: 16, maxThreads: 4 });
}

describe('capacity reservations belong to their thread', () => {
  it("cancelCapacity refuses a set's quota: destroying the set returns it once", () => {
    const s = space();
    const cap = s.capacity();
    const set = s.setAlloc(null, 10, SetType.NULL);
    expect(s.available()).toBe(cap - 10);
    expect(s.cancelCapacity(10)).toBe(-Errno.EINVAL);
    expect(s.available()).toBe(cap - 10);
    expect(s.setFree(set)).toBe(0);
    expect(s.available()).toBe(cap);
    expect(s.installCapacity(20)).toBe(0); // nothing reserved: the install is possible
    expect(s.capacity()).toBe(20);
    s.detach();
  });

  it('cancelCapacity gives back only what the calling thread reserved', () => {
    const a = space();
    const b = IoasidSpace.attach(a.handle);
    const cap = a.capacity();
    expect(a.reserveCapacity(5)).toBe(5);
    expect(b.cancelCapacity(1)).toBe(-Errno.EINVAL); // b reserved nothing
    expect(a.cancelCapacity(6)).toBe(-Errno.EINVAL); // more than a reserved
    expect(a.cancelCapacity(2)).toBe(cap - 3);
    expect(a.cancelCapacity(3)).toBe(cap);
    expect(a.cancelCapacity(1)).toBe(-Errno.EINVAL);
    b.detach();
    a.detach();
  });

  it('a thread that detaches gives its reservation back', () => {
    const a = space();
    const b = IoasidSpace.attach(a.handle);
    expect(b.reserveCapacity(7)).toBe(7);
    expect(a.available()).toBe(a.capacity() - 7);
    b.detach();
    expect(a.available()).toBe(a.capacity());
    a.detach();
  });

  it('a thread killed after reserveCapacity returned: releaseThread gives it back', () => {
    const { main, victim } = setup(false);
    expect(victim.reserveCapacity(6)).toBe(6);
    expect(main.releaseThread(victim.rcu.slot)).toBeGreaterThan(0);
    expect(main.available()).toBe(main.capacity());
    expect(audit(main)).toEqual([]);
    main.detach();
  });

  it('a thread killed at every call of reserveCapacity: releaseThread leaves nothing reserved', () => {
    const failures: string[] = [];
    let kills = 0;
    for (let k = 1; k < 200; k++) {
      const { main, victim } = setup(false);
      if (!runKilledAt(k, () => victim.reserveCapacity(6))) {
        victim.detach();
        main.detach();
        break;
      }
      kills++;
      main.releaseThread(victim.rcu.slot);
      if (main.available() !== main.capacity())
        failures.push(`killed at call ${k}: available ${main.available()} of ${main.capacity()}`);
      for (const b of audit(main)) failures.push(`killed at call ${k}: ${b}`);
      main.detach();
    }
    expect(kills).toBeGreaterThan(0);
    expect(failures).toEqual([]);
  });
});
