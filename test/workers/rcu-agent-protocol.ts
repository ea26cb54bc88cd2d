/** Shared-memory protocol between tests and test/workers/rcu-agent.ts. */
import type { RcuHandle } from '../../src/core/rcu/rcu.js';

export const AGENT_INSIDE = 0; // agent: 1 once inside its read-side section
export const AGENT_RELEASE = 1; // test: 1 = leave the section now
export const AGENT_LEAVING = 2; // agent: 1 just before readUnlock
export const AGENT_DONE = 3; // agent: 1 when its script finished
export const AGENT_SLOT = 4; // agent: its RCU slot
export const AGENT_COUNT = 5; // agent: operations done
export const AGENT_WORDS = 16;

export interface AgentData {
  rcu: RcuHandle;
  ctrl: SharedArrayBuffer;
  /**
   * hold: register, enter a section, leave it when released (then go offline: qsbr).
   * synchronize / register-synchronize: one synchronize, from an unregistered / registered
   * thread. synchronize-many: `count` of them. online-idle (qsbr): register (online) and
   * announce nothing until released once (then one quiescent state, AGENT_COUNT 1), go
   * offline when released twice.
   */
  script: 'hold' | 'synchronize' | 'register-synchronize' | 'synchronize-many' | 'online-idle';
  count?: number;
}
