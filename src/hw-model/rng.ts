/**
 * The model's seeded random numbers (mulberry32): every actor and the deterministic
 * scheduler draw from their own stream of one run seed, so a run replays from its seed.
 * Not cryptographic.
 */
export class ModelRng {
  #s: number;

  /** @param seed - the run seed; @param stream - distinct per actor */
  constructor(seed: number, stream = 0) {
    this.#s = (seed ^ Math.imul(stream + 0x632be5ab, 0x85ebca77)) >>> 0;
    for (let i = 0; i < 4; i++) this.next();
  }

  /** Next value in [0, 2^32). */
  next(): number {
    this.#s = (this.#s + 0x6d2b79f5) | 0;
    let t = Math.imul(this.#s ^ (this.#s >>> 15), 1 | this.#s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform integer in [0, n), n >= 1. */
  below(n: number): number {
    return Math.floor((this.next() / 0x1_0000_0000) * n);
  }

  /** True with probability 1/n. */
  oneIn(n: number): boolean {
    return this.below(n) === 0;
  }

  /** An index drawn with the given non-negative weights (at least one positive). */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let r = this.below(total);
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i]!;
      if (r < 0) return i;
    }
    return weights.length - 1;
  }
}
