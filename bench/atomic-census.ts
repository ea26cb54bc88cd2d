/**
 * Atomic census of alloc+free (issue 13's scaling investigation): per alloc+free pair, how
 * many atomic operations of each kind one CPU makes, how many of its compareExchanges fail,
 * and which 64-byte lines two CPUs both write with atomics, on two disjoint sets of one space,
 * on one shared set, and on two separate spaces. Lines written by both CPUs are the cache
 * lines that bounce between them; a scenario with none can only be slowed by the machine.
 *
 * `node dist/bench/atomic-census.js [pairs]` (default 200000 per worker). Counts, not times:
 * the counting wrappers make every atomic operation slow.
 */
import { Worker } from 'node:worker_threads';
import { IoasidSpace, SetType } from '../src/core/ioasid/ioasid-space.js';
import {
  mapSlot,
  type SpaceGeometry,
  spaceHeaderGeometry,
  threadSlotWord,
} from '../src/core/ioasid/space-layout.js';
import { workerModuleUrl } from '../src/workers/worker-url.js';
import type { CensusReport } from './atomic-census-worker.js';

type Scenario = 'disjoint' | 'shared' | 'separate';

/** What one scenario's census found. */
export interface CensusResult {
  scenario: Scenario;
  cpus: number;
  /** per pair, averaged over the workers */
  perPair: Record<string, number>;
  totalPerPair: number;
  casFailsPerPair: number;
  /** how much of the counted stretch the workers ran at the same time (0..1) */
  overlap: number;
  /** lines written by every worker: region name and writes per pair, summed over workers */
  sharedLines: { line: string; region: string; writesPerPair: number }[];
  /**
   * lines one worker loads (Atomics.load) and only another writes: a miss per load after each
   * write; loads per pair of the reader(s), and the writer's writes per pair
   */
  readSharedLines: { line: string; region: string; loadsPerPair: number; writesPerPair: number }[];
}

/** The region of a space buffer a 64-byte line falls in. */
function spaceRegion(g: SpaceGeometry, line: number): string {
  const word = line * 16;
  if (word < g.threadsBase) return 'header/stats';
  if (word < g.bitmapBase) {
    const slot = Math.floor((word - g.threadsBase) / (threadSlotWord(g, 1) - g.threadsBase));
    return `thread slot ${slot}`;
  }
  if (word < g.mapBase) return `bitmap (ids ${(word - g.bitmapBase) * 32}..)`;
  if (word < g.setsBase) {
    // The line's 16 map slots hold the words of these ids (space-layout.ts mapSlot).
    const first = word - g.mapBase;
    const ids: number[] = [];
    for (let id = 0; id < g.idCount && ids.length < 3; id++) {
      const s = mapSlot(g, id);
      if (s >= first && s < first + 16) ids.push(id);
    }
    return `id map (ids ${ids.join(', ')}..)`;
  }
  if (word < g.recordsBase) return 'set table';
  if (word < g.spidBase) return 'records';
  return 'spid hash';
}

async function census(scenario: Scenario, cpus: number, pairs: number): Promise<CensusResult> {
  const newSpace = () =>
    IoasidSpace.create({ pasidBits: 20, maxSets: 16, maxThreads: 8, maxIoasids: 4096 });
  const spaces = scenario === 'separate' ? Array.from({ length: cpus }, newSpace) : [newSpace()];
  const shared = spaces[0]!.setAlloc(null, 1000, SetType.NULL);
  const sets = Array.from({ length: cpus }, (_, i) =>
    scenario === 'disjoint' && i > 0 ? spaces[0]!.setAlloc(null, 1000, SetType.NULL) : shared,
  );
  const start = new Int32Array(new SharedArrayBuffer(64));
  const url = workerModuleUrl(import.meta.url, './atomic-census-worker.js');
  const reports = Array.from({ length: cpus }, (_, i) => {
    const sp = spaces[i] ?? spaces[0]!;
    const set = scenario === 'separate' ? sp.setAlloc(null, 1000, SetType.NULL) : sets[i];
    const w = new Worker(url, {
      workerData: { handle: sp.handle, set, pairs, start: start.buffer, cpus },
    });
    return new Promise<CensusReport>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
  });
  while (Atomics.load(start, 0) < cpus) await new Promise((r) => setTimeout(r, 2));
  Atomics.store(start, 1, 1);
  Atomics.notify(start, 1);
  const rs = await Promise.all(reports);
  const g = spaceHeaderGeometry(new Int32Array(spaces[0]!.handle.buffer));
  for (const sp of spaces) sp.detach();
  const perPair: Record<string, number> = {};
  for (const r of rs)
    for (const [k, v] of Object.entries(r.perPair)) perPair[k] = (perPair[k] ?? 0) + v / cpus;
  // Separate spaces: the same offsets are different memory, so nothing is shared.
  const sharedLines =
    scenario === 'separate' || cpus < 2
      ? []
      : Object.keys(rs[0]!.lines)
          .filter((k) => rs.every((r) => r.lines[k] !== undefined))
          .map((k) => {
            const [buf, line] = k.split(':') as [string, string];
            return {
              line: k,
              region: buf === 'space' ? spaceRegion(g, Number(line)) : `${buf} buffer`,
              writesPerPair: rs.reduce((s, r) => s + r.lines[k]! / r.pairs, 0),
            };
          })
          .filter((l) => l.writesPerPair >= 0.001)
          .sort((a, b) => b.writesPerPair - a.writesPerPair);
  const region = (k: string): string => {
    const [buf, line] = k.split(':') as [string, string];
    return buf === 'space' ? spaceRegion(g, Number(line)) : `${buf} buffer`;
  };
  const readSharedLines =
    scenario === 'separate' || cpus < 2
      ? []
      : [...new Set(rs.flatMap((r) => Object.keys(r.reads)))]
          .filter((k) => !sharedLines.some((l) => l.line === k))
          .map((k) => {
            // Loads by workers that do not write the line; writes by those that do.
            const writers = rs.filter((r) => r.lines[k] !== undefined);
            const readers = rs.filter((r) => r.lines[k] === undefined && r.reads[k] !== undefined);
            return {
              line: k,
              region: region(k),
              loadsPerPair: readers.reduce((s, r) => s + r.reads[k]! / r.pairs, 0),
              writesPerPair: writers.reduce((s, r) => s + r.lines[k]! / r.pairs, 0),
            };
          })
          .filter((l) => l.loadsPerPair >= 0.001 && l.writesPerPair >= 0.001)
          .sort((a, b) => b.loadsPerPair - a.loadsPerPair);
  return {
    scenario,
    cpus,
    perPair,
    totalPerPair: Object.entries(perPair)
      .filter(([k]) => k !== 'notify' && k !== 'wait')
      .reduce((s, [, v]) => s + v, 0),
    casFailsPerPair: rs.reduce((s, r) => s + r.casFailsPerPair, 0) / cpus,
    overlap:
      Math.max(0, Math.min(...rs.map((r) => r.t1)) - Math.max(...rs.map((r) => r.t0))) /
      (Math.max(...rs.map((r) => r.t1)) - Math.min(...rs.map((r) => r.t0))),
    sharedLines,
    readSharedLines,
  };
}

/**
 * Run the census of every scenario on 1 and 2 CPUs and print it.
 *
 * @param pairs - counted alloc+free pairs per worker
 *
 * Context: main thread; starts worker threads; a few seconds.
 * @returns the census of each scenario
 */
export async function main(pairs = 200_000): Promise<CensusResult[]> {
  const out: CensusResult[] = [];
  out.push(await census('disjoint', 1, pairs));
  for (const sc of ['disjoint', 'shared', 'separate'] as const)
    out.push(await census(sc, 2, pairs));
  console.log(
    `\nAtomic census of alloc+free (up to ${pairs} counted pairs per CPU after as many warm ones; with 2 CPUs, counted only while both run)`,
  );
  for (const r of out) {
    const kinds = Object.entries(r.perPair)
      .filter(([, v]) => v >= 0.0005)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v.toFixed(3)}`)
      .join(', ');
    console.log(
      `  ${r.scenario}, ${r.cpus} CPU${r.cpus > 1 ? 's' : ''}: ${r.totalPerPair.toFixed(2)} atomics/pair (${kinds}); failed CAS ${r.casFailsPerPair.toFixed(3)}/pair${r.cpus > 1 ? `; ran together ${(100 * r.overlap).toFixed(0)}% of the time` : ''}`,
    );
    for (const l of r.sharedLines.slice(0, 8))
      console.log(
        `      written by both CPUs: ${l.region} [${l.line}] ${l.writesPerPair.toFixed(3)} writes/pair`,
      );
    if (r.cpus > 1 && r.sharedLines.length === 0) console.log('      no line written by both CPUs');
    for (const l of r.readSharedLines.slice(0, 8))
      console.log(
        `      read by one CPU, written by the other: ${l.region} [${l.line}] ${l.loadsPerPair.toFixed(3)} loads/pair, ${l.writesPerPair.toFixed(3)} writes/pair`,
      );
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = Number(process.argv[2] ?? 200_000);
  await main(Number.isInteger(n) && n > 0 ? n : 200_000);
}
