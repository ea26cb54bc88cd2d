/** The torture CLI: exit 0 on success or a caught --broken, 2 with a message on bad flags. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../dist/stress/torture/cli.js', import.meta.url));
const run = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

describe('torture CLI', () => {
  it.each([
    [['--seconds', 'abc'], /--seconds must be an integer/],
    [['--seconds', '0'], /--seconds must be in \[1/],
    [['--broken', 'nope'], /--broken must be one of skip-gp/],
    [['--frobnicate'], /Unknown option '--frobnicate'/],
  ])('rejects %j with exit 2 and no stack trace', (args, message) => {
    const r = run(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('prints help generated from the option table', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    for (const flag of ['--seconds', '--readers', '--writers', '--broken', '--seed', '--json'])
      expect(r.stdout).toContain(flag);
  });

  it('exits 0 when a broken mode is caught, with a FAILURE verdict, and prints one JSON document', () => {
    const r = run('--seconds', '6', '--broken', 'skip-gp', '--seed', '7', '--json', '--quiet');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.verdict).toBe('FAILURE');
    expect(report.config.seed).toBe(7);
  });

  it('exits 0 with SUCCESS on a short correct run', () => {
    const r = run('--seconds', '2', '--seed', '11', '--quiet');
    expect(r.stdout).toMatch(/VERDICT: SUCCESS/);
    expect(r.status).toBe(0);
  });
});
