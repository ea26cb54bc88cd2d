/**
 * Tiny benchmark helpers. Every figure is measured in the same run as its baseline, and
 * reported as a ratio: the machines are shared and noisy, so absolute times mean little.
 */

/** Median ns per operation of `body(iterations)` over `runs` runs, after one warm-up run. */
export function nsPerOp(
  body: (iterations: number) => unknown,
  iterations: number,
  runs = 7,
): number {
  body(iterations);
  const samples: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    body(iterations);
    samples.push(Number(process.hrtime.bigint() - t0) / iterations);
  }
  return median(samples);
}

export function median(xs: number[]): number {
  return percentile(xs, 50);
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  /** e.g. "1.9x load+CAS" */
  ratio?: string;
  target?: string;
}

export function printTable(title: string, rows: BenchRow[]): void {
  const w = Math.max(...rows.map((r) => r.name.length)) + 2;
  console.log(`\n${title}`);
  for (const r of rows) {
    const v = r.value >= 100 ? r.value.toFixed(0) : r.value.toFixed(2);
    console.log(
      `  ${r.name.padEnd(w)}${`${v} ${r.unit}`.padStart(14)}  ${(r.ratio ?? '').padEnd(44)}${r.target ?? ''}`,
    );
  }
}

/** Sink that keeps the JIT from deleting a benchmark loop. */
export let blackhole = 0;
export function consume(x: number): void {
  blackhole = (blackhole + x) | 0;
}
