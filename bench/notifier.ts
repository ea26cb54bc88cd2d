/**
 * Notifier bench: alloc+free pairs and find, on a space with 0, 1 and 4 subscribers on the
 * set's chain, each as a ratio to the same operation on the library as it was before notifier
 * chains existed ("today's figures"), measured in the same process, in the same run.
 *
 * The "before" library is built from git (BASELINE_REF, the last main without notifier chains;
 * IOASID_BASELINE_REF overrides it) into node_modules/.cache. Each figure is taken in a
 * worker of its own (bench/notifier-worker.ts: a fresh isolate, so no type feedback from the
 * other figures), in ABBA rounds against the "before" library in the same worker, and the
 * table reports the median of the per-round ratios (the machines are shared and noisy). With
 * subscribers, every alloc emits an ALLOC event; the subscribers' queues are drained between
 * timed chunks, untimed (the figure is the emitter's cost: log, distribution, queues).
 *
 * Target (issue 10): with no subscriber, alloc+free and find within 5% of today's figures.
 *
 * Run alone with `node dist/bench/notifier.js` (after `npm run build`), or through
 * `npm run bench -- --only notifier`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { NotifierBenchData, NotifierBenchResult } from './notifier-worker.js';

/**
 * The library without notifier chains: main as this branch last merged it (with issue 8's
 * core fixes and issue 11's hardware model, which changed alloc and free too). The
 * commit the notifier work started from (6c0ec3d) predates those, so a ratio against it
 * mixed their cost in.
 */
export const BASELINE_REF = '705b2ee5441266c19005350296284f0dd3df7cfe';
const ROUNDS = 41;
const TARGET = 1.05;

/** Build (once) the library as it was at `ref`: the path of its entry, or undefined. */
function buildBaseline(ref: string): string | undefined {
  try {
    const root = execFileSync('git', ['rev-parse', '--show-toplevel'], { encoding: 'utf8' }).trim();
    const hash = execFileSync('git', ['rev-parse', ref], { cwd: root, encoding: 'utf8' }).trim();
    const dir = join(root, 'node_modules', '.cache', `ioasid-baseline-${hash.slice(0, 12)}`);
    const entry = join(dir, 'dist', 'src', 'index.js');
    if (!existsSync(entry)) {
      mkdirSync(dir, { recursive: true });
      const tar = execFileSync('git', ['archive', '--format=tar', hash, 'src'], { cwd: root });
      execFileSync('tar', ['-x', '-C', dir], { input: tar });
      const ts = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8'));
      ts.include = ['src'];
      ts.compilerOptions.declaration = false;
      ts.compilerOptions.sourceMap = false;
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(ts));
      writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
      const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      execFileSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { stdio: 'inherit' });
    }
    return entry;
  } catch (e) {
    console.log(`notifier bench: no baseline build of ${ref} (${(e as Error).message})`);
    return undefined;
  }
}

/** One figure, in a worker of its own (a fresh isolate: no type feedback from the others). */
function figure(d: NotifierBenchData): Promise<NotifierBenchResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./notifier-worker.js', import.meta.url), { workerData: d });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

/** Print the notifier bench table. */
export async function main(): Promise<void> {
  const ref = process.env.IOASID_BASELINE_REF ?? BASELINE_REF;
  const baselineEntry = buildBaseline(ref);
  if (!baselineEntry) return;
  const results: NotifierBenchResult[] = [];
  for (const k of [0, 1, 4]) results.push(await figure({ baselineEntry, k, rounds: ROUNDS }));
  const pad = 46;
  const zero = results[0]!;
  const lines = [
    `${`notifier chains (median of ${ROUNDS} ABBA rounds)`.padEnd(pad)} ${'vs today'.padStart(9)}`,
    `  today = ${ref.slice(0, 8)}: alloc+free ${zero.todayPairNs.toFixed(1)} ns, find ${zero.todayFindNs.toFixed(1)} ns (loaded machine: ratios only)`,
  ];
  for (const r of results) {
    const sub = `${r.k} subscriber${r.k === 1 ? '' : 's'} on the set's chain`;
    lines.push(`${`alloc + free pair, ${sub}`.padEnd(pad)} ${r.pair.toFixed(3).padStart(8)}x`);
    lines.push(`${`find, ${sub}`.padEnd(pad)} ${r.find.toFixed(3).padStart(8)}x`);
  }
  const met = zero.pair <= TARGET && zero.find <= TARGET;
  lines.push(
    `target: no subscriber within 5% of today (<= ${TARGET}x): alloc+free ${zero.pair.toFixed(3)}x, find ${zero.find.toFixed(3)}x: ${met ? 'met' : 'missed'}`,
  );
  console.log(lines.join('\n'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
