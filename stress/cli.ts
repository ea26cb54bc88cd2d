#!/usr/bin/env node
/**
 * `ioasid-stress [options]` runs a stress scenario; `ioasid-stress torture [options]` runs the
 * RCU torture test. Thin: parse, validate, call runStress(), render, exit.
 * Exit codes (EXIT in options.ts): 0 every invariant held; 1 an invariant was violated (named
 * in the report); 2 bad usage or configuration, refused before the run; 3 an internal error.
 * The `ioasid-stress` bin is bin.ts; running this file directly (node dist/stress/cli.js) works too.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { RcuFlavor } from '../src/core/rcu/rcu.js';
import { MODEL_SCENARIO_NAMES, MODEL_SCENARIOS } from '../src/hw-model/scenarios.js';
import { randomSeed } from '../src/workers/prng.js';
import { BROKEN_TWIN_NAMES } from './broken-twins.js';
import { exitCodeOf, interruptOnSignals } from './interrupt.js';
import {
  FAULT_CHOICES,
  isModelScenario,
  MUTATION_NAMES,
  modelConfigFrom,
  refuseModelFaults,
  refuseModelFlags,
  runModelScenario,
} from './model.js';
import { buildModelReport, formatModelReport } from './model-report.js';
import { renderModelHtml } from './model-report-html.js';
import { OP_NAMES, type OpName } from './ops/index.js';
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
} from './options.js';
import { createProgress } from './progress.js';
import { formatStressReport } from './report.js';
import { renderHtmlReport } from './report-html.js';
import { checkConfig, runStress, type StressConfig } from './run-stress.js';
import { type Fault, mixOf, SCENARIOS } from './scenarios.js';
import { main as tortureMain } from './torture/cli.js';

const FROM_SCENARIO = 'from the scenario';
export const STRESS_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'scenario',
    kind: 'choice',
    choices: [...Object.keys(SCENARIOS), ...MODEL_SCENARIO_NAMES],
    default: 'default',
    help: 'built-in scenario (the allocator alone, or the hardware model)',
  },
  {
    name: 'cpus',
    kind: 'int',
    min: 1,
    max: 64,
    help: `CPU worker threads (default: ${FROM_SCENARIO})`,
  },
  {
    name: 'seconds',
    kind: 'int',
    min: 1,
    max: 86_400,
    help: `run length (default: ${FROM_SCENARIO})`,
  },
  {
    name: 'mix',
    kind: 'weights',
    choices: OP_NAMES,
    min: 0,
    // The weights' sum must stay below 2^32 for the CPUs' weighted pick (Prng.below).
    max: 1_000_000,
    help: `operation weights, e.g. alloc=40,free=30,find=30, unnamed ops 0 (default: ${FROM_SCENARIO})`,
  },
  { name: 'sets', kind: 'int', min: 1, max: 4096, help: `shared sets (default: ${FROM_SCENARIO})` },
  {
    name: 'quota',
    kind: 'int',
    min: 1,
    max: 2 ** 20,
    help: `quota of each shared set (default: ${FROM_SCENARIO})`,
  },
  {
    name: 'pasid-bits',
    kind: 'int',
    min: 2,
    max: 20,
    help: `PASID width; ids are 1..2^bits-1 (default: ${FROM_SCENARIO})`,
  },
  {
    name: 'policy',
    kind: 'choice',
    choices: ['lowest', 'cyclic'],
    help: `allocation policy (default: ${FROM_SCENARIO})`,
  },
  {
    name: 'seed',
    kind: 'int',
    min: 0,
    max: 2 ** 31 - 1,
    help: 'PRNG seed (default: random, printed)',
  },
  {
    name: 'subscribers',
    kind: 'int',
    min: 0,
    max: 8,
    help: `how many of the CPUs are subscriber CPUs: they read notifier chains the harness subscribes to (global and set chains, four priorities) and check the event streams (default: ${FROM_SCENARIO})`,
  },
  {
    name: 'custom-allocator',
    kind: 'boolean',
    help: "allocate through a custom allocator group ('stress-host') backed by a hypervisor thread answering over a shared-memory mailbox; every op CPU registers its own member (default: from the scenario)",
  },
  {
    name: 'fault',
    kind: 'list',
    choices: FAULT_CHOICES,
    help: "inject faults (adds to the scenario's own): kill-cpu, stutter, oversubscribe; model scenarios with VMs, on threads only, also kill-vcpu (a guest's vCPU thread) and kill-vmm (the VMMs' thread): the VM is destroyed as a crash and boots again",
  },
  {
    name: 'rcu',
    kind: 'choice',
    choices: ['marks', 'mb', 'qsbr'],
    help: "the space's RCU flavor (default: marks); with qsbr the CPU loops announce a quiescent state after every operation and go offline while parked",
  },
  { name: 'json', kind: 'output', stdout: true, help: 'write the report as JSON to FILE' },
  { name: 'report', kind: 'output', help: 'write a self-contained HTML report to FILE' },
  {
    name: 'broken',
    kind: 'choice',
    choices: BROKEN_TWIN_NAMES,
    help: "run a broken twin of one invariant's mechanism (the run must catch it: exit 1; a scenario that cannot catch it exits 2)",
  },
  {
    name: 'mutation',
    kind: 'choice',
    choices: MUTATION_NAMES,
    help: 'model scenarios: a deliberately broken driver the checker must catch (exit 1, the invariant named)',
  },
  {
    name: 'deterministic',
    kind: 'boolean',
    help: 'model scenarios: every actor in one thread under a seeded scheduler (replays exactly)',
  },
  {
    name: 'steps',
    kind: 'int',
    min: 1,
    max: 2 ** 31 - 1,
    help: 'model scenarios, --deterministic: stop the busy part after this many scheduler steps',
  },
  { name: 'quiet', kind: 'boolean', default: false, help: 'no progress output' },
];

const USAGE = [
  'usage: ioasid-stress [options]            stress the allocator on CPU worker threads',
  '       ioasid-stress torture [options]    torture the RCU (see ioasid-stress torture --help)',
  '',
  'Scenarios:',
  ...Object.entries(SCENARIOS).map(
    ([name, s]) => `  ${name.padEnd(14)}${s.description} (${s.cpus} CPUs, ${s.seconds} s)`,
  ),
  '',
  'Hardware-model scenarios (the VT-d host of iommu-hw-model.md §7 around the allocator):',
  ...Object.entries(MODEL_SCENARIOS).map(
    ([name, s]) => `  ${name.padEnd(14)}${s.description} (${s.cpus} CPUs, ${s.seconds} s)`,
  ),
].join('\n');

const EXIT_CODES = exitCodeHelp(
  'every invariant held (VERDICT: PASS)',
  'an invariant was violated (VERDICT: FAIL, the violation named in the report)',
);

/** Turn parsed flags into a complete, validated StressConfig. Throws UsageError. */
export function configFrom(o: ReturnType<typeof parseOptions>): StressConfig {
  const name = o.scenario as string;
  const s = SCENARIOS[name]!;
  const mix = o.mix === undefined ? s.mix : mixOf(o.mix as Partial<Record<OpName, number>>);
  if (mix.every((w) => w === 0)) throw new UsageError('--mix needs at least one positive weight');
  const faults = [...new Set<Fault>([...s.faults, ...((o.fault as Fault[] | undefined) ?? [])])];
  let cpus = (o.cpus as number | undefined) ?? s.cpus;
  if (faults.includes('oversubscribe')) cpus = Math.max(cpus, 4 * availableParallelism());
  const config: StressConfig = {
    scenario: name,
    cpus,
    seconds: (o.seconds as number | undefined) ?? s.seconds,
    mix,
    sets: (o.sets as number | undefined) ?? s.sets,
    quota: (o.quota as number | undefined) ?? s.quota,
    pasidBits: (o['pasid-bits'] as number | undefined) ?? s.pasidBits,
    policy: (o.policy as StressConfig['policy'] | undefined) ?? s.policy,
    seed: (o.seed as number | undefined) ?? randomSeed(),
    faults,
    maxHeld: s.maxHeld,
    subscribers: (o.subscribers as number | undefined) ?? s.subscribers,
    customAllocator: o['custom-allocator'] === true || s.customAllocator,
    broken: o.broken as string | undefined,
    rcu: (o.rcu as RcuFlavor | undefined) ?? 'marks',
  };
  const problems = checkConfig(config);
  if (problems.length > 0) throw new UsageError(problems.join('; '));
  return config;
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'torture') return tortureMain(argv.slice(1));
  const o = parseOptions(STRESS_OPTIONS, argv);
  if (o.help) {
    console.log(formatHelp(USAGE, STRESS_OPTIONS, EXIT_CODES));
    return EXIT.pass;
  }
  if (o.version) {
    console.log(packageVersion());
    return EXIT.pass;
  }
  if (isModelScenario(o.scenario as string)) return modelMain(o);
  refuseModelFlags(o);
  refuseModelFaults(o);
  const config = configFrom(o);
  const quiet = o.quiet === true;
  if (!quiet)
    console.error(
      `ioasid-stress: scenario '${config.scenario}', seed ${config.seed} (replay with --seed ${config.seed})`,
    );
  const progress = createProgress(quiet ? 'quiet' : 'auto');
  const interrupt = interruptOnSignals();
  const report = await runStress(config, {
    onProgress: (s, f) => progress.update(s, f),
    signal: interrupt.signal,
  });
  progress.done();
  writeReports(o, formatStressReport(report), report, () => renderHtmlReport(report));
  interrupt.dispose();
  return exitCodeOf(report);
}

/**
 * Print the text report, write the JSON (to stdout with `--json -`: then stdout carries
 * exactly one JSON document and the text goes to stderr) and the HTML page (`--report`).
 */
function writeReports(
  o: ReturnType<typeof parseOptions>,
  text: string,
  report: object,
  html: () => string,
): void {
  const jsonTarget = o.json as string | undefined;
  if (jsonTarget === '-') {
    console.error(text);
    console.log(JSON.stringify(report, null, 2));
  } else {
    console.log(text);
    if (jsonTarget) writeFileSync(jsonTarget, `${JSON.stringify(report, null, 2)}\n`);
  }
  if (o.report) {
    writeFileSync(o.report as string, html());
    if (o.quiet !== true) console.error(`HTML report: ${o.report}`);
  }
}

/** A model scenario: run it, print the report (text, --json, --report), exit with its verdict. */
async function modelMain(o: ReturnType<typeof parseOptions>): Promise<number> {
  const seed = (o.seed as number | undefined) ?? randomSeed();
  const interrupt = interruptOnSignals();
  const { cfg, deterministic } = modelConfigFrom(o, seed, interrupt.signal);
  const quiet = o.quiet === true;
  if (!quiet)
    console.error(
      `ioasid-stress: model scenario '${cfg.scenario}' ${deterministic ? 'in one thread (deterministic)' : 'on worker threads'}, seed ${seed}${cfg.mutation ? `, mutation ${cfg.mutation}` : ''}`,
    );
  const result = await runModelScenario(cfg, deterministic);
  interrupt.dispose();
  const report = buildModelReport(cfg, result);
  writeReports(o, formatModelReport(report, result), report, () => renderModelHtml(report));
  return exitCodeOf(report);
}

if (isEntryPoint(import.meta.url)) await runCli(main, process.argv.slice(2));
