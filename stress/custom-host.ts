/**
 * The custom allocator of `--custom-allocator` runs: a "host" that hands out PASIDs from a
 * bitmap in shared memory, as a hypervisor answers a VT-d guest's virtual command interface.
 * Every op CPU registers its own ops object under one group name (HOST_GROUP), and so does the
 * harness before any id exists, so the group is active for the whole run and every id the CPUs
 * allocate comes from here (IoasidSpace.registerAllocator).
 *
 * ```ts
 * const host = CustomHost.create(14);                 // main thread, ids 1 .. 2^14 - 1
 * space.registerAllocator(host.ops());                // 0: the group is active
 * new CustomHost(host.buffer).ops();                  // another thread's member of the group
 * ```
 *
 * ## Developer notes
 * The host is next-fit (a shared cursor), as hypervisors hand out PASIDs: an id it took back
 * is handed out again only after the others, so an alloc rarely meets an id whose reclaim has
 * given it back but not erased it yet (the core waits for that, and returns -EAGAIN after
 * three give-backs). A free of an id it does not hold is counted, not refused: a member's free
 * is at least once (a thread killed inside it has it done again by another member, see
 * allocator-registry.ts), so double frees are legal up to the deferred frees the space counts.
 */
import { Errno } from '../src/core/ioasid/errno.js';
import type { AllocatorOps } from '../src/core/ioasid/ioasid-space.js';

/** The group every member registers under. */
export const HOST_GROUP = 'stress-host';

const CURSOR = 0;
const DOUBLE_FREES = 1;
const ID_MAX = 2;
const BITMAP = 16;

/** A view of the host's shared memory, and ops objects that use it. */
export class CustomHost {
  readonly buffer: SharedArrayBuffer;
  readonly #w: Int32Array<SharedArrayBuffer>;
  readonly #idMax: number;

  /**
   * A new host holding no id.
   *
   * @param pasidBits - the space's PASID width: ids 1 .. 2^pasidBits - 1
   *
   * Context: main thread, before the buffer is shared.
   * @returns the host
   */
  static create(pasidBits: number): CustomHost {
    const idMax = 2 ** pasidBits - 1;
    const buffer = new SharedArrayBuffer((BITMAP + Math.ceil((idMax + 1) / 32)) * 4);
    const w = new Int32Array(buffer);
    Atomics.store(w, ID_MAX, idMax);
    Atomics.store(w, CURSOR, 1);
    return new CustomHost(buffer);
  }

  /**
   * @param buffer - a host's buffer (`host.buffer`, from any thread)
   *
   * Context: any thread.
   */
  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.#w = new Int32Array(buffer);
    this.#idMax = Atomics.load(this.#w, ID_MAX); // written before the buffer was shared
  }

  /**
   * A fresh ops object of group HOST_GROUP for this thread to register.
   *
   * @returns the ops object
   */
  ops(): AllocatorOps {
    return {
      name: HOST_GROUP,
      alloc: (min, max) => this.alloc(min, max),
      free: (id) => this.free(id),
    };
  }

  /**
   * Hand out an id in [min, max]: the first free one from the cursor on, wrapping once.
   *
   * @param min - lowest acceptable id
   * @param max - highest acceptable id
   *
   * Context: any thread; lock-free (a CAS per attempt), never blocks.
   * @returns the id, or -ENOSPC when every id of the range is handed out
   */
  alloc(min: number, max: number): number {
    const w = this.#w;
    const lo = Math.max(1, min);
    const hi = Math.min(max, this.#idMax);
    if (lo > hi) return -Errno.ENOSPC;
    const c = Atomics.load(w, CURSOR);
    const from = c >= lo && c <= hi ? c : lo;
    const id = this.#claimIn(from, hi);
    const got = id > 0 ? id : this.#claimIn(lo, from - 1);
    if (got <= 0) return -Errno.ENOSPC;
    Atomics.store(w, CURSOR, got + 1 > hi ? lo : got + 1);
    return got;
  }

  /** Claim the first free id in [lo, hi]: the id, or 0. */
  #claimIn(lo: number, hi: number): number {
    const w = this.#w;
    for (let id = lo; id <= hi; ) {
      const word = BITMAP + (id >>> 5);
      const old = Atomics.load(w, word);
      // Free bits of this word from `id` up to `hi`.
      let free = ~old & (-1 << (id & 31));
      if (hi - (id & ~31) < 31) free &= (2 ** ((hi & 31) + 1) - 1) | 0;
      if (free === 0) {
        id = (id | 31) + 1;
        continue;
      }
      const bit = free & -free;
      if (Atomics.compareExchange(w, word, old, old | bit) === old)
        return (id & ~31) + (31 - Math.clz32(bit));
      // Lost a race for this word: look at it again.
    }
    return 0;
  }

  /**
   * Take `id` back. An id the host does not hold is counted as a double free.
   *
   * @param id - an id this group handed out
   *
   * Context: any thread; never blocks.
   */
  free(id: number): void {
    const w = this.#w;
    const bit = 1 << (id & 31);
    const old = Atomics.and(w, BITMAP + (id >>> 5), ~bit);
    if ((old & bit) === 0) Atomics.add(w, DOUBLE_FREES, 1);
  }

  /**
   * @param id - an id
   * @returns true when the host has handed it out and not taken it back
   */
  holds(id: number): boolean {
    return (Atomics.load(this.#w, BITMAP + (id >>> 5)) & (1 << (id & 31))) !== 0;
  }

  /**
   * @returns how many ids the host has handed out and not taken back (a scan of the bitmap:
   *   exact when no thread uses the host)
   */
  held(): number {
    let n = 0;
    for (let word = BITMAP; word < this.#w.length; word++) {
      let x = Atomics.load(this.#w, word);
      for (; x !== 0; n++) x &= x - 1;
    }
    return n;
  }

  /** @returns how many frees named an id the host did not hold */
  doubleFrees(): number {
    return Atomics.load(this.#w, DOUBLE_FREES);
  }
}
