/**
 * The device command register against its engine (device.ts): a teardown releases its
 * finished Drain PASID while the PF's engine is inside a step, and the next teardown posts its
 * own Drain PASID at once. The engine must never report that new command done without having
 * accepted it (taken its WQ marks, abandoned its PASID's page-request groups, waited for the
 * PASID to go quiet): that Drain PASID is P1 of the next bond, and a P1 completed without it
 * lets the device keep issuing page requests of that PASID after P6 (the rare INV-14 failures
 * of threaded pri-storm runs: "an overflow page request after P6", "an outstanding PRG
 * outlived its generation").
 *
 * The engine's stall is simulated deterministically: its store of the command's status is
 * intercepted, and the release and the next post run right before it lands, the way another
 * thread's would while the engine's thread is descheduled between its loads and its stores.
 */
import { describe, expect, it } from 'vitest';
import {
  commandPost,
  commandRelease,
  commandStatus,
  deviceStep,
  pfField,
} from '../src/hw-model/device.js';
import {
  CMD_DISABLE_WQ,
  CMD_DRAIN_PASID,
  CMDS_DONE,
  CMDS_PENDING,
  PF_CMD,
  PF_CMD_STATUS,
} from '../src/hw-model/hw-layout.js';
import { dsaPf, Platform } from '../src/hw-model/index.js';

const A = 1; // owner of the finished command (bond 0 + 1)
const B = 2; // owner of the next one (bond 1 + 1)

/** A platform whose PF 0 has finished A's command `op operand` (not released yet). */
function finishedByA(op: number, operand: number): Platform['context'] {
  const hw = Platform.create({ pasidBits: 8, processes: 2, pfs: [dsaPf('dsa0')] }).context;
  expect(commandPost(hw, 0, op, operand, A)).toBe(0);
  for (let i = 0; i < 10 && commandStatus(hw, 0, A) !== CMDS_DONE; i++) deviceStep(hw, 0);
  expect(commandStatus(hw, 0, A)).toBe(CMDS_DONE);
  return hw;
}

/** The engine's next steps accept B's Drain PASID and finish it. */
function acceptedAndDone(hw: Platform['context']): void {
  for (let i = 0; i < 10 && commandStatus(hw, 0, B) !== CMDS_DONE; i++) deviceStep(hw, 0);
  expect(commandStatus(hw, 0, B)).toBe(CMDS_DONE);
}

describe('a released device command and the next one', () => {
  it('the engine never finishes a command it did not accept', () => {
    const hw = finishedByA(CMD_DRAIN_PASID, 5);
    const status = pfField(hw, 0, PF_CMD_STATUS);

    // A releases; whatever it stores, the engine steps in the middle of it, and B posts while
    // the engine's status store is on its way.
    const st = hw.st.bind(hw);
    let engineRan = false;
    let bPosted = false;
    let inEngine = false;
    hw.st = (w: number, v: number) => {
      if (inEngine && w === status && !bPosted) {
        bPosted = true;
        // The rest of A's release (the register back to idle), then B's post.
        Atomics.store(hw.i32, pfField(hw, 0, PF_CMD), 0);
        expect(commandPost(hw, 0, CMD_DRAIN_PASID, 7, B)).toBe(0);
      }
      st(w, v);
      if (!inEngine && !engineRan && w === status) {
        engineRan = true;
        inEngine = true;
        deviceStep(hw, 0);
        inEngine = false;
      }
    };
    commandRelease(hw, 0, A);
    if (!bPosted) {
      // The release stored no status: B posts once the register is idle, as it would.
      hw.st = st;
      if (commandStatus(hw, 0, B) < 0) expect(commandPost(hw, 0, CMD_DRAIN_PASID, 7, B)).toBe(0);
    }
    hw.st = st;
    // B's Drain PASID was posted and never accepted by the engine: still pending.
    expect(commandStatus(hw, 0, B)).toBe(CMDS_PENDING);
    expect(hw.ld(pfField(hw, 0, PF_CMD)) & 0xff).toBe(CMD_DRAIN_PASID);
    acceptedAndDone(hw);
  });

  it("the engine never runs the next command's operand under the released one's op", () => {
    // A's finished command is a Disable WQ 0; B's is a Drain PASID 7.
    const hw = finishedByA(CMD_DISABLE_WQ, 0);
    const status = pfField(hw, 0, PF_CMD_STATUS);
    // The engine loads the register (A's), then, before it loads the status, A releases and
    // B posts: the status and operand it then reads are B's.
    const ld = hw.ld.bind(hw);
    let bPosted = false;
    hw.ld = (w: number) => {
      if (w === status && !bPosted) {
        bPosted = true;
        commandRelease(hw, 0, A);
        expect(commandPost(hw, 0, CMD_DRAIN_PASID, 7, B)).toBe(0);
      }
      return ld(w);
    };
    deviceStep(hw, 0);
    hw.ld = ld;
    expect(bPosted).toBe(true);
    // Not a Disable WQ 7 (error: no such WQ) reported on B's Drain PASID.
    expect(commandStatus(hw, 0, B)).toBe(CMDS_PENDING);
    acceptedAndDone(hw);
  });
});
