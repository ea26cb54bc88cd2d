/**
 * The two benchmark baselines are real allocators with the project's semantics: run
 * single-threaded on the same random sequence of setAlloc / alloc / free / find calls,
 * `IoasidSpace` (policy lowest), the postMessage baseline's allocator (through the handler
 * its main thread runs) and the mutex baseline give the same ids, data and errnos at every
 * step. So the bench compares like with like: lowest free id in range, per-set quota, same
 * errors.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MutexAllocator } from '../bench/baselines/mutex-allocator.js';
import { PostMessageAllocatorServer } from '../bench/baselines/postmessage-allocator.js';
import { SeqAllocator, seqAllocatorBytes } from '../bench/baselines/seq-allocator.js';
import { IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import { testSeed } from './helpers/seed.js';

const FILE = 'test/bench_baselines_agree_with_allocator.test.ts';
const PASID_BITS = 5; // ids 1..31: exhaustion, quotas and ENOSPC happen often
const ID_MAX = 2 ** PASID_BITS - 1;
const MAX_SETS = 4;

type Cmd =
  | { op: 'alloc'; set: number; min: number; max: number; data: number }
  | { op: 'free'; set: number | null; id: number }
  | { op: 'find'; set: number | null; id: number };

/** Mostly live set slots; sometimes just outside the table. */
const setArg = fc.oneof(
  { weight: 6, arbitrary: fc.nat(MAX_SETS - 1) },
  { weight: 1, arbitrary: fc.constantFrom(-1, MAX_SETS) },
);
/** Mostly low ids (lowest-free keeps live ids low), sometimes anything incl. 0 and past the end. */
const idArg = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 10 }) },
  fc.nat(ID_MAX + 1),
);
/** Mostly the whole space (what the bench asks for), else any range, often empty or reversed. */
const rangeArg = fc.oneof(
  { weight: 2, arbitrary: fc.constant([1, ID_MAX] as const) },
  fc
    .tuple(fc.integer({ min: -1, max: ID_MAX + 1 }), fc.integer({ min: -2, max: ID_MAX + 2 }))
    .map(([min, span]) => [min, min + span] as const),
);
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .tuple(setArg, rangeArg, fc.integer({ min: -1, max: 1000 }))
      .map(([set, [min, max], data]): Cmd => ({ op: 'alloc', set, min, max, data })),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('free' as const), set: fc.option(setArg), id: idArg }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('find' as const), set: fc.option(setArg), id: idArg }),
  },
);

/** What the property drives: the calls the bench makes, on a NULL-set allocator. */
interface Allocator {
  setAlloc(quota: number): number;
  run(c: Cmd): number;
}

/** The same sequence on `IoasidSpace` and on each of `make()`'s allocators, step by step. */
function agree(make: () => Allocator[]) {
  return fc.property(
    fc.array(fc.nat(12), { minLength: 1, maxLength: MAX_SETS + 1 }),
    fc.array(cmd, { minLength: 20, maxLength: 120 }),
    (quotas, cmds) => {
      const space = IoasidSpace.create({
        pasidBits: PASID_BITS,
        maxSets: MAX_SETS,
        maxIoasids: 256,
        maxThreads: 2,
      });
      const impls = make();
      const same = (want: number) => impls.map(() => want);
      try {
        for (const q of quotas) {
          const want = space.setAlloc(null, q, SetType.NULL);
          expect(
            impls.map((a) => a.setAlloc(q)),
            `setAlloc(${q})`,
          ).toEqual(same(want));
        }
        cmds.forEach((c, step) => {
          const want =
            c.op === 'alloc'
              ? space.alloc(c.set, c.min, c.max, c.data)
              : c.op === 'free'
                ? space.free(c.set, c.id)
                : space.find(c.set, c.id);
          expect(
            impls.map((a) => a.run(c)),
            `step ${step}: ${JSON.stringify(c)}`,
          ).toEqual(same(want));
        });
      } finally {
        space.detach();
      }
    },
  );
}

const OPTS = { pasidBits: PASID_BITS, maxSets: MAX_SETS };

/** The postMessage baseline's handler (what its main thread runs per request), and the mutex baseline. */
function baselines(): Allocator[] {
  const pm = new PostMessageAllocatorServer(OPTS);
  const mx = MutexAllocator.create(OPTS);
  return [{ setAlloc: (q) => pm.seq.setAlloc(q), run: (c) => pm.handle(c) }, direct(mx)];
}

/** An allocator object called directly, as one of the compared Allocators. */
function direct(a: SeqAllocator | MutexAllocator): Allocator {
  return {
    setAlloc: (q) => a.setAlloc(q),
    run: (c) =>
      c.op === 'alloc'
        ? a.alloc(c.set, c.min, c.max, c.data)
        : c.op === 'free'
          ? a.free(c.set, c.id)
          : a.find(c.set, c.id),
  };
}

/** Broken twin: a quota off by one (the set may hold one id too many). */
class QuotaOffByOne extends SeqAllocator {
  override setAlloc(quota: number): number {
    return super.setAlloc(quota === 0 ? 0 : quota + 1);
  }
}

function brokenTwin(): Allocator[] {
  const buffer = new ArrayBuffer(seqAllocatorBytes(OPTS));
  SeqAllocator.format(buffer, OPTS);
  return [direct(new QuotaOffByOne(buffer))];
}

describe('bench baselines', () => {
  it('give the same ids and errnos as IoasidSpace, single-threaded', () => {
    const seed = testSeed(FILE);
    fc.assert(agree(baselines), { seed, numRuns: 300 });
  });

  it('broken twin: the check catches an allocator whose quota is off by one', () => {
    const seed = testSeed(FILE);
    const r = fc.check(agree(brokenTwin), { seed, numRuns: 300 });
    expect(r.failed, 'the agreement check must fail for a broken allocator').toBe(true);
  });
});
