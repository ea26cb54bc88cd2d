#!/usr/bin/env node
/**
 * `npm run torture -- --seconds S --readers R --writers W [--broken MODE] [--seed N]`
 *
 * Thin: parse, validate, run, print, exit. Exit 0: SUCCESS (or, with --broken, the breakage
 * was caught). Exit 1: FAILURE (or a broken mode went unnoticed). Exit 2: bad usage, refused
 * before the run. Exit 3: an internal error (EXIT in ../options.ts).
 */
import type { RcuFlavor } from '../../src/core/rcu/rcu.js';
import { randomSeed } from '../../src/workers/prng.js';
import { exitCodeOf, interruptOnSignals } from '../interrupt.js';
import {
  EXIT,
  exitCodeHelp,
  formatHelp,
  isEntryPoint,
  type OptionSpec,
  packageVersion,
  parseOptions,
  runCli,
  UsageError,
} from '../options.js';
import {
  BROKEN_MODES,
  type BrokenMode,
  brokenModeProblem,
  formatTortureReport,
  runTorture,
  TORTURE_DEFAULTS,
} from './run.js';

const D = TORTURE_DEFAULTS;
export const TORTURE_OPTIONS: readonly OptionSpec[] = [
  { name: 'seconds', kind: 'int', min: 1, max: 86_400, default: D.seconds, help: 'run length' },
  {
    name: 'readers',
    kind: 'int',
    min: 1,
    max: 256,
    default: D.readers,
    help: 'reader threads (more than cores oversubscribes)',
  },
  { name: 'writers', kind: 'int', min: 1, max: 64, default: D.writers, help: 'writer threads' },
  {
    name: 'fake-writers',
    kind: 'int',
    min: 0,
    max: 64,
    default: D.fakeWriters,
    help: 'threads calling synchronize/barrier/pollState at random',
  },
  {
    name: 'broken',
    kind: 'choice',
    choices: BROKEN_MODES,
    help: 'run a deliberately broken variant; exit 0 only if it is caught',
  },
  {
    name: 'flavor',
    kind: 'choice',
    choices: ['marks', 'mb', 'qsbr'] as const,
    default: D.flavor,
    help: "the RCU flavor under test: 'marks' (the default), 'mb' (liburcu-mb phase flips) or 'qsbr' (quiescent states)",
  },
  {
    name: 'seed',
    kind: 'int',
    min: 0,
    max: 2 ** 31 - 1,
    help: 'PRNG seed (default: random, printed)',
  },
  {
    name: 'kill-every',
    kind: 'int',
    min: 0,
    max: 3_600_000,
    default: D.killEveryMs,
    help: 'ms between kills (a reader mid-section, or 1 in 3 a fake writer leading a grace period); 0 = none',
  },
  {
    name: 'stutter-every',
    kind: 'int',
    min: 0,
    max: 3_600_000,
    default: D.stutterEveryMs,
    help: 'ms between stutters (all threads pause); 0 = none',
  },
  {
    name: 'stutter-for',
    kind: 'int',
    min: 1,
    max: 60_000,
    default: D.stutterForMs,
    help: 'ms each stutter lasts',
  },
  {
    name: 'json',
    kind: 'boolean',
    default: false,
    help: 'print the report as one JSON document on stdout',
  },
  { name: 'quiet', kind: 'boolean', default: false, help: 'no progress lines on stderr' },
];

const USAGE =
  'usage: ioasid-stress torture [options]\n\n' +
  'Tortures the RCU: writers publish and retire records, readers check their age (Reader Pipe)\n' +
  'and the grace periods they saw end (Reader Batch); any count in bucket 2 or above is FAILURE.';

const EXIT_CODES = exitCodeHelp(
  'VERDICT: SUCCESS; with --broken: the breakage was caught',
  'VERDICT: FAILURE; with --broken: the breakage went unnoticed',
);

export async function main(argv: string[]): Promise<number> {
  const o = parseOptions(TORTURE_OPTIONS, argv);
  if (o.help) {
    console.log(formatHelp(USAGE, TORTURE_OPTIONS, EXIT_CODES));
    return EXIT.pass;
  }
  if (o.version) {
    console.log(packageVersion());
    return EXIT.pass;
  }
  const seed = (o.seed as number | undefined) ?? randomSeed();
  const broken = (o.broken as BrokenMode | undefined) ?? null;
  const problem = brokenModeProblem(broken, o.flavor as RcuFlavor);
  if (problem) throw new UsageError(problem);
  const quiet = o.quiet === true;
  if (!quiet)
    console.error(
      `torture: seed ${seed} (replay with --seed ${seed})${broken ? `, broken=${broken}` : ''}`,
    );
  const interrupt = interruptOnSignals();
  const report = await runTorture({
    ...TORTURE_DEFAULTS,
    seconds: o.seconds as number,
    readers: o.readers as number,
    writers: o.writers as number,
    fakeWriters: o['fake-writers'] as number,
    killEveryMs: o['kill-every'] as number,
    stutterEveryMs: o['stutter-every'] as number,
    stutterForMs: o['stutter-for'] as number,
    broken,
    flavor: o.flavor as RcuFlavor,
    seed,
    onProgress: quiet ? undefined : (line) => console.error(line),
    signal: interrupt.signal,
  });
  interrupt.dispose();
  if (o.json) console.log(JSON.stringify(report, null, 2));
  else console.log(formatTortureReport(report));
  // A run that failed only for doing too little work caught nothing.
  const caught = report.verdict === 'FAILURE' && report.workShortfall === null;
  if (report.interrupted) return exitCodeOf(report);
  if (broken) {
    console.error(
      caught
        ? `broken mode '${broken}' was caught, as it must be`
        : report.workShortfall
          ? `!!! broken mode '${broken}' was NOT caught: ${report.workShortfall}`
          : `!!! broken mode '${broken}' was NOT caught: the harness cannot see this bug`,
    );
    return caught ? EXIT.pass : EXIT.violation;
  }
  return caught ? EXIT.violation : EXIT.pass;
}

if (isEntryPoint(import.meta.url)) await runCli(main, process.argv.slice(2));
