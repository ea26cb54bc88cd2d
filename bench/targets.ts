/**
 * A benchmark target: a figure measured in this run, the threshold it is held to (itself
 * often computed in this run, from a baseline or the control loop), and whether it was met.
 * Every part of `npm run bench` returns its targets in this shape, and run.ts prints them all
 * again at the end, so a rerun on a quiet machine speaks for itself.
 */

/** One target. `met` is null when it could not be judged in this run (`why` says why). */
export interface Target {
  /** What is measured, e.g. 'alloc+free scaling 1 -> 2 CPUs, disjoint sets'. */
  name: string;
  value: number;
  unit: 'x' | 'ns';
  op: '>=' | '<=';
  threshold: number;
  met: boolean | null;
  /** Where the figure and the threshold come from (rows, baselines, the load). */
  from: string;
  /** Why it was not judged (met === null). */
  why?: string;
}

/**
 * A judged target.
 *
 * @param name - what is measured
 * @param value - the figure
 * @param unit - 'x' (a ratio) or 'ns'
 * @param op - how value compares with threshold when the target is met
 * @param threshold - the bound (maybe computed in the same run)
 * @param from - where value and threshold come from
 *
 * Context: pure.
 * @returns the target, `met` computed
 */
export function target(
  name: string,
  value: number,
  unit: Target['unit'],
  op: Target['op'],
  threshold: number,
  from: string,
): Target {
  const met = op === '>=' ? value >= threshold : value <= threshold;
  return { name, value, unit, op, threshold, met, from };
}

/**
 * A target this run could not judge (a baseline missing or skipped).
 *
 * @param name - what would be measured
 * @param unit - its unit
 * @param op - its comparison
 * @param threshold - its bound (NaN when that bound was to be measured)
 * @param why - why it was not judged
 *
 * Context: pure.
 * @returns the target with met = null
 */
export function notJudged(
  name: string,
  unit: Target['unit'],
  op: Target['op'],
  threshold: number,
  why: string,
): Target {
  return { name, value: Number.NaN, unit, op, threshold, met: null, from: '', why };
}

/**
 * A figure with its unit: '1.83x', '142 ns', '-'.
 *
 * @param x - the figure
 * @param unit - its unit
 *
 * Context: pure.
 * @returns the text
 */
export function fmtFigure(x: number, unit: Target['unit']): string {
  if (!Number.isFinite(x)) return '-';
  if (unit === 'ns') return `${x >= 100 ? x.toFixed(0) : x.toFixed(1)} ns`;
  if (x >= 100) return `${x.toFixed(0)}x`;
  if (x >= 10) return `${x.toFixed(1)}x`;
  return `${x.toFixed(2)}x`;
}

/**
 * The targets as table lines: name, figure, threshold, met / MISSED / not judged, and where
 * the figures came from.
 *
 * @param title - the heading line
 * @param ts - the targets
 *
 * Context: pure.
 * @returns the lines
 */
export function renderTargets(title: string, ts: readonly Target[]): string[] {
  if (ts.length === 0) return [];
  const w = Math.max(...ts.map((t) => t.name.length)) + 2;
  const out = ['', title];
  for (const t of ts) {
    const bound = `${t.op} ${fmtFigure(t.threshold, t.unit)}`;
    const verdict = t.met === null ? 'not judged' : t.met ? 'met' : 'MISSED';
    const tail = t.met === null ? (t.why ?? '') : t.from;
    out.push(
      `  ${t.name.padEnd(w)}${fmtFigure(t.value, t.unit).padStart(9)}  target ${bound.padEnd(11)} ${verdict.padEnd(10)} ${tail}`,
    );
  }
  return out;
}
