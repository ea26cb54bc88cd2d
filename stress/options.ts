/**
 * One typed option table drives both the parser (node:util parseArgs) and --help, so no flag
 * can lack help and no help line can describe a flag that does not exist.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export interface OptionSpec {
  /** long flag name, without dashes */
  name: string;
  /** 'list': repeatable and comma-separated, each item one of `choices`. */
  kind: 'int' | 'string' | 'boolean' | 'choice' | 'list';
  help: string;
  /** shown in --help; undefined means "none" */
  default?: string | number | boolean | undefined;
  choices?: readonly string[];
  min?: number;
  max?: number;
}

/** A bad command line: the CLI prints the message and exits 2, never a stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export type ParsedOptions = Record<string, string | number | boolean | string[] | undefined>;

/** Parse argv against the table; every value is validated and converted. */
export function parseOptions(table: readonly OptionSpec[], argv: string[]): ParsedOptions {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries([
        ['help', { type: 'boolean', short: 'h' }],
        ...table.map((o) => [
          o.name,
          { type: o.kind === 'boolean' ? 'boolean' : 'string', multiple: o.kind === 'list' },
        ]),
      ]),
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const out: ParsedOptions = { help: parsed.values.help === true };
  for (const o of table) {
    const raw = parsed.values[o.name];
    if (raw === undefined) {
      out[o.name] = o.default;
      continue;
    }
    out[o.name] =
      o.kind === 'list' ? convertList(o, raw as string[]) : convert(o, raw as string | boolean);
  }
  return out;
}

function convert(o: OptionSpec, raw: string | boolean): string | number | boolean {
  if (o.kind === 'boolean') return raw as boolean;
  const text = raw as string;
  if (o.kind === 'int') {
    if (!/^-?\d+$/.test(text))
      throw new UsageError(`--${o.name} must be an integer (got '${text}')`);
    const n = Number(text);
    if ((o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max))
      throw new UsageError(
        `--${o.name} must be in [${o.min ?? '-inf'}, ${o.max ?? 'inf'}] (got ${n})`,
      );
    return n;
  }
  if (o.kind === 'choice' && !o.choices?.includes(text))
    throw new UsageError(`--${o.name} must be one of ${o.choices?.join(', ')} (got '${text}')`);
  return text;
}

function convertList(o: OptionSpec, raw: string[]): string[] {
  const items = raw
    .flatMap((r) => r.split(','))
    .map((x) => x.trim())
    .filter(Boolean);
  for (const item of items)
    if (!o.choices?.includes(item))
      throw new UsageError(`--${o.name} must be one of ${o.choices?.join(', ')} (got '${item}')`);
  return [...new Set(items)];
}

/** --help text generated from the table. */
export function formatHelp(usage: string, table: readonly OptionSpec[]): string {
  const rows = table.map((o) => {
    const arg =
      o.kind === 'boolean' ? '' : o.kind === 'choice' ? ` <${o.choices?.join('|')}>` : ' <n>';
    const flag = `--${o.name}${o.kind === 'string' ? ' <value>' : arg}`;
    const def = o.default === undefined ? '' : ` (default: ${String(o.default)})`;
    const repeat = o.kind === 'list' ? ' (repeatable, or comma-separated)' : '';
    return [flag, `${o.help}${repeat}${def}`] as const;
  });
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  return [
    usage,
    '',
    'Options:',
    ...rows.map(([f, h]) => `  ${f.padEnd(width)}${h}`),
    `  ${'-h, --help'.padEnd(width)}this text`,
  ].join('\n');
}

/** Run `main`, mapping usage errors to exit 2 with a message, never a stack trace. */
export async function runCli(
  entry: (argv: string[]) => Promise<number>,
  argv: string[],
): Promise<void> {
  try {
    process.exitCode = await entry(argv);
  } catch (err) {
    process.exitCode = 2;
    if (err instanceof UsageError) {
      console.error(`error: ${err.message}\n(see --help)`);
      return;
    }
    throw err;
  }
}

/** True when the module at `metaUrl` is the script node was started with. */
export function isEntryPoint(metaUrl: string): boolean {
  return process.argv[1] !== undefined && metaUrl === pathToFileURL(process.argv[1]).href;
}
