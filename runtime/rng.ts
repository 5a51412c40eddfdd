/**
 * A seeded, deterministic PRNG: sfc32 (Chris Doty-Humphrey's Small Fast
 * Counting generator, 128-bit state, passes PractRand/BigCrush), its state
 * filled by splitmix32 so that nearby seeds (0, 1, 2…) give unrelated streams.
 * The same seed gives the same numbers on every platform: only 32-bit integer
 * arithmetic (`| 0`, `>>>`, `Math.imul`) is involved until the final scaling.
 *
 *   const r = new Rng(42);
 *   r.uniform(-1, 1); r.normal(0, 0.1); r.shuffle(indices);
 */

const TWO_POW_32 = 4294967296;

/** splitmix32's output function: a bijective avalanche mix of one 32-bit word. */
function mix32(z: number): number {
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

import { RuntimeError } from "./types.ts";

/** Folds any integer seed (negative or above 2^32 too) and optional labels into one 32-bit seed. */
export function deriveSeed(seed: number, ...labels: readonly (string | number)[]): number {
  if (typeof seed !== "number" || !Number.isFinite(seed)) throw new RuntimeError("E_ARG", `seed must be a finite number, got ${String(seed)}`);
  const s = Math.trunc(seed);
  let h = mix32((s >>> 0) ^ 0x6a09e667);
  h = mix32(h ^ (Math.floor(s / TWO_POW_32) >>> 0) ^ 0xbb67ae85);
  for (const label of labels) {
    const text = String(label);
    h = mix32(h ^ text.length);
    for (let i = 0; i < text.length; i++) h = mix32((h ^ text.charCodeAt(i)) + 0x9e3779b9);
  }
  return h;
}

export class Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;
  /** The second Box–Muller deviate, kept for the next `normal` call. */
  private spare = 0;
  private hasSpare = false;

  constructor(seed = 0) {
    this.reseed(seed);
  }

  /**
   * Restarts the stream as `new Rng(seed)` would, in place (allocates nothing,
   * so a training loop can reseed per epoch).
   */
  reseed(seed: number): this {
    // splitmix32 fills the state: x += golden ratio, output mix32(x).
    let x = deriveSeed(seed);
    x = (x + 0x9e3779b9) | 0;
    this.a = mix32(x) | 0;
    x = (x + 0x9e3779b9) | 0;
    this.b = mix32(x) | 0;
    x = (x + 0x9e3779b9) | 0;
    this.c = mix32(x) | 0;
    x = (x + 0x9e3779b9) | 0;
    this.d = mix32(x) | 0;
    this.hasSpare = false;
    this.spare = 0;
    for (let i = 0; i < 12; i++) this.uint32(); // warm up, as the sfc32 reference does
    return this;
  }

  /** The next 32-bit unsigned integer (sfc32). */
  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1), in steps of 2^-32. */
  float(): number {
    return this.uint32() / TWO_POW_32;
  }

  /** Uniform in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.float();
  }

  /** A uniform integer in [0, n), unbiased (rejection sampling), for 1 <= n <= 2^32. */
  int(n: number): number {
    if (!(n >= 1 && n <= TWO_POW_32 && Number.isInteger(n))) throw new RangeError(`int(n): n must be an integer in [1, 2^32], got ${n}`);
    const limit = TWO_POW_32 - (TWO_POW_32 % n); // largest multiple of n that fits
    let x = this.uint32();
    while (x >= limit) x = this.uint32();
    return x % n;
  }

  /**
   * Normal deviate by Box–Muller: with u1 in (0, 1] and u2 in [0, 1),
   * r = sqrt(-2 ln u1) and (r cos 2πu2, r sin 2πu2) are two independent N(0, 1).
   */
  normal(mean = 0, std = 1): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return mean + std * this.spare;
    }
    const u1 = 1 - this.float();
    const u2 = this.float();
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    this.spare = r * Math.sin(theta);
    this.hasSpare = true;
    return mean + std * r * Math.cos(theta);
  }

  /**
   * Inverted dropout in place on `buf[start .. end)`: each element becomes 0
   * with probability p, else is scaled by 1 / (1 - p), so its expectation is
   * unchanged (with `inverted` false it is kept as is: the lectures' dropout, scaled by 1 - p at test time). Draws one `float()` per element, in order, exactly as
   * `buf[i] = this.float() < p ? 0 : buf[i] / (1 - p)` would; written as one
   * loop over the state in locals so that it allocates nothing and makes no
   * call per element.
   */
  dropout(buf: { length: number; [i: number]: number }, start: number, end: number, p: number, inverted = true): void {
    const scale = inverted ? 1 / (1 - p) : 1;
    const cut = p * TWO_POW_32; // float() < p  <=>  uint32 < p * 2^32
    let a = this.a;
    let b = this.b;
    let c = this.c;
    let d = this.d;
    for (let i = start; i < end; i++) {
      const t = (((a + b) | 0) + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (c << 21) | (c >>> 11);
      c = (c + t) | 0;
      buf[i] = t >>> 0 < cut ? 0 : buf[i]! * scale;
    }
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
  }

  /** Shuffles `a` in place (Fisher–Yates: every permutation equally likely) and returns it. */
  shuffle<A extends { length: number; [i: number]: unknown }>(a: A): A {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }
}

/** `new Rng(seed)`, for call sites that read better as a function. */
export const rng = (seed = 0): Rng => new Rng(seed);
