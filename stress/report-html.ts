/**
 * The stress report as one self-contained HTML page: inline CSS and inline SVG charts, no
 * scripts, no external assets, so it can be attached to a bug report or opened offline.
 * Charts: throughput over time per CPU, live ids and grace periods over time, and a latency
 * histogram per operation (log scale, bucket floors as in the shared-memory histograms).
 */
import type { StressReport } from './report.js';

const PALETTE = [
  '#2563eb',
  '#dc2626',
  '#16a34a',
  '#9333ea',
  '#ea580c',
  '#0891b2',
  '#be185d',
  '#4d7c0f',
];

interface Series {
  name: string;
  points: [number, number][];
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function short(n: number): string {
  if (n >= 1e9) return `${+(n / 1e9).toFixed(1)}G`;
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return `${+n.toFixed(1)}`;
}

/** Chart frame, in SVG user units: width and the left/right/top/bottom margins. */
const W = 640;
const L = 60;
const R = 16;
const T = 30;
const B = 40;

/** A line chart as an SVG string. */
export function lineChart(
  title: string,
  series: Series[],
  xLabel: string,
  yLabel: string,
  markers: { x: number; label: string }[] = [],
): string {
  const H = 260;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const xMax = Math.max(1e-9, ...xs);
  const yMax = niceMax(Math.max(0, ...ys));
  const px = (x: number): number => L + (x / xMax) * (W - L - R);
  const py = (y: number): number => H - B - (y / yMax) * (H - T - B);
  const grid = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => {
      const y = py(f * yMax);
      return `<line x1="${L}" x2="${W - R}" y1="${y}" y2="${y}" class="grid"/><text x="${L - 6}" y="${y + 4}" class="tick" text-anchor="end">${short(f * yMax)}</text>`;
    })
    .join('');
  const xTicks = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (f) =>
        `<text x="${px(f * xMax)}" y="${H - B + 16}" class="tick" text-anchor="middle">${short(f * xMax)}</text>`,
    )
    .join('');
  const lines = series
    .map((s, i) => {
      const d = s.points
        .map((p, j) => `${j === 0 ? 'M' : 'L'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`)
        .join('');
      return `<path d="${d}" fill="none" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="1.8"/>`;
    })
    .join('');
  const marks = markers
    .map(
      (m) =>
        `<line x1="${px(m.x)}" x2="${px(m.x)}" y1="${T}" y2="${H - B}" class="marker"><title>${esc(m.label)}</title></line>` +
        `<text x="${px(m.x) + 2}" y="${T + 9}" class="mark">${esc(m.label)}</text>`,
    )
    .join('');
  const legend = series
    .map(
      (s, i) =>
        `<tspan fill="${PALETTE[i % PALETTE.length]}">&#9632;</tspan><tspan> ${esc(s.name)}&#160;&#160;</tspan>`,
    )
    .join('');
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}"><title>${esc(title)}</title>
<text x="${L}" y="18" class="title">${esc(title)}</text><text x="${W - R}" y="18" class="legend" text-anchor="end">${legend}</text>
${grid}${xTicks}<text x="${(L + W - R) / 2}" y="${H - 6}" class="axis" text-anchor="middle">${esc(xLabel)}</text>
<text x="14" y="${(T + H - B) / 2}" class="axis" text-anchor="middle" transform="rotate(-90 14 ${(T + H - B) / 2})">${esc(yLabel)}</text>
${marks}${lines}</svg>`;
}

/** A histogram as an SVG bar chart; bars are log-spaced latency buckets. */
export function histogramChart(title: string, floors: number[], counts: number[]): string {
  const H = 200;
  const first = counts.findIndex((n) => n > 0);
  const from = Math.max(0, first);
  const shown = counts.slice(from);
  const shownFloors = floors.slice(from);
  const yMax = niceMax(Math.max(1, ...shown));
  const bw = (W - L - R) / Math.max(1, shown.length);
  const bars = shown
    .map((n, i) => {
      const h = (n / yMax) * (H - T - B);
      return `<rect x="${(L + i * bw + 0.5).toFixed(1)}" y="${(H - B - h).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="#2563eb"><title>${short(shownFloors[i]!)} ns: ${n}</title></rect>`;
    })
    .join('');
  const step = Math.max(1, Math.ceil(shown.length / 8));
  const ticks = shownFloors
    .map((f, i) =>
      i % step === 0
        ? `<text x="${(L + i * bw).toFixed(1)}" y="${H - B + 16}" class="tick" text-anchor="start">${short(f)}</text>`
        : '',
    )
    .join('');
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}"><title>${esc(title)}</title>
<text x="${L}" y="18" class="title">${esc(title)}</text>
<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" class="grid"/><text x="${L - 6}" y="${T + 4}" class="tick" text-anchor="end">${short(yMax)}</text>
${bars}${ticks}<text x="${(L + W - R) / 2}" y="${H - 6}" class="axis" text-anchor="middle">latency, ns (log buckets; sampled 1 op in 8)</text></svg>`;
}

function table(head: string[], rows: (string | number)[][]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(String(c))}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

export function renderHtmlReport(r: StressReport): string {
  const c = r.config;
  const epochS = r.timeline.epochMs / 1000;
  const throughput = r.timeline.opsPerSecPerCpu.map((row, cpu) => ({
    name: `CPU ${cpu}`,
    points: row.map((v, e) => [(e + 1) * epochS, v] as [number, number]),
  }));
  const live = [
    {
      name: 'live ids',
      points: r.timeline.samples.map((s) => [s.t, s.liveIds] as [number, number]),
    },
  ];
  const gps = r.timeline.samples.map((s, i, all) => {
    const prev = all[i - 1];
    const dt = prev ? s.t - prev.t : s.t;
    return [s.t, dt > 0 ? (s.gracePeriods - (prev?.gracePeriods ?? 0)) / dt : 0] as [
      number,
      number,
    ];
  });
  const ok = r.verdict === 'PASS';
  const markers = r.faults.events.map((e) => ({
    x: e.t,
    label: e.kind === 'kill' ? `kill CPU ${e.cpu}` : 'stutter',
  }));
  const v = r.firstViolation;
  const histograms = Object.entries(r.latencyHistograms)
    .map(([op, h]) => histogramChart(`${op}`, h.bucketFloorNs, h.counts))
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>ioasid-stress ${esc(r.scenario)}: ${r.verdict}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:1340px;padding:0 16px;color:#111}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.verdict{display:inline-block;padding:3px 12px;border-radius:4px;color:#fff;font-weight:600;background:${ok ? '#16a34a' : '#dc2626'}}
.meta{color:#555} .grid-2{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px}
svg{width:100%;height:auto;background:#fafafa;border:1px solid #eee;border-radius:4px}
svg .grid{stroke:#ddd} svg .tick{font-size:10px;fill:#666} svg .axis{font-size:11px;fill:#444} svg .title{font-size:13px;font-weight:600} svg .legend{font-size:11px} svg .marker{stroke:#f59e0b;stroke-dasharray:3 3} svg .mark{font-size:9px;fill:#b45309}
table{border-collapse:collapse;margin:8px 0} th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:right} th:first-child,td:first-child{text-align:left}
.ok{color:#16a34a;font-weight:600} .fail{color:#dc2626;font-weight:600} code{background:#f3f3f3;padding:1px 4px;border-radius:3px}
</style></head><body>
<h1>ioasid-stress: scenario <code>${esc(r.scenario)}</code> <span class="verdict">${r.verdict}</span></h1>
<p class="meta">${c.cpus} CPUs, ${r.elapsedSeconds.toFixed(1)} s, ${c.sets} sets &times; quota ${c.quota}, ${c.pasidBits}-bit PASIDs, policy ${esc(c.policy)}, seed ${r.seed}${c.faults.length ? `, faults: ${esc(c.faults.join(', '))}` : ''}.
Throughput ${r.throughput.opsPerSec.toLocaleString('en-US')} ops/s; ${r.gracePeriods.completed.toLocaleString('en-US')} grace periods (${r.gracePeriods.perSecond.toLocaleString('en-US')}/s); ${r.faults.kills} CPU kills (died holding the set lock ${r.faults.killSites.setLock}, the SPID lock ${r.faults.killSites.spidLock}, GP_LOCK ${r.faults.killSites.gracePeriod}), ${r.faults.stutters} stutters.</p>
<p class="meta">Replay: <code>${esc(r.replay)}</code></p>
<h2>Invariants</h2>
${table(
  ['invariant', 'result', 'violations'],
  r.invariants.map((i) => [i.name, i.ok ? 'ok' : 'FAIL', i.violations]),
)
  .replace(/<td>ok<\/td>/g, '<td class="ok">ok</td>')
  .replace(/<td>FAIL<\/td>/g, '<td class="fail">FAIL</td>')}
${v ? `<p class="fail">First violation: ${esc(v.kind)} ${v.cpu < 0 ? 'found by the checker' : `in ${esc(v.op)} on CPU ${v.cpu}`}, id ${v.id}, set ${v.set}, detail ${v.detail}, at ~${v.atSeconds} s.</p>` : ''}
${r.problems.map((p) => `<p class="fail">${esc(p)}</p>`).join('')}
<h2>Over time</h2>
<div class="grid-2">
${lineChart('Throughput per CPU', throughput, 'seconds', 'ops/s', markers)}
${lineChart('Live ids (held by CPUs)', live, 'seconds', 'ids', markers)}
${lineChart('Grace periods per second', [{ name: 'grace periods/s', points: gps }], 'seconds', 'GP/s', markers)}
</div>
<h2>Operations</h2>
${table(
  ['op', 'count', 'ops/s', 'errno returns', 'p50 ns', 'p90 ns', 'p99 ns', 'max ns'],
  r.operations.map((o) => [
    o.op,
    o.count.toLocaleString('en-US'),
    o.opsPerSec.toLocaleString('en-US'),
    `${((100 * o.errors) / o.count).toFixed(1)}%`,
    o.latencyNs.p50,
    o.latencyNs.p90,
    o.latencyNs.p99,
    o.latencyNs.max,
  ]),
)}
<h2>Latency histograms</h2>
<div class="grid-2">
${histograms}
</div>
<h2>Per CPU</h2>
${table(
  ['CPU', 'ops', 'ops/s'],
  r.throughput.perCpu.map((p) => [
    p.cpu,
    p.ops.toLocaleString('en-US'),
    p.opsPerSec.toLocaleString('en-US'),
  ]),
)}
<p class="meta">Shared memory: ${(r.space.byteLength / 2 ** 20).toFixed(2)} MiB. Generated by ioasid-stress.</p>
</body></html>
`;
}
