/**
 * Model-based test: random command sequences against `IoasidSpace` (one thread) and the
 * sequential reference model: the stress operations' own contract (stress/ops/) on a complete
 * view (test/model/), exact results (lowest-free and cyclic ids, errnos) and the full state
 * (every set, every id) compared after each command; and each op's check must reject the
 * results next to the real one.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IoasidSpace } from '../src/core/ioasid/ioasid-space.js';
import { testSeed } from './helpers/seed.js';
import { allCommands } from './model/commands.js';
import { MAX_IOASIDS, MAX_SETS, ModelView, PASID_BITS, type Real } from './model/model.js';

const FILE = 'test/ioasid_model.test.ts';

function property(policy: 'lowest' | 'cyclic', modelCyclic: boolean) {
  return fc.property(fc.commands(allCommands, { maxCommands: 200, size: 'max' }), (cmds) => {
    const space = IoasidSpace.create({
      pasidBits: PASID_BITS,
      maxSets: MAX_SETS,
      maxIoasids: MAX_IOASIDS,
      policy,
    });
    try {
      const setup = (): { model: ModelView; real: Real } => ({
        model: new ModelView(modelCyclic, space),
        real: { space },
      });
      fc.modelRun(setup, cmds);
      // Nothing leaks: every record is live, free or in limbo, and flushing empties limbo.
      space.flushRecords();
      const st = space.stats();
      expect(st.limboRecords).toBe(0);
      expect(st.freeRecords + st.liveRecords).toBe(MAX_IOASIDS);
      expect(st.enomem).toBe(0);
    } finally {
      space.detach();
    }
  });
}

describe('IoasidSpace against the sequential model', () => {
  it('policy lowest: exact results and state after every command', () => {
    const seed = testSeed(FILE);
    fc.assert(property('lowest', false), { seed, numRuns: 100 });
  });

  it('policy cyclic: exact results and state after every command', () => {
    const seed = testSeed(FILE);
    fc.assert(property('cyclic', true), { seed, numRuns: 60 });
  });

  it('broken twin: the checker rejects a space whose policy differs from the model', () => {
    const seed = testSeed(FILE);
    expect(() => fc.assert(property('cyclic', false), { seed, numRuns: 200 })).toThrow();
  });
});
