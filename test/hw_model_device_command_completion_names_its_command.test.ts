/**
 * The device command register's ABA (device.ts): a poster that releases its command and posts
 * again with the same owner and op writes the register word it had before. An engine step
 * that loaded the old command, then the status and operand of the release's reset, then
 * re-checked the register saw "unchanged" and ran the stale operand under the new command;
 * a step inside its accept when the poster gave up (released a pending command, as the
 * public API does after its pump limit) and posted again stored its ACCEPTED and DONE on the
 * new one. Either way a Drain PASID was reported done that never drained its PASID.
 * Now every publication carries a sequence number, in the register and in the status, and
 * the engine's status writes name it.
 *
 * Deterministic: the other thread's steps run inside the engine's loads or stores
 * (intercepted), the way they would while the engine's thread is descheduled there.
 */
import { describe, expect, it } from 'vitest';
import {
  commandPost,
  commandRelease,
  commandStatus,
  deviceStep,
  pfField,
  wqCfg,
} from '../src/hw-model/device.js';
import {
  CMD_DISABLE_WQ,
  CMD_DRAIN_PASID,
  CMDS_DONE,
  CMDS_PENDING,
  PF_CMD,
  PF_CMD_MARKS,
  PF_CMD_STATUS,
  WQ_STATE,
  WQS_DISABLED,
  WQS_ENABLED,
} from '../src/hw-model/hw-layout.js';
import { dsaPf, Platform } from '../src/hw-model/index.js';

const A = 1; // the one poster (bond 0 + 1): same owner, same op, twice

function platform(): Platform['context'] {
  return Platform.create({ pasidBits: 8, processes: 2, pfs: [dsaPf('dsa0')] }).context;
}

/** Steps until A's command is done (the new one, accepted and drained for real). */
function doneLater(hw: Platform['context']): void {
  for (let i = 0; i < 10 && commandStatus(hw, 0, A) !== CMDS_DONE; i++) deviceStep(hw, 0);
  expect(commandStatus(hw, 0, A)).toBe(CMDS_DONE);
}

describe('a device command completion names the command it completes', () => {
  it('a release and a post of the same owner and op between the engine loads are a change', () => {
    const hw = platform();
    expect(commandPost(hw, 0, CMD_DRAIN_PASID, 5, A)).toBe(0);
    for (let i = 0; i < 10 && commandStatus(hw, 0, A) !== CMDS_DONE; i++) deviceStep(hw, 0);
    expect(commandStatus(hw, 0, A)).toBe(CMDS_DONE);
    const cmd = pfField(hw, 0, PF_CMD);
    const status = pfField(hw, 0, PF_CMD_STATUS);
    const ld = hw.ld.bind(hw);
    let busy = false;
    let cmdLoads = 0;
    let released = false;
    let reposted = false;
    hw.ld = (w: number) => {
      if (busy) return ld(w);
      busy = true;
      // The engine loaded A's finished command; A releases before its status load...
      if (w === status && !released) {
        released = true;
        commandRelease(hw, 0, A);
      }
      // ...and posts Drain PASID 7 before its re-check of the register.
      if (w === cmd && ++cmdLoads === 2 && released && !reposted) {
        reposted = true;
        expect(commandPost(hw, 0, CMD_DRAIN_PASID, 7, A)).toBe(0);
      }
      busy = false;
      return ld(w);
    };
    deviceStep(hw, 0);
    hw.ld = ld;
    expect(released).toBe(true);
    // A step that saw the release's status (it names no command) stops before its re-check:
    // A posts then, as it would.
    if (!reposted) expect(commandPost(hw, 0, CMD_DRAIN_PASID, 7, A)).toBe(0);
    // Without the sequence number: DONE, a Drain PASID 0 run for A's Drain PASID 7.
    expect(commandStatus(hw, 0, A)).toBe(CMDS_PENDING);
    doneLater(hw);
  });

  it('a command given up while the engine accepts it: the next one is not accepted or completed by that step', () => {
    const hw = platform();
    expect(commandPost(hw, 0, CMD_DRAIN_PASID, 5, A)).toBe(0);
    const mark = pfField(hw, 0, PF_CMD_MARKS);
    const st = hw.st.bind(hw);
    let reposted = false;
    hw.st = (w: number, v: number) => {
      if (w === mark && !reposted) {
        // Inside the engine's accept of Drain PASID 5: A gives up on it and posts Drain 7.
        reposted = true;
        hw.st = st;
        commandRelease(hw, 0, A);
        expect(commandPost(hw, 0, CMD_DRAIN_PASID, 7, A)).toBe(0);
      }
      st(w, v);
    };
    deviceStep(hw, 0);
    hw.st = st;
    expect(reposted).toBe(true);
    // Without the status CAS: DONE, the step's ACCEPTED and DONE of PASID 5 on A's Drain 7.
    expect(commandStatus(hw, 0, A)).toBe(CMDS_PENDING);
    doneLater(hw);
  });

  it('a Disable WQ given up while the engine accepts it leaves the WQ enabled, and the next one disables it', () => {
    const hw = platform();
    const state = wqCfg(hw, 0, 0, WQ_STATE);
    expect(hw.ld(state)).toBe(WQS_ENABLED);
    expect(commandPost(hw, 0, CMD_DISABLE_WQ, 0, A)).toBe(0);
    const mark = pfField(hw, 0, PF_CMD_MARKS);
    const st = hw.st.bind(hw);
    let gaveUp = false;
    hw.st = (w: number, v: number) => {
      st(w, v);
      if (w === mark && !gaveUp) {
        // The engine marked WQ 0 DISABLING and stored its mark: A gives up on the command.
        gaveUp = true;
        hw.st = st;
        commandRelease(hw, 0, A);
      }
    };
    deviceStep(hw, 0);
    hw.st = st;
    expect(gaveUp).toBe(true);
    // Without the roll back: DISABLING for good, and the next Disable fails (WQ state).
    expect(hw.ld(state)).toBe(WQS_ENABLED);
    expect(commandPost(hw, 0, CMD_DISABLE_WQ, 0, A)).toBe(0);
    doneLater(hw);
    expect(hw.ld(state)).toBe(WQS_DISABLED);
  });
});
