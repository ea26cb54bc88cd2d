/**
 * Worker for test/hw_model_vm_reaper_breaks_a_dead_threads_platform_locks_first.test.ts: a
 * live thread of the model that holds a VM lock while it waits, in the unbounded lockTake, for
 * a platform lock; the test has the dead thread hold that one. Claims a log row (its tag),
 * takes the VM lock, then the platform lock, gives both back (the platform lock first) and its
 * row, storing each step (vm-lock-holder-protocol.ts).
 *
 * Why a row and not Platform.attach: a tag is all a lock holder needs, and the reaper counts a
 * tag as a live thread's while its row is owned (vm-recovery.ts recoveryLockWait); loading the
 * whole model in the worker takes seconds on a loaded 2-core machine.
 */
import { workerData } from 'node:worker_threads';
import { lockGive, lockTake } from '../../src/hw-model/owner-lock.js';
import { claimRow, releaseRow } from '../../src/hw-model/platform-init.js';
import {
  STEP_ATTACHED,
  STEP_BOTH_HELD,
  STEP_DONE,
  STEP_VM_LOCK_HELD,
  SYNC_STEP,
  SYNC_TAG,
  type VmLockHolderData,
} from './vm-lock-holder-protocol.js';

const d = workerData as VmLockHolderData;
const sync = new Int32Array(d.sync);
const hw = new Int32Array(d.hw);
const log = new Int32Array(d.log);

function step(s: number): void {
  Atomics.store(sync, SYNC_STEP, s);
  Atomics.notify(sync, SYNC_STEP);
}

const row = claimRow(log);
if (row < 0) throw new Error('no free log row');
const tag = row + 1;
const platformI32 = d.platformLockInLog ? log : hw;
Atomics.store(sync, SYNC_TAG, tag);
step(STEP_ATTACHED);
lockTake(hw, d.vmLock, tag);
step(STEP_VM_LOCK_HELD);
lockTake(platformI32, d.platformLock, tag);
step(STEP_BOTH_HELD);
lockGive(platformI32, d.platformLock);
lockGive(hw, d.vmLock);
releaseRow(log, row);
step(STEP_DONE);
