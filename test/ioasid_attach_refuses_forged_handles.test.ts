/**
 * `IoasidSpace.attach` refuses a handle that is not one `create` made, with a typed error and
 * without touching any shared memory (issue 8, defects 5 and 6):
 * - a space buffer paired with another space's Rcu, or with an Rcu of another size;
 * - buffers whose length is not a whole number of words, or that hold only the magic and the
 *   version;
 * - header words outside the limits `create` accepts (in the space's header or its Rcu's),
 *   an Rcu forged to skip grace periods, a reader high-water mark past the slots;
 * - a handle whose `buffer` getter answers differently on a second read: it is read once, so
 *   the attach uses what it checked.
 * A forged header is a real space's header with one word changed, in a buffer sized for the
 * geometry it claims, so that only the check of that word can refuse it (white-box, per
 * space-layout.ts and rcu-layout.ts); the real space's bytes are compared before and after.
 */
import { describe, expect, it } from 'vitest';
import { type IoasidHandle, IoasidSpace } from '../src/core/ioasid/ioasid-space.js';
import {
  SPACE_FAULT_WORD,
  SPACE_HEADER_WORDS,
  SPACE_MAX_IOASIDS_WORD,
  SPACE_MAX_SETS_WORD,
  SPACE_MAX_THREADS_WORD,
  SPACE_PASID_BITS_WORD,
  SPACE_POLICY_WORD,
  SPACE_RETIRE_BATCH_WORD,
  spaceGeometry,
} from '../src/core/ioasid/space-layout.js';
import { Rcu } from '../src/core/rcu/rcu.js';
import {
  RCU_FAULT_MODE_WORD,
  RCU_FLAVOR_WORD,
  RCU_MAX_THREADS_WORD,
  RCU_SLOT_HWM_WORD,
  RCU_SLOTS_WORD,
  RCU_STALL_MS_WORD,
  rcuBufferWords,
} from '../src/core/rcu/rcu-layout.js';

function space(maxThreads = 4): IoasidSpace {
  return IoasidSpace.create({ pasidBits: 5, maxSets: 4, maxIoasids: 16, maxThreads });
}

/**
 * A space buffer with the header of `sab` but word `index` set to `value`, sized for the
 * geometry that header claims (so that only the check of that word can refuse it); a copy of
 * `sab` when that geometry has no sensible size.
 */
function forgedSpace(sab: SharedArrayBuffer, index: number, value: number): SharedArrayBuffer {
  const header = Array.from(new Int32Array(sab, 0, SPACE_HEADER_WORDS));
  header[index] = value;
  const words = spaceGeometry(
    header[SPACE_PASID_BITS_WORD]!,
    header[SPACE_MAX_SETS_WORD]!,
    header[SPACE_MAX_IOASIDS_WORD]!,
    header[SPACE_MAX_THREADS_WORD]!,
  ).totalWords;
  if (!Number.isInteger(words) || words < SPACE_HEADER_WORDS || words > 2 ** 22)
    return forged(sab, index, value);
  const out = new SharedArrayBuffer(words * 4);
  new Int32Array(out).set(header);
  return out;
}

/** An RCU buffer with `sab`'s header but word `index` set to `value`, sized to match. */
function forgedRcu(sab: SharedArrayBuffer, index: number, value: number): SharedArrayBuffer {
  const header = Array.from(new Int32Array(sab, 0, RCU_SLOTS_WORD));
  header[index] = value;
  const words = rcuBufferWords(header[RCU_MAX_THREADS_WORD]!);
  if (!Number.isInteger(words) || words < RCU_SLOTS_WORD || words > 2 ** 22)
    return forged(sab, index, value);
  const out = new SharedArrayBuffer(words * 4);
  new Int32Array(out).set(header);
  return out;
}

/** A copy of `sab` with word `index` set to `value` (-1: unchanged). */
function forged(sab: SharedArrayBuffer, index = -1, value = 0, extraBytes = 0): SharedArrayBuffer {
  const copy = new SharedArrayBuffer(sab.byteLength + extraBytes);
  new Uint8Array(copy).set(new Uint8Array(sab));
  if (index >= 0) new Int32Array(copy, 0, sab.byteLength >> 2)[index] = value;
  return copy;
}

function bytes(h: IoasidHandle): Buffer {
  return Buffer.concat([
    Buffer.from(new Uint8Array(h.buffer).slice()),
    Buffer.from(new Uint8Array(h.rcu.buffer).slice()),
  ]);
}

/** attach(h) must throw a typed error with one of `codes`. */
function refused(h: unknown, codes: string[]): string {
  try {
    IoasidSpace.attach(h as IoasidHandle).detach();
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && codes.includes(code)) return code;
    return `threw ${(e as Error).name}: ${(e as Error).message}`;
  }
  return 'accepted';
}

const SPACE_BAD = ['ERR_IOASID_BAD_HANDLE', 'ERR_IOASID_LAYOUT_VERSION'];
const RCU_BAD = ['ERR_RCU_BAD_HANDLE', 'ERR_RCU_LAYOUT_VERSION', ...SPACE_BAD];

describe('attach refuses forged handles with a typed error and changes nothing', () => {
  const cases: Array<[string, (s: IoasidSpace) => unknown, string[]]> = [
    ["another space's Rcu", (s) => ({ ...s.handle, rcu: space().handle.rcu }), SPACE_BAD],
    [
      'an Rcu with more reader slots than the space has thread slots',
      (s) => ({ ...s.handle, rcu: Rcu.create({ maxThreads: 64 }).handle }),
      SPACE_BAD,
    ],
    [
      'a space buffer whose length is not a multiple of 4',
      (s) => ({ ...s.handle, buffer: forged(s.handle.buffer, -1, 0, 2) }),
      SPACE_BAD,
    ],
    [
      'an Rcu buffer whose length is not a multiple of 8',
      (s) => ({
        ...s.handle,
        rcu: { ...s.handle.rcu, buffer: forged(s.handle.rcu.buffer, -1, 0, 4) },
      }),
      RCU_BAD,
    ],
    [
      'a space buffer one word longer than its header says',
      (s) => ({ ...s.handle, buffer: forged(s.handle.buffer, -1, 0, 4) }),
      SPACE_BAD,
    ],
    [
      'an Rcu buffer whose length is not a multiple of 4',
      (s) => ({
        ...s.handle,
        rcu: { ...s.handle.rcu, buffer: forged(s.handle.rcu.buffer, -1, 0, 2) },
      }),
      RCU_BAD,
    ],
    [
      'an Rcu buffer one 64-bit word longer than its header says',
      (s) => ({
        ...s.handle,
        rcu: { ...s.handle.rcu, buffer: forged(s.handle.rcu.buffer, -1, 0, 8) },
      }),
      RCU_BAD,
    ],
    [
      'a space buffer of only the magic and the version',
      (s) => {
        const b = new SharedArrayBuffer(8);
        new Int32Array(b).set(new Int32Array(s.handle.buffer).subarray(0, 2));
        return { ...s.handle, buffer: b };
      },
      SPACE_BAD,
    ],
    [
      'an Rcu buffer of only its magic and version',
      (s) => {
        const b = new SharedArrayBuffer(8);
        new Int32Array(b).set(new Int32Array(s.handle.rcu.buffer).subarray(0, 2));
        return { ...s.handle, rcu: { ...s.handle.rcu, buffer: b } };
      },
      RCU_BAD,
    ],
    ...(
      [
        ['pasidBits 0', SPACE_PASID_BITS_WORD, 0],
        ['pasidBits 32', SPACE_PASID_BITS_WORD, 32],
        ['maxSets -1', SPACE_MAX_SETS_WORD, -1],
        ['maxIoasids 0', SPACE_MAX_IOASIDS_WORD, 0],
        ['maxThreads 2 (below the Rcu)', SPACE_MAX_THREADS_WORD, 2],
        ['policy 7', SPACE_POLICY_WORD, 7],
        ['retire batch 1000', SPACE_RETIRE_BATCH_WORD, 1000],
        ['retire batch 0', SPACE_RETIRE_BATCH_WORD, 0],
        ['fault 99', SPACE_FAULT_WORD, 99],
      ] as const
    ).map(([name, word, value]): [string, (s: IoasidSpace) => unknown, string[]] => [
      `space header ${name}`,
      (s) => ({ ...s.handle, buffer: forgedSpace(s.handle.buffer, word, value) }),
      SPACE_BAD,
    ]),
    ...(
      [
        ['maxThreads 8 (above the space)', RCU_MAX_THREADS_WORD, 8],
        ['maxThreads 0', RCU_MAX_THREADS_WORD, 0],
        ['reader high-water mark 1000', RCU_SLOT_HWM_WORD, 1000],
        ['fault mode skip-gp', RCU_FAULT_MODE_WORD, 1],
        ['fault mode 77', RCU_FAULT_MODE_WORD, 77],
        ['stall time -5 ms', RCU_STALL_MS_WORD, -5],
        ['flavor 9', RCU_FLAVOR_WORD, 9],
      ] as const
    ).map(([name, word, value]): [string, (s: IoasidSpace) => unknown, string[]] => [
      `Rcu header ${name}`,
      (s) => ({
        ...s.handle,
        rcu: { ...s.handle.rcu, buffer: forgedRcu(s.handle.rcu.buffer, word, value) },
      }),
      RCU_BAD,
    ]),
    ['not an object', () => 42, SPACE_BAD],
    [
      'a handle whose getters throw',
      () => ({
        get kind(): string {
          throw new Error('boom');
        },
      }),
      SPACE_BAD,
    ],
    ['an Rcu handle that is null', (s) => ({ ...s.handle, rcu: null }), RCU_BAD],
  ];

  for (const [name, forge, codes] of cases) {
    it(name, () => {
      const s = space();
      const h = forge(s);
      const before = bytes(s.handle);
      const slotsBefore = s.rcu.stats().slots.length;
      expect(refused(h, codes)).toMatch(/^ERR_/);
      expect(bytes(s.handle).equals(before)).toBe(true);
      expect(s.rcu.stats().slots.length).toBe(slotsBefore); // no reader slot claimed
      s.detach();
    });
  }

  it('a buffer getter that changes after the first read: the first answer is used', () => {
    const s = space();
    const real = s.handle;
    let reads = 0;
    const fickle = {
      kind: real.kind,
      version: real.version,
      rcu: real.rcu,
      hooks: real.hooks,
      get buffer(): SharedArrayBuffer {
        return reads++ === 0 ? real.buffer : new SharedArrayBuffer(8);
      },
    };
    const t = IoasidSpace.attach(fickle as IoasidHandle);
    expect(reads).toBe(1);
    expect(t.handle.buffer).toBe(real.buffer);
    expect(t.maxId).toBe(31);
    t.detach();
    s.detach();
  });

  it('broken twin: a genuine handle (structured-cloned) attaches', () => {
    const s = space();
    const t = IoasidSpace.attach(structuredClone(s.handle));
    expect(t.rcu.slot).toBeGreaterThan(s.rcu.slot);
    t.detach();
    s.detach();
  });
});
