/**
 * The stress operations (stress/ops/) as a CPU loop's op table (src/workers/cpu-loop.ts):
 * each step picks a call from the CPU's view, performs it on the space and checks it.
 */
import type { CpuOp } from '../../src/workers/cpu-loop.js';
import { opIndex, STRESS_OPS } from '../ops/index.js';
import { perform, type StressOp, type StressSpace } from '../ops/op.js';
import type { View } from '../ops/view.js';

/**
 * The op table of a stress CPU.
 *
 * @param space - the space, or the run's broken twin of it
 *
 * Context: the CPU's own thread.
 * @returns one CpuOp per stress operation, in STRESS_OPS order
 */
export function cpuOps(space: StressSpace): CpuOp<View>[] {
  return STRESS_OPS.map((o, index) => {
    const op = o as StressOp<unknown>;
    return {
      name: op.name,
      fallback: op.fallback === null ? -1 : opIndex(op.fallback),
      step(v: View): number | undefined {
        const c = op.pick(v);
        return c === undefined ? undefined : perform(op, index, space, v, c);
      },
    };
  });
}
