/**
 * A pending `callRcu` whose grace period cannot end (a reader that died inside its section
 * and was never released) neither keeps the process alive forever nor waits in silence
 * (issue 8, defect 8): the callback timer does not hold the event loop open, and the polling
 * path that drives it reports the stalled reader after `stallMs`, as `synchronize` does.
 *
 * Each case runs a small script in a child Node process against the built library (dist/,
 * built by `npm test` before vitest runs), because what is tested is whether that process
 * exits. The "dead" reader is a second attachment of the Rcu in the child's own thread that
 * enters a section and never leaves it.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const RCU_JS = fileURLToPath(new URL('../dist/src/core/rcu/rcu.js', import.meta.url));

/** Run `body` (after a prelude that sets up the stuck reader and a pending callback). */
function child(
  body: string,
  timeoutMs: number,
): Promise<{ code: number | null; stderr: string; timedOut: boolean }> {
  const script = `
    const { Rcu } = await import(${JSON.stringify(RCU_JS)});
    const rcu = Rcu.create({ maxThreads: 4, stallMs: 100 });
    rcu.registerThread();
    const dead = Rcu.attach(rcu.handle);
    dead.registerThread();
    dead.readLock(); // never left: its grace period cannot end
    let ran = false;
    rcu.callRcu(() => { ran = true; });
    ${body}
  `;
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    p.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
    }, timeoutMs);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, stderr, timedOut: signal === 'SIGKILL' });
    });
  });
}

describe('a pending callRcu with a dead reader', () => {
  it('does not keep the process alive', async () => {
    const r = await child('', 15_000);
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(0);
  }, 30_000);

  it('is reported as a stall by the polling path while the process lives', async () => {
    // Keep the process alive 1.5 s (15 stall periods): the 1 ms callback timer polls.
    const r = await child('setTimeout(() => {}, 1500);', 15_000);
    expect(r.timedOut).toBe(false);
    expect(r.stderr).toMatch(/IOASID_RCU_STALL|RCU grace period stalled/);
    expect(r.stderr).toMatch(/reader slot 1/);
  }, 30_000);

  it('broken twin: with the reader gone, the callback runs and nothing is reported', async () => {
    // Bounded by the child's timer ticks, not by 300 ms of wall time (a loaded machine may not
    // run the child for that long): the callback must have run within 1000 of them, each a
    // turn of the event loop in which the 1 ms callback timer polls too.
    const r = await child(
      'dead.readUnlock(); let ticks = 0; const t = setInterval(() => {' +
        ' if (ran) clearInterval(t); else if (++ticks >= 1000) process.exit(3); }, 1);',
      15_000,
    );
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/IOASID_RCU_STALL/);
  }, 30_000);
});
