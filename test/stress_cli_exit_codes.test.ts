/**
 * ioasid-stress as a user runs it: exit 0 with a JSON report on PASS, exit 1 naming the
 * violation when the allocator is deliberately broken, exit 2 with a message (never a stack
 * trace) on bad flags.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../dist/stress/cli.js', import.meta.url));
const run = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });

describe('ioasid-stress CLI', () => {
  it.each([
    [['--cpus', 'many'], /--cpus must be an integer/],
    [['--scenario', 'nope'], /--scenario must be one of default/],
    [['--mix', 'alloc=x'], /bad --mix entry 'alloc=x'/],
    [['--mix', 'frobnicate=3'], /op one of alloc, free/],
    [['--fault', 'meteor'], /--fault must be one of kill-cpu, stutter, oversubscribe/],
    [
      ['--pasid-bits', '4', '--sets', '8', '--quota', '4'],
      /exceeds the capacity of a 4-bit PASID space/,
    ],
    [['--bogus'], /Unknown option '--bogus'/],
  ])('rejects %j with exit 2 and a clear message', (args, message) => {
    const r = run(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('--help lists every flag with its default', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    for (const flag of [
      '--cpus',
      '--seconds',
      '--scenario',
      '--mix',
      '--sets',
      '--quota',
      '--pasid-bits',
      '--policy',
      '--seed',
      '--json',
      '--report',
      '--fault',
    ])
      expect(r.stdout).toContain(flag);
    expect(r.stdout).toContain('quota-storm');
  });

  it('a passing run exits 0, writes the JSON report and the HTML page', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ioasid-stress-'));
    const json = join(dir, 'r.json');
    const html = join(dir, 'r.html');
    const r = run('--seconds', '2', '--seed', '5', '--quiet', '--json', json, '--report', html);
    expect(r.stdout).toMatch(/VERDICT: PASS/);
    expect(r.status).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    expect(report.verdict).toBe('PASS');
    expect(report.seed).toBe(5);
    expect(readFileSync(html, 'utf8')).toContain('<svg');
  });

  it('--json - prints exactly one JSON document on stdout', () => {
    const r = run('--seconds', '1', '--seed', '6', '--quiet', '--json', '-', '--scenario', 'churn');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).scenario).toBe('churn');
    expect(r.stderr).toMatch(/VERDICT: PASS/);
  });

  it.each([
    ['reclaim-without-gp', /no record recycled under a reader|lookups return the data/],
    ['quota-check-then-act', /no set over its quota/],
  ])('a run with the broken allocator %s exits 1 naming the violation', (broken, named) => {
    const r = run(
      '--seconds',
      '4',
      '--seed',
      '9',
      '--quiet',
      '--broken',
      broken,
      '--scenario',
      broken === 'quota-check-then-act' ? 'quota-storm' : 'lookup-heavy',
    );
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/VERDICT: FAIL/);
    expect(r.stdout).toMatch(new RegExp(`FAIL  (${named.source})`));
    // Named by what applies, never by placeholders.
    expect(r.stdout).toMatch(
      /first violation: \S+ (in \w+ on CPU \d+ \(id \d+|found by the checker \(set \d+\))/,
    );
    expect(r.stdout).not.toMatch(/id 0, set -1|CPU -1|set -1/);
    expect(r.stdout).toMatch(/^BROKEN RUN: --broken /);
    expect(r.stdout).toMatch(
      new RegExp(`replay: npm run stress -- --scenario .* --seed 9 .*--broken ${broken}$`, 'm'),
    );
  });

  it.each([
    ['notify-no-gating', [], /no subscriber reads an event before those ahead of it/],
    ['host-frees-twice', ['--custom-allocator'], /nothing leaked/],
  ])('--scenario notifiers --broken %s %s exits 1 naming its check', (broken, extra, named) => {
    const r = run(
      '--scenario',
      'notifiers',
      '--seconds',
      '3',
      '--seed',
      '9',
      '--quiet',
      ...extra,
      '--broken',
      broken,
    );
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`FAIL  (${named.source})`));
    expect(r.stdout).toMatch(new RegExp(`the broken twin '${broken}' was caught`));
    expect(r.stdout).toMatch(
      new RegExp(
        `replay: npm run stress -- --scenario notifiers .*${extra.join(' ')}.*--broken ${broken}$`,
        'm',
      ),
    );
  });

  it('a custom allocator twin without --custom-allocator is refused (exit 2)', () => {
    const r = run(
      '--scenario',
      'notifiers',
      '--seconds',
      '3',
      '--quiet',
      '--broken',
      'host-leaky-free',
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--broken host-leaky-free cannot be caught .*--custom-allocator/);
  });

  it('a broken allocator on the default scenario is caught (exit 1) or refused (exit 2)', () => {
    const caught = run(
      '--seconds',
      '3',
      '--seed',
      '9',
      '--quiet',
      '--broken',
      'reclaim-without-gp',
    );
    expect(caught.status).toBe(1);
    expect(caught.stdout).toMatch(/the broken twin 'reclaim-without-gp' was caught/);
    const refused = run(
      '--seconds',
      '3',
      '--seed',
      '9',
      '--quiet',
      '--broken',
      'quota-check-then-act',
    );
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(
      /--broken quota-check-then-act cannot be caught .*its sets never fill/,
    );
    expect(refused.stderr).not.toMatch(/\n\s+at /);
  });
});
