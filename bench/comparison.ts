/**
 * The issue-4 comparison: ratios between the scaling bench's figures (this project / limit,
 * this project / each baseline, N CPUs / 1 CPU), the three issue targets, and the table.
 *
 * Ratios are of throughput at the same CPU count, so "per CPU" and total ratios are equal.
 * The limit for a shared-set alloc+free is the CAS loop on one shared word; for everything
 * else it is the CAS loop on a word of the worker's own line.
 */
import {
  fmtRate,
  type Impl,
  type Measurement,
  note,
  type ScalingWorkload,
  type Sets,
} from './scaling.js';

/** A measurement's figures (without its raw samples) plus the ratios computed from them. */
export interface ComparisonRow
  extends Pick<
    Measurement,
    'impl' | 'workload' | 'sets' | 'cpus' | 'opsPerSec' | 'perCpu' | 'fails' | 'hungRuns'
  > {
  label: string;
  /** project / limit (project rows only) */
  vsLimit?: number;
  /** project / mutex baseline */
  vsMutex?: number;
  /** project / postMessage baseline */
  vsPostMessage?: number;
  /** throughput at `cpus` / throughput at 1 CPU */
  vs1Cpu?: number;
  /** (fastest - slowest run) / median run, over the runs behind this figure */
  spread: number;
}

export interface Target {
  name: string;
  value: number;
  /** value must be >= this */
  min: number;
  met: boolean;
  /** the row the value comes from */
  from: string;
}

const LABELS: Record<string, string> = {
  'limit cas-own n/a': 'limit: load+CAS, own line',
  'limit cas-shared n/a': 'limit: load+CAS loop, one word',
  'project pair disjoint': 'alloc+free, disjoint sets',
  'project pair shared': 'alloc+free, one shared set',
  'project find shared': 'find',
  'project rcu-pair n/a': 'readLock+readUnlock',
  'project synchronize n/a': 'synchronize',
  'mutex pair disjoint': 'mutex: alloc+free, disjoint sets',
  'mutex pair shared': 'mutex: alloc+free, one shared set',
  'mutex find shared': 'mutex: find',
  'postmessage pair disjoint': 'postMessage: alloc+free, disjoint sets',
  'postmessage pair shared': 'postMessage: alloc+free, one shared set',
  'postmessage find shared': 'postMessage: find',
};

function label(m: { impl: Impl; workload: ScalingWorkload; sets: Sets }): string {
  return LABELS[`${m.impl} ${m.workload} ${m.sets}`] ?? `${m.impl} ${m.workload} ${m.sets}`;
}

/** Every measurement with its ratios. */
export function compare(ms: Measurement[]): ComparisonRow[] {
  const find = (impl: Impl, workload: ScalingWorkload, sets: Sets, cpus: number) =>
    ms.find(
      (m) => m.impl === impl && m.workload === workload && m.sets === sets && m.cpus === cpus,
    );
  return ms.map((m) => {
    const row: ComparisonRow = {
      label: label(m),
      impl: m.impl,
      workload: m.workload,
      sets: m.sets,
      cpus: m.cpus,
      opsPerSec: m.opsPerSec,
      perCpu: m.perCpu,
      spread: m.samples.length > 0 ? (m.samples.at(-1)! - m.samples[0]!) / m.opsPerSec : 0,
      fails: m.fails,
      hungRuns: m.hungRuns,
    };
    const one = find(m.impl, m.workload, m.sets, 1);
    if (one && m.cpus !== 1) row.vs1Cpu = m.opsPerSec / one.opsPerSec;
    if (m.impl !== 'project') return row;
    const limit = find(
      'limit',
      m.sets === 'shared' && m.workload === 'pair' ? 'cas-shared' : 'cas-own',
      'n/a',
      m.cpus,
    );
    if (limit) row.vsLimit = m.opsPerSec / limit.opsPerSec;
    const mutex = find('mutex', m.workload, m.sets, m.cpus);
    if (mutex) row.vsMutex = m.opsPerSec / mutex.opsPerSec;
    const pm = find('postmessage', m.workload, m.sets, m.cpus);
    if (pm) row.vsPostMessage = m.opsPerSec / pm.opsPerSec;
    return row;
  });
}

/** The issue-4 targets, each with the figure it is judged on. */
export function targets(rows: ComparisonRow[]): Target[] {
  const out: Target[] = [];
  const push = (name: string, value: number, min: number, r: ComparisonRow) =>
    out.push({
      name,
      value,
      min,
      met: value >= min,
      from: `${r.label}, ${r.cpus} CPU${r.cpus === 1 ? '' : 's'}`,
    });
  const vsPm = rows.filter((r) => r.vsPostMessage !== undefined);
  if (vsPm.length > 0) {
    const worst = vsPm.reduce((a, b) => (b.vsPostMessage! < a.vsPostMessage! ? b : a));
    push(
      'throughput per CPU vs postMessage baseline (worst row)',
      worst.vsPostMessage!,
      300,
      worst,
    );
  }
  const shared2 = rows.find(
    (r) => r.impl === 'project' && r.workload === 'pair' && r.sets === 'shared' && r.cpus === 2,
  );
  if (shared2?.vsMutex !== undefined)
    push('alloc+free vs mutex baseline, 2 CPUs, one shared set', shared2.vsMutex, 1.5, shared2);
  const find2 = rows.find((r) => r.impl === 'project' && r.workload === 'find' && r.cpus === 2);
  if (find2?.vs1Cpu !== undefined)
    push('find throughput scaling, 1 -> 2 CPUs', find2.vs1Cpu, 1.8, find2);
  return out;
}

function ratio(x: number | undefined): string {
  if (x === undefined) return '';
  if (x >= 100) return `${x.toFixed(0)}x`;
  if (x >= 10) return `${x.toFixed(1)}x`;
  return `${x.toFixed(2)}x`;
}

/** The comparison table and the targets, as lines. */
export function renderComparison(
  rows: ComparisonRow[],
  ts: Target[],
  meta: { ms: number; reps: number },
): string[] {
  const w = Math.max(...rows.map((r) => r.label.length)) + 2;
  const cols = ['CPUs', 'ops/s', 'per CPU', 'spread', '/limit', '/mutex', '/postMsg', 'vs 1 CPU'];
  const widths = [5, 10, 10, 8, 9, 9, 9, 9];
  const line = (first: string, cells: string[]) =>
    first.padEnd(w) + cells.map((c, i) => c.padStart(widths[i]!)).join('');
  const out = [
    '',
    `Scaling (worker_threads on a SAB barrier; median of ${meta.reps} runs of ${meta.ms} ms; ops/s = total ops / wall time)`,
    `  ratios: this project / limit or baseline at the same CPU count; "vs 1 CPU" = throughput / 1-CPU throughput`,
    '  spread: (fastest - slowest run) / median run',
    line('  operation', cols),
  ];
  let prev = '';
  for (const r of rows) {
    if (r.label !== prev && prev !== '') out.push('');
    prev = r.label;
    out.push(
      line(`  ${r.label}`, [
        String(r.cpus),
        fmtRate(r.opsPerSec),
        fmtRate(r.perCpu),
        `${(r.spread * 100).toFixed(0)}%`,
        ratio(r.vsLimit),
        ratio(r.vsMutex),
        ratio(r.vsPostMessage),
        ratio(r.vs1Cpu),
      ]) + note(r.fails, r.hungRuns),
    );
  }
  out.push('', 'Targets (issue 4)');
  const tw = Math.max(...ts.map((t) => t.name.length)) + 2;
  for (const t of ts)
    out.push(
      `  ${t.name.padEnd(tw)}${ratio(t.value).padStart(8)}  target >= ${t.min}x  ${t.met ? 'met' : 'MISSED'}  (${t.from})`,
    );
  return out;
}
