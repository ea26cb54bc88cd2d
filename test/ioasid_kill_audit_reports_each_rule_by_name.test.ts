/**
 * The kill audit (test/helpers/kill-points.ts `audit` and `auditFlushed`) has a broken twin per
 * rule: a test double corrupts one thing in an otherwise consistent space, and the audit must
 * report the rule that thing breaks, by name. Without these, a rule that can never fail (a
 * wrong word index, a comparison of a value with itself) would pass every kill sweep.
 *
 * The fixture is kill-points' `setup()`: a victim holding ids, a SPID, a PENDING set with a
 * live id, a shared reference and cached ids with their charges parked; both attachments live.
 * Every corruption is white-box (space-layout.ts offsets), made while nothing else runs.
 *
 * Not doubled: "set lock held by slot N" is the same check as the SPID lock's (one loop over
 * both words), and a set lock held by a live slot would hang the audit's own probe setAlloc
 * instead of being reported; the SPID lock's twin covers the check. "probe setAlloc failed"
 * needs a setAlloc that fails with capacity left, which no consistent corruption gives.
 */
import { describe, expect, it } from 'vitest';
import {
  magazineEntry,
  magazineEntryId,
  magazineEntrySet,
} from '../src/core/ioasid/id-magazine.js';
import type { IoasidSpace } from '../src/core/ioasid/ioasid-space.js';
import {
  mapSlot,
  SET_COUNT,
  SET_UNIT,
  SPACE_AVAILABLE_WORD,
  SPACE_SET_WORDS,
  SPACE_SPID_LOCK_WORD,
  type SpaceGeometry,
  spaceHeaderGeometry,
  TS_BATCH_COUNT,
  TS_CACHE_COUNT,
  TS_MAG,
  TS_MAG_SIZE,
  TS_STATE,
  threadSlotWord,
} from '../src/core/ioasid/space-layout.js';
import { RCU_SLOT_OWNER, rcuSlotBase } from '../src/core/rcu/rcu-layout.js';
import { audit, auditFlushed, type Fixture, MAX_THREADS, setup } from './helpers/kill-points.js';

interface Space {
  main: IoasidSpace;
  victim: IoasidSpace;
  f: Fixture;
  i32: Int32Array<SharedArrayBuffer>;
  g: SpaceGeometry;
}

function fixture(): Space {
  const { main, victim, f } = setup();
  const i32 = new Int32Array(main.handle.buffer);
  return { main, victim, f, i32, g: spaceHeaderGeometry(i32) };
}

/** A thread slot no attachment uses (the fixture attaches two of MAX_THREADS). */
function unusedSlot(s: Space): number {
  const used = new Set([s.main.rcu.slot, s.victim.rcu.slot]);
  for (let slot = 0; slot < MAX_THREADS; slot++) if (!used.has(slot)) return slot;
  throw new Error('no unused slot');
}

/** The first magazine entry word of `slot` holding `full` (an id) or not (an empty entry). */
function magWord(s: Space, slot: number, full: boolean): number {
  for (let j = 0; j < TS_MAG_SIZE; j++) {
    const w = threadSlotWord(s.g, slot) + TS_MAG + j;
    if (Atomics.load(s.i32, w) > 0 === full) return w;
  }
  throw new Error(`slot ${slot} has no ${full ? 'cached id' : 'empty entry'}`);
}

/** The lowest id that is free: bit clear, not mapped, not cached. */
function freeId(s: Space): number {
  for (let id = 1; id < s.g.idCount; id++) {
    const bit = (Atomics.load(s.i32, s.g.bitmapBase + (id >>> 5)) >>> (id & 31)) & 1;
    if (bit === 0 && s.main.inspect(id).state === 'free' && !cachedAnywhere(s, id)) return id;
  }
  throw new Error('no free id');
}

function cachedAnywhere(s: Space, id: number): boolean {
  for (let slot = 0; slot < MAX_THREADS; slot++)
    for (let j = 0; j < TS_MAG_SIZE; j++) {
      const e = Atomics.load(s.i32, threadSlotWord(s.g, slot) + TS_MAG + j);
      if (e > 0 && magazineEntryId(s.g, e) === id) return true;
    }
  return false;
}

function setBit(s: Space, id: number): void {
  Atomics.or(s.i32, s.g.bitmapBase + (id >>> 5), 1 << (id & 31));
}

function countWord(s: Space, set: number): number {
  return s.g.setsBase + set * SPACE_SET_WORDS + SET_COUNT;
}

interface Twin {
  /** The rule, as the audit names it. */
  rule: RegExp;
  /** The corruption: one thing wrong in a consistent space. */
  corrupt: (s: Space) => void;
  /** Attachments the audit is told are live (default: both). */
  live?: (s: Space) => IoasidSpace[];
  /** Check with auditFlushed (after audit's own checks) instead of audit. */
  flushed?: boolean;
}

const TWINS: Record<string, Twin> = {
  'COUNT word one above the live ids (the set count rule)': {
    rule: /^set \d+: count \d+, ids \d+$/,
    corrupt: (s) => void Atomics.add(s.i32, countWord(s, s.f.a), SET_UNIT),
  },
  'COUNT word one above live + parked (charges = live + parked)': {
    rule: /^set \d+: charges \d+, live \d+ \+ parked \d+$/,
    corrupt: (s) => void Atomics.add(s.i32, countWord(s, s.f.a), SET_UNIT),
  },
  'COUNT word one below live + parked (a lost charge)': {
    rule: /^set \d+: charges \d+, live \d+ \+ parked \d+$/,
    corrupt: (s) => void Atomics.sub(s.i32, countWord(s, s.f.a), SET_UNIT),
  },
  'an extra parked entry with a charge the COUNT word does not hold': {
    rule: /^set \d+: charges \d+, live \d+ \+ parked \d+$/,
    corrupt: (s) => {
      // A free id, cached with a unit of set `a` in main's magazine, its bit set: the id is
      // consistently cached, only the charge it carries was never taken from COUNT.
      const id = freeId(s);
      setBit(s, id);
      Atomics.store(s.i32, magWord(s, s.main.rcu.slot, false), magazineEntry(s.g, id, s.f.a));
    },
  },
  'a parked entry that lost its charge (the unit stays in COUNT)': {
    rule: /^set \d+: charges \d+, live \d+ \+ parked \d+$/,
    corrupt: (s) => {
      const w = magWord(s, s.victim.rcu.slot, true);
      const e = Atomics.load(s.i32, w);
      expect(magazineEntrySet(s.g, e)).toBeGreaterThanOrEqual(0);
      Atomics.store(s.i32, w, magazineEntry(s.g, magazineEntryId(s.g, e), -1));
    },
  },
  'a PENDING set whose only live id is gone, its charge parked': {
    rule: /PENDING set whose charges are all parked/,
    corrupt: (s) => {
      // The pending set's live id turned into a parked one: unmapped, cached with its charge.
      const id = s.f.idPending;
      Atomics.store(s.i32, s.g.mapBase + mapSlot(s.g, id), 0);
      Atomics.store(s.i32, magWord(s, s.main.rcu.slot, false), magazineEntry(s.g, id, s.f.pending));
    },
  },
  'AVAILABLE one too high (quotas + available = capacity)': {
    rule: /^quotas \d+ \+ available \d+ != \d+$/,
    corrupt: (s) => void Atomics.add(s.i32, SPACE_AVAILABLE_WORD, 1),
  },
  'a record counted twice (free + limbo + live = the pool)': {
    rule: /^records: \d+ free \+ \d+ limbo \+ \d+ live$/,
    corrupt: (s) => void Atomics.add(s.i32, threadSlotWord(s.g, unusedSlot(s)) + TS_CACHE_COUNT, 1),
  },
  "an id's SPID no longer found (the SPID table lost its entry)": {
    rule: /^id \d+: its SPID \d+ finds -?\d+$/,
    corrupt: (s) => {
      for (let b = 0; b < s.g.spidBuckets; b++) Atomics.store(s.i32, s.g.spidBase + b, 0);
    },
  },
  'an id unmapped under its live record (live records = ids)': {
    rule: /^\d+ live records, \d+ ids$/,
    corrupt: (s) => Atomics.store(s.i32, s.g.mapBase + mapSlot(s.g, s.f.idA), 0),
  },
  'a magazine left in a thread that is not live': {
    rule: /^slot \d+ \(not live\) still caches id \d+$/,
    corrupt: () => {},
    live: (s) => [s.main],
  },
  'one id cached in two magazines': {
    rule: /^id \d+ cached twice$/,
    corrupt: (s) => {
      const e = Atomics.load(s.i32, magWord(s, s.victim.rcu.slot, true));
      Atomics.store(
        s.i32,
        magWord(s, s.main.rcu.slot, false),
        magazineEntry(s.g, magazineEntryId(s.g, e), -1),
      );
    },
  },
  'a mapped id also cached': {
    rule: /^id \d+: cached and mapped$/,
    corrupt: (s) =>
      Atomics.store(s.i32, magWord(s, s.main.rcu.slot, false), magazineEntry(s.g, s.f.idA, -1)),
  },
  'a stray id bit (bit = mapped or cached)': {
    rule: /^id \d+: bit 1, not mapped, not cached$/,
    corrupt: (s) => setBit(s, freeId(s)),
  },
  'a mapped id whose bit was cleared': {
    rule: /^id \d+: bit 0, mapped, not cached$/,
    corrupt: (s) => Atomics.and(s.i32, s.g.bitmapBase + (s.f.idA >>> 5), ~(1 << (s.f.idA & 31))),
  },
  'the SPID lock left held': {
    rule: /^SPID lock held by slot \d+$/,
    corrupt: (s) => Atomics.store(s.i32, SPACE_SPID_LOCK_WORD, unusedSlot(s) + 1),
  },
  'an unused thread slot left attached': {
    rule: /^thread slot \d+: state 1, unused expected$/,
    corrupt: (s) => Atomics.store(s.i32, threadSlotWord(s.g, unusedSlot(s)) + TS_STATE, 1),
  },
  'a live thread slot left unused': {
    rule: /^thread slot \d+: state 0, attached expected$/,
    corrupt: (s) => Atomics.store(s.i32, threadSlotWord(s.g, s.victim.rcu.slot) + TS_STATE, 0),
  },
  'a SPID table entry without an id': {
    rule: /^\d+ SPID table entries for \d+ SPIDs$/,
    corrupt: (s) => {
      for (let b = 0; b < s.g.spidBuckets; b++)
        if (Atomics.load(s.i32, s.g.spidBase + b) <= 0) {
          // Any positive word is an entry to the census: one more than there are SPIDs.
          Atomics.store(s.i32, s.g.spidBase + b, s.f.idA);
          return;
        }
      throw new Error('no empty SPID bucket');
    },
  },
  'an Rcu slot claimed by nobody live': {
    rule: /^Rcu slot \d+: owner \d+, free expected$/,
    corrupt: (s) => {
      const rcu = new Int32Array(s.main.handle.rcu.buffer);
      Atomics.store(rcu, rcuSlotBase(unusedSlot(s)) + RCU_SLOT_OWNER, 99);
    },
  },
  "a live thread's Rcu slot left unclaimed": {
    rule: /^Rcu slot \d+: owner 0, claimed expected$/,
    corrupt: (s) => {
      const rcu = new Int32Array(s.main.handle.rcu.buffer);
      Atomics.store(rcu, rcuSlotBase(s.victim.rcu.slot) + RCU_SLOT_OWNER, 0);
    },
  },
  'every free id leaked (bits set, never mapped or cached): fewer ids allocatable': {
    rule: /^\d+ ids allocatable, want \d+$/,
    // All of them: the capacity left, not the ids, may bound what the probe gets, and one
    // leaked id among more free ids than capacity would leave the count right. (The probe
    // still gets the ids it steals from magazines.)
    corrupt: (s) => {
      for (let id = 1; id < s.g.idCount; id++)
        if (s.main.inspect(id).state === 'free' && !cachedAnywhere(s, id)) setBit(s, id);
    },
  },
  'a retired record no flush can reach (limbo after flushRecords)': {
    rule: /^after flushRecords: \d+ limbo records$/,
    corrupt: (s) => void Atomics.add(s.i32, threadSlotWord(s.g, unusedSlot(s)) + TS_BATCH_COUNT, 1),
    flushed: true,
  },
  'a free record counted twice (free = pool - live after flushRecords)': {
    rule: /^after flushRecords: \d+ free records, want \d+ - \d+ live$/,
    corrupt: (s) => void Atomics.add(s.i32, threadSlotWord(s.g, unusedSlot(s)) + TS_CACHE_COUNT, 1),
    flushed: true,
  },
};

function failuresOf(twin: Twin): string[] {
  const s = fixture();
  twin.corrupt(s);
  const failures = twin.flushed
    ? auditFlushed(s.main)
    : audit(s.main, twin.live?.(s) ?? [s.main, s.victim]);
  s.main.detach();
  return failures;
}

describe('kill audit: each rule has a broken twin, reported by name', () => {
  it('the untouched fixture passes both audits (so every failure below is the twin)', () => {
    const s = fixture();
    expect(auditFlushed(s.main)).toEqual([]);
    expect(audit(s.main, [s.main, s.victim])).toEqual([]);
  });

  it.each(Object.entries(TWINS))('%s', (_name, twin) => {
    const failures = failuresOf(twin);
    console.log(`${_name}: ${failures.join(' | ')}`);
    expect(failures.filter((b) => twin.rule.test(b))).not.toEqual([]);
  });
});
