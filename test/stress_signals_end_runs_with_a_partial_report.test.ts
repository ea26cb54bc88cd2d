/**
 * SIGINT, SIGTERM and SIGHUP during a run end it cleanly: the CLI writes the partial report
 * (text, --json, --report) with the seed, then exits 128 + the signal's number (130, 143,
 * 129); under --quiet too. Stress and torture alike.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { interrupted } from './helpers/signal-run.js';

const STRESS = fileURLToPath(new URL('../dist/stress/cli.js', import.meta.url));
const TORTURE = fileURLToPath(new URL('../dist/stress/torture/cli.js', import.meta.url));

describe('signals end a run with its partial report', () => {
  it('stress, SIGINT: text, JSON and HTML reports with the seed, exit 130', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ioasid-signal-'));
    const json = join(dir, 'r.json');
    const html = join(dir, 'r.html');
    const r = await interrupted(
      STRESS,
      ['--seconds', '120', '--seed', '41', '--json', json, '--report', html],
      'SIGINT',
    );
    expect(r.code).toBe(130);
    expect(r.stdout).toMatch(
      /INTERRUPTED by SIGINT after [\d.]+ s: a partial run \(replay with --seed 41\)/,
    );
    expect(r.stdout).toMatch(/VERDICT: PASS \(interrupted by SIGINT: a partial run\)/);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    expect(report).toMatchObject({ seed: 41, interrupted: { signal: 'SIGINT' }, schemaVersion: 1 });
    expect(report.elapsedSeconds).toBeLessThan(120);
    expect(readFileSync(html, 'utf8')).toMatch(/Interrupted by SIGINT after/);
  });

  it('stress --quiet --json -, SIGTERM: one JSON document with the seed, exit 143', async () => {
    const r = await interrupted(
      STRESS,
      ['--seconds', '120', '--seed', '42', '--quiet', '--json', '-'],
      'SIGTERM',
    );
    expect(r.code).toBe(143);
    expect(JSON.parse(r.stdout)).toMatchObject({ seed: 42, interrupted: { signal: 'SIGTERM' } });
  });

  it('stress, SIGHUP: exit 129', async () => {
    const r = await interrupted(STRESS, ['--seconds', '120', '--seed', '43', '--quiet'], 'SIGHUP');
    expect(r.code).toBe(129);
    expect(r.stdout).toMatch(/seed 43/);
  });

  it('torture, SIGTERM: the partial report, exit 143', async () => {
    const r = await interrupted(
      TORTURE,
      ['--seconds', '120', '--seed', '44', '--quiet'],
      'SIGTERM',
    );
    expect(r.code).toBe(143);
    expect(r.stdout).toMatch(/seed=44/);
    expect(r.stdout).toMatch(/VERDICT: SUCCESS \(interrupted by SIGTERM: a partial run\)/);
  });
});
