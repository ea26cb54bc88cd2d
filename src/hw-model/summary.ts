/**
 * The text report of a model run: the verdict, one line per invariant (checks, violations),
 * the hardware counters, a few teardown timelines, and the first violation with its trace and
 * replay command. The stress CLI and the thin runner print it.
 */
import { INVARIANTS } from './checker/invariants.js';
import { type ModelRunResult, THREADED_REPLAY_NOTE } from './run-result.js';

/**
 * Format a run's result as text lines.
 *
 * @param r - the result
 *
 * Context: pure.
 * @returns the lines
 */
export function formatModelRun(r: ModelRunResult): string[] {
  const h = r.hardware;
  const out = [
    `model ${r.scenario} (${r.mode}, seed ${r.seed}${r.mutation ? `, mutation ${r.mutation}` : ''}): ${r.steps} steps, ${r.events} events, ${r.elapsedSeconds.toFixed(1)} s${r.kills ? `, ${r.kills} kills` : ''}`,
    '',
    'invariants                                   checks  violations  where',
  ];
  for (const inv of r.invariants) {
    const spec = INVARIANTS.find((i) => i.id === inv.id);
    out.push(
      `  ${`${inv.id} ${inv.name}`.padEnd(40)} ${String(inv.checks).padStart(8)}  ${String(inv.violations).padStart(10)}  ${spec?.sites.join(', ') ?? ''}`,
    );
  }
  out.push(
    '',
    'hardware',
    `  translations ${h.translations} (ok ${h.translationsOk}), faults SPD.2 ${h.faultSpd2} SPT.2 ${h.faultSpt2} SPT.4 ${h.faultSpt4} (suppressed ${h.faultsSuppressed}, lost ${h.faultsLost}), page-not-present ${h.faultPageRequest + h.faultNoPri}`,
    `  invalidations: PASID-cache ${h.invPasidCache}, IOTLB ${h.invIotlb}, device-TLB ${h.invDevTlb}, wait ${h.invWait}, page responses ${h.invPageResponse}`,
    `  page requests ${h.pageRequests} (overflow ${h.pageRequestsOverflow}, stop markers ${h.stopMarkers}), responses success ${h.responsesSuccess} invalid ${h.responsesInvalid}, drain retries ${h.prqOverflowRetries}`,
    `  submissions ${h.submissions}, ZF=1 retries ${h.zfRetries}, #GP fix-ups ${h.gpFixups} (#GP delivered ${h.gpFaults}), executions ${h.executions} (faulted ${h.executionsFaulted}, aborted ${h.executionsAborted}), drains ${h.drains}`,
    `  binds ${h.binds} (errors ${h.bindErrors}: ENOSPC ${h.bindEnospc}, EDQUOT ${h.bindEdquot}, EOVERFLOW ${h.bindEoverflow}), unbinds ${h.unbinds}, exits ${h.mmExits}, teardowns ${h.teardowns}`,
  );
  if (r.vms.length) out.push('', ...formatVms(r));
  if (r.leftBusy.length) out.push(`  still busy at the end: ${r.leftBusy.join(', ')}`);
  const v = r.firstViolation;
  out.push('', v ? `VERDICT: FAIL ${v.id} (${v.name}) ${v.message}` : 'VERDICT: PASS');
  if (v) {
    out.push(`  events of pasid ${v.pasid} that led to it:`);
    for (const t of v.trace) out.push(`    ${t}`);
    out.push(`  replay: ${v.replay}`);
    if (r.mode === 'threads') out.push(`  (${THREADED_REPLAY_NOTE})`);
  }
  return out;
}

/**
 * The VM lines: per VM its PASIDs, guest submissions and exits 72; how many PASIDs a
 * destroyed VM had bound; the refcount walk.
 */
function formatVms(r: ModelRunResult): string[] {
  const out = [
    'VMs          PASIDs live (peak)  guest ENQCMD accepted  ZF=1  exits 72  vDWQ MOVDIR64B  vcmds',
    ...r.vms.map(
      (v) =>
        `  VM ${String(v.vm).padEnd(8)} ${`${v.pasidsLive} (${v.peakLive})`.padStart(18)}  ${String(v.submissions - v.dwqSubmissions - v.retries).padStart(21)}  ${String(v.retries).padStart(4)}  ${String(v.exits72).padStart(8)}  ${String(v.dwqSubmissions).padStart(14)}  ${String(v.vcmds).padStart(5)}`,
    ),
  ];
  for (const v of r.vms)
    if (v.destroys > 0)
      out.push(
        `  VM ${v.vm} destroyed ${v.destroys} time${v.destroys === 1 ? '' : 's'}, with up to ${v.boundAtDestroy} PASIDs bound`,
      );
  const w = r.refWalk;
  if (w)
    out.push(
      `  refcount walk of pasid ${w.pasid} (VM ${w.vm}): ${w.refs.map((n, i) => (i === 0 ? `${n}` : `-${w.by[i]}-> ${n}`)).join(' ')}`,
    );
  return out;
}
