/**
 * The stress report as one self-contained HTML page: inline CSS and inline SVG charts, no
 * scripts, no external assets, so it can be attached to a bug report or opened offline.
 *
 * What a reader looks for first comes first: the verdict (and whether this was a broken or an
 * interrupted run), the invariants with their first violations, then throughput over time
 * (all CPUs, with the band between the slowest and the fastest CPU), live ids and grace
 * periods over time, with the faults and the first violation marked; then the operations
 * (errno returns by code, latencies in ns/µs/ms), latency histograms with p50 and p99
 * marked, where the killed CPUs died, what the checker saw and missed, and the environment.
 */
import {
  describeErrnos,
  describeKillSites,
  describeNotifications,
  describeViolation,
  duration,
  type EpochThroughput,
  type StressReport,
} from './report.js';

/** One line of a chart. */
export interface Series {
  name: string;
  points: [number, number][];
  color?: string;
}

/** A vertical mark on a chart's time axis: a kill, a stutter, the first violation. */
export interface Marker {
  x: number;
  /** A stutter: from x to `until`, shaded. */
  until?: number | undefined;
  label: string;
  kind: 'kill' | 'stutter' | 'violation';
}

/** Escape text for HTML. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Round tick values from 0 to at least `max`: steps of 1, 2, 2.5 or 5 times a power of ten.
 *
 * @param max - the largest value to show
 * @param target - about how many intervals
 *
 * Context: pure.
 * @returns the ticks, starting at 0; the last is >= max
 */
export function niceTicks(max: number, target = 4): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / target;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const ticks: number[] = [];
  for (let i = 0; ; i++) {
    const t = Number((i * step).toPrecision(12));
    ticks.push(t);
    if (t >= max) return ticks;
  }
}

/**
 * A number for an axis: 1.5k, 2M, 250.
 *
 * @param n - the value
 *
 * Context: pure.
 * @returns its short text
 */
export function short(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${+(n / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${+(n / 1e6).toFixed(2)}M`;
  if (a >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return `${+n.toFixed(2)}`;
}

/** Chart frame, in SVG user units: width and the left/right/top/bottom margins. */
const W = 640;
const L = 60;
const R = 16;
const T = 30;
const B = 40;
const MARK_CLASS: Record<Marker['kind'], string> = {
  kill: 'kill',
  stutter: 'stutter',
  violation: 'violation',
};

/**
 * A line chart over time as an SVG string, with an optional band (min..max) behind the
 * first series and markers.
 *
 * @param title - the chart's title
 * @param series - its lines
 * @param yLabel - the y axis's label (x is seconds)
 * @param markers - kills, stutters, the first violation
 * @param band - a shaded range [x, low, high] per point
 * @param seconds - where the time axis ends (default: the last point or marker), so that
 *   every chart of a run has the same axis
 *
 * Context: pure.
 * @returns the SVG
 */
export function lineChart(
  title: string,
  series: Series[],
  yLabel: string,
  markers: Marker[] = [],
  band?: { name: string; points: [number, number, number][] },
  seconds?: number,
): string {
  const H = 260;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = [
    ...series.flatMap((s) => s.points.map((p) => p[1])),
    ...(band?.points.map((p) => p[2]) ?? []),
  ];
  // Time runs to the end of the run exactly (round ticks inside it); values to a round top.
  const xMax = seconds ?? Math.max(1e-9, ...xs, ...markers.map((m) => m.until ?? m.x));
  const xt = niceTicks(xMax, 5).filter((t) => t <= xMax * 1.001);
  const yt = niceTicks(Math.max(0, ...ys), 4);
  const yMax = yt[yt.length - 1]!;
  const px = (x: number): number => L + (x / xMax) * (W - L - R);
  const py = (y: number): number => H - B - (y / yMax) * (H - T - B);
  const f1 = (n: number): string => n.toFixed(1);
  const grid = yt
    .map(
      (v) =>
        `<line x1="${L}" x2="${W - R}" y1="${f1(py(v))}" y2="${f1(py(v))}" class="grid"/>` +
        `<text x="${L - 6}" y="${f1(py(v) + 4)}" class="tick" text-anchor="end">${short(v)}</text>`,
    )
    .join('');
  const xTicks = xt
    .map(
      (v) =>
        `<line x1="${f1(px(v))}" x2="${f1(px(v))}" y1="${H - B}" y2="${H - B + 4}" class="axisline"/>` +
        `<text x="${f1(px(v))}" y="${H - B + 16}" class="tick" text-anchor="middle">${short(v)}</text>`,
    )
    .join('');
  const bandPath = band?.points.length
    ? `<path d="${[
        ...band.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${f1(px(p[0]))},${f1(py(p[2]))}`),
        ...[...band.points].reverse().map((p) => `L${f1(px(p[0]))},${f1(py(p[1]))}`),
      ].join('')}Z" class="band"><title>${esc(band.name)}</title></path>`
    : '';
  const lines = series
    .map((s) => {
      const d = s.points
        .map((p, j) => `${j === 0 ? 'M' : 'L'}${f1(px(p[0]))},${f1(py(p[1]))}`)
        .join('');
      return `<path d="${d}" fill="none" stroke="${s.color ?? '#2563eb'}" stroke-width="1.8"><title>${esc(s.name)}</title></path>`;
    })
    .join('');
  const marks = markers
    .map((m) => {
      const cls = MARK_CLASS[m.kind];
      if (m.until !== undefined)
        return `<rect x="${f1(px(m.x))}" y="${T}" width="${f1(Math.max(1, px(m.until) - px(m.x)))}" height="${H - T - B}" class="${cls}"><title>${esc(m.label)}</title></rect>`;
      return `<line x1="${f1(px(m.x))}" x2="${f1(px(m.x))}" y1="${T}" y2="${H - B}" class="${cls}"><title>${esc(m.label)}</title></line>`;
    })
    .join('');
  const violation = markers.find((m) => m.kind === 'violation');
  const violationLabel = violation
    ? `<text x="${f1(Math.min(px(violation.x) + 3, W - R - 120))}" y="${T + 10}" class="vlabel">first violation</text>`
    : '';
  const legend = [
    ...series.map(
      (s) =>
        `<tspan fill="${s.color ?? '#2563eb'}">&#9632;</tspan><tspan> ${esc(s.name)}&#160;&#160;</tspan>`,
    ),
    band ? `<tspan class="bandkey">&#9632;</tspan><tspan> ${esc(band.name)}</tspan>` : '',
  ].join('');
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}"><title>${esc(title)}</title>
<text x="${L}" y="18" class="title">${esc(title)}</text><text x="${W - R}" y="18" class="legend" text-anchor="end">${legend}</text>
${grid}${xTicks}<text x="${(L + W - R) / 2}" y="${H - 6}" class="axis" text-anchor="middle">seconds</text>
<text x="14" y="${(T + H - B) / 2}" class="axis" text-anchor="middle" transform="rotate(-90 14 ${(T + H - B) / 2})">${esc(yLabel)}</text>
${marks}${bandPath}${lines}${violationLabel}</svg>`;
}

/**
 * A latency histogram as an SVG bar chart: bars are the log-spaced buckets, the axis reads
 * in ns/µs/ms, and p50 and p99 are marked.
 *
 * @param title - the chart's title (the op)
 * @param floors - each bucket's lower bound, ns
 * @param counts - each bucket's count
 * @param p - the op's p50 and p99, ns
 *
 * Context: pure.
 * @returns the SVG
 */
export function histogramChart(
  title: string,
  floors: number[],
  counts: number[],
  p: { p50: number; p99: number },
): string {
  const H = 200;
  const first = Math.max(
    0,
    counts.findIndex((n) => n > 0),
  );
  const shown = counts.slice(first);
  const shownFloors = floors.slice(first);
  const yt = niceTicks(Math.max(1, ...shown), 2);
  const yMax = yt[yt.length - 1]!;
  const bw = (W - L - R) / Math.max(1, shown.length);
  const f1 = (n: number): string => n.toFixed(1);
  const bars = shown
    .map((n, i) => {
      const h = (n / yMax) * (H - T - B);
      const upper = shownFloors[i + 1];
      return `<rect x="${f1(L + i * bw + 0.5)}" y="${f1(H - B - h)}" width="${f1(Math.max(1, bw - 1))}" height="${f1(h)}" class="bar"><title>${duration(shownFloors[i]!)}${upper ? `–${duration(upper)}` : '+'}: ${n.toLocaleString('en-US')}</title></rect>`;
    })
    .join('');
  // x position of a latency: bucket index, interpolated inside the bucket.
  const at = (ns: number): number => {
    let i = shownFloors.findLastIndex((f) => f <= ns);
    if (i < 0) i = 0;
    const lo = shownFloors[i]!;
    const hi = shownFloors[i + 1] ?? lo * 1.25;
    return L + (i + Math.min(1, (ns - lo) / Math.max(1e-9, hi - lo))) * bw;
  };
  const marks = (
    [
      ['p50', p.p50],
      ['p99', p.p99],
    ] as const
  )
    .map(([name, ns], k) => {
      const x = at(ns);
      return `<line x1="${f1(x)}" x2="${f1(x)}" y1="${T}" y2="${H - B}" class="pmark"/><text x="${f1(Math.min(x + 3, W - R - 70))}" y="${T + 10 + 12 * k}" class="plabel">${name} ${duration(ns)}</text>`;
    })
    .join('');
  // Ticks at the decades (1 µs, 10 µs, ...) and their halves that fall in the range.
  const decades: number[] = [];
  for (let d = 10; d <= (shownFloors[shownFloors.length - 1] ?? 10) * 1.25; d *= 10)
    decades.push(d);
  const ticks = decades
    .filter((d) => d >= (shownFloors[0] ?? 0))
    .map(
      (d) =>
        `<line x1="${f1(at(d))}" x2="${f1(at(d))}" y1="${H - B}" y2="${H - B + 4}" class="axisline"/><text x="${f1(at(d))}" y="${H - B + 16}" class="tick" text-anchor="middle">${duration(d)}</text>`,
    )
    .join('');
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}"><title>${esc(title)}</title>
<text x="${L}" y="18" class="title">${esc(title)}</text>
<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" class="axisline"/><text x="${L - 6}" y="${T + 4}" class="tick" text-anchor="end">${short(yMax)}</text><text x="${L - 6}" y="${H - B + 4}" class="tick" text-anchor="end">0</text>
${bars}${marks}${ticks}<text x="${(L + W - R) / 2}" y="${H - 6}" class="axis" text-anchor="middle">latency (log buckets; one op in 8 timed)</text></svg>`;
}

/** A table with a header row; every cell escaped. */
export function table(head: string[], rows: (string | number)[][], cls = ''): string {
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(String(c))}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/**
 * A whole self-contained page: the shared style, `title`, then `body` (HTML).
 *
 * @param title - plain text for the title element (escaped here)
 * @param body - the page's HTML
 *
 * Context: pure.
 * @returns the document
 */
export function htmlPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:1340px;padding:0 16px;color:#111}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.verdict{display:inline-block;padding:3px 12px;border-radius:4px;color:#fff;font-weight:600;background:#16a34a} .verdict.fail{background:#dc2626}
.banner{padding:8px 12px;border-radius:4px;margin:8px 0;font-weight:600} .banner.broken{background:#fef3c7;border:1px solid #f59e0b} .banner.interrupted{background:#e0e7ff;border:1px solid #6366f1}
.meta{color:#444} .grid-2{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px}
svg{width:100%;height:auto;background:#fafafa;border:1px solid #eee;border-radius:4px}
svg .grid{stroke:#e5e5e5} svg .axisline{stroke:#999} svg .tick{font-size:10px;fill:#555} svg .axis{font-size:11px;fill:#444} svg .title{font-size:13px;font-weight:600} svg .legend{font-size:11px}
svg .band{fill:#93c5fd;fill-opacity:.35;stroke:none} svg .bandkey{fill:#93c5fd}
svg .kill{stroke:#ea580c;stroke-width:1.2;stroke-dasharray:3 3} svg rect.stutter{fill:#9ca3af;fill-opacity:.25} svg .violation{stroke:#dc2626;stroke-width:2} svg .vlabel{font-size:10px;fill:#dc2626;font-weight:600}
svg .bar{fill:#2563eb} svg .pmark{stroke:#dc2626;stroke-width:1.2;stroke-dasharray:4 2} svg .plabel{font-size:10px;fill:#b91c1c}
.keys{font-size:12px;color:#444} .k{display:inline-block;width:14px;height:10px;margin:0 4px 0 12px;vertical-align:middle} .k.kill{border-left:2px dashed #ea580c} .k.stutter{background:#d1d5db} .k.violation{border-left:3px solid #dc2626}
table{border-collapse:collapse;margin:8px 0} th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:right;vertical-align:top} th:first-child,td:first-child{text-align:left}
table.wide td:last-child,table.wide th:last-child{text-align:left;max-width:640px} table.kills td:nth-child(3),table.kills td:nth-child(4),table.kills th:nth-child(3),table.kills th:nth-child(4){text-align:left}
svg .ph{fill:#2563eb} svg .p8{fill:#16a34a} pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}
.ok{color:#16a34a;font-weight:600} .fail{color:#dc2626;font-weight:600} code{background:#f3f3f3;padding:1px 4px;border-radius:3px;word-break:break-all}
</style></head><body>
${body}
</body></html>
`;
}

/** A count with thousands separators. */
export const n = (x: number): string => x.toLocaleString('en-US');

/**
 * Throughput over time: all CPUs together, and per CPU the mean with the band from the
 * slowest to the fastest (one chart each: on one scale a band 1/N of the total is a smear).
 */
function throughputCharts(r: StressReport, markers: Marker[]): string {
  const pts: EpochThroughput[] = r.timeline.opsPerSec;
  const cpus = r.config.cpus;
  return (
    lineChart(
      `Throughput, all ${cpus} CPUs`,
      [{ name: 'ops/s, all CPUs', points: pts.map((p) => [p.t, p.total]), color: '#2563eb' }],
      'ops/s',
      markers,
      undefined,
      r.elapsedSeconds,
    ) +
    lineChart(
      'Throughput per CPU',
      [{ name: 'mean', points: pts.map((p) => [p.t, p.total / cpus]), color: '#1d4ed8' }],
      'ops/s per CPU',
      markers,
      { name: 'slowest to fastest CPU', points: pts.map((p) => [p.t, p.min, p.max]) },
      r.elapsedSeconds,
    )
  );
}

function markersOf(r: StressReport): Marker[] {
  const markers: Marker[] = r.faults.events.map((e) =>
    e.kind === 'kill'
      ? {
          x: e.t,
          label: `${e.t.toFixed(2)} s: CPU ${e.cpu} killed (${(e.diedIn ?? []).join(', ')})`,
          kind: 'kill',
        }
      : {
          x: e.t,
          until: e.until,
          label: `${e.t.toFixed(2)} s: stutter (every CPU parked)`,
          kind: 'stutter',
        },
  );
  const v = r.firstViolation;
  if (v) markers.push({ x: v.atSeconds, label: describeViolation(v), kind: 'violation' });
  return markers;
}

function killTable(r: StressReport): string {
  const kills = r.faults.events.filter((e) => e.kind === 'kill');
  if (kills.length === 0) return '<p class="meta">No CPU was killed in this run.</p>';
  const aimed: Record<string, string> = {
    setLock: 'the set lock',
    spidLock: 'the SPID lock',
    gracePeriod: 'GP_LOCK (a grace period)',
  };
  const place: Record<string, string> = {
    setLock: 'holding the set lock',
    spidLock: 'holding the SPID lock',
    gracePeriod: 'leading a grace period (GP_LOCK)',
    readSection: 'in a read-side section',
    halfDone: 'mid alloc/reclaim/setAlloc',
    elsewhere: 'elsewhere',
  };
  return `<p class="meta">${kills.length} kills, ${r.faults.killSites.aimed} aimed at a critical section; they died holding ${esc(describeKillSites(r.faults.killSites))}. ${n(r.faults.recoveredIds)} ids recovered from them at the end (bound ${n(r.faults.recoverableBound)}).</p>
${table(
  ['at', 'CPU', 'aimed at', 'died', 'ids held'],
  kills.map((e) => [
    `${e.t.toFixed(2)} s`,
    e.cpu ?? '',
    e.aimedAt ? (aimed[e.aimedAt] ?? e.aimedAt) : '(not aimed)',
    (e.diedIn ?? []).map((d) => place[d] ?? d).join('; '),
    e.held ?? '',
  ]),
  'kills',
)}`;
}

function checkerSection(r: StressReport): string {
  const c = r.checker;
  if (!c) return '<p class="fail">The checker thread did not report (it crashed).</p>';
  const all = c.entriesChecked + c.entriesMissed;
  const pct = all > 0 ? (100 * c.entriesMissed) / all : 0;
  return `<p class="meta">The checker read ${n(c.entriesChecked)} log entries online and <b>missed ${n(c.entriesMissed)}</b> (${pct.toFixed(pct < 1 ? 3 : 1)}%: overwritten by their CPU before it read them; every result is also checked by its own CPU). ${n(c.passes)} passes; ${c.quiescentChecks} exact capacity checks while every CPU was parked.</p>`;
}

function notificationsSection(r: StressReport): string {
  if (!r.notifications) return '';
  const rows = r.notifications.subscriptions.map((s) => [
    s.index,
    s.chain === null ? 'global' : `set ${s.chain}`,
    s.priority,
    s.readerCpu,
    n(s.read),
    n(s.frees),
    n(s.lost),
  ]);
  return `<h2 id="notifications">Notifications</h2>
<p class="meta">${esc(describeNotifications(r))}.</p>
${table(['subscription', 'chain', 'priority', 'read by CPU', 'entries read', 'FREE (global)', 'lost'], rows)}`;
}

/**
 * The report as a self-contained HTML page.
 *
 * @param r - the report
 *
 * Context: pure.
 * @returns the page
 */
export function renderHtmlReport(r: StressReport): string {
  const c = r.config;
  const markers = markersOf(r);
  const live: Series[] = [
    {
      name: 'live ids',
      points: r.timeline.samples.map((s) => [s.t, s.liveIds] as [number, number]),
      color: '#16a34a',
    },
  ];
  // A rate per sampling interval; the last interval (cut short by the end of the run) is left
  // out when it is under half an epoch, or the chart would end in a drop that never happened.
  const epochS = r.timeline.epochMs / 1000;
  const gps = r.timeline.samples
    .slice(1)
    .map((s, i) => {
      const prev = r.timeline.samples[i]!;
      const dt = s.t - prev.t;
      return [s.t, dt > 0 ? (s.gracePeriods - prev.gracePeriods) / dt : 0, dt] as const;
    })
    .filter(([, , dt], i, all) => i < all.length - 1 || dt >= epochS / 2)
    .map(([t, rate]) => [t, rate] as [number, number]);
  const ok = r.verdict === 'PASS';
  const v = r.firstViolation;
  const env = r.environment;
  const histograms = r.operations
    .map((o) => {
      const h = r.latencyHistograms[o.op];
      return h
        ? histogramChart(
            `${o.op} (${n(o.latencyNs.samples)} timed)`,
            h.bucketFloorNs,
            h.counts,
            o.latencyNs,
          )
        : '';
    })
    .join('\n');
  const legend = `<p class="keys">${r.faults.kills ? '<span class="k kill"></span> CPU killed ' : ''}${r.faults.stutters ? '<span class="k stutter"></span> stutter (every CPU parked) ' : ''}${v ? '<span class="k violation"></span> first violation' : ''}</p>`;
  return htmlPage(
    `ioasid-stress ${r.scenario}: ${r.verdict}${r.broken ? ' (broken run)' : ''}`,
    `<h1>ioasid-stress: scenario <code>${esc(r.scenario)}</code> <span class="verdict${ok ? '' : ' fail'}">${r.verdict}</span></h1>
${r.broken ? `<p class="banner broken">Broken run: <code>--broken ${esc(r.broken.twin)}</code>, ${esc(r.broken.description)}. It must be caught as <code>${esc(r.broken.trips)}</code>: ${r.broken.caught ? 'it was.' : 'it was NOT (the harness cannot see this bug).'}</p>` : ''}
${r.interrupted ? `<p class="banner interrupted">Interrupted by ${esc(r.interrupted.signal)} after ${r.interrupted.atSeconds.toFixed(1)} s: a partial run.</p>` : ''}
<p class="meta">${c.cpus} CPUs, ${r.elapsedSeconds.toFixed(1)} s, ${c.sets} sets &times; quota ${c.quota}, ${c.pasidBits}-bit PASIDs, policy ${esc(c.policy)}, seed ${r.seed}${c.faults.length ? `, faults: ${esc(c.faults.join(', '))}` : ''}.
Throughput ${n(r.throughput.opsPerSec)} ops/s; ${n(r.gracePeriods.completed)} grace periods (${n(r.gracePeriods.perSecond)}/s, ${r.gracePeriods.stalls} stalls); ${r.faults.kills} CPU kills, ${r.faults.stutters} stutters.</p>
<p class="meta">Replay: <code>${esc(r.replay)}</code></p>
<h2 id="invariants">Invariants</h2>
${table(
  ['invariant', 'result', 'violations', 'first violation'],
  r.invariants.map((i) => [
    i.name,
    !i.checked ? 'n/a' : i.ok ? 'ok' : 'FAIL',
    i.violations,
    i.first ? describeViolation(i.first) : '',
  ]),
  'wide',
)
  .replace(/<td>ok<\/td>/g, '<td class="ok">ok</td>')
  .replace(/<td>FAIL<\/td>/g, '<td class="fail">FAIL</td>')}
${v ? `<p class="fail">First violation: ${esc(describeViolation(v))}</p>` : ''}
${r.problems.map((p) => `<p class="fail">${esc(p)}</p>`).join('')}
<h2 id="over-time">Over time</h2>
${legend}
<div class="grid-2">
${throughputCharts(r, markers)}
${lineChart('Live ids (held by CPUs)', live, 'ids', markers, undefined, r.elapsedSeconds)}
${lineChart('Grace periods per second', [{ name: 'grace periods/s', points: gps, color: '#9333ea' }], 'GP/s', markers, undefined, r.elapsedSeconds)}
</div>
<h2 id="operations">Operations</h2>
${table(
  ['op', 'count', 'ops/s', 'errno', 'p50', 'p90', 'p99', 'max', 'errno returns by code'],
  r.operations.map((o) => [
    o.op,
    n(o.count),
    n(o.opsPerSec),
    `${((100 * o.errors) / o.count).toFixed(1)}%`,
    duration(o.latencyNs.p50),
    duration(o.latencyNs.p90),
    duration(o.latencyNs.p99),
    duration(o.latencyNs.max),
    describeErrnos(o),
  ]),
  'wide',
)}
<h2 id="latency">Latency histograms</h2>
<div class="grid-2">
${histograms}
</div>
<h2 id="killed-cpus">Killed CPUs</h2>
${killTable(r)}
<h2 id="checker">Checker</h2>
${checkerSection(r)}
${notificationsSection(r)}
<h2 id="per-cpu">Per CPU</h2>
${table(
  ['CPU', 'ops', 'ops/s'],
  r.throughput.perCpu.map((p) => [p.cpu, n(p.ops), n(p.opsPerSec)]),
)}
<p class="meta">Shared memory: ${(r.space.byteLength / 2 ** 20).toFixed(2)} MiB. Made by ioasid ${esc(env.packageVersion)} (report schema ${r.schemaVersion}) on Node ${esc(env.node)}, ${env.platform}/${env.arch}, ${env.cores} cores (${esc(env.cpuModel)}), ${esc(env.date)}.</p>`,
  );
}
