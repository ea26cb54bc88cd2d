/** Protocol of test/workers/mirror-allocator.ts (importable without starting the worker). */
import type { IoasidHandle } from '../../src/core/ioasid/ioasid-space.js';

/** Control words (Int32Array over the control buffer). */
export const MC_STOP = 0;
export const MC_EPOCH = 1;
export const MC_ACK = 2;
export const MC_WRONG = 3;
export const MC_ITER = 4;
/** MC_OWED + round: ALLOC events owed in that round (mode 'subscriber'). */
export const MC_OWED = 8;

/** workerData of the mirror-allocator worker. */
export interface MirrorAllocatorData {
  handle: IoasidHandle;
  control: SharedArrayBuffer;
  set: number;
  mode: 'subscriber' | 'custom';
}
