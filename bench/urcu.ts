/**
 * The liburcu anchor of `npm run bench -- --with-urcu`: runs the C benchmark kept outside this
 * repository, `../shared/bench/urcu-bench.sh` resolved against the repository root at run
 * time (from a linked git worktree, against the main worktree's root too: that is where the
 * path is meant from) (it installs liburcu-dev if needed, builds urcu-bench.c in a temporary folder and
 * prints one JSON object), so its figures come from the same run as ours. No liburcu code and
 * no build script for it live in this repository; where the script is missing or fails, the
 * bench prints one line saying so and judges nothing against it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the anchor script is, relative to the repository root. */
export const DEFAULT_URCU_BENCH = '../shared/bench/urcu-bench.sh';

/** A synchronize_rcu() latency distribution, ns (each sample includes one clock read). */
export interface UrcuSync {
  n: number;
  median: number;
  p99: number;
}

/** One liburcu flavor's figures, as urcu-bench prints them. */
export interface UrcuFlavor {
  /** ns per read_lock + read_unlock pair: library call, and the inline fast path. */
  read_pair_ns: { lib: number; inline: number };
  /** synchronize_rcu() latency with 0, 1 and 4 reader threads. */
  sync_ns: { r0: UrcuSync; r1: UrcuSync; r4: UrcuSync };
}

/** urcu-bench's JSON object (the fields this bench reads). */
export interface UrcuResult {
  liburcu: string;
  /** Cost of one clock_gettime: every sync_ns sample includes about one. */
  clock_gettime_ns: number;
  flavors: { mb: UrcuFlavor; memb?: UrcuFlavor; qsbr?: UrcuFlavor };
}

/** The anchor's figures, or why there are none. */
export type UrcuOutcome = { result: UrcuResult; script: string } | { skipped: string };

/**
 * The repository root: the nearest directory above this module with a package.json.
 *
 * Context: any thread; reads the file system.
 * @returns its absolute path
 */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${import.meta.url}`);
    dir = up;
  }
  return dir;
}

/**
 * Where a relative anchor path may be resolved from: this checkout's root and, when it is a
 * linked git worktree, the main worktree's root (the parent of the common .git directory).
 */
function candidateRoots(): string[] {
  const root = repoRoot();
  const git = spawnSync('git', ['rev-parse', '--path-format=absolute', '--git-common-dir'], {
    cwd: root,
    encoding: 'utf8',
  });
  const common = git.status === 0 ? git.stdout.trim() : '';
  return common.endsWith('.git') ? [root, dirname(common)] : [root];
}

/**
 * Run the anchor script and parse its JSON.
 *
 * @param script - its path; a relative one is resolved against the repository root
 *
 * Context: blocks for the script's run (about 10-20 s, plus an apt-get install the first
 * time); spawns bash.
 * @returns the figures, or `skipped` with a one-line reason
 */
export function runUrcuBench(script: string = DEFAULT_URCU_BENCH): UrcuOutcome {
  const tried = candidateRoots().map((root) => resolve(root, script));
  const path = tried.find((p) => existsSync(p));
  if (path === undefined)
    return { skipped: `liburcu anchor not found at ${[...new Set(tried)].join(' or ')}` };
  const run = spawnSync('bash', [path], { encoding: 'utf8', timeout: 300_000 });
  const lastLine = (s: string) => s.trim().split('\n').at(-1) ?? '';
  if (run.error) return { skipped: `liburcu anchor could not run: ${run.error.message}` };
  if (run.status !== 0)
    return {
      skipped: `liburcu anchor failed (exit ${run.status}): ${lastLine(run.stderr) || 'no message'}`,
    };
  try {
    const result = JSON.parse(lastLine(run.stdout)) as UrcuResult;
    if (typeof result.flavors?.mb?.sync_ns?.r1?.median !== 'number')
      return { skipped: 'liburcu anchor printed JSON without flavors.mb.sync_ns' };
    return { result, script: path };
  } catch {
    return { skipped: `liburcu anchor printed no JSON: ${lastLine(run.stdout).slice(0, 120)}` };
  }
}
