/**
 * Live progress on stderr: one line redrawn in place on a TTY (log-update), plain periodic
 * lines otherwise (CI logs, pipes), nothing with --quiet.
 */
import { createLogUpdate } from 'log-update';
import type { Sample } from './run-stress.js';

export interface Progress {
  update(s: Sample, facts: { kills: number; stutters: number }): void;
  done(): void;
}

export function createProgress(
  mode: 'auto' | 'quiet',
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
  if (mode === 'quiet') return { update() {}, done() {} };
  let last: Sample | undefined;
  let lastPlain = -Infinity;
  const tty = stream.isTTY === true;
  const draw = tty ? createLogUpdate(stream) : undefined;
  return {
    update(s, facts) {
      const dt = last ? s.t - last.t : s.t;
      const rates = s.opsPerCpu.map((ops, c) =>
        dt > 0 ? (ops - (last?.opsPerCpu[c] ?? 0)) / dt : 0,
      );
      last = s;
      const line =
        `t=${s.t.toFixed(1)}s  ops/s per CPU: ${rates.map(short).join(' ')}  live ids ${s.liveIds}  ` +
        `grace periods ${s.gracePeriods}  kills ${facts.kills}  stutters ${facts.stutters}  ` +
        `violations ${s.violations}`;
      if (draw) draw(line);
      else if (s.t - lastPlain >= 2) {
        lastPlain = s.t;
        stream.write(`${line}\n`);
      }
    },
    done() {
      draw?.done();
    },
  };
}

function short(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)}k`;
  return n.toFixed(0);
}
