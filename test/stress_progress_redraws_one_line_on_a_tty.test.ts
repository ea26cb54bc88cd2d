/**
 * The progress line: on a terminal, each update returns to column 1, erases the old line and
 * writes one line no wider than the terminal (a wrapped line would leave rows behind), and
 * done() ends it with a newline; on a pipe, plain lines at most every 2 s; nothing when quiet.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress } from '../stress/progress.js';
import type { Sample } from '../stress/run-stress.js';

function fakeStream(tty: boolean, columns: number) {
  const writes: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      writes.push(String(chunk));
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY: tty, columns: tty ? columns : undefined });
  return { stream, writes };
}

const sample = (t: number): Sample => ({
  t,
  opsPerCpu: [1000 * t, 2000 * t, 3000 * t, 4000 * t],
  liveIds: 7,
  gracePeriods: 3,
  violations: 0,
});
const facts = { kills: 0, stutters: 0 };
const CURSOR_TO_COLUMN_1 = '\x1b[1G';
const ERASE_TO_END_OF_LINE = '\x1b[0K';

describe('progress', () => {
  it('on a TTY redraws one line in place, cut to the terminal width, and ends it', () => {
    const { stream, writes } = fakeStream(true, 60);
    const p = createProgress('auto', stream);
    for (const t of [0.25, 0.5, 0.75]) p.update(sample(t), facts);
    const out = writes.join('');
    const draws = out.split(CURSOR_TO_COLUMN_1).slice(1);
    expect(draws).toHaveLength(3);
    for (const d of draws) {
      expect(d.startsWith(ERASE_TO_END_OF_LINE)).toBe(true);
      const line = d.slice(ERASE_TO_END_OF_LINE.length);
      expect(line).toMatch(/^t=0\.\d+s {2}ops\/s per CPU: /);
      expect(line.length).toBeLessThanOrEqual(59);
      expect(line).not.toContain('\n');
    }
    expect(out.endsWith('\n')).toBe(false);
    p.done();
    expect(writes.join('').endsWith('\n')).toBe(true);
  });

  it('on a pipe writes plain lines, at most one per 2 s of run time', () => {
    const { stream, writes } = fakeStream(false, 0);
    const p = createProgress('auto', stream);
    for (let t = 0.25; t <= 5; t += 0.25) p.update(sample(t), facts);
    p.done();
    expect(writes.join('')).not.toContain('\x1b');
    expect(writes.map((w) => w.slice(0, w.indexOf('s '))).join(' ')).toBe('t=0.3 t=2.3 t=4.3');
    expect(writes.every((w) => w.endsWith('\n') && w.includes('violations 0'))).toBe(true);
  });

  it('writes nothing when quiet', () => {
    const { stream, writes } = fakeStream(true, 80);
    const p = createProgress('quiet', stream);
    p.update(sample(1), facts);
    p.done();
    expect(writes).toEqual([]);
  });
});
