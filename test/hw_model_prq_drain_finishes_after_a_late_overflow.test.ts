/**
 * The PRQ's overflow flag against the P6 drain. A device that finds the PRQ full sets PRS.PRO
 * after its failed claim; when it is descheduled between the two, the PRQ thread can empty
 * the queue (and clear PRO) first, leaving PRO set on an empty queue. The drain restarts
 * while PRO is set, so unless the PRQ thread clears PRO whenever it finds the queue empty,
 * every later teardown of a PRI device livelocks (seen as a pri-storm run that did not come
 * to rest, INV-16, with ~200k drain retries). Single-threaded: the late store is made by hand.
 */
import { describe, expect, it } from 'vitest';
import { ringCount } from '../src/hw-model/claim-ring.js';
import { PRQ_PRS, PRS_PRO } from '../src/hw-model/hw-layout.js';
import { dsaPf, Platform } from '../src/hw-model/index.js';

describe('the P6 drain and a PRO flag left on an empty PRQ', () => {
  it('the PRQ thread clears PRO on an empty queue and the unbind finishes', () => {
    const p = Platform.create({ pasidBits: 8, processes: 2, pfs: [dsaPf('dsa0')] });
    expect(p.spawn(0)).toBeGreaterThan(0);
    const pasid = p.bindSva(0, 0);
    expect(pasid).toBeGreaterThan(0);
    const hw = p.context;
    expect(ringCount(hw.prq)).toBe(0);
    // The overflowing device's Atomics.or, landing after the PRQ thread emptied the queue.
    Atomics.or(hw.i32, PRQ_PRS, PRS_PRO);
    expect(p.prqService()).toBe(0);
    expect(hw.ld(PRQ_PRS) & PRS_PRO).toBe(0);
    // And a teardown started with the flag set still completes (it pumps the PRQ thread).
    Atomics.or(hw.i32, PRQ_PRS, PRS_PRO);
    expect(p.unbindSva(0, 0)).toBe(0);
    expect(p.space.inspect(pasid).state).not.toBe('active');
  });
});
