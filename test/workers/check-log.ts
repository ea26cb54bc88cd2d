/**
 * Offline checker for "no id is live in two allocations at once", from the workers' event
 * logs. Each entry is (kind, id, clockBefore, clockAfter) with clocks from one shared
 * Atomics.add counter. An allocation is certainly live from its alloc's clockAfter to its
 * free's clockBefore; two such intervals of the same id must not overlap.
 */
import { EV_ALLOC, EV_FREE } from './ioasid-stress-protocol.js';

export function checkNoOverlap(logs: Int32Array[]): string[] {
  const intervals = new Map<number, Array<[number, number, number]>>();
  const problems: string[] = [];
  logs.forEach((log, w) => {
    const open = new Map<number, number>();
    for (let i = 0; i + 3 < log.length; i += 4) {
      const [kind, id, t0, t1] = [log[i]!, log[i + 1]!, log[i + 2]!, log[i + 3]!];
      if (kind === EV_ALLOC) {
        if (open.has(id)) problems.push(`worker ${w} allocated ${id} twice without freeing it`);
        open.set(id, t1);
      } else if (kind === EV_FREE) {
        const start = open.get(id);
        if (start === undefined) problems.push(`worker ${w} freed ${id} it did not hold`);
        else {
          open.delete(id);
          const list = intervals.get(id) ?? [];
          list.push([start, t0, w]);
          intervals.set(id, list);
        }
      }
    }
    for (const id of open.keys()) problems.push(`worker ${w} still held ${id} at the end`);
  });
  for (const [id, list] of intervals) {
    list.sort((a, b) => a[0] - b[0]);
    for (let k = 1; k < list.length; k++) {
      const [s, , w] = list[k]!;
      const [, e, pw] = list[k - 1]!;
      if (s < e)
        problems.push(`id ${id} live in worker ${pw} until ${e} and in worker ${w} from ${s}`);
    }
  }
  return problems;
}

/** Broken twin input: copy one of worker 0's allocations (one that stayed live for a few clock
 * ticks, so the copy's interval is not empty) into worker 1's log. */
export function corruptWithDuplicate(logs: Int32Array[]): Int32Array[] {
  const l0 = logs[0]!;
  for (let i = 0; i + 3 < l0.length; i += 4) {
    if (l0[i] !== EV_ALLOC) continue;
    const id = l0[i + 1]!;
    for (let j = i + 4; j + 3 < l0.length; j += 4) {
      if (l0[j] === EV_FREE && l0[j + 1] === id) {
        // The copy must be certainly live for at least one tick, or it cannot overlap.
        if (l0[j + 2]! - 1 - (l0[i + 3]! + 1) < 1) break;
        const dup = Int32Array.from([
          EV_ALLOC,
          id,
          l0[i + 2]!,
          l0[i + 3]! + 1,
          EV_FREE,
          id,
          l0[j + 2]! - 1,
          l0[j + 3]!,
        ]);
        const out = logs.slice();
        out[1] = Int32Array.from([...logs[1]!, ...dup]);
        return out;
      }
    }
  }
  throw new Error('no complete allocation in worker 0 log');
}
