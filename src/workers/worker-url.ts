/**
 * Where a worker entry module lives. Workers must be plain JavaScript (Node 20 cannot load
 * .ts), so when the caller itself runs from TypeScript sources (vitest), the worker is taken
 * from the compiled tree in dist/, which `npm test` builds first.
 */
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The URL of the compiled module `relativePath` (written with a .js extension) next to the
 * module `metaUrl` (pass `import.meta.url`).
 */
export function workerModuleUrl(metaUrl: string, relativePath: string): URL {
  const url = new URL(relativePath, metaUrl);
  if (!metaUrl.endsWith('.ts')) return url;
  const file = fileURLToPath(url);
  let root = dirname(fileURLToPath(metaUrl));
  while (!existsSync(join(root, 'package.json'))) {
    const up = dirname(root);
    if (up === root) throw new Error(`no package.json above ${metaUrl}`);
    root = up;
  }
  return pathToFileURL(join(root, 'dist', relative(root, file)));
}
