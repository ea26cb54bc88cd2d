/**
 * SIGINT, SIGTERM and SIGHUP during a run end it cleanly: the CLI writes the partial report
 * (text, --json, --report) with the seed, then exits 128 + the signal's number (130, 143,
 * 129); under --quiet too. Stress and torture alike.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const STRESS = fileURLToPath(new URL('../dist/stress/cli.js', import.meta.url));
const TORTURE = fileURLToPath(new URL('../dist/stress/torture/cli.js', import.meta.url));

interface Outcome {
  code: number | null;
  /** Set when the signal killed the process: it came before the CLI handled signals. */
  killedBy: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run `cli`, send `signal` once it has run `afterMs`, and collect what it printed. */
function runAndSignal(
  cli: string,
  args: string[],
  signal: NodeJS.Signals,
  afterMs: number,
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill(signal), afterMs);
    child.once('error', reject);
    child.once('close', (code, killedBy) => {
      clearTimeout(timer);
      resolve({ code, killedBy, stdout, stderr });
    });
  });
}

/**
 * runAndSignal, again with a longer wait while the signal reached the CLI before it began to
 * handle signals (a slow start on a loaded machine): what is asserted is only what a CLI that
 * handles the signal does.
 */
async function interrupted(cli: string, args: string[], signal: NodeJS.Signals): Promise<Outcome> {
  let r: Outcome | undefined;
  for (let afterMs = 2000; afterMs <= 16_000; afterMs *= 2) {
    r = await runAndSignal(cli, args, signal, afterMs);
    if (r.killedBy === null) return r;
  }
  throw new Error(`the CLI never got to handle ${signal}: ${JSON.stringify(r)}`);
}

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
