/**
 * Every flag's rule lives in its option-table row: the parser refuses what breaks it with a
 * message naming the flag and the rule (exit 2, one line, before anything runs), and --help
 * prints the same rule. The cases are generated from the tables, so a flag added later is
 * covered without editing this file.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { STRESS_OPTIONS } from '../stress/cli.js';
import {
  formatHelp,
  type OptionSpec,
  packageVersion,
  parseOptions,
  UsageError,
} from '../stress/options.js';
import { TORTURE_OPTIONS } from '../stress/torture/cli.js';

const BIN = fileURLToPath(new URL('../dist/stress/bin.js', import.meta.url));
const run = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
const NINES = '9'.repeat(400);

/** The UsageError message parseOptions throws for `argv`, or a failure when it accepts it. */
function refusal(table: readonly OptionSpec[], argv: string[]): string {
  try {
    parseOptions(table, argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(argv)}`);
}

const TABLES = [
  ['ioasid-stress', STRESS_OPTIONS],
  ['ioasid-stress torture', TORTURE_OPTIONS],
] as const;

describe.each(TABLES)('%s: every integer flag', (_command, table) => {
  const ints = table.filter((o) => o.kind === 'int');
  it.each(
    ints.map((o) => [o.name, o] as const),
  )('--%s takes exactly the integers in its range, and says the rule otherwise', (name, o) => {
    if (o.kind !== 'int') throw new Error('unreachable');
    expect(parseOptions(table, [`--${name}`, String(o.min)])[name]).toBe(o.min);
    expect(parseOptions(table, [`--${name}=${o.max}`])[name]).toBe(o.max);
    const range = `[${o.min}, ${o.max}]`;
    for (const bad of [String(o.min - 1), String(o.max + 1), NINES, `-${NINES}`])
      expect(refusal(table, [`--${name}`, bad])).toContain(`--${name} must be in ${range}`);
    for (const bad of ['1.5', '0x10', '1e3', 'Infinity', 'NaN', '', ' 7', 'abc'])
      expect(refusal(table, [`--${name}=${bad}`])).toContain(
        `--${name} must be an integer in ${range}`,
      );
    expect(refusal(table, [`--${name}`])).toBe(`--${name} needs a value: an integer in ${range}`);
  });
});

describe('ioasid-stress: --mix', () => {
  it('takes op=weight pairs into a weight per named op', () => {
    expect(parseOptions(STRESS_OPTIONS, ['--mix', 'alloc=40,free=30, find=0']).mix).toEqual({
      alloc: 40,
      free: 30,
      find: 0,
    });
  });

  it.each([
    [`alloc=${NINES}`, 'weight an integer in [0, 1000000]'],
    ['alloc=1000001', 'weight an integer in [0, 1000000]'],
    ['alloc=-1', 'weight an integer in [0, 1000000]'],
    ['alloc=2.5', 'weight an integer in [0, 1000000]'],
    ['alloc=Infinity', 'weight an integer in [0, 1000000]'],
    ['constructor=1', 'op one of alloc, free'],
    ['alloc', 'op one of alloc, free'],
    ['alloc=1,', 'op one of alloc, free'],
    ['alloc=1,alloc=2', 'alloc is named twice'],
  ])('refuses %s, naming the rule', (mix, rule) => {
    const message = refusal(STRESS_OPTIONS, ['--mix', mix]);
    expect(message).toMatch(/^bad --mix entry '/);
    expect(message).toContain(rule);
    expect(message.length).toBeLessThan(300);
  });
});

describe('ioasid-stress: output files are checked before the run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ioasid-out-'));
  const aFile = join(dir, 'a-file');
  writeFileSync(aFile, 'x');
  mkdirSync(join(dir, 'sub'));

  it.each([
    'json',
    'report',
  ])('--%s takes a new or existing file in a directory that exists', (f) => {
    expect(parseOptions(STRESS_OPTIONS, [`--${f}`, join(dir, 'new.out')])[f]).toBe(
      join(dir, 'new.out'),
    );
    expect(parseOptions(STRESS_OPTIONS, [`--${f}`, aFile])[f]).toBe(aFile);
    expect(readFileSync(aFile, 'utf8')).toBe('x');
  });

  it.each([
    ['json', join(dir, 'sub'), 'is a directory'],
    ['report', dir, 'is a directory'],
    ['json', join(dir, 'missing', 'r.json'), `directory ${join(dir, 'missing')} does not exist`],
    ['report', join(aFile, 'r.html'), `${aFile} is not a directory`],
    ['report', join(aFile, 'x', 'r.html'), 'does not exist'],
    ['report', '-', "a file name in an existing, writable directory (got '-')"],
    ['json', '', 'a file name'],
  ])('--%s %s is refused (%s)', (flag, path, why) => {
    expect(refusal(STRESS_OPTIONS, [`--${flag}=${path}`])).toContain(why);
  });

  it('--json - means stdout, and a missing value is not taken from the next flag', () => {
    expect(parseOptions(STRESS_OPTIONS, ['--json', '-']).json).toBe('-');
    expect(refusal(STRESS_OPTIONS, ['--json', '--quiet'])).toMatch(/^--json needs a value/);
  });

  it('refuses at once, with exit 2 and one line, before starting any CPU', () => {
    const r = run('--json', join(dir, 'missing', 'r.json'), '--seconds', '30');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      `ioasid-stress: --json ${join(dir, 'missing', 'r.json')}: directory ${join(dir, 'missing')} does not exist (see --help)`,
    ]);
  });
});

describe('the command line as a whole', () => {
  it.each([
    [['--seconds', '-1'], 'ioasid-stress: --seconds must be in [1, 86400] (got -1) (see --help)'],
    [['--frob'], "ioasid-stress: Unknown option '--frob' (see --help)"],
    [
      ['stray'],
      "ioasid-stress: unexpected argument 'stray': every argument is a --flag (see --help)",
    ],
    [['--quiet=yes'], "ioasid-stress: --quiet takes no value (got '--quiet=yes') (see --help)"],
    [['torture', '--readers', NINES], 'ioasid-stress: --readers must be in [1, 256] (got 999'],
  ])('%j exits 2 with exactly one line on stderr', (args, line) => {
    const r = run(...args);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(line);
  });

  it.each([
    [['--version']],
    [['torture', '--version']],
  ])('%j prints the version in package.json and exits 0', (args) => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(packageVersion()).toBe(pkg.version);
    const r = run(...args);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${pkg.version}\n`);
  });

  it.each(TABLES)('%s --help lists every flag with its rule and every exit code', (_, table) => {
    const help = formatHelp('usage', table, 'EXIT CODES');
    for (const o of table) {
      expect(help).toContain(`--${o.name}`);
      if (o.kind === 'int') expect(help).toContain(`--${o.name} <${o.min}..${o.max}>`);
    }
    const r = run(...(table === TORTURE_OPTIONS ? ['torture', '--help'] : ['--help']));
    expect(r.status).toBe(0);
    for (const code of ['0', '1', '2', '3', '128+N'])
      expect(r.stdout).toMatch(new RegExp(`^  ${code.replace('+', '\\+')} +\\S`, 'm'));
    expect(r.stdout).toContain('--version');
  });
});
