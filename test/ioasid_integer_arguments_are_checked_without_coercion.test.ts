/**
 * Every integer argument of the IoasidSpace API is checked without coercing it: a BigInt, a
 * Symbol, an object, a string, a boolean, NaN or a fraction throws IoasidError
 * ERR_IOASID_BAD_ARGUMENT, runs no user code (no valueOf, toString or Symbol.toPrimitive of
 * the argument, not even to build the error message) and changes no shared byte
 * (issue 8, defect 7: BigInt and Symbol threw TypeError; the hot paths' guard called valueOf).
 */
import { describe, expect, it } from 'vitest';
import { IoasidError, IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';

let userCodeRuns = 0;
/** An object whose every conversion hook counts (and would throw, to make a mistake loud). */
function trap(): object {
  const hook = () => {
    userCodeRuns++;
    throw new Error('user code ran');
  };
  return { valueOf: hook, toString: hook, [Symbol.toPrimitive]: hook };
}

const BAD_VALUES: Array<[string, () => unknown]> = [
  ['a BigInt', () => 1n],
  ['a Symbol', () => Symbol('s')],
  ['an object with conversion hooks', trap],
  ['a numeric string', () => '3'],
  ['a boolean', () => true],
  ['NaN', () => Number.NaN],
  ['a fraction', () => 1.5],
  ['an array', () => [1]],
];

interface Fixture {
  space: IoasidSpace;
  set: number;
  id: number;
}

function fixture(): Fixture {
  const space = IoasidSpace.create({ pasidBits: 5, maxSets: 4, maxIoasids: 16, maxThreads: 4 });
  const set = space.setAlloc(null, 4, SetType.NULL);
  const id = space.alloc(set, 1, 31, 7);
  return { space, set, id };
}

/** Each integer argument position: the call with `x` in that position. */
const POSITIONS: Array<[string, (f: Fixture, x: unknown) => unknown]> = [
  ['alloc set', (f, x) => f.space.alloc(x as number, 1, 31)],
  ['alloc min', (f, x) => f.space.alloc(f.set, x as number, 31)],
  ['alloc max', (f, x) => f.space.alloc(f.set, 1, x as number)],
  ['alloc data', (f, x) => f.space.alloc(f.set, 1, 31, x as number)],
  ['free set', (f, x) => f.space.free(x as number, f.id)],
  ['free id', (f, x) => f.space.free(f.set, x as number)],
  ['get set', (f, x) => f.space.get(x as number, f.id)],
  ['get id', (f, x) => f.space.get(f.set, x as number)],
  ['put set', (f, x) => f.space.put(x as number, f.id)],
  ['put id', (f, x) => f.space.put(f.set, x as number)],
  ['find set', (f, x) => f.space.find(x as number, f.id)],
  ['find id', (f, x) => f.space.find(f.set, x as number)],
  ['find id (with getter)', (f, x) => f.space.find(f.set, x as number, () => true)],
  ['attachData id', (f, x) => f.space.attachData(x as number, 3)],
  ['attachData data', (f, x) => f.space.attachData(f.id, x as number)],
  ['detachData id', (f, x) => f.space.detachData(x as number)],
  ['attachSpid id', (f, x) => f.space.attachSpid(x as number, 3)],
  ['attachSpid spid', (f, x) => f.space.attachSpid(f.id, x as number)],
  ['detachSpid id', (f, x) => f.space.detachSpid(x as number)],
  ['findBySpid set', (f, x) => f.space.findBySpid(x as number, 3, false)],
  ['findBySpid spid', (f, x) => f.space.findBySpid(f.set, x as number, false)],
  ['inspect id', (f, x) => f.space.inspect(x as number)],
  ['setAlloc token', (f, x) => f.space.setAlloc(x as number, 1, SetType.MM)],
  ['setAlloc quota', (f, x) => f.space.setAlloc(null, x as number, SetType.NULL)],
  ['setAlloc type', (f, x) => f.space.setAlloc(null, 1, x as SetType)],
  ['setFree set', (f, x) => f.space.setFree(x as number)],
  ['findMmSet token', (f, x) => f.space.findMmSet(x as number)],
  ['setInfo set', (f, x) => f.space.setInfo(x as number)],
  ['setForEachIoasid set', (f, x) => f.space.setForEachIoasid(x as number, () => {})],
  ['freeAllInSet set', (f, x) => f.space.freeAllInSet(x as number)],
  ['installCapacity total', (f, x) => f.space.installCapacity(x as number)],
  ['reserveCapacity n', (f, x) => f.space.reserveCapacity(x as number)],
  ['cancelCapacity n', (f, x) => f.space.cancelCapacity(x as number)],
  ['releaseThread slot', (f, x) => f.space.releaseThread(x as number)],
];

function snapshot(s: IoasidSpace): Buffer {
  return Buffer.concat([
    Buffer.from(new Uint8Array(s.handle.buffer).slice()),
    Buffer.from(new Uint8Array(s.handle.rcu.buffer).slice()),
  ]);
}

describe('integer arguments are checked without coercion', () => {
  for (const [where, call] of POSITIONS) {
    it(where, () => {
      const bad: string[] = [];
      for (const [what, value] of BAD_VALUES) {
        const f = fixture();
        const before = snapshot(f.space);
        userCodeRuns = 0;
        let outcome = 'returned';
        try {
          call(f, value());
        } catch (e) {
          outcome =
            e instanceof IoasidError ? e.code : `${(e as Error).name}: ${(e as Error).message}`;
        }
        if (outcome !== 'ERR_IOASID_BAD_ARGUMENT') bad.push(`${what}: ${outcome}`);
        if (userCodeRuns > 0) bad.push(`${what}: ran user code ${userCodeRuns} times`);
        if (!snapshot(f.space).equals(before)) bad.push(`${what}: changed shared memory`);
        f.space.detach();
      }
      expect(bad).toEqual([]);
    });
  }

  it('broken twin: the same calls with integers are accepted', () => {
    const f = fixture();
    expect(f.space.get(f.set, f.id)).toBe(0);
    expect(f.space.put(f.set, f.id)).toBe(0);
    expect(f.space.find(f.set, f.id)).toBe(7);
    f.space.detach();
  });
});
