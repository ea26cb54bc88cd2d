/**
 * The sequential PASID allocator both baselines wrap: what a JS developer writes first, a
 * bitmap of ids plus a per-id owner/data table and a per-set quota count, with no
 * concurrency control of its own.
 *
 * - The postMessage baseline keeps one in an ordinary ArrayBuffer owned by the main thread.
 * - The mutex baseline keeps one in a SharedArrayBuffer and calls it under one Atomics mutex.
 *
 * Same semantics as `IoasidSpace` with policy `lowest` for what the benchmark does (NULL
 * sets, alloc, free, find), checked by test/bench_baselines_agree_with_allocator.test.ts:
 * the lowest free id in [min, max] (clamped to [1, 2^pasidBits - 1]), a per-set quota
 * (0 = all remaining capacity), and the same errnos in the same order. It has no refcounts,
 * SPIDs, MM sets or RCU: the benchmark never uses them, and they would only slow it down.
 *
 * ## Developer notes
 * Words, all in one Int32Array (word = 4 bytes):
 *
 * ```text
 * region       word index                  words        bits
 * mutex        0                           16           used by the mutex baseline only; own line
 * header       16 (ID_MAX) 17 (MAX_SETS)   16           18 (AVAILABLE): capacity not reserved by sets
 * sets         32 + 2*set                  2*maxSets    +0 quota (0 = no set), +1 live count
 * bitmap       bitmapBase                  idMax/32+1   bit id%32 of word id>>5: 1 = id taken; id 0 taken
 * owner        ownerBase + id              idMax+1      set + 1, or 0 = free
 * data         dataBase + id               idMax+1      31-bit data
 * ```
 *
 * Every access is an `Atomics` load or store, although the class itself is single-threaded:
 * in the mutex baseline the words are shared, and the project rule is that every shared word
 * goes through `Atomics` (the mutex's CAS and exchange order them). On a plain ArrayBuffer
 * (postMessage baseline) `Atomics.load`/`store` are legal and cost a few ns, nothing next to
 * a message hop. The scan for a free id is linear over bitmap words; the benchmarks keep
 * few ids live, so it stops in the first word, as the project's does.
 */

export const SEQ_MUTEX_WORD = 0;
const ID_MAX_WORD = 16;
const MAX_SETS_WORD = 17;
const AVAILABLE_WORD = 18;
const SETS_BASE = 32;
const SET_QUOTA = 0;
const SET_COUNT = 1;
const SET_WORDS = 2;

/** Largest `data` value (31 bits), as in `IoasidSpace`. */
const DATA_MAX = 0x7fffffff;

const ENOENT = -2;
const EACCES = -13;
const EINVAL = -22;
const ENOSPC = -28;
const EDQUOT = -122;

export interface SeqAllocatorOptions {
  /** ids are 1 .. 2^pasidBits - 1 */
  pasidBits: number;
  maxSets: number;
}

function geometry(o: SeqAllocatorOptions) {
  const idMax = 2 ** o.pasidBits - 1;
  const bitmapBase = SETS_BASE + SET_WORDS * o.maxSets;
  const ownerBase = bitmapBase + (idMax >>> 5) + 1;
  const dataBase = ownerBase + idMax + 1;
  return { idMax, bitmapBase, ownerBase, dataBase, words: dataBase + idMax + 1 };
}

/** Bytes a `SeqAllocator` with these options needs. */
export function seqAllocatorBytes(o: SeqAllocatorOptions): number {
  return geometry(o).words * 4;
}

/** Index of the lowest set bit of a non-zero word. */
function lowestBit(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** A sequential allocator over `words`; callers provide any mutual exclusion. */
export class SeqAllocator {
  readonly idMax: number;
  readonly maxSets: number;
  readonly words: Int32Array;
  readonly #bitmap: number;
  readonly #owner: number;
  readonly #data: number;

  /**
   * Format `buffer` (zero-filled, `seqAllocatorBytes(o)` long) and view it.
   *
   * Context: the creating thread, before the buffer is shared.
   */
  static format(buffer: ArrayBufferLike, o: SeqAllocatorOptions): SeqAllocator {
    const w = new Int32Array(buffer);
    const g = geometry(o);
    Atomics.store(w, ID_MAX_WORD, g.idMax);
    Atomics.store(w, MAX_SETS_WORD, o.maxSets);
    Atomics.store(w, AVAILABLE_WORD, g.idMax);
    Atomics.store(w, g.bitmapBase, 1); // id 0 is never handed out
    return new SeqAllocator(buffer);
  }

  /** View a buffer formatted by `format` (in any thread). */
  constructor(buffer: ArrayBufferLike) {
    const w = new Int32Array(buffer);
    this.words = w;
    this.idMax = Atomics.load(w, ID_MAX_WORD);
    this.maxSets = Atomics.load(w, MAX_SETS_WORD);
    const g = geometry({ pasidBits: Math.log2(this.idMax + 1), maxSets: this.maxSets });
    this.#bitmap = g.bitmapBase;
    this.#owner = g.ownerBase;
    this.#data = g.dataBase;
  }

  /** A NULL set: lowest free slot; quota 0 takes all remaining capacity. */
  setAlloc(quota: number): number {
    const w = this.words;
    if (quota < 0) return EINVAL;
    let set = 0;
    while (set < this.maxSets && Atomics.load(w, SETS_BASE + SET_WORDS * set + SET_QUOTA) !== 0)
      set++;
    if (set === this.maxSets) return ENOSPC;
    const available = Atomics.load(w, AVAILABLE_WORD);
    const take = quota === 0 ? available : quota;
    if (take === 0 || take > available) return ENOSPC;
    Atomics.store(w, AVAILABLE_WORD, available - take);
    Atomics.store(w, SETS_BASE + SET_WORDS * set + SET_QUOTA, take);
    return set;
  }

  /** The lowest free id in [min, max] for `set`, or -EINVAL / -EDQUOT / -ENOSPC. */
  alloc(set: number, min: number, max: number, data = 0): number {
    const w = this.words;
    const idMax = this.idMax;
    if (set < 0 || set >= this.maxSets || min < 0 || max < min || min > idMax || max < 1)
      return EINVAL;
    if (data < 0 || data > DATA_MAX) return EINVAL;
    const s = SETS_BASE + SET_WORDS * set;
    const quota = Atomics.load(w, s + SET_QUOTA);
    if (quota === 0) return EINVAL;
    const count = Atomics.load(w, s + SET_COUNT);
    if (count >= quota) return EDQUOT;
    const id = this.#lowestFree(Math.max(min, 1), Math.min(max, idMax));
    if (id < 0) return ENOSPC;
    const bw = this.#bitmap + (id >>> 5);
    Atomics.store(w, bw, Atomics.load(w, bw) | (1 << (id & 31)));
    Atomics.store(w, this.#owner + id, set + 1);
    Atomics.store(w, this.#data + id, data);
    Atomics.store(w, s + SET_COUNT, count + 1);
    return id;
  }

  /** 0, or -ENOENT (not allocated) / -EACCES (null or another set). */
  free(set: number | null, id: number): number {
    const w = this.words;
    if (id < 1 || id > this.idMax) return ENOENT;
    const owner = Atomics.load(w, this.#owner + id);
    if (owner === 0) return ENOENT;
    if (set === null || owner !== set + 1) return EACCES;
    const bw = this.#bitmap + (id >>> 5);
    Atomics.store(w, bw, Atomics.load(w, bw) & ~(1 << (id & 31)));
    Atomics.store(w, this.#owner + id, 0);
    Atomics.store(w, this.#data + id, 0);
    const c = SETS_BASE + SET_WORDS * (owner - 1) + SET_COUNT;
    Atomics.store(w, c, Atomics.load(w, c) - 1);
    return 0;
  }

  /** The id's data, or -ENOENT / -EACCES (set given and not the owner). */
  find(set: number | null, id: number): number {
    const w = this.words;
    if (id < 1 || id > this.idMax) return ENOENT;
    const owner = Atomics.load(w, this.#owner + id);
    if (owner === 0) return ENOENT;
    if (set !== null && owner !== set + 1) return EACCES;
    return Atomics.load(w, this.#data + id);
  }

  /** Lowest clear bit in [lo, hi] (1 <= lo <= hi <= idMax), or -1. */
  #lowestFree(lo: number, hi: number): number {
    const w = this.words;
    const last = hi >>> 5;
    for (let i = lo >>> 5; i <= last; i++) {
      let free = ~Atomics.load(w, this.#bitmap + i);
      if (i === lo >>> 5) free &= -1 << (lo & 31);
      if (i === last && (hi & 31) !== 31) free &= (1 << ((hi & 31) + 1)) - 1;
      if (free !== 0) return (i << 5) + lowestBit(free);
    }
    return -1;
  }
}
