/**
 * Model-based test of notifier chains and custom allocators: random sequences of every base
 * command (alloc, free, get, put, SPIDs, sets, ...) mixed with registerNotifier(Mm),
 * unregisterNotifier, readNotifications and allocator registration, against the layered model
 * in test/model/hooks-model.ts. Exact results: the events each subscriber reads (event,
 * payload, seq, order), gating, overflow entries, -ENOSPC/-EBUSY/-EINVAL, the allocator rules
 * (-EAGAIN, -EEXIST, joins, standby, -EBUSY, -ENODEV) and the provider's ids = the live ids.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type IoasidFault, IoasidSpace } from '../src/core/ioasid/ioasid-space.js';
import { opNamed } from '../stress/ops/index.js';
import { testSeed } from './helpers/seed.js';
import { allCommands, OpCommand } from './model/commands.js';
import {
  BaseCommand,
  hooksCommands,
  liveIdCommand,
  RegisterNotifierCommand,
  RegisterNotifierMmCommand,
  readCommand,
} from './model/hooks-commands.js';
import {
  type HModel,
  type HReal,
  MAX_SUBS,
  makeOps,
  newHModel,
  QUEUE_DEPTH,
} from './model/hooks-model.js';
import { MAX_IOASIDS, MAX_SETS, PASID_BITS } from './model/model.js';

const FILE = 'test/ioasid_hooks_model.test.ts';

// The base commands twice, the hooks commands, reads and ops on live ids (the events) more.
const base = allCommands.map((c) => c.map((inner) => new BaseCommand(inner)));
const commands = [
  ...base,
  ...base,
  ...hooksCommands,
  ...[readCommand, readCommand, readCommand],
  ...[liveIdCommand, liveIdCommand, liveIdCommand, liveIdCommand],
];

/** Every run starts with chains to watch: a NULL set and an MM set, two subscribers of
 * different priority on the first, one on the global chain, one waiting for the MM set's token
 * (then attached by its setAlloc). */
const prelude = [
  new RegisterNotifierMmCommand(1, 1),
  new BaseCommand(new OpCommand(opNamed('setAlloc'), { token: null, quota: 6, type: 1 })),
  new BaseCommand(new OpCommand(opNamed('setAlloc'), { token: 1, quota: 6, type: 2 })),
  new RegisterNotifierCommand(0, 3),
  new RegisterNotifierCommand(0, 0),
  new RegisterNotifierCommand(null, 2),
];

function property(fault?: IoasidFault) {
  return fc.property(fc.commands(commands, { maxCommands: 150, size: 'max' }), (cmds) => {
    const space = IoasidSpace.create({
      pasidBits: PASID_BITS,
      maxSets: MAX_SETS,
      maxIoasids: MAX_IOASIDS,
      maxThreads: 4,
      maxSubscribers: MAX_SUBS,
      notifyQueueDepth: QUEUE_DEPTH,
      fault,
    });
    const other = IoasidSpace.attach(space.handle);
    try {
      const setup = (): { model: HModel; real: HReal } => {
        const model = newHModel(space);
        const real = { space, other, ops: makeOps(model) };
        for (const c of prelude) c.run(model, real);
        return { model, real };
      };
      fc.modelRun(setup, cmds);
      space.flushRecords();
      const st = space.stats();
      expect(st.limboRecords).toBe(0);
      expect(st.freeRecords + st.liveRecords).toBe(MAX_IOASIDS);
    } finally {
      other.detach();
      space.detach();
    }
  });
}

describe('notifier chains and custom allocators against the model', () => {
  it('exact events, gating, overflow and allocator rules after every command', () => {
    fc.assert(property(), { seed: testSeed(FILE), numRuns: 150 });
  });

  it('broken twin: a space that does not gate is caught', () => {
    let message = '';
    try {
      fc.assert(property('notify-no-gating'), { seed: testSeed(FILE), numRuns: 300 });
    } catch (e) {
      message = `${String(e)} ${String((e as Error).cause)}`;
    }
    // Caught by name: the readable count or the records a gated subscriber got.
    expect(message).toMatch(/readable of sub|readNotifications/);
  });
});
