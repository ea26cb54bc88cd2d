#!/usr/bin/env node
/**
 * The `ioasid-stress` command (package.json `bin`). It only runs main: npm starts a bin through
 * a symlink in node_modules/.bin (or a shim on Windows), so a bin must not guess whether it is
 * the entry point.
 */
import { main } from './cli.js';
import { runCli } from './options.js';

await runCli(main, process.argv.slice(2));
