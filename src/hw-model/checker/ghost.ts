/**
 * The checker's ghost state (§7.3 "Host-side ghost state"): per PASID its state, current
 * generation (the allocation ticket the driver recorded), owner, references as observed in
 * the log, FREE notifications owed, and per PF the teardown of its bond, phase by phase; plus
 * the recent events of each PASID for traces. Only the checker writes it.
 *
 * @internal
 */
import type { LogEvent } from '../event-log.js';

/** The teardown of one (pf, pasid, gen) bond as the log shows it. */
export interface BondGhost {
  pf: number;
  bond: number;
  /** The bind ticket of the bond (its cache lines carry it). */
  bind: number;
  /** Log seq at which each phase P0..P7 completed (-1 not yet). */
  phases: number[];
  exception: boolean;
  /** Seq of the BIND; of the UNBIND that started the teardown (-1 none yet). */
  boundSeq: number;
  startSeq: number;
}

/** Page-request accounting of one (pf, pasid, gen). */
export interface PrqGhost {
  /** Requests (and stop markers) in the PRQ. */
  entries: number;
  /** Page-request groups waiting for their response. */
  prgs: number;
}

/** The ghost of one PASID value. */
export interface PasidGhost {
  pasid: number;
  state: 'free' | 'allocated' | 'free-pending';
  /** Ticket of the current (or last) generation. */
  gen: number;
  /** How many times the core handed this value out. */
  ordinal: number;
  owner: number;
  refs: number;
  /**
   * References among `refs` by holder (GET/PUT operand b: host driver, IOMMU driver's guest
   * side, KVM, VDCM): a reaper's repeat (operand c = 1) of a GET its holder already counts, or
   * of a PUT it already counted, is ignored.
   */
  held: number[];
  /**
   * The VDCM's references by mdev slot (its GET/PUT name the slot in `pf`, -1 in an older
   * log): the VDCM may hold several on one PASID, so a reaper's repeat of one slot's GET or
   * PUT is judged by that slot alone.
   */
  slots: Set<number>;
  /** FREE notifications owed / received for the current generation. */
  notifyOwed: number;
  notified: number;
  /** Seq of the free-pending transition (for liveness), -1 none. */
  pendingSeq: number;
  /** Bonds of the current generation, by PF. */
  bonds: Map<number, BondGhost>;
  /** The last events naming this PASID, oldest first. */
  history: LogEvent[];
}

const HISTORY = 40;

/** The ghost of every PASID seen so far. */
export class Ghost {
  readonly #pasids = new Map<number, PasidGhost>();
  /** Page-request accounting, keyed `pf:pasid:gen`. */
  readonly prq = new Map<string, PrqGhost>();

  /** The ghost of `pasid` (created free on first use). */
  of(pasid: number): PasidGhost {
    let g = this.#pasids.get(pasid);
    if (!g) {
      g = {
        pasid,
        state: 'free',
        gen: 0,
        ordinal: 0,
        owner: 0,
        refs: 0,
        held: [0, 0, 0, 0],
        slots: new Set(),
        notifyOwed: 0,
        notified: 0,
        pendingSeq: -1,
        bonds: new Map(),
        history: [],
      };
      this.#pasids.set(pasid, g);
    }
    return g;
  }

  /** The ghost of `pasid` if it was ever seen. */
  peek(pasid: number): PasidGhost | undefined {
    return this.#pasids.get(pasid);
  }

  /** Every PASID seen. */
  all(): IterableIterator<PasidGhost> {
    return this.#pasids.values();
  }

  /** Remember `e` in the history of its PASID. */
  remember(e: LogEvent): void {
    if (e.pasid <= 0) return;
    const h = this.of(e.pasid).history;
    h.push(e);
    // Trimmed in batches: amortised O(1) per event instead of a shift each time.
    if (h.length > 2 * HISTORY) h.splice(0, h.length - HISTORY);
  }

  /** The last events of `pasid` (at most HISTORY), oldest first. */
  recent(pasid: number): LogEvent[] {
    const h = this.peek(pasid)?.history ?? [];
    return h.slice(-HISTORY);
  }

  /** Page-request accounting of (pf, pasid, gen). */
  prqOf(pf: number, pasid: number, gen: number): PrqGhost {
    const k = `${pf}:${pasid}:${gen}`;
    let p = this.prq.get(k);
    if (!p) {
      p = { entries: 0, prgs: 0 };
      this.prq.set(k, p);
    }
    return p;
  }

  /** A new, empty bond ghost. */
  static bond(pf: number, bond: number, bind: number, seq: number): BondGhost {
    return {
      pf,
      bond,
      bind,
      phases: new Array(8).fill(-1),
      exception: false,
      boundSeq: seq,
      startSeq: -1,
    };
  }
}
