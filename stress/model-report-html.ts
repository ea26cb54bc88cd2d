/**
 * The report of a hardware-model run as one self-contained HTML page (the same style as the
 * allocator's report, report-html.ts): the verdict, the invariants with their checks and
 * violations, the first violation with the events of its PASID and the replay command, the
 * hardware counters, and per-PASID teardown timelines (P0 .. P8) for the sampled teardowns.
 */
import type { TeardownTimeline } from '../src/hw-model/checker/checker.js';
import { THREADED_REPLAY_NOTE } from '../src/hw-model/run-result.js';
import type { ModelReport } from './model-report.js';
import { esc, htmlPage, n, table } from './report-html.js';

const PHASES = ['P0', 'P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'P7', 'P8'];
const PHASE_NAMES = [
  'submission stopped',
  'device quiesced',
  'entry cleared',
  'PASID cache',
  'IOTLB',
  'device TLB',
  'PRQ drained',
  'references dropped',
  'reclaimed',
];
const ROW_H = 26;
const W = 900;
const LABEL_W = 230;

/**
 * One row per sampled teardown: its phases on a line, spaced by their log positions (each row
 * on its own scale, from its first phase to its last), exception-path rows marked.
 */
function timelineChart(ts: TeardownTimeline[]): string {
  if (ts.length === 0) return '<p class="meta">No teardown completed.</p>';
  const rows = ts.map((t, i) => {
    const seen = t.phases.map((p, k) => [k, p] as const).filter(([, p]) => p >= 0);
    const lo = Math.min(...seen.map(([, p]) => p));
    const hi = Math.max(...seen.map(([, p]) => p));
    const x = (p: number) => LABEL_W + 10 + ((W - LABEL_W - 40) * (p - lo)) / Math.max(1, hi - lo);
    const y = 20 + i * ROW_H;
    const label = `pf${t.pf} pasid ${t.pasid} (#${t.ordinal})${t.exception ? ' exit' : ''}`;
    const dots = seen
      .map(
        ([k, p], j) =>
          `<circle cx="${x(p).toFixed(1)}" cy="${y}" r="4" class="${k === 8 ? 'p8' : 'ph'}"><title>${PHASES[k]} ${PHASE_NAMES[k]}: event #${p}</title></circle><text x="${x(p).toFixed(1)}" y="${y - 7 + (j % 2) * 19}" class="tick" text-anchor="middle">${PHASES[k]}</text>`,
      )
      .join('');
    return `<text x="8" y="${y + 4}" class="legend">${esc(label)}</text><line x1="${x(lo)}" x2="${x(hi)}" y1="${y}" y2="${y}" class="axisline"/>${dots}`;
  });
  const h = 20 + ts.length * ROW_H;
  return `<svg viewBox="0 0 ${W} ${h}" role="img" aria-label="teardown timelines">${rows.join('')}</svg>
<p class="keys">Each row on its own scale, from its first phase to its last (log positions). "exit": the exception path (P2 with FPD first, then the driver's workqueue).</p>`;
}

/**
 * Render the page.
 *
 * @param r - the report
 *
 * Context: pure.
 * @returns the HTML document
 */
export function renderModelHtml(r: ModelReport): string {
  const ok = r.verdict === 'PASS';
  const v = r.firstViolation;
  const h = r.hardware;
  const env = r.environment;
  const invariants = table(
    ['invariant', 'result', 'checks', 'violations', 'checked'],
    r.invariants.map((i) => [
      `${i.id} ${i.name}`,
      i.violations ? 'FAIL' : 'ok',
      n(i.checks),
      n(i.violations),
      i.checkedAt.join(', '),
    ]),
  )
    .replace(/<td>ok<\/td>/g, '<td class="ok">ok</td>')
    .replace(/<td>FAIL<\/td>/g, '<td class="fail">FAIL</td>');
  const counters = table(
    ['counter', 'value'],
    [
      ['translations (succeeded)', `${n(h.translations)} (${n(h.translationsOk)})`],
      ['faults SPD.2 / SPT.2 / SPT.4', `${n(h.faultSpd2)} / ${n(h.faultSpt2)} / ${n(h.faultSpt4)}`],
      ['faults suppressed by FPD / lost (PFO)', `${n(h.faultsSuppressed)} / ${n(h.faultsLost)}`],
      ['page not present: page request / no PRI', `${n(h.faultPageRequest)} / ${n(h.faultNoPri)}`],
      ['PASID cache hits / misses', `${n(h.pasidCacheHits)} / ${n(h.pasidCacheMisses)}`],
      ['IOTLB hits / misses', `${n(h.iotlbHits)} / ${n(h.iotlbMisses)}`],
      ['device TLB hits / misses', `${n(h.devTlbHits)} / ${n(h.devTlbMisses)}`],
      [
        'invalidations: PASID cache / IOTLB / device TLB / wait / page response',
        `${n(h.invPasidCache)} / ${n(h.invIotlb)} / ${n(h.invDevTlb)} / ${n(h.invWait)} / ${n(h.invPageResponse)}`,
      ],
      [
        'page requests (PRQ overflow, stop markers)',
        `${n(h.pageRequests)} (${n(h.pageRequestsOverflow)}, ${n(h.stopMarkers)})`,
      ],
      [
        'responses success / invalid / stale',
        `${n(h.responsesSuccess)} / ${n(h.responsesInvalid)} / ${n(h.responsesStale)}`,
      ],
      [
        'drains / aborts / WQ disables / drain retries (PRO)',
        `${n(h.drains)} / ${n(h.aborts)} / ${n(h.wqDisables)} / ${n(h.prqOverflowRetries)}`,
      ],
      ['submissions / ZF=1 retries', `${n(h.submissions)} / ${n(h.zfRetries)}`],
      ['#GP fix-ups / #GP delivered', `${n(h.gpFixups)} / ${n(h.gpFaults)}`],
      [
        'executions (faulted, aborted) / SWERR',
        `${n(h.executions)} (${n(h.executionsFaulted)}, ${n(h.executionsAborted)}) / ${n(h.swerrs)}`,
      ],
      [
        'binds (errors: ENOSPC, EDQUOT, EOVERFLOW)',
        `${n(h.binds)} (${n(h.bindErrors)}: ${n(h.bindEnospc)}, ${n(h.bindEdquot)}, ${n(h.bindEoverflow)})`,
      ],
      ['unbinds / exits / teardowns', `${n(h.unbinds)} / ${n(h.mmExits)} / ${n(h.teardowns)}`],
    ],
    'wide',
  );
  const body = `<h1>ioasid-stress: model scenario <code>${esc(r.scenario)}</code> <span class="verdict${ok ? '' : ' fail'}">${r.verdict}</span></h1>
${r.interrupted ? `<p class="banner interrupted">Interrupted by ${esc(r.interrupted.signal)} after ${r.interrupted.atSeconds.toFixed(1)} s: a partial run.</p>` : ''}
${r.mutation ? `<p class="banner broken">Mutation <code>${esc(r.mutation)}</code>: a deliberately broken driver the checker must catch.</p>` : ''}
<p class="meta">${r.mode === 'threads' ? 'worker threads' : 'deterministic (one thread, seeded scheduler)'}, ${r.elapsedSeconds.toFixed(1)} s, ${n(r.steps)} steps, ${n(r.events)} events, seed ${r.seed}${r.config.faults.length ? `, faults: ${esc(r.config.faults.join(', '))} (${r.faults.kills} kills, ${r.faults.stutters} stutters)` : ''}.</p>
<p class="meta">Replay: <code>${esc(r.replay)}</code>${r.mode === 'threads' ? ` (${esc(THREADED_REPLAY_NOTE)})` : ''}</p>
<h2 id="invariants">Invariants</h2>
${invariants}
${v ? `<p class="fail">First violation: ${esc(`${v.id} (${v.name}) ${v.message}`)}</p><p>Events of PASID ${v.pasid} that led to it:</p><pre>${esc(v.trace.join('\n'))}</pre><p class="meta">Replay: <code>${esc(v.replay)}</code></p>` : ''}
${r.leftBusy.length ? `<p class="fail">Still busy at the end: ${esc(r.leftBusy.join(', '))}</p>` : ''}
<h2 id="hardware">Hardware</h2>
${counters}
<h2 id="teardowns">Teardown timelines (P0 .. P8)</h2>
${timelineChart(r.timelines)}
${table(
  ['teardown', ...PHASES],
  r.timelines.map((t) => [
    `pf${t.pf} pasid ${t.pasid} (#${t.ordinal})${t.exception ? ' exit' : ''}`,
    ...t.phases.map((p) => (p >= 0 ? `#${p}` : '')),
  ]),
)}
<p class="meta">Made by ioasid ${esc(env.packageVersion)} (model report schema ${r.schemaVersion}) on Node ${esc(env.node)}, ${env.platform}/${env.arch}, ${env.cores} cores (${esc(env.cpuModel)}), ${esc(env.date)}.</p>`;
  return htmlPage(`ioasid-stress ${r.scenario}: ${r.verdict}`, body);
}
