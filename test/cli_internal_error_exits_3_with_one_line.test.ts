/**
 * The CLIs' last line of defence (runCli): a usage error exits 2, anything else is an internal
 * error that exits 3 with one line on stderr, whether main threw or a callback threw later;
 * the stack only with IOASID_DEBUG=1. And the entry-point check holds however the script was
 * reached: through a symlink, as npm's node_modules/.bin links a bin.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const OPTIONS = new URL('../dist/stress/options.js', import.meta.url).href;

/** Run `main` (the source of an async function) under runCli in a fresh node process. */
function runMain(main: string, env: Record<string, string> = {}) {
  const script = `import { runCli } from ${JSON.stringify(OPTIONS)};\nawait runCli(${main}, []);`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, IOASID_DEBUG: '', ...env },
  });
}

describe('runCli', () => {
  it("returns main's exit code", () => {
    expect(runMain('async () => 1').status).toBe(1);
    expect(runMain('async () => 0').status).toBe(0);
  });

  it.each([
    ['main throws', "async () => { throw new TypeError('boom') }", 'TypeError: boom'],
    [
      'a timer throws after main returned',
      "async () => { setTimeout(() => { throw new Error('late\\nsecond line') }, 10); return 0 }",
      'Error: late second line',
    ],
    [
      'a promise nobody awaits rejects',
      "async () => { Promise.reject(new RangeError('dropped')); await new Promise(r => setTimeout(r, 50)); return 0 }",
      'RangeError: dropped',
    ],
  ])('%s: exit 3, one line, no stack', (_, main, message) => {
    const r = runMain(main);
    expect(r.status).toBe(3);
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      `ioasid-stress: internal error: ${message} (IOASID_DEBUG=1 prints the stack)`,
    ]);
  });

  it('IOASID_DEBUG=1 adds the stack', () => {
    const r = runMain("async () => { throw new Error('boom') }", { IOASID_DEBUG: '1' });
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/^ioasid-stress: internal error: Error: boom\n/);
    expect(r.stderr).toMatch(/\n\s+at /);
  });

  it('a UsageError exits 2 with one line', () => {
    const r = runMain(
      `async () => { const { UsageError } = await import(${JSON.stringify(OPTIONS)}); throw new UsageError('--x must be y') }`,
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('ioasid-stress: --x must be y (see --help)\n');
  });
});

describe('the entry point', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ioasid-bin-'));
  it.each([
    'bin.js',
    'cli.js',
    'torture/cli.js',
  ])('dist/stress/%s runs main when started through a symlink', (file) => {
    const link = join(dir, file.replace('/', '-'));
    symlinkSync(fileURLToPath(new URL(`../dist/stress/${file}`, import.meta.url)), link);
    const r = spawnSync(process.execPath, [link, '--version'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+/);
  });
});
