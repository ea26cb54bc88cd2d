/**
 * One torture thread: a reader, a writer or a fake writer, chosen by `workerData.role`.
 * Ported in spirit (not code) from the kernel's rcutorture and liburcu's rcutorture.h; see
 * ../shared/spec/rcu-and-js-concurrency.md A2.3 for the design.
 *
 * Every thread follows the qsbr flavor's rules whatever the flavor (the calls do nothing in
 * the others): it announces a quiescent state after each read, and in every loop that waits
 * for a grace period by polling; and it goes offline around anything that blocks outside a
 * section (stutter parks and sleeps). A reader's sleep inside a section stays online: that is
 * the preemption it models. The Rcu is attached for debugging, so a broken rule throws.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Rcu, type RcuHandle } from '../../src/core/rcu/rcu.js';
import { Prng } from '../../src/workers/prng.js';
import { slowStartForTests } from '../../src/workers/start-wait.js';
import { readSection, type SectionEnv } from './read-section.js';
import {
  CTRL_PAUSE,
  CTRL_SLEEP,
  CTRL_STOP,
  F_OPS,
  F_SLOT,
  fakeBase,
  HIST,
  PIPE_LEN,
  R_BATCH,
  R_NESTED,
  R_PIPE,
  R_READS,
  R_SLEEPS,
  R_SLOT,
  REC_CHECK,
  REC_GEN,
  REC_PIPE,
  REC_VALID,
  RECORDS_PER_WRITER,
  readerBase,
  recordBase,
  recordCheck,
  type TortureGeometry,
  W_CIRC,
  W_COOKIE_ERR,
  W_COOKIE_WAIT_ERR,
  W_CURRENT,
  W_METHOD,
  W_TFLE,
  W_VERSION,
  writerBase,
} from './torture-layout.js';

export type TortureRole = 'reader' | 'writer' | 'fake-writer';

/** What the harness sends each thread. */
export interface TortureWorkerData {
  role: TortureRole;
  index: number;
  seed: number;
  rcu: RcuHandle;
  buffer: SharedArrayBuffer;
  geometry: TortureGeometry;
  /** Broken mode of the harness itself: recycle records before their pipe ends. */
  earlyRecycle: boolean;
}

const data = workerData as TortureWorkerData;
const words = new Int32Array(data.buffer);
const g = data.geometry;
const rng = new Prng(data.seed, roleStream(data.role, data.index));
const rcu = Rcu.attach(data.rcu, { debug: true });

function roleStream(role: TortureRole, index: number): number {
  return (role === 'reader' ? 1000 : role === 'writer' ? 2000 : 3000) + index;
}

function stopping(): boolean {
  return Atomics.load(words, CTRL_STOP) !== 0;
}

/** Stutter: park (offline) outside any read-side section until the harness releases everyone. */
function stutterPoint(): void {
  if (Atomics.load(words, CTRL_PAUSE) !== 1) return;
  rcu.threadOffline();
  while (Atomics.load(words, CTRL_PAUSE) === 1 && !stopping()) {
    Atomics.wait(words, CTRL_PAUSE, 1, 100);
  }
  rcu.threadOnline();
}

/** Sleep `ms` in Atomics.wait: a real deschedule, the JS analogue of a preemption. */
function sleepMs(ms: number): void {
  Atomics.wait(words, CTRL_SLEEP, 0, ms);
}

/** Sleep outside any section: offline meanwhile (qsbr), so no grace period waits for it. */
function sleepOffline(ms: number): void {
  rcu.threadOffline();
  sleepMs(ms);
  rcu.threadOnline();
}

function spin(iterations: number): number {
  let x = 0;
  for (let i = 0; i < iterations; i++) x = (x + i) | 0;
  return x;
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

function runReader(): void {
  const base = readerBase(g, data.index);
  const section: SectionEnv = { words, g, rcu, delay: () => readerDelay(base) };
  const pipe = new Array<number>(HIST).fill(0);
  const batch = new Array<number>(HIST).fill(0);
  let reads = 0;
  const flush = (): void => {
    for (let i = 0; i < HIST; i++) {
      if (pipe[i]) Atomics.add(words, base + R_PIPE + i, pipe[i]!);
      if (batch[i]) Atomics.add(words, base + R_BATCH + i, batch[i]!);
      pipe[i] = 0;
      batch[i] = 0;
    }
    Atomics.add(words, base + R_READS, reads);
    reads = 0;
  };
  while (!stopping()) {
    stutterPoint();
    for (let n = 0; n < 256; n++) {
      const age = readSection(section, base, rng.below(g.writers));
      rcu.quiescentState(); // the section's record is no longer used
      if (age < 0) continue;
      pipe[Math.min(age & 0xffff, PIPE_LEN)]!++;
      batch[Math.min(age >>> 16, PIPE_LEN)]!++;
      reads++;
    }
    flush();
  }
  flush();
}

/**
 * Random work inside the section: short spins, rare nesting, rare sleeps (preemption). Half of
 * the sleeps are followed by a nested section with a second sleep: what the outer section
 * read before may have been retired during the first sleep, and only the outer section still
 * protects it during the second (where a nested lock that counted as a quiescent state, the
 * 'early-qs' twin, lets a grace period end).
 */
function readerDelay(base: number): void {
  const roll = rng.nextU32() % 65536;
  if (roll < 32768) return;
  if (roll < 64000) {
    spin(50 + (roll & 255));
  } else if (roll < 65534) {
    rcu.readLock();
    spin(100);
    rcu.readUnlock();
    Atomics.add(words, base + R_NESTED, 1);
  } else {
    Atomics.add(words, base + R_SLEEPS, 1);
    sleepMs(1 + rng.below(3));
    if (roll === 65535) {
      rcu.readLock();
      sleepMs(1 + rng.below(3));
      rcu.readUnlock();
      Atomics.add(words, base + R_NESTED, 1);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

function runWriter(): void {
  const wb = writerBase(data.index);
  const first = data.index * RECORDS_PER_WRITER;
  const free: number[] = [];
  for (let i = RECORDS_PER_WRITER - 1; i >= 0; i--) free.push(first + i);
  let removed: number[] = [];

  /** One grace period has passed since every record on `batch` was removed: age them. */
  const age = (batch: number[]): void => {
    for (const rec of batch) {
      const r = recordBase(g, rec);
      const stage = Atomics.load(words, r + REC_PIPE) + 1;
      Atomics.store(words, r + REC_PIPE, stage);
      Atomics.add(words, wb + W_CIRC + Math.min(stage, PIPE_LEN), 1);
      if (stage >= PIPE_LEN) recycle(rec);
      else removed.push(rec);
    }
  };
  const recycle = (rec: number): void => {
    Atomics.store(words, recordBase(g, rec) + REC_VALID, 0); // poison: readers must never see it
    free.push(rec);
  };
  const ageAll = (): void => {
    const batch = removed;
    removed = [];
    age(batch);
  };

  while (!stopping()) {
    stutterPoint();
    const rec = free.pop();
    if (rec === undefined) {
      Atomics.add(words, wb + W_TFLE, 1);
      rcu.synchronize();
      ageAll();
      continue;
    }
    publish(wb, rec);
    const old = Atomics.exchange(words, wb + W_CURRENT, rec);
    if (old >= 0) {
      Atomics.store(words, recordBase(g, old) + REC_PIPE, 1);
      Atomics.add(words, wb + W_CIRC + 1, 1);
      if (data.earlyRecycle) recycle(old);
      else removed.push(old);
    }
    Atomics.add(words, wb + W_VERSION, 1);
    cookieCheckInsideReader(wb);
    waitOneGracePeriod(wb, ageAll);
    if (rng.oneIn(64)) sleepOffline(1);
  }
  rcu.barrier();
}

function publish(wb: number, rec: number): void {
  const r = recordBase(g, rec);
  const gen = (Atomics.load(words, r + REC_GEN) + 1) | 0;
  Atomics.store(words, r + REC_PIPE, 0);
  Atomics.store(words, r + REC_GEN, gen);
  Atomics.store(words, r + REC_CHECK, recordCheck(rec, gen));
  // Last: the record is valid before it is published by the exchange of CURRENT.
  Atomics.store(words, r + REC_VALID, 1);
  Atomics.add(words, wb + W_CIRC, 1);
}

/** Cookie check 1: a cookie taken inside a reader cannot be satisfied before it unlocks. */
function cookieCheckInsideReader(wb: number): void {
  rcu.readLock();
  const cookie = rcu.getState();
  if (rcu.pollState(cookie)) Atomics.add(words, wb + W_COOKIE_ERR, 1);
  rcu.readUnlock();
}

/** Wait for one grace period in a randomly chosen way, then age the removed records. */
function waitOneGracePeriod(wb: number, ageAll: () => void): void {
  const method = rng.below(4);
  Atomics.add(words, wb + W_METHOD + method, 1);
  const cookie = rcu.getState();
  if (method === 0) {
    rcu.synchronize();
    ageAll();
  } else if (method === 1) {
    // qsbr: the grace period also waits for this thread, outside any section here.
    while (!rcu.pollState(cookie)) {
      rcu.quiescentState();
      if (rng.oneIn(16)) sleepOffline(0);
    }
    ageAll();
  } else {
    let done = false;
    rcu.callRcu(() => {
      ageAll();
      done = true;
    });
    if (method === 3) rcu.barrier();
    else
      while (!done) {
        rcu.quiescentState();
        if (rcu.runCallbacks() === 0 && rng.oneIn(16)) sleepOffline(0);
      }
  }
  // Cookie check 2: after any of the waits, a cookie from before it is satisfied.
  if (!rcu.peekState(cookie)) Atomics.add(words, wb + W_COOKIE_WAIT_ERR, 1);
}

// ---------------------------------------------------------------------------------------------
// Fake writer: grace-period concurrency and sharing
// ---------------------------------------------------------------------------------------------

function runFakeWriter(): void {
  const ops = fakeBase(g, data.index) + F_OPS;
  while (!stopping()) {
    stutterPoint();
    sleepOffline(rng.below(3));
    const roll = rng.below(8);
    if (roll < 5) rcu.synchronize();
    else if (roll < 7) {
      const c = rcu.getState();
      while (!rcu.pollState(c) && !stopping()) {
        rcu.quiescentState();
        sleepOffline(0);
      }
    } else {
      rcu.callRcu(() => {});
      rcu.barrier();
    }
    Atomics.add(words, ops, 1);
  }
}

// ---------------------------------------------------------------------------------------------

// A loaded machine's slow start, on demand (IOASID_SLOW_START_MS; start-wait.ts).
slowStartForTests();
const slot = rcu.registerThread();
if (data.role === 'reader') Atomics.store(words, readerBase(g, data.index) + R_SLOT, slot);
if (data.role === 'fake-writer') Atomics.store(words, fakeBase(g, data.index) + F_SLOT, slot);
parentPort?.postMessage({ ready: true, slot });
if (data.role === 'reader') runReader();
else if (data.role === 'writer') runWriter();
else runFakeWriter();
rcu.unregisterThread();
