/**
 * The "hypervisor" thread of the guest-style custom allocator test: owns PASIDs 1..pool,
 * answers alloc (lowest free in the asked range, or -ENOSPC) and free (refused, and counted,
 * for a PASID it did not hand out) requests from the guests' mailboxes until told to stop.
 */
import { workerData } from 'node:worker_threads';
import {
  type HypervisorData,
  MB_A,
  MB_ANSWER,
  MB_B,
  MB_BAD_FREES,
  MB_BASE,
  MB_DOORBELL,
  MB_DOUBLE_HANDS,
  MB_HELD,
  MB_HELD_BACK,
  MB_OP,
  MB_REQUEST,
  MB_RESULT,
  MB_STATE,
  MB_STOP,
  MB_WORDS,
  OP_ALLOC,
} from './vcmd-protocol.js';

const ENOSPC = -28;

function serve(d: HypervisorData): void {
  const mb = new Int32Array(d.mailboxes);
  const host = new Int32Array(d.host);
  let allocs = 0;
  const alloc = (min: number, max: number): number => {
    allocs++;
    if (d.doubleHand && allocs % 2 === 0 && Atomics.load(host, d.pool) === 1) {
      Atomics.add(mb, MB_DOUBLE_HANDS, 1);
      return d.pool; // broken twin: already handed out
    }
    for (let p = Math.max(min, 1); p <= Math.min(max, d.pool); p++) {
      if (Atomics.load(host, p) === 0) {
        Atomics.store(host, p, 1);
        return p;
      }
    }
    return ENOSPC;
  };
  const free = (p: number): number => {
    if (p < 1 || p > d.pool || Atomics.load(host, p) === 0) {
      Atomics.add(mb, MB_BAD_FREES, 1);
      return -22;
    }
    Atomics.store(host, p, 0);
    return 0;
  };
  for (;;) {
    const bell = Atomics.load(mb, MB_DOORBELL);
    for (let k = 0; k < d.guests; k++) {
      const w = MB_BASE + k * MB_WORDS;
      if (Atomics.load(mb, w + MB_STATE) !== MB_REQUEST) continue;
      if (k === d.holdGuest && Atomics.load(mb, w + MB_OP) === d.holdOp) {
        // The guest stays inside its provider call until it is killed.
        Atomics.store(mb, w + MB_STATE, MB_HELD_BACK);
        Atomics.store(mb, MB_HELD, 1);
        Atomics.notify(mb, MB_HELD);
        continue;
      }
      const a = Atomics.load(mb, w + MB_A);
      const b = Atomics.load(mb, w + MB_B);
      const r = Atomics.load(mb, w + MB_OP) === OP_ALLOC ? alloc(a, b) : free(a);
      Atomics.store(mb, w + MB_RESULT, r);
      // Publishes the answer; pairs with the guest's wait on its mailbox state.
      Atomics.store(mb, w + MB_STATE, MB_ANSWER);
      Atomics.notify(mb, w + MB_STATE);
    }
    if (Atomics.load(mb, MB_STOP) !== 0) return;
    Atomics.wait(mb, MB_DOORBELL, bell, 100);
  }
}

serve(workerData as HypervisorData);
