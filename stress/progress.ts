/**
 * Live progress on stderr: one line redrawn in place on a TTY, plain periodic lines otherwise
 * (CI logs, pipes), nothing with --quiet.
 *
 * Developer notes: the redraw is node:readline's cursorTo + clearLine, not a dependency (the
 * library's users would install it for a CLI nicety). The line is cut to the terminal's width:
 * a wrapped line would leave its first rows behind at each redraw.
 */
import { clearLine, cursorTo } from 'node:readline';
import type { Sample } from './facts.js';

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
  let drawn = false;
  const draw = (line: string) => {
    cursorTo(stream, 0);
    clearLine(stream, 1);
    const width = stream.columns > 1 ? stream.columns - 1 : line.length;
    stream.write(line.length > width ? line.slice(0, width) : line);
    drawn = true;
  };
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
      if (tty) draw(line);
      else if (s.t - lastPlain >= 2) {
        lastPlain = s.t;
        stream.write(`${line}\n`);
      }
    },
    done() {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}

function short(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)}k`;
  return n.toFixed(0);
}
