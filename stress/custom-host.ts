/**
 * The custom allocator of `--custom-allocator` runs: a "hypervisor" thread that owns the
 * PASIDs and answers allocation requests over a shared-memory mailbox, as a VT-d host answers
 * a guest's virtual command interface (one request at a time per vCPU, through a register).
 * Every op CPU registers its own ops object under one group name (HOST_GROUP), bound to its
 * own mailbox, and so does the harness (the last mailbox) before any id exists, so the group
 * is active for the whole run and every id the CPUs allocate comes from the hypervisor
 * (IoasidSpace.registerAllocator).
 *
 * ```ts
 * const host = CustomHost.create(14, cpus + 1);      // main thread: ids 1 .. 2^14 - 1
 * new Worker(url, { workerData: host.buffer });      // stress/custom-host-worker.ts: serve()
 * space.registerAllocator(host.ops(cpus));           // 0: the group is active
 * new CustomHost(host.buffer).ops(cpu);              // a CPU's member, on its own mailbox
 * ```
 *
 * ## Developer notes
 * Layout (Int32 words): control words, then one 64-byte mailbox per member, then the host's
 * bitmap of PASIDs it handed out. The hypervisor is the only writer of the bitmap and of a
 * mailbox's RESULT; the member the mailbox belongs to is the only writer of OP, A and B. A
 * member stores OP, A, B, then STATE = REQUEST (which publishes them) and rings the doorbell;
 * the hypervisor stores RESULT, then STATE = ANSWER (which publishes it, and the bitmap it
 * changed first) and notifies the mailbox.
 *
 * A CPU killed inside its call leaves its mailbox at REQUEST or ANSWER; its replacement (same
 * CPU, same mailbox, started after the dead thread exited) waits for a pending REQUEST to be
 * answered before it posts its own, and ignores a stale ANSWER. An id answered to a dead
 * thread stays handed out: the space counts it (`allocatorAbandoned`).
 *
 * The hypervisor is next-fit (a cursor of its own), as hypervisors hand out PASIDs: an id it
 * took back is handed out again only after the others, so an alloc rarely meets an id whose
 * reclaim has given it back but not erased it yet (the core waits for that, and returns
 * -EAGAIN after three give-backs). A free of an id it does not hold is counted, not refused: a
 * member's free is at least once (a thread killed inside it has it done again by another
 * member, see allocator-registry.ts), so double frees are legal up to the deferred frees the
 * space counts.
 */
import { LINE_WORDS } from '../src/core/cache-line.js';
import { Errno } from '../src/core/ioasid/errno.js';
import type { AllocatorOps } from '../src/core/ioasid/ioasid-space.js';

/** The group every member registers under. */
export const HOST_GROUP = 'stress-host';

// Control words.
const DOORBELL = 0;
const STOP = 1;
const DOUBLE_FREES = 2;
const ID_MAX = 3;
const MAILBOXES = 4;
const SERVED = 5;
const MB_BASE = LINE_WORDS;
// A mailbox's words.
const MB_STATE = 0;
const MB_OP = 1;
const MB_A = 2;
const MB_B = 3;
const MB_RESULT = 4;
const IDLE = 0;
const REQUEST = 1;
const ANSWER = 2;
const OP_ALLOC = 1;
const OP_FREE = 2;
/** How long a waiting side sleeps before it looks again (a lost wake-up costs no more). */
const WAIT_MS = 100;

/** A view of the host's shared memory: member ops, the hypervisor's loop, and its census. */
export class CustomHost {
  readonly buffer: SharedArrayBuffer;
  readonly #w: Int32Array<SharedArrayBuffer>;
  readonly #idMax: number;
  readonly #bitmap: number;

  /**
   * A new host holding no id.
   *
   * @param pasidBits - the space's PASID width: ids 1 .. 2^pasidBits - 1
   * @param mailboxes - how many members may call at once (one mailbox each)
   *
   * Context: main thread, before the buffer is shared.
   * @returns the host
   */
  static create(pasidBits: number, mailboxes: number): CustomHost {
    const idMax = 2 ** pasidBits - 1;
    const words = MB_BASE + mailboxes * LINE_WORDS + Math.ceil((idMax + 1) / 32);
    const w = new Int32Array(new SharedArrayBuffer(words * 4));
    Atomics.store(w, ID_MAX, idMax);
    Atomics.store(w, MAILBOXES, mailboxes);
    return new CustomHost(w.buffer);
  }

  /**
   * @param buffer - a host's buffer (`host.buffer`, from any thread)
   *
   * Context: any thread.
   */
  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.#w = new Int32Array(buffer);
    // Both written before the buffer was shared, never again.
    this.#idMax = Atomics.load(this.#w, ID_MAX);
    this.#bitmap = MB_BASE + Atomics.load(this.#w, MAILBOXES) * LINE_WORDS;
  }

  /**
   * A fresh ops object of group HOST_GROUP for this thread to register: its calls go through
   * mailbox `mailbox` and block until the hypervisor answers.
   *
   * @param mailbox - this thread's mailbox (no other live thread may use it)
   *
   * Context: the thread that registers it.
   * @returns the ops object
   */
  ops(mailbox: number): AllocatorOps {
    if (!(mailbox >= 0 && mailbox < Atomics.load(this.#w, MAILBOXES)))
      throw new RangeError(`no mailbox ${mailbox}`);
    return {
      name: HOST_GROUP,
      alloc: (min, max) => this.#call(mailbox, OP_ALLOC, min, max),
      free: (id) => void this.#call(mailbox, OP_FREE, id, 0),
    };
  }

  /** One request through `mailbox`, answered by the hypervisor (module notes). */
  #call(mailbox: number, op: number, a: number, b: number): number {
    const w = this.#w;
    const m = MB_BASE + mailbox * LINE_WORDS;
    // A killed predecessor's request: let the hypervisor answer it first.
    while (Atomics.load(w, m + MB_STATE) === REQUEST)
      Atomics.wait(w, m + MB_STATE, REQUEST, WAIT_MS);
    Atomics.store(w, m + MB_OP, op);
    Atomics.store(w, m + MB_A, a);
    Atomics.store(w, m + MB_B, b);
    Atomics.store(w, m + MB_STATE, REQUEST);
    Atomics.add(w, DOORBELL, 1);
    Atomics.notify(w, DOORBELL);
    while (Atomics.load(w, m + MB_STATE) === REQUEST)
      Atomics.wait(w, m + MB_STATE, REQUEST, WAIT_MS);
    const r = Atomics.load(w, m + MB_RESULT);
    Atomics.store(w, m + MB_STATE, IDLE);
    return r;
  }

  /**
   * The hypervisor's loop: answer every mailbox's request until `stop()`.
   *
   * Context: the hypervisor's own thread; blocks until stopped.
   * @returns how many requests it answered
   */
  serve(): number {
    const w = this.#w;
    const mailboxes = Atomics.load(w, MAILBOXES);
    let cursor = 1;
    for (;;) {
      const bell = Atomics.load(w, DOORBELL);
      for (let k = 0; k < mailboxes; k++) {
        const m = MB_BASE + k * LINE_WORDS;
        if (Atomics.load(w, m + MB_STATE) !== REQUEST) continue;
        const a = Atomics.load(w, m + MB_A);
        let r = 0;
        if (Atomics.load(w, m + MB_OP) === OP_ALLOC) {
          r = this.#alloc(a, Atomics.load(w, m + MB_B), cursor);
          if (r > 0) cursor = r + 1;
        } else this.#free(a);
        Atomics.store(w, m + MB_RESULT, r);
        Atomics.store(w, m + MB_STATE, ANSWER);
        Atomics.notify(w, m + MB_STATE);
        Atomics.add(w, SERVED, 1);
      }
      if (Atomics.load(w, STOP) !== 0) return Atomics.load(w, SERVED);
      Atomics.wait(w, DOORBELL, bell, WAIT_MS);
    }
  }

  /**
   * Tell the hypervisor to return from `serve()` once it has answered what is posted.
   *
   * Context: any thread; never blocks.
   */
  stop(): void {
    Atomics.store(this.#w, STOP, 1);
    Atomics.add(this.#w, DOORBELL, 1);
    Atomics.notify(this.#w, DOORBELL);
  }

  /** Hand out the first free id in [min, max] from `cursor` on, wrapping once; or -ENOSPC. */
  #alloc(min: number, max: number, cursor: number): number {
    const lo = Math.max(1, min);
    const hi = Math.min(max, this.#idMax);
    if (lo > hi) return -Errno.ENOSPC;
    const from = cursor >= lo && cursor <= hi ? cursor : lo;
    const id = this.#firstFree(from, hi) || this.#firstFree(lo, from - 1);
    if (id === 0) return -Errno.ENOSPC;
    Atomics.or(this.#w, this.#bitmap + (id >>> 5), 1 << (id & 31));
    return id;
  }

  /** The first id in [lo, hi] the host does not hold, or 0. */
  #firstFree(lo: number, hi: number): number {
    for (let id = lo; id <= hi; ) {
      const held = Atomics.load(this.#w, this.#bitmap + (id >>> 5));
      if (held === -1) {
        id = (id | 31) + 1;
        continue;
      }
      if ((held & (1 << (id & 31))) === 0) return id;
      id++;
    }
    return 0;
  }

  /** Take `id` back; an id the host does not hold is counted as a double free. */
  #free(id: number): void {
    const bit = 1 << (id & 31);
    const word = this.#bitmap + (id >>> 5);
    if (!(id >= 1 && id <= this.#idMax) || (Atomics.and(this.#w, word, ~bit) & bit) === 0)
      Atomics.add(this.#w, DOUBLE_FREES, 1);
  }

  /**
   * @param id - an id
   * @returns true when the host has handed it out and not taken it back
   */
  holds(id: number): boolean {
    if (!(id >= 1 && id <= this.#idMax)) return false;
    return (Atomics.load(this.#w, this.#bitmap + (id >>> 5)) & (1 << (id & 31))) !== 0;
  }

  /**
   * @returns how many ids the host has handed out and not taken back (a scan of the bitmap:
   *   exact when no request is in flight)
   */
  held(): number {
    let n = 0;
    for (let word = this.#bitmap; word < this.#w.length; word++) {
      let x = Atomics.load(this.#w, word);
      for (; x !== 0; n++) x &= x - 1;
    }
    return n;
  }

  /** @returns how many frees named an id the host did not hold */
  doubleFrees(): number {
    return Atomics.load(this.#w, DOUBLE_FREES);
  }

  /** @returns how many requests the hypervisor answered */
  served(): number {
    return Atomics.load(this.#w, SERVED);
  }
}
