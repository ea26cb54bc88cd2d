/**
 * Where a report was made: Node, the machine's cores, this package's version and the date,
 * so a report read later (or attached to a bug) says what produced it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What produced a report. */
export interface Environment {
  node: string;
  platform: string;
  arch: string;
  /** availableParallelism(): the cores this process may use. */
  cores: number;
  cpuModel: string;
  packageVersion: string;
  /** ISO 8601, when the report was built. */
  date: string;
}

let version: string | undefined;

function findVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'ioasid') return pkg.version ?? 'unknown';
    }
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

/**
 * This package's version, from the package.json above this module (in the sources and in
 * dist/ alike).
 *
 * Context: any thread; reads package.json the first time.
 * @returns the version, or 'unknown' when no package.json of ioasid is found
 */
export function packageVersion(): string {
  version ??= findVersion();
  return version;
}

/**
 * The environment now.
 *
 * Context: main thread; reads package.json once.
 * @returns it
 */
export function environment(): Environment {
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    packageVersion: packageVersion(),
    date: new Date().toISOString(),
  };
}
