/**
 * Run a CLI and send it a signal once it has started handling signals: a loaded machine can
 * start a CLI slowly enough that a signal sent after a fixed delay kills it before its handler
 * is installed. What the tests assert is only what a CLI that handles the signal does.
 */
import { spawn } from 'node:child_process';

export interface Outcome {
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
export async function interrupted(
  cli: string,
  args: string[],
  signal: NodeJS.Signals,
): Promise<Outcome> {
  let r: Outcome | undefined;
  for (let afterMs = 2000; afterMs <= 16_000; afterMs *= 2) {
    r = await runAndSignal(cli, args, signal, afterMs);
    if (r.killedBy === null) return r;
  }
  throw new Error(`the CLI never got to handle ${signal}: ${JSON.stringify(r)}`);
}
