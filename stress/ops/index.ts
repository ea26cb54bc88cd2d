/**
 * The stress operations, one file each: adding an operation is adding its file and one line
 * here. The order is the order of mixes (`--mix`), counters and log entries; scenarios name
 * ops, never positions.
 */
import { alloc } from './alloc.js';
import { attachData } from './attach-data.js';
import { attachSpid } from './attach-spid.js';
import { detachData } from './detach-data.js';
import { detachSpid } from './detach-spid.js';
import { find } from './find.js';
import { findBySpid } from './find-by-spid.js';
import { free } from './free.js';
import { freeAllInSet } from './free-all-in-set.js';
import { get } from './get.js';
import type { StressOp } from './op.js';
import { put } from './put.js';
import { reallocUnderReader } from './realloc-under-reader.js';
import { setAlloc } from './set-alloc.js';
import { setFree } from './set-free.js';

export const STRESS_OPS = [
  alloc,
  free,
  get,
  put,
  find,
  findBySpid,
  attachSpid,
  detachSpid,
  attachData,
  detachData,
  setAlloc,
  setFree,
  freeAllInSet,
  reallocUnderReader,
] as const;

/** The name of a stress operation. */
export type OpName = (typeof STRESS_OPS)[number]['name'];
/** Every op's name, in op-table order. */
export const OP_NAMES: readonly OpName[] = STRESS_OPS.map((op) => op.name);
export const N_OPS = STRESS_OPS.length;

/**
 * An op by name.
 *
 * @param name - an op's name
 * @returns it, typed loosely enough to run through `perform`
 */
export function opNamed(name: string): StressOp<unknown> {
  const op = STRESS_OPS.find((o) => o.name === name);
  if (!op) throw new RangeError(`no stress operation '${name}'`);
  return op as StressOp<unknown>;
}

/**
 * Index of an op in the op table.
 *
 * @param name - an op's name
 * @returns its index, or -1
 */
export function opIndex(name: string): number {
  return OP_NAMES.indexOf(name as OpName);
}
