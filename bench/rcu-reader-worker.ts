/**
 * A registered RCU reader for the synchronize benchmark, in the shape of liburcu's
 * urcu-bench readers: a short read-side section (load the published pointer, then 16
 * dependent multiply-adds on the object it names) followed by 512 multiply-adds outside it,
 * until told to stop. A qsbr reader announces a quiescent state after each section (its
 * sections cost nothing; that is its part).
 *
 * Like urcu-bench's reader, the section dereferences the pointer once (`rcu_dereference`: one
 * Atomics.load here) and reads the object with plain loads: the two objects are written
 * before any reader starts and never again, so the plain reads are race-free (the Worker
 * constructor that hands them over happens-after those writes). Reading every object word
 * with Atomics.load instead (about 10 ns each in V8, against under 1 ns in C) made our
 * sections about 8x longer than the C readers', so a grace period found a reader inside
 * several times as often as liburcu's did: a different benchmark.
 */
import { workerData } from 'node:worker_threads';
import { Rcu, type RcuHandle } from '../src/core/rcu/rcu.js';
import { consume } from './harness.js';

/** Dependent multiply-adds inside a section, and outside it (urcu-bench's CS_WORK, OUTSIDE_WORK). */
const CS_WORK = 16;
const OUTSIDE_WORK = 512;

const { handle, ctrl, objects, pointer } = workerData as {
  handle: RcuHandle;
  /** [0] stop flag, [1] readers registered and warm. */
  ctrl: SharedArrayBuffer;
  /** Two objects of 8 words each (urcu-bench's `struct obj`); immutable once readers start. */
  objects: SharedArrayBuffer;
  /** [0]: which object is published (0 or 1); the updater flips it with Atomics.store. */
  pointer: SharedArrayBuffer;
};
const flags = new Int32Array(ctrl);
const objs = new Int32Array(objects);
const ptr = new Int32Array(pointer);
const objectWords = objs.length / 2;
/**
 * Sections run before the reader counts itself ready: urcu-bench's readers are compiled code
 * from their first section; ours reach V8's optimizing tier only after some thousands, and
 * until then a section lasts several times as long (a grace period finds it inside more
 * often: the first figure of a run was 2.5x the same figure measured again).
 */
const WARMUP_SECTIONS = 20_000;

const rcu = Rcu.attach(handle);
rcu.registerThread();
let x = 0x2545f491;

/** `sections` read-side sections in urcu-bench's shape, or until told to stop. */
function read(sections: number): void {
  for (let i = 0; i < sections && Atomics.load(flags, 0) === 0; i++) {
    rcu.readLock();
    const o = Atomics.load(ptr, 0) * objectWords; // rcu_dereference
    for (let k = 0; k < CS_WORK; k++) x = (Math.imul(x, 0x5851f42d) + objs[o + (k & 7)]!) | 0;
    rcu.readUnlock();
    rcu.quiescentState();
    for (let k = 0; k < OUTSIDE_WORK; k++) x = (Math.imul(x, 0x5851f42d) + 0x14057b7e) | 0;
  }
}

read(WARMUP_SECTIONS);
Atomics.add(flags, 1, 1); // registered and warm
read(Number.POSITIVE_INFINITY);
consume(x);
rcu.unregisterThread();
