/**
 * A small seeded PRNG (xorshift32 with a splitmix-style seed scramble) so every run is
 * replayable from its printed seed. Not cryptographic; fast and allocation-free.
 */
export class Prng {
  #state: number;

  /** @param seed - any 32-bit integer; each (seed, stream) pair gives an independent sequence */
  constructor(seed: number, stream = 0) {
    let s = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) | 0;
    s = Math.imul(s ^ (s >>> 16), 0x85ebca6b);
    s = Math.imul(s ^ (s >>> 13), 0xc2b2ae35);
    s ^= s >>> 16;
    this.#state = s === 0 ? 0x6d2b79f5 : s;
  }

  /** Next unsigned 32-bit value. */
  nextU32(): number {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x;
    return x >>> 0;
  }

  /** Uniform integer in [0, n). n must be in [1, 2^32]. */
  below(n: number): number {
    return Math.floor((this.nextU32() / 0x1_0000_0000) * n);
  }

  /** True with probability 1/n. */
  oneIn(n: number): boolean {
    return this.nextU32() % n === 0;
  }
}

/** A fresh random 31-bit seed, for runs started without --seed. */
export function randomSeed(): number {
  return (Math.random() * 0x7fffffff) >>> 0;
}
