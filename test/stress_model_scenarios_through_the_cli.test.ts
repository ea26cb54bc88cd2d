/**
 * The hardware model as a user runs it: `ioasid-stress --scenario host-sva|exhaustion|
 * pri-storm`, on threads or `--deterministic`, with a JSON report that carries every invariant
 * (`{ id: 'INV-n', name, checks, violations }`) and the hardware counters, an HTML report with
 * the invariants and the teardown timelines, `--mutation` caught with exit 1 and the
 * invariant named on stdout and in the JSON, flags that do not apply refused with exit 2, and
 * SIGINT ending a run with its partial report (exit 130); `--fault kill-vcpu,kill-vmm` on a VM
 * scenario on threads, with a replay line that runs it again on threads.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { INVARIANTS } from '../src/hw-model/index.js';
import type { ModelReport } from '../stress/model-report.js';
import { testSeed } from './helpers/seed.js';
import { interrupted } from './helpers/signal-run.js';

const FILE = 'test/stress_model_scenarios_through_the_cli.test.ts';
const CLI = fileURLToPath(new URL('../dist/stress/cli.js', import.meta.url));
const run = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, '--quiet', ...args], { encoding: 'utf8', timeout: 120_000 });

describe('ioasid-stress on the hardware model', () => {
  const seed = String(testSeed(FILE));

  it('a deterministic run: exit 0, one JSON document with every invariant and the hardware counters', () => {
    const r = run(
      '--scenario',
      'host-sva',
      '--deterministic',
      '--steps',
      '20000',
      '--seed',
      seed,
      '--json',
      '-',
    );
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as ModelReport;
    expect(rep).toMatchObject({
      tool: 'ioasid-stress',
      kind: 'hw-model',
      verdict: 'PASS',
      mode: 'deterministic',
    });
    expect(rep.invariants.map((i) => i.id)).toEqual(INVARIANTS.map((i) => i.id));
    // host-sva has no VM: the guest invariants (INV-4, 7, 8, 12) have nothing to check there.
    const guestOnly = new Set(['INV-4', 'INV-7', 'INV-8', 'INV-12']);
    for (const i of rep.invariants.filter((x) => !guestOnly.has(x.id))) {
      expect(Object.keys(i).sort()).toEqual(['checkedAt', 'checks', 'id', 'name', 'violations']);
      expect(i.checks).toBeGreaterThan(0);
    }
    for (const c of [
      'translations',
      'faultSpt2',
      'invPasidCache',
      'invIotlb',
      'invDevTlb',
      'pageRequests',
      'responsesSuccess',
      'drains',
      'zfRetries',
      'gpFixups',
    ])
      expect(rep.hardware).toHaveProperty(c);
    expect(rep.hardware.gpFixups).toBeGreaterThan(0);
    expect(rep.replay).toBe(
      `ioasid-stress --scenario host-sva --deterministic --seed ${seed} --steps 20000`,
    );
    expect(r.stderr).toMatch(/VERDICT: PASS/);
  });

  it('a mutation: exit 1, the invariant named as INV-n on stdout and in the JSON, replayable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ioasid-model-'));
    const json = join(dir, 'r.json');
    const r = run(
      '--scenario',
      'host-sva',
      '--deterministic',
      '--seed',
      '12',
      '--mutation',
      'skip-devtlb-inv',
      '--json',
      json,
    );
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/VERDICT: FAIL INV-9 \(cache coherence after invalidation\)/);
    const rep = JSON.parse(readFileSync(json, 'utf8')) as ModelReport;
    expect(rep.firstViolation?.id).toBe('INV-9');
    expect(rep.invariants.find((i) => i.id === 'INV-9')!.violations).toBeGreaterThan(0);
    const replay = rep.firstViolation!.replay.split(' ').slice(1);
    const again = run(...replay, '--json', '-');
    expect(again.status).toBe(1);
    expect((JSON.parse(again.stdout) as ModelReport).firstViolation?.message).toBe(
      rep.firstViolation?.message,
    );
  });

  it('a threaded run with --report: an HTML page with the invariants and the teardown timelines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ioasid-model-'));
    const html = join(dir, 'r.html');
    const json = join(dir, 'r.json');
    const r = run(
      '--scenario',
      'pri-storm',
      '--seconds',
      '1',
      '--seed',
      seed,
      '--report',
      html,
      '--json',
      json,
    );
    expect(r.status, r.stdout).toBe(0);
    const page = readFileSync(html, 'utf8');
    for (const s of ['INV-14 page requests', 'Teardown timelines (P0 .. P8)', '<svg', 'Replay:'])
      expect(page).toContain(s);
    const rep = JSON.parse(readFileSync(json, 'utf8')) as ModelReport;
    expect(rep.mode).toBe('threads');
    expect(rep.timelines.length).toBeGreaterThan(0);
    expect(rep.timelines.some((t) => t.phases[8]! >= 0)).toBe(true);
  });

  it.each([
    [['--mutation', 'reclaim-at-p2'], /--mutation applies to the model scenarios only/],
    [['--deterministic'], /--deterministic applies to the model scenarios only/],
    [['--scenario', 'host-sva', '--mix', 'alloc=1'], /--mix does not apply to the model scenario/],
    [['--scenario', 'host-sva', '--steps', '5'], /--steps bounds a --deterministic run/],
    [['--scenario', 'host-sva', '--mutation', 'nope'], /--mutation must be one of reclaim-at-p2/],
    [
      ['--scenario', 'churn', '--fault', 'kill-vmm'],
      /--fault kill-vmm applies to the model scenarios with VMs/,
    ],
    [['--scenario', 'host-sva', '--fault', 'kill-vcpu'], /scenario 'host-sva' has no VMs/],
    [
      ['--scenario', 'vm-spid', '--fault', 'kill-vmm', '--deterministic'],
      /--fault kill-vmm kills a worker thread: it needs a threaded run/,
    ],
    [['--scenario', 'vm-swq', '--fault', 'kill-gpu'], /--fault must be one of/],
  ])('refuses %j with exit 2 and one line', (args, message) => {
    const r = run(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('--fault kill-vcpu,kill-vmm on a VM scenario: the threads are killed, nothing leaks, and the replay runs the same on threads', () => {
    const r = run(
      '--scenario',
      'vm-spid',
      '--seconds',
      '2',
      '--seed',
      seed,
      '--fault',
      'kill-vcpu,kill-vmm',
      '--json',
      '-',
    );
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as ModelReport;
    expect(rep.mode).toBe('threads');
    expect(rep.faults.kills).toBeGreaterThan(0);
    expect(rep.config.faults).toEqual(['kill-vcpu', 'kill-vmm']);
    // Not --deterministic, which cannot inject these kills nor replay thread timing.
    expect(rep.replay).toBe(
      `ioasid-stress --scenario vm-spid --seed ${seed} --seconds 2 --fault kill-vcpu,kill-vmm`,
    );
  });

  it('SIGINT ends a threaded model run with its partial report: exit 130', async () => {
    const r = await interrupted(
      CLI,
      ['--scenario', 'host-sva', '--seconds', '60', '--seed', seed, '--json', '-'],
      'SIGINT',
    );
    expect(r.code, r.stderr).toBe(130);
    const out = r.stdout;
    const rep = JSON.parse(out) as ModelReport;
    expect(rep.interrupted?.signal).toBe('SIGINT');
    expect(rep.verdict).toBe('PASS');
  });
});
