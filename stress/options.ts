/**
 * The command-line plumbing both commands share. One typed option table drives the parser and
 * --help, so no flag can lack help, and each flag's rule (range, choices, output file) is
 * written once, in its table row: the parser enforces it and --help prints it.
 *
 * Developer notes: the parser is ours, not node:util parseArgs, because parseArgs answers
 * `--seconds -1` with its own message about ambiguous dashes; here the word after a flag that
 * takes a value is always its value unless it starts with `--`, so `-1` reaches the range check
 * and `--json -` means stdout. Numbers are plain decimal integers (no `0x`, `1e3`, `Infinity`);
 * 400 nines parse to Infinity and fail the range check, so no value that is not finite gets in.
 */
import { accessSync, constants, readFileSync, realpathSync, type Stats, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface OptionBase {
  /** long flag name, without dashes */
  name: string;
  help: string;
  /** shown in --help; undefined means "none" */
  default?: string | number | boolean | undefined;
}

/**
 * One row of an option table.
 * - `int`: a decimal integer in [min, max].
 * - `choice`: one of `choices`. `list`: repeatable and comma-separated, each item one of `choices`.
 * - `weights`: `key=w,...`, each key one of `choices` at most once, each w an integer in [min, max].
 * - `output`: a file to write; checked before anything runs (its directory exists and is
 *   writable, it is not a directory); with `stdout`, `-` means standard output.
 */
export type OptionSpec = OptionBase &
  (
    | { kind: 'boolean' }
    | { kind: 'int'; min: number; max: number }
    | { kind: 'choice'; choices: readonly string[] }
    | { kind: 'list'; choices: readonly string[] }
    | { kind: 'weights'; choices: readonly string[]; min: number; max: number }
    | { kind: 'output'; stdout?: boolean }
  );

/** A bad command line: the CLI prints the message on one line and exits 2, never a stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The exit codes of both commands (agreed across the project; README and --help list them). */
export const EXIT = Object.freeze({ pass: 0, violation: 1, usage: 2, internal: 3 });

/** Set to 1 to get the stack of an internal error on stderr. */
export const DEBUG_ENV = 'IOASID_DEBUG';

export type ParsedOptions = Record<
  string,
  string | number | boolean | string[] | Record<string, number> | undefined
>;

const BUILTINS: readonly OptionSpec[] = [
  { name: 'version', kind: 'boolean', help: 'print the package version and exit' },
  { name: 'help', kind: 'boolean', help: 'this text' },
];

/**
 * Parse `argv` against `table`; every value is validated and converted before anything runs.
 * Flags not given get their table default; a flag given twice keeps the last value (`list`
 * flags accumulate).
 *
 * @param table - the command's option table
 * @param argv - the arguments after the command name
 *
 * Context: synchronous; touches the file system only to check `output` paths.
 * @returns the values by flag name, plus `help` and `version` (booleans). Throws UsageError,
 * whose message names the flag and its rule, for anything it does not accept.
 */
export function parseOptions(table: readonly OptionSpec[], argv: readonly string[]): ParsedOptions {
  const specs = new Map([...table, ...BUILTINS].map((o) => [o.name, o]));
  const given = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const flag = arg === '-h' ? '--help' : arg;
    if (!flag.startsWith('--') || flag === '--')
      throw new UsageError(`unexpected argument '${shown(arg)}': every argument is a --flag`);
    const eq = flag.indexOf('=');
    const name = flag.slice(2, eq < 0 ? undefined : eq);
    const o = specs.get(name);
    if (o === undefined) throw new UsageError(`Unknown option '--${shown(name)}'`);
    let value: string;
    if (o.kind === 'boolean') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value (got '${shown(arg)}')`);
      value = 'true';
    } else if (eq >= 0) value = flag.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--'))
        throw new UsageError(`--${name} needs a value: ${rule(o)}`);
      value = next;
      i++;
    }
    given.set(name, o.kind === 'list' ? [...(given.get(name) ?? []), value] : [value]);
  }
  const out: ParsedOptions = {};
  for (const o of specs.values()) {
    const values = given.get(o.name);
    out[o.name] = values === undefined ? o.default : convert(o, values);
  }
  out.help ??= false;
  out.version ??= false;
  return out;
}

function convert(o: OptionSpec, values: string[]): NonNullable<ParsedOptions[string]> {
  const text = values[values.length - 1]!;
  switch (o.kind) {
    case 'boolean':
      return true;
    case 'int':
      return parseInteger(o.name, text, o.min, o.max);
    case 'choice':
      if (!o.choices.includes(text))
        throw new UsageError(`--${o.name} must be ${rule(o)} (got '${shown(text)}')`);
      return text;
    case 'list':
      return convertList(o, values);
    case 'weights':
      return parseWeights(o, text);
    case 'output':
      return checkOutputPath(o, text);
  }
}

/** A decimal integer in [min, max]; the message names the flag and the rule. */
function parseInteger(name: string, text: string, min: number, max: number): number {
  const n = decimalInteger(text);
  if (n === undefined)
    throw new UsageError(`--${name} must be an integer in [${min}, ${max}] (got '${shown(text)}')`);
  if (!inRange(n, min, max))
    throw new UsageError(`--${name} must be in [${min}, ${max}] (got ${shown(text)})`);
  return n;
}

/** Plain decimal digits with an optional sign, else undefined. May be +-Infinity (400 nines). */
function decimalInteger(text: string): number | undefined {
  return /^[+-]?\d+$/.test(text) ? Number(text) : undefined;
}

/** Also what keeps every value finite: both infinities fail it. */
function inRange(n: number, min: number, max: number): boolean {
  return n >= min && n <= max;
}

function convertList(o: OptionSpec & { kind: 'list' }, values: string[]): string[] {
  const items = values
    .flatMap((v) => v.split(','))
    .map((x) => x.trim())
    .filter(Boolean);
  for (const item of items)
    if (!o.choices.includes(item))
      throw new UsageError(`--${o.name} must be ${rule(o)} (got '${shown(item)}')`);
  return [...new Set(items)];
}

function parseWeights(o: OptionSpec & { kind: 'weights' }, text: string): Record<string, number> {
  const weights: Record<string, number> = {};
  for (const entry of text.split(',')) {
    const m = /^\s*(\w+)=(\S*)\s*$/.exec(entry);
    const key = m?.[1] ?? '';
    if (Object.hasOwn(weights, key))
      throw new UsageError(`bad --${o.name} entry '${shown(entry)}': ${key} is named twice`);
    const weight = m && o.choices.includes(key) ? decimalInteger(m[2]!) : undefined;
    if (weight === undefined || !inRange(weight, o.min, o.max))
      throw new UsageError(`bad --${o.name} entry '${shown(entry)}': ${rule(o)}`);
    weights[key] = weight;
  }
  return weights;
}

/** Refuse an output path the run could not write, before the run. */
function checkOutputPath(o: OptionSpec & { kind: 'output' }, path: string): string {
  if (path === '-' && o.stdout) return path;
  if (path === '' || path === '-')
    throw new UsageError(`--${o.name} needs ${rule(o)} (got '${path}')`);
  const file = resolve(path);
  const bad = (why: string) => new UsageError(`--${o.name} ${shown(path)}: ${why}`);
  const fileStat = statOrUndefined(file, bad);
  if (fileStat?.isDirectory()) throw bad('is a directory; give a file name');
  const dir = dirname(file);
  const dirStat = statOrUndefined(dir, bad);
  if (dirStat === undefined) throw bad(`directory ${dir} does not exist`);
  if (!dirStat.isDirectory()) throw bad(`${dir} is not a directory`);
  try {
    accessSync(fileStat ? file : dir, constants.W_OK);
  } catch {
    throw bad(fileStat ? 'the file is not writable' : `directory ${dir} is not writable`);
  }
  return path;
}

function statOrUndefined(path: string, bad: (why: string) => UsageError): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw bad(`cannot use ${path} (${code ?? (err as Error).message})`);
  }
}

/** The rule of a flag's value, in words: the parser's messages and --help both print it. */
function rule(o: OptionSpec): string {
  switch (o.kind) {
    case 'boolean':
      return 'no value';
    case 'int':
      return `an integer in [${o.min}, ${o.max}]`;
    case 'choice':
    case 'list':
      return `one of ${o.choices.join(', ')}`;
    case 'weights':
      return `use op=weight,... with op one of ${o.choices.join(', ')} (each at most once) and weight an integer in [${o.min}, ${o.max}]`;
    case 'output':
      return `a file name in an existing, writable directory${o.stdout ? " ('-' for stdout)" : ''}`;
  }
}

/** The placeholder after a flag in --help. */
function placeholder(o: OptionSpec): string {
  switch (o.kind) {
    case 'boolean':
      return '';
    case 'int':
      return ` <${o.min}..${o.max}>`;
    case 'choice':
      return ` <${o.choices.join('|')}>`;
    case 'list':
      return ' <item,...>';
    case 'weights':
      return ` <op=${o.min}..${o.max},...>`;
    case 'output':
      return o.stdout ? ' <FILE|->' : ' <FILE>';
  }
}

/** Long values (400 nines) are cut in messages, so an error stays one readable line. */
function shown(text: string): string {
  return text.length > 40 ? `${text.slice(0, 36)}...` : text;
}

/**
 * The "Exit codes:" section of --help. 2, 3 and 128+N mean the same for every command.
 *
 * @param pass - what exit 0 means for this command
 * @param fail - what exit 1 means for this command
 *
 * Context: pure.
 * @returns the lines, ready for formatHelp's usage text
 */
export function exitCodeHelp(pass: string, fail: string): string {
  return [
    'Exit codes:',
    `  ${EXIT.pass}      ${pass}`,
    `  ${EXIT.violation}      ${fail}`,
    `  ${EXIT.usage}      usage or configuration error (one line on stderr; nothing was run)`,
    `  ${EXIT.internal}      internal error (one line on stderr; ${DEBUG_ENV}=1 adds the stack)`,
    '  128+N  ended by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP)',
  ].join('\n');
}

/**
 * --help text generated from the table: each flag with its rule, its help and its default.
 *
 * @param usage - the text above the options (usage lines, scenarios)
 * @param table - the command's option table
 * @param exitCodes - the text below the options (see exitCodeHelp)
 *
 * Context: pure.
 * @returns the whole help text
 */
export function formatHelp(usage: string, table: readonly OptionSpec[], exitCodes: string): string {
  const rows = [...table, ...BUILTINS].map((o) => {
    const flag = `${o.name === 'help' ? '-h, ' : ''}--${o.name}${placeholder(o)}`;
    const def = o.default === undefined ? '' : ` (default: ${String(o.default)})`;
    const repeat = o.kind === 'list' ? `; repeatable, or comma-separated: ${rule(o)}` : '';
    const weights = o.kind === 'weights' ? `; ops: ${o.choices.join(', ')}` : '';
    const stdout = o.kind === 'output' && o.stdout ? " ('-' for stdout)" : '';
    return [flag, `${o.help}${stdout}${repeat}${weights}${def}`] as const;
  });
  // Flags longer than the column get their help on the next line; help wraps at HELP_WIDTH.
  const column = Math.min(Math.max(...rows.map(([f]) => f.length)), 26) + 4;
  const lines = rows.flatMap(([flag, help]) => {
    const wrapped = wrap(help, HELP_WIDTH - column).map((l) => `${' '.repeat(column)}${l}`);
    const head = `  ${flag}`;
    if (head.length + 2 > column) return [head, ...wrapped];
    return [`${head.padEnd(column)}${wrapped[0]!.trimStart()}`, ...wrapped.slice(1)];
  });
  return [usage, '', 'Options:', ...lines, '', exitCodes].join('\n');
}

const HELP_WIDTH = 100;

/** Split `text` into lines of at most `width` characters, at spaces (a longer word stays whole). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  return [...lines, line];
}

/**
 * The version of the installed ioasid package, read from its package.json at run time (the
 * nearest one above this module whose name is ioasid: dist/stress/ when built, stress/ in
 * sources).
 *
 * Context: synchronous file reads.
 * @returns the version string, e.g. "0.1.0"
 */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (pkg.name === 'ioasid') return String(pkg.version);
    } catch {
      // no package.json here (or not ours): look further up
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json of ioasid above ${import.meta.url}`);
    dir = up;
  }
}

/**
 * Run a command's `main` and turn its outcome into the process exit code: its return value;
 * 2 and one line for a UsageError; 3 and one line for anything else, whether main threw it or
 * a callback threw it later (the stack only with IOASID_DEBUG=1).
 *
 * @param entry - the command's main: resolves to its exit code
 * @param argv - the arguments after the command name
 *
 * One path for every internal error: an uncaught-exception handler that reports it and exits
 * at once (process.exit), since worker threads still running after a failed run would
 * otherwise keep the process alive. An error main throws reaches it through the caller's
 * rejected top-level await, and so does a promise nobody awaits: Node's default
 * (--unhandled-rejections=throw) raises unhandled rejections as uncaught exceptions.
 *
 * Context: call once per process, from the bin; installs a process-wide handler for uncaught
 * exceptions.
 * @returns when `entry` has returned; the exit code is left in process.exitCode
 */
export async function runCli(
  entry: (argv: string[]) => Promise<number>,
  argv: string[],
): Promise<void> {
  process.on('uncaughtException', exitOnInternalError);
  try {
    process.exitCode = await entry(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err; // to exitOnInternalError, as said above
    process.exitCode = EXIT.usage;
    console.error(`ioasid-stress: ${err.message} (see --help)`);
  }
}

function exitOnInternalError(err: unknown): never {
  reportInternalError(err);
  process.exit(EXIT.internal);
}

function reportInternalError(err: unknown): void {
  const debug = process.env[DEBUG_ENV] === '1';
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  console.error(
    `ioasid-stress: internal error: ${message.replace(/\s*\n\s*/g, ' ')}` +
      (debug ? '' : ` (${DEBUG_ENV}=1 prints the stack)`),
  );
  if (debug && err instanceof Error && err.stack) console.error(err.stack);
}

/**
 * True when the module at `metaUrl` is the script node was started with, however it was
 * reached: npm starts a bin through a symlink in node_modules/.bin, so both paths are
 * compared after resolving links.
 *
 * @param metaUrl - the caller's `import.meta.url`
 *
 * Context: synchronous file system calls.
 * @returns true for the entry script, false otherwise (also when either path does not resolve)
 */
export function isEntryPoint(metaUrl: string): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(metaUrl));
  } catch {
    return false;
  }
}
