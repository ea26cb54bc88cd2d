/**
 * RCU costs: the read-side pair of each flavor against the raw Atomics it is made of, the
 * qsbr flavor's quiescent state, and synchronize() latency with 0, 1 and 4 reader threads
 * shaped like liburcu's urcu-bench readers (a section loads the published pointer and does 16
 * dependent multiply-adds on the object it names, then 512 outside it:
 * bench/rcu-reader-worker.ts), from an unregistered updater on the main thread that flips
 * the pointer before each call, as urcu-bench measures it.
 *
 * With the liburcu anchor (bench/urcu.ts, `npm run bench -- --with-urcu`), the same figures of
 * liburcu's mb and memb flavors are printed beside ours and two targets of issue 13 are judged:
 * synchronize with readers (1 and 4), median <= liburcu-mb's; the qsbr read pair <= 3x
 * liburcu-memb's inline pair. Latency samples time one call each, so each includes one clock
 * read: ours (process.hrtime.bigint) costs more than C's clock_gettime, so both medians are
 * also shown less their own clock's cost, measured in this run, and the targets compare those.
 */
import { Worker } from 'node:worker_threads';
import { Rcu, type RcuFlavor } from '../src/core/rcu/rcu.js';
import { workerModuleUrl } from '../src/workers/worker-url.js';
import { type BenchRow, consume, median, nsPerOp, percentile, printTable } from './harness.js';
import type { PairFigures } from './rcu-pair-worker.js';
import { fmtFigure, notJudged, renderTargets, type Target, target } from './targets.js';
import type { UrcuOutcome, UrcuResult } from './urcu.js';

const N = 5_000_000;
/** Reader counts of the synchronize figures (urcu-bench's r0, r1, r4). */
const READER_COUNTS = [0, 1, 4] as const;
/** Calls per synchronize figure, or its time budget, whichever ends first (urcu-bench's). */
const SYNC_CALLS = 20_000;
const SYNC_BUDGET_MS = 1500;
/**
 * Untimed calls first. urcu-bench makes 50 (its code is compiled ahead of time); ours must
 * first reach V8's optimizing tier, which takes a few thousand calls: with 50, the first
 * figure of a run (marks, no reader) timed mostly interpreted code, 2x the later ones. Also
 * bounded in time: qsbr grace periods with 4 oversubscribed readers take milliseconds each.
 */
const SYNC_WARMUP = 20_000;
const SYNC_WARMUP_MS = 300;
const FLAVORS: readonly RcuFlavor[] = ['marks', 'mb', 'qsbr'];
/** Words of each object the readers read (urcu-bench's `struct obj`: 8 values). */
const OBJECT_WORDS = 8;

/** A synchronize() latency distribution: raw per-call samples, and less the clock's cost. */
export interface SyncLatency {
  readers: number;
  n: number;
  medianNs: number;
  p99Ns: number;
  /** The median less one clock read (hrtime.bigint), measured in the same run. */
  medianLessClockNs: number;
}

/** Everything bench/rcu.ts measures, for the JSON document. */
export interface RcuBenchResult {
  rows: BenchRow[];
  pairs: Record<RcuFlavor, PairFigures>;
  /** synchronize latency per flavor, per reader count. */
  sync: Record<RcuFlavor, SyncLatency[]>;
  /** Cost of one process.hrtime.bigint() read, ns (median of back-to-back pairs). */
  clockNs: number;
  /**
   * The same cost estimated as urcu-bench estimates clock_gettime's (the mean over 10^6
   * back-to-back reads), shown beside the anchor's for comparison.
   */
  clockMeanNs: number;
  targets: Target[];
}

/** The limits: what one Atomics.load and one load+compareExchange cost here, now. */
export function measureAtomicsLimits(): { load: number; loadCas: number; rawPair: number } {
  const w = new Int32Array(new SharedArrayBuffer(256));
  const load = nsPerOp((n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += Atomics.load(w, 3);
    consume(s);
  }, N);
  const loadCas = nsPerOp((n) => {
    for (let i = 0; i < n; i++) {
      const v = Atomics.load(w, 5);
      Atomics.compareExchange(w, 5, v, (v + 1) | 0);
    }
  }, N);
  // What the marks read-side pair must do at least: store a mark into the slot, exchange it
  // for 0 and test the old value's WAIT bit.
  const rawPair = nsPerOp((n) => {
    for (let i = 0; i < n; i++) {
      Atomics.store(w, 32, (i << 1) | 1);
      if ((Atomics.exchange(w, 32, 0) & 0x40000000) !== 0) consume(1);
    }
  }, N);
  return { load, loadCas, rawPair };
}

/** One flavor's read-side figures, measured in a worker of its own (rcu-pair-worker.ts). */
function measurePairs(flavor: RcuFlavor): Promise<PairFigures> {
  const url = workerModuleUrl(import.meta.url, './rcu-pair-worker.js');
  const w = new Worker(url, { workerData: { flavor, iterations: N } });
  return new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
}

/**
 * Cost of one process.hrtime.bigint() read: the median of back-to-back pairs (what the
 * medians lose), and the mean over 10^6 back-to-back reads, urcu-bench.c's estimate of
 * clock_gettime (`clock_overhead_ns`). On a quiet machine the two agree. On a loaded one the
 * mean also counts the loop's preemptions (126 ns for a 40 ns read, 84 ns for a ~21 ns one,
 * at load average 29): subtracting a mean from both sides gave negative figures, so ours
 * subtracts the median. The anchor's mean then lowers the anchor's figure only, which makes
 * the target harder for us on a loaded machine, never easier.
 * @returns [median ns of back-to-back pairs, mean ns per read]
 */
function clockCost(): [pairMedian: number, mean: number] {
  const n = 1_000_000;
  let last = 0n;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) last = process.hrtime.bigint();
  const mean = Number(last - t0) / n;
  const xs: number[] = [];
  for (let i = 0; i < 50_000; i++) {
    const p0 = process.hrtime.bigint();
    xs.push(Number(process.hrtime.bigint() - p0));
  }
  return [median(xs), mean];
}

/** The readers' shared data: two immutable objects and the word that publishes one of them. */
interface Published {
  objects: SharedArrayBuffer;
  pointer: Int32Array<SharedArrayBuffer>;
}

/** urcu-bench's two objects ({1..8} and {8..1}), written before any reader starts. */
function publishedObjects(): Published {
  const objects = new Int32Array(new SharedArrayBuffer(2 * OBJECT_WORDS * 4));
  for (let k = 0; k < OBJECT_WORDS; k++) {
    objects[k] = k + 1; // plain: no other thread has the buffer yet
    objects[OBJECT_WORDS + k] = OBJECT_WORDS - k;
  }
  return { objects: objects.buffer, pointer: new Int32Array(new SharedArrayBuffer(4)) };
}

/** synchronize() latency on `rcu` from this (unregistered) thread: per-call samples, ns. */
function syncSamples(rcu: Rcu, pointer: Int32Array<SharedArrayBuffer>): number[] {
  const warm = performance.now() + SYNC_WARMUP_MS;
  for (let i = 0; i < SYNC_WARMUP && performance.now() < warm; i++) rcu.synchronize();
  const xs: number[] = [];
  const end = performance.now() + SYNC_BUDGET_MS;
  for (let i = 0; i < SYNC_CALLS && performance.now() < end; i++) {
    Atomics.store(pointer, 0, (i + 1) & 1); // publish, then wait for readers (as urcu-bench does)
    const t0 = process.hrtime.bigint();
    rcu.synchronize();
    xs.push(Number(process.hrtime.bigint() - t0));
  }
  return xs;
}

/** Start `count` urcu-bench-shaped readers of `rcu`, run `body`, stop them. */
async function withReaders<T>(rcu: Rcu, data: Published, count: number, body: () => T): Promise<T> {
  const ctrl = new Int32Array(new SharedArrayBuffer(64));
  const url = workerModuleUrl(import.meta.url, './rcu-reader-worker.js');
  const workers = Array.from(
    { length: count },
    () =>
      new Worker(url, {
        workerData: {
          handle: rcu.handle,
          ctrl: ctrl.buffer,
          objects: data.objects,
          pointer: data.pointer.buffer,
        },
      }),
  );
  while (Atomics.load(ctrl, 1) < count) await new Promise((r) => setTimeout(r, 5));
  try {
    return body();
  } finally {
    Atomics.store(ctrl, 0, 1);
    await Promise.all(workers.map((w) => new Promise((r) => w.once('exit', r))));
  }
}

async function measureSync(flavor: RcuFlavor, clockNs: number): Promise<SyncLatency[]> {
  const out: SyncLatency[] = [];
  for (const readers of READER_COUNTS) {
    const rcu = Rcu.create({ maxThreads: 8, flavor });
    const data = publishedObjects();
    const xs = await withReaders(rcu, data, readers, () => syncSamples(rcu, data.pointer));
    const m = median(xs);
    out.push({
      readers,
      n: xs.length,
      medianNs: m,
      p99Ns: percentile(xs, 99),
      medianLessClockNs: m - clockNs,
    });
  }
  return out;
}

/**
 * Measure everything; judge the liburcu targets when `urcu` has figures.
 *
 * Context: main thread; starts worker threads; takes about 15 s.
 * @returns the rows of the table, the figures, and the targets
 */
export async function benchRcu(urcu?: UrcuOutcome): Promise<RcuBenchResult> {
  const { load, loadCas, rawPair } = measureAtomicsLimits();
  const pairs = {} as Record<RcuFlavor, PairFigures>;
  for (const f of FLAVORS) pairs[f] = await measurePairs(f);
  const [clockNs, clockMeanNs] = clockCost();
  const sync = {} as Record<RcuFlavor, SyncLatency[]>;
  for (const f of FLAVORS) sync[f] = await measureSync(f, clockNs);

  const rows: BenchRow[] = [
    { name: 'Atomics.load', value: load, unit: 'ns', ratio: '(limit)' },
    { name: 'load + compareExchange', value: loadCas, unit: 'ns', ratio: '(limit)' },
    { name: 'raw pair (store + exchange)', value: rawPair, unit: 'ns', ratio: '(limit of marks)' },
    {
      name: 'readLock + readUnlock, marks',
      value: pairs.marks.pair,
      unit: 'ns',
      ratio: `${(pairs.marks.pair / rawPair).toFixed(2)}x raw pair, ${(pairs.marks.pair / loadCas).toFixed(2)}x load+CAS`,
    },
    {
      name: 'readLock + readUnlock, mb',
      value: pairs.mb.pair,
      unit: 'ns',
      ratio: `${(pairs.mb.pair / pairs.marks.pair).toFixed(2)}x the marks pair`,
    },
    {
      name: 'readLock + readUnlock, qsbr',
      value: pairs.qsbr.pair,
      unit: 'ns',
      ratio: `loop with a trivial body: ${pairs.qsbr.emptyLoop.toFixed(2)} ns`,
    },
    {
      name: 'quiescentState(), qsbr',
      value: pairs.qsbr.quiescentState,
      unit: 'ns',
      ratio: `${(pairs.qsbr.quiescentState / load).toFixed(2)}x one Atomics.load`,
    },
  ];
  for (const f of FLAVORS)
    for (const s of sync[f])
      rows.push({
        name: `synchronize, ${s.readers} reader${s.readers === 1 ? '' : 's'}, ${f}: median / p99`,
        value: s.medianNs,
        unit: 'ns',
        ratio: `p99 ${s.p99Ns.toFixed(0)} ns; less one clock read: ${s.medianLessClockNs.toFixed(0)} ns (n=${s.n})`,
      });
  return {
    rows,
    pairs,
    sync,
    clockNs,
    clockMeanNs,
    targets: rcuTargets(pairs, sync, clockNs, urcu),
  };
}

/** Issue 13's RCU targets against the liburcu anchor (not judged without it). */
function rcuTargets(
  pairs: Record<RcuFlavor, PairFigures>,
  sync: Record<RcuFlavor, SyncLatency[]>,
  clockNs: number,
  urcu: UrcuOutcome | undefined,
): Target[] {
  const names = {
    r1: 'synchronize, 1 reader: median less clock, marks vs liburcu-mb',
    r4: 'synchronize, 4 readers: median less clock, marks vs liburcu-mb',
    qsbr: 'qsbr readLock+readUnlock vs 3x liburcu-memb inline pair',
  };
  if (urcu === undefined || 'skipped' in urcu) {
    const why = urcu === undefined ? 'run with --with-urcu' : `no liburcu figures: ${urcu.skipped}`;
    return [
      notJudged(names.r1, 'ns', '<=', Number.NaN, why),
      notJudged(names.r4, 'ns', '<=', Number.NaN, why),
      notJudged(names.qsbr, 'ns', '<=', Number.NaN, why),
    ];
  }
  const c = urcu.result;
  const ours = (readers: number) => sync.marks.find((s) => s.readers === readers)!;
  const theirs = (r: 'r1' | 'r4') => c.flavors.mb.sync_ns[r].median - c.clock_gettime_ns;
  const from = (readers: number, r: 'r1' | 'r4') =>
    `JS median ${ours(readers).medianNs.toFixed(0)} - clock ${clockNs.toFixed(0)} ns; ` +
    `liburcu-mb median ${c.flavors.mb.sync_ns[r].median} - clock ${c.clock_gettime_ns} ns`;
  const out = [
    target(names.r1, ours(1).medianLessClockNs, 'ns', '<=', theirs('r1'), from(1, 'r1')),
    target(names.r4, ours(4).medianLessClockNs, 'ns', '<=', theirs('r4'), from(4, 'r4')),
  ];
  const memb = c.flavors.memb?.read_pair_ns.inline;
  out.push(
    memb === undefined
      ? notJudged(names.qsbr, 'ns', '<=', Number.NaN, 'liburcu anchor built without memb')
      : target(
          names.qsbr,
          pairs.qsbr.pair,
          'ns',
          '<=',
          3 * memb,
          `liburcu-memb inline pair ${memb} ns, same run`,
        ),
  );
  return out;
}

/**
 * Our figures beside liburcu's, as table lines.
 *
 * @param r - this run's RCU figures
 * @param c - liburcu's, from the same run
 *
 * Context: pure.
 * @returns the lines
 */
export function renderSideBySide(r: RcuBenchResult, c: UrcuResult): string[] {
  const rows: [string, string, string][] = [];
  rows.push([
    'read pair (lock + unlock)',
    `marks ${fmtFigure(r.pairs.marks.pair, 'ns')}, mb ${fmtFigure(r.pairs.mb.pair, 'ns')}, qsbr ${fmtFigure(r.pairs.qsbr.pair, 'ns')}`,
    `mb ${c.flavors.mb.read_pair_ns.inline} ns inline (${c.flavors.mb.read_pair_ns.lib} lib)` +
      (c.flavors.memb
        ? `, memb ${c.flavors.memb.read_pair_ns.inline} ns inline (${c.flavors.memb.read_pair_ns.lib} lib)`
        : ''),
  ]);
  const qsbr = c.flavors.qsbr;
  rows.push([
    'qsbr: read pair; quiescent state',
    `qsbr ${fmtFigure(r.pairs.qsbr.pair, 'ns')}; quiescentState() ${fmtFigure(r.pairs.qsbr.quiescentState, 'ns')}`,
    qsbr
      ? `qsbr ${qsbr.read_pair_ns.inline} ns inline (${qsbr.read_pair_ns.lib} lib)`
      : 'liburcu-qsbr: not measured by the anchor (urcu-bench.c runs mb and memb only)',
  ]);
  for (const [i, readers] of READER_COUNTS.entries()) {
    const key = (['r0', 'r1', 'r4'] as const)[i]!;
    const mine = (f: RcuFlavor) => r.sync[f].find((s) => s.readers === readers)!;
    const mb = c.flavors.mb.sync_ns[key];
    const memb = c.flavors.memb?.sync_ns[key];
    rows.push([
      `synchronize, ${readers} reader${readers === 1 ? '' : 's'}: median`,
      FLAVORS.map((f) => `${f} ${mine(f).medianNs.toFixed(0)}`).join(', ') + ' ns',
      `mb ${mb.median} ns` +
        (memb ? `, memb ${memb.median} ns` : '') +
        (qsbr ? `, qsbr ${qsbr.sync_ns[key].median} ns` : ''),
    ]);
    rows.push([
      `  the same less one clock read`,
      FLAVORS.map((f) => `${f} ${mine(f).medianLessClockNs.toFixed(0)}`).join(', ') + ' ns',
      `mb ${(mb.median - c.clock_gettime_ns).toFixed(0)} ns` +
        (memb ? `, memb ${(memb.median - c.clock_gettime_ns).toFixed(0)} ns` : '') +
        (qsbr ? `, qsbr ${(qsbr.sync_ns[key].median - c.clock_gettime_ns).toFixed(0)} ns` : ''),
    ]);
  }
  rows.push([
    'one clock read',
    `${r.clockNs.toFixed(0)} ns (hrtime.bigint, median of pairs; mean of 10^6: ${r.clockMeanNs.toFixed(0)} ns)`,
    `${c.clock_gettime_ns} ns (clock_gettime, mean of 10^6 back-to-back reads)`,
  ]);
  const w0 = Math.max(...rows.map((x) => x[0].length)) + 2;
  const w1 = Math.max(...rows.map((x) => x[1].length)) + 2;
  return [
    '',
    `Side by side with liburcu ${c.liburcu} (same run)`,
    `  ${'figure'.padEnd(w0)}${'this project (JS)'.padEnd(w1)}liburcu (C)`,
    ...rows.map(([a, b, d]) => `  ${a.padEnd(w0)}${b.padEnd(w1)}${d}`),
  ];
}

/**
 * Print the RCU table (and, with liburcu figures, the side-by-side rows and the targets).
 *
 * @param urcu - the liburcu anchor's outcome, if it was asked for
 *
 * Context: main thread; about 15 s.
 * @returns the figures and targets
 */
export async function main(urcu?: UrcuOutcome): Promise<RcuBenchResult> {
  const r = await benchRcu(urcu);
  printTable(
    'RCU (read pairs: each flavor in a worker of its own; synchronize from the main thread)',
    r.rows,
  );
  if (urcu && 'result' in urcu) for (const l of renderSideBySide(r, urcu.result)) console.log(l);
  for (const l of renderTargets('Targets (issue 13, RCU)', r.targets)) console.log(l);
  return r;
}
