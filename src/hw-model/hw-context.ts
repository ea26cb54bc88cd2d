/**
 * One thread's view of a platform: the two buffers, their geometry, the rings, the thread's
 * tag (for locks and ring claims), its log writer and counter row, and the core it drives.
 * Every hardware and driver function takes it as its first argument (`hw`).
 *
 * @internal
 */
import type { IoasidSpace } from '../core/ioasid/ioasid-space.js';
import type { Rcu } from '../core/rcu/rcu.js';
import type { Ring } from './claim-ring.js';
import { EventWriter } from './event-log.js';
import {
  DESC_WORDS,
  H_BONDS,
  H_DEVTLB_ENTRIES,
  H_FAULT_RECORDS,
  H_FLAGS,
  H_IOTLB_ENTRIES,
  H_LAT_EXEC,
  H_LAT_INV,
  H_LAT_PRQ,
  H_LEAVES_PER_PF,
  H_LIFETIME,
  H_MM_RECORDS,
  H_MUTATION,
  H_PAGES_PER_MM,
  H_PASID_BITS,
  H_PC_ENTRIES,
  H_PF_BASE,
  H_PFS,
  H_PRG_SLOTS,
  H_PROCESSES,
  H_PRQ_ENTRIES,
  H_QI_LENGTH,
  H_THREADS,
  HF_CACHING_MODE,
  HF_STOP_MARKER,
  type HwGeometry,
  type HwShape,
  hwGeometry,
  LIFETIME_BIND,
  PF_FLAGS,
  PF_KIND,
  PF_N_WQS,
  PF_WIDTH,
  PF_WQ_BASE,
  PF_WQ_STRIDE,
  PRQ_META,
  PRQ_WORDS,
  QI_META,
  QI_WORDS,
  rowWord,
  WQ_META,
  WQ_MODE,
  WQ_SIZE,
  WQ_THRESH,
} from './hw-layout.js';

type I32 = Int32Array<SharedArrayBuffer>;

/** Read the shape back from a hardware buffer's header (attach). */
export function shapeFromHeader(i32: I32): HwShape {
  const h = (w: number) => Atomics.load(i32, w);
  const pfs = [];
  for (let p = 0; p < h(H_PFS); p++) {
    const base = h(H_PF_BASE + p);
    const n = h(base + PF_N_WQS);
    const wqs = [];
    for (let w = 0; w < n; w++) {
      const cfg = base + PF_WQ_BASE + PF_WQ_STRIDE * w;
      wqs.push({ mode: h(cfg + WQ_MODE), size: h(cfg + WQ_SIZE), threshold: h(cfg + WQ_THRESH) });
    }
    pfs.push({
      kind: h(base + PF_KIND),
      width: h(base + PF_WIDTH),
      flags: h(base + PF_FLAGS),
      wqs,
    });
  }
  return {
    pasidBits: h(H_PASID_BITS),
    processes: h(H_PROCESSES),
    threadsPerProcess: h(H_THREADS),
    mmRecords: h(H_MM_RECORDS),
    bonds: h(H_BONDS),
    pcEntries: h(H_PC_ENTRIES),
    iotlbEntries: h(H_IOTLB_ENTRIES),
    devTlbEntries: h(H_DEVTLB_ENTRIES),
    qiLength: h(H_QI_LENGTH),
    prqEntries: h(H_PRQ_ENTRIES),
    faultRecords: h(H_FAULT_RECORDS),
    prgSlots: h(H_PRG_SLOTS),
    leavesPerPf: h(H_LEAVES_PER_PF),
    pagesPerMm: h(H_PAGES_PER_MM),
    pfs,
  };
}

/** Latencies read from the header (extra idle steps, chosen at random by the engines). */
export interface EngineLatencies {
  invalidation: number;
  execution: number;
  prqService: number;
}

/**
 * A thread's context over one platform.
 *
 * @internal
 */
export class HwContext {
  readonly i32: I32;
  readonly logI32: I32;
  readonly g: HwGeometry;
  readonly qi: Ring;
  readonly prq: Ring;
  /** wq[pf][w]: the ring of WQ w of PF pf. */
  readonly wq: Ring[][];
  readonly log: EventWriter;
  /** Tag for locks and ring claims: this thread's log row + 1. */
  readonly tag: number;
  readonly row: number;
  readonly mutation: number;
  readonly bindLifetime: boolean;
  /** Drains send a Stop Marker instead of waiting for page responses. */
  readonly stopMarker: boolean;
  /** The IOMMU is in caching mode (no device-TLB flush at teardown). */
  readonly cachingMode: boolean;
  readonly latencies: EngineLatencies;
  readonly space: IoasidSpace;
  readonly rcu: Rcu;
  readonly #rowBase: number;

  constructor(i32: I32, logI32: I32, row: number, space: IoasidSpace) {
    this.i32 = i32;
    this.logI32 = logI32;
    this.g = hwGeometry(shapeFromHeader(i32));
    this.row = row;
    this.tag = row + 1;
    this.#rowBase = rowWord(row);
    this.log = new EventWriter(logI32, this.tag);
    this.mutation = Atomics.load(i32, H_MUTATION);
    this.bindLifetime = Atomics.load(i32, H_LIFETIME) === LIFETIME_BIND;
    this.stopMarker = (Atomics.load(i32, H_FLAGS) & HF_STOP_MARKER) !== 0;
    this.cachingMode = (Atomics.load(i32, H_FLAGS) & HF_CACHING_MODE) !== 0;
    this.latencies = {
      invalidation: Atomics.load(i32, H_LAT_INV),
      execution: Atomics.load(i32, H_LAT_EXEC),
      prqService: Atomics.load(i32, H_LAT_PRQ),
    };
    this.space = space;
    this.rcu = space.rcu;
    const s = this.g.shape;
    this.qi = { i32, meta: QI_META, slots: this.g.qiBase, slotWords: QI_WORDS, size: s.qiLength };
    this.prq = {
      i32,
      meta: PRQ_META,
      slots: this.g.prqBase,
      slotWords: PRQ_WORDS,
      size: s.prqEntries,
    };
    this.wq = this.g.pf.map((pf) =>
      pf.wqCfg.map((cfg, w) => ({
        i32,
        meta: cfg + WQ_META,
        slots: pf.wqRing[w]!,
        slotWords: DESC_WORDS,
        size: pf.wqRingSize[w]!,
      })),
    );
  }

  /** Count one event of counter word `c` (counters.ts `C`) in this thread's row. */
  count(c: number, n = 1): void {
    Atomics.add(this.logI32, this.#rowBase + c, n);
  }

  /** Load a hardware word. */
  ld(w: number): number {
    return Atomics.load(this.i32, w);
  }

  /** Store a hardware word. */
  st(w: number, v: number): void {
    Atomics.store(this.i32, w, v);
  }
}
