/**
 * Baseline 1: a central PASID allocator owned by the main thread and reached from workers by
 * postMessage, one request/response per operation, one request in flight per worker,
 * awaited.
 *
 * This is what a JS developer writes first: state that is not shared, a message protocol,
 * `await allocator.alloc(...)`. It is fair to the baseline:
 * - the allocator is the same sequential code as the mutex baseline (./seq-allocator.ts: the
 *   lowest free id in range, per-set quota, the same errnos as `IoasidSpace`, checked by the
 *   agreement test), in a plain ArrayBuffer nobody else touches;
 * - each worker gets its own MessageChannel (as piscina does), requests are small plain
 *   objects and replies a bare number, so the cost measured is the hop, not serialization;
 * - an alloc+free pair is two awaited round trips, because each call needs its answer (the
 *   id, or the errno) before the caller can go on; batching or pipelining requests would be
 *   a different API.
 * Spec B4 measured this design at about 59 us per alloc with one worker on these VMs. Its
 * figure depends on how fast an idle thread wakes: on an otherwise idle 2-vCPU VM a round
 * trip here took about 110 us, with the other vCPU kept busy about 18 us. Compare runs made
 * under the same load; the project's figures do not depend on it (nothing sleeps).
 */
import type { MessagePort } from 'node:worker_threads';
import { SeqAllocator, type SeqAllocatorOptions, seqAllocatorBytes } from './seq-allocator.js';

/** A request from a worker. */
export type AllocRequest =
  | { op: 'alloc'; set: number; min: number; max: number; data: number }
  | { op: 'free'; set: number | null; id: number }
  | { op: 'find'; set: number | null; id: number };

/** The main-thread side: the allocator and the ports it answers on. */
export class PostMessageAllocatorServer {
  readonly seq: SeqAllocator;
  readonly #ports: MessagePort[] = [];

  constructor(o: SeqAllocatorOptions) {
    this.seq = SeqAllocator.format(new ArrayBuffer(seqAllocatorBytes(o)), o);
  }

  /** Answer every request that arrives on `port`, in arrival order. */
  serve(port: MessagePort): void {
    this.#ports.push(port);
    port.on('message', (r: AllocRequest) => port.postMessage(this.handle(r)));
  }

  /** Execute one request (also used directly by the agreement test). */
  handle(r: AllocRequest): number {
    switch (r.op) {
      case 'alloc':
        return this.seq.alloc(r.set, r.min, r.max, r.data);
      case 'free':
        return this.seq.free(r.set, r.id);
      case 'find':
        return this.seq.find(r.set, r.id);
    }
  }

  /** Stop serving: close every port. */
  close(): void {
    for (const p of this.#ports) p.close();
    this.#ports.length = 0;
  }
}

/** The worker side: one request in flight, each call awaits its reply. */
export class PostMessageAllocatorClient {
  readonly #port: MessagePort;
  #pending: ((r: number) => void) | undefined;

  constructor(port: MessagePort) {
    this.#port = port;
    port.on('message', (r: number) => {
      const resolve = this.#pending;
      this.#pending = undefined;
      resolve?.(r);
    });
  }

  #call(req: AllocRequest): Promise<number> {
    if (this.#pending) throw new Error('PostMessageAllocatorClient: one call at a time');
    return new Promise((resolve) => {
      this.#pending = resolve;
      this.#port.postMessage(req);
    });
  }

  alloc(set: number, min: number, max: number, data = 0): Promise<number> {
    return this.#call({ op: 'alloc', set, min, max, data });
  }

  free(set: number | null, id: number): Promise<number> {
    return this.#call({ op: 'free', set, id });
  }

  find(set: number | null, id: number): Promise<number> {
    return this.#call({ op: 'find', set, id });
  }

  close(): void {
    this.#port.close();
  }
}
