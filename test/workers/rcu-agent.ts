/**
 * A scriptable RCU thread for tests. Words of `ctrl`: see AGENT_* below. The main thread
 * steers it through shared memory only, as the harness does.
 */
import { workerData } from 'node:worker_threads';
import { Rcu } from '../../src/core/rcu/rcu.js';
import {
  AGENT_COUNT,
  AGENT_DONE,
  AGENT_INSIDE,
  AGENT_LEAVING,
  AGENT_RELEASE,
  AGENT_SLOT,
  type AgentData,
} from './rcu-agent-protocol.js';

const d = workerData as AgentData;
const ctrl = new Int32Array(d.ctrl);
const rcu = Rcu.attach(d.rcu, { onStall: () => {} });

if (d.script === 'hold') {
  Atomics.store(ctrl, AGENT_SLOT, rcu.registerThread());
  rcu.readLock();
  Atomics.store(ctrl, AGENT_INSIDE, 1);
  while (Atomics.load(ctrl, AGENT_RELEASE) === 0) Atomics.wait(ctrl, AGENT_RELEASE, 0, 50);
  Atomics.store(ctrl, AGENT_LEAVING, 1);
  rcu.readUnlock();
} else if (d.script === 'online-idle') {
  Atomics.store(ctrl, AGENT_SLOT, rcu.registerThread());
  Atomics.store(ctrl, AGENT_INSIDE, 1);
  while (Atomics.load(ctrl, AGENT_RELEASE) === 0) Atomics.wait(ctrl, AGENT_RELEASE, 0, 50);
  rcu.quiescentState();
  Atomics.store(ctrl, AGENT_COUNT, 1);
  while (Atomics.load(ctrl, AGENT_RELEASE) === 1) Atomics.wait(ctrl, AGENT_RELEASE, 1, 50);
} else if (d.script === 'synchronize' || d.script === 'register-synchronize') {
  if (d.script === 'register-synchronize') Atomics.store(ctrl, AGENT_SLOT, rcu.registerThread());
  Atomics.store(ctrl, AGENT_INSIDE, 1); // here: "about to call synchronize"
  rcu.synchronize();
} else {
  for (let i = 0; i < (d.count ?? 1); i++) {
    rcu.synchronize();
    Atomics.add(ctrl, AGENT_COUNT, 1);
  }
}
// qsbr: a registered thread stays online, and would hold later grace periods up; the others:
// nothing to do.
rcu.threadOffline();
Atomics.store(ctrl, AGENT_DONE, 1);
