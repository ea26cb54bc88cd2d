/**
 * `npm run bench`: every benchmark, each printing ratios against baselines from this run.
 *
 * - bench/rcu.ts and bench/ioasid.ts (their own tables, printed by their `main`);
 * - bench/notifier.ts: alloc+free and find with 0, 1 and 4 subscribers on the set's chain,
 *   against the library as it was before notifier chains (built from git in the same run);
 * - the issue-4 comparison (bench/scaling.ts + bench/comparison.ts): this project against
 *   the raw-CAS limit, a postMessage allocator and a mutex allocator, at 1, 2 and 4 CPUs;
 * - the hardware model (bench/hw-model.ts): ENQCMD submissions and bind+unbind pairs per
 *   second at 1, 2 and 4 CPU workers, with the checker against without it;
 * - the VMs (bench/hw-vm.ts): vcmd alloc+free round trips against the host space's own
 *   alloc+free, guest ENQCMD against host ENQCMD.
 *
 * `--json` prints exactly one JSON document to stdout with every figure; tables and progress
 * go to stderr. `npm run bench -- --help` lists the flags. Exit 0: ran (a missed target is a
 * figure, not a failure); 2: bad flags or a crash.
 */
import { availableParallelism } from 'node:os';
import { format, parseArgs } from 'node:util';
import { compare, renderComparison, targets } from './comparison.js';
import { measureHwModel, printHwModel } from './hw-model.js';
import { measureHwVm, printHwVm } from './hw-vm.js';
import { main as ioasid } from './ioasid.js';
import { main as notifier } from './notifier.js';
import { main as rcu } from './rcu.js';
import { measureScaling } from './scaling.js';

const PARTS = ['rcu', 'ioasid', 'notifier', 'scaling', 'hw-model', 'hw-vm'] as const;
type Part = (typeof PARTS)[number];

/** The one option table: parser config and --help both come from it. */
const OPTIONS = {
  json: { type: 'boolean', default: false, help: 'print one JSON document to stdout' },
  ms: { type: 'string', default: '300', help: 'run time of each scaling sample, ms (10..10000)' },
  reps: {
    type: 'string',
    default: '5',
    help: 'scaling samples per figure; the median is kept (1..15)',
  },
  cpus: {
    type: 'string',
    default: '1,2,4',
    help: 'worker counts for the scaling bench (1..64 each)',
  },
  filter: {
    type: 'string',
    default: '',
    help: "scaling scenarios whose name contains this, e.g. 'project find' ('' = all)",
  },
  only: { type: 'string', default: PARTS.join(','), help: `parts to run, from ${PARTS.join(',')}` },
  help: { type: 'boolean', default: false, help: 'show this help' },
} as const;

function helpText(): string {
  const rows = Object.entries(OPTIONS).map(
    ([k, o]) => `  --${k.padEnd(6)} ${o.help} (default: ${String(o.default)})`,
  );
  return ['Usage: npm run bench -- [options]', ...rows].join('\n');
}

class UsageError extends Error {}

function intIn(name: string, s: string, lo: number, hi: number): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < lo || n > hi)
    throw new UsageError(`--${name} must be an integer in ${lo}..${hi}, got '${s}'`);
  return n;
}

function parse(argv: string[]) {
  let v: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; args: string[] }>>['values'];
  try {
    v = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const only = v.only.split(',');
  for (const p of only)
    if (!(PARTS as readonly string[]).includes(p))
      throw new UsageError(`--only: unknown part '${p}' (parts: ${PARTS.join(', ')})`);
  return {
    json: v.json,
    help: v.help,
    ms: intIn('ms', v.ms, 10, 10_000),
    reps: intIn('reps', v.reps, 1, 15),
    cpus: v.cpus.split(',').map((c) => intIn('cpus', c, 1, 64)),
    filter: v.filter,
    only: new Set(only as Part[]),
  };
}

/** Run `fn` with console.log redirected to `echo`; returns the lines it printed. */
async function capture(fn: () => Promise<void>, echo: (s: string) => void): Promise<string[]> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => {
    const s = format(...args);
    lines.push(...s.split('\n'));
    echo(s);
  };
  try {
    await fn();
  } finally {
    console.log = log;
  }
  return lines;
}

async function run(argv: string[]): Promise<void> {
  const o = parse(argv);
  if (o.help) {
    console.log(helpText());
    return;
  }
  // With --json, stdout carries the JSON document only.
  // Writes straight to the stream: console.log is redirected while rcu/ioasid run.
  const stream = o.json ? process.stderr : process.stdout;
  const out = (s: string) => stream.write(`${s}\n`);
  const meta = {
    node: process.version,
    cpus: availableParallelism(),
    date: new Date().toISOString(),
    ms: o.ms,
    reps: o.reps,
    cpuCounts: o.cpus,
  };
  out(`ioasid bench: node ${meta.node}, ${meta.cpus} CPUs`);
  const doc: Record<string, unknown> = { meta };
  // rcu.ts and ioasid.ts print their own tables; their lines go into the JSON as text.
  if (o.only.has('rcu')) doc.rcu = { lines: await capture(rcu, out) };
  if (o.only.has('ioasid')) {
    out('');
    doc.ioasid = { lines: await capture(ioasid, out) };
  }
  if (o.only.has('notifier')) {
    out('');
    doc.notifier = { lines: await capture(notifier, out) };
  }
  if (o.only.has('scaling')) {
    out('\nScaling bench (progress):');
    const measurements = await measureScaling({
      cpus: o.cpus,
      ms: o.ms,
      reps: o.reps,
      filter: o.filter,
      log: (s) => process.stderr.write(`${s}\n`),
    });
    const rows = compare(measurements);
    const ts = targets(rows);
    for (const l of renderComparison(rows, ts, o)) out(l);
    doc.scaling = { measurements, comparison: rows, targets: ts };
  }
  if (o.only.has('hw-model')) {
    out('\nHardware-model bench (progress):');
    const rows = await measureHwModel({
      cpus: o.cpus,
      ms: o.ms,
      reps: Math.min(o.reps, 3),
      log: (s) => process.stderr.write(`${s}\n`),
    });
    doc.hwModel = { rows, lines: await capture(async () => printHwModel(rows), out) };
  }
  if (o.only.has('hw-vm')) {
    const rows = measureHwVm({ ms: Math.max(100, Math.min(o.ms, 500)), rounds: 4 });
    doc.hwVm = { rows, lines: await capture(async () => printHwVm(rows), out) };
  }
  if (o.json) process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
}

try {
  await run(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError) {
    console.error(`bench: ${e.message}\n${helpText()}`);
    process.exitCode = 2;
  } else {
    // A crash: print it and exit 2 (a rethrow would exit 1).
    console.error(e);
    process.exitCode = 2;
  }
}
