// runtime/optim.ts: every optimizer minimizes a known quadratic, and one or
// two updates match the formulas in the file comment worked by hand.
import { describe, expect, it } from "vitest";
import { adagrad, adam, adamw, constant, momentum, nesterov, rmsprop, sgd, stepDecay, type OptimizerSpec } from "../../runtime/index.ts";

const F64 = { Array: Float64Array };

/** f(p) = ½ Σ a_i (p_i - c_i)², minimized at c; an ill-conditioned bowl (a = 1 and 10). */
const a = [1, 10];
const c = [3, -2];
function minimize(spec: OptimizerSpec, steps: number) {
  const opt = spec.create(2, F64);
  const p = new Float64Array(2);
  const g = new Float64Array(2);
  for (let s = 0; s < steps; s++) {
    for (let i = 0; i < 2; i++) g[i] = a[i]! * (p[i]! - c[i]!);
    opt.update(p, g);
  }
  return { p, opt };
}

describe("every optimizer converges on a quadratic bowl", () => {
  const cases: [string, OptimizerSpec, number, number][] = [
    ["sgd", sgd({ lr: 0.05 }), 500, 1e-6],
    ["momentum", momentum({ lr: 0.02, momentum: 0.9 }), 500, 1e-6],
    ["nesterov", nesterov({ lr: 0.02, momentum: 0.9 }), 500, 1e-6],
    ["adagrad", adagrad({ lr: 1 }), 2000, 1e-4],
    ["rmsprop", rmsprop({ lr: 0.001 }), 5000, 1e-2],
    ["adam", adam({ lr: 0.05 }), 3000, 1e-3],
    ["adamw (no weights to decay)", adamw({ lr: 0.05, weightDecay: 0.1 }), 3000, 1e-3],
  ];
  for (const [name, spec, steps, tol] of cases)
    it(name, () => {
      const { p, opt } = minimize(name.startsWith("adamw") ? { ...spec, create: (n, o) => spec.create(n, { ...o, decay: new Int32Array(0) }) } : spec, steps);
      expect(Math.abs(p[0]! - c[0]!)).toBeLessThan(tol);
      expect(Math.abs(p[1]! - c[1]!)).toBeLessThan(tol);
      expect(opt.step).toBe(steps);
    });
});

describe("one update matches a hand computation", () => {
  const g1 = [0.5, -2];
  const g2 = [-1, 0.25];
  const run = (spec: OptimizerSpec, grads: number[][], start = [1, -1]) => {
    const opt = spec.create(2, F64);
    const p = Float64Array.from(start);
    for (const g of grads) opt.update(p, Float64Array.from(g));
    return { p: Array.from(p), opt };
  };

  it("sgd: p -= lr g", () => {
    expect(run(sgd({ lr: 0.1 }), [g1]).p).toEqual([1 - 0.05, -1 + 0.2]);
  });

  it("momentum: v = μ v + g, p -= lr v (two steps)", () => {
    const { p, opt } = run(momentum({ lr: 0.1, momentum: 0.9 }), [g1, g2]);
    const v = [0.9 * 0.5 - 1, 0.9 * -2 + 0.25];
    expect(p[0]).toBeCloseTo(1 - 0.1 * 0.5 - 0.1 * v[0]!, 14);
    expect(p[1]).toBeCloseTo(-1 + 0.1 * 2 - 0.1 * v[1]!, 14);
    expect(Array.from(opt.state.velocity!)).toEqual(v);
  });

  it("nesterov: v = μ v + g, p -= lr (g + μ v)", () => {
    const { p } = run(nesterov({ lr: 0.1, momentum: 0.9 }), [g1]);
    expect(p[0]).toBeCloseTo(1 - 0.1 * (0.5 + 0.9 * 0.5), 14);
    expect(p[1]).toBeCloseTo(-1 - 0.1 * (-2 + 0.9 * -2), 14);
  });

  it("adagrad: s += g², p -= lr g / (√s + ε)", () => {
    const { p } = run(adagrad({ lr: 0.1, eps: 1e-10 }), [g1, g2]);
    const s = [0.25 + 1, 4 + 0.0625];
    expect(p[0]).toBeCloseTo(1 - (0.1 * 0.5) / (0.5 + 1e-10) - (0.1 * -1) / (Math.sqrt(s[0]!) + 1e-10), 14);
    expect(p[1]).toBeCloseTo(-1 - (0.1 * -2) / (2 + 1e-10) - (0.1 * 0.25) / (Math.sqrt(s[1]!) + 1e-10), 14);
  });

  it("rmsprop: s = ρ s + (1-ρ) g², p -= lr g / (√s + ε)", () => {
    const { p } = run(rmsprop({ lr: 0.01, rho: 0.9, eps: 1e-8 }), [g1]);
    expect(p[0]).toBeCloseTo(1 - (0.01 * 0.5) / (Math.sqrt(0.1 * 0.25) + 1e-8), 14);
    expect(p[1]).toBeCloseTo(-1 - (0.01 * -2) / (Math.sqrt(0.1 * 4) + 1e-8), 14);
  });

  it("adam: bias-corrected moments (two steps)", () => {
    const { p, opt } = run(adam({ lr: 0.1 }), [g1, g2]);
    const expected = [1, -1];
    const m = [0, 0];
    const v = [0, 0];
    [g1, g2].forEach((g, s) => {
      for (let i = 0; i < 2; i++) {
        m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
        v[i] = 0.999 * v[i]! + 0.001 * g[i]! ** 2;
        const mHat = m[i]! / (1 - 0.9 ** (s + 1));
        const vHat = v[i]! / (1 - 0.999 ** (s + 1));
        expected[i] = expected[i]! - (0.1 * mHat) / (Math.sqrt(vHat) + 1e-8);
      }
    });
    expect(p[0]).toBeCloseTo(expected[0]!, 12);
    expect(p[1]).toBeCloseTo(expected[1]!, 12);
    // the first step moves every coordinate by ~lr: m̂ / √v̂ = g / |g|
    const first = run(adam({ lr: 0.1 }), [g1]).p;
    expect(first[0]).toBeCloseTo(0.9, 6);
    expect(first[1]).toBeCloseTo(-0.9, 6);
    expect(opt.step).toBe(2);
  });

  it("adamw: decoupled decay p *= 1 - lr λ on the decay ranges only", () => {
    const spec = adamw({ lr: 0.1, weightDecay: 0.5 });
    const opt = spec.create(3, { Array: Float64Array, decay: Int32Array.of(0, 1) });
    const p = Float64Array.of(2, 2, 2);
    const zero = new Float64Array(3); // no gradient: only the decay acts
    for (let s = 0; s < 3; s++) opt.update(p, zero);
    expect(p[0]).toBeCloseTo(2 * (1 - 0.05) ** 3, 14);
    expect(p[1]).toBe(2);
    expect(p[2]).toBe(2);
    expect(opt.kind).toBe("adamw");
  });

  it("a schedule is read at the step of each update", () => {
    const seen: number[] = [];
    const opt = sgd({ lr: (t) => (seen.push(t), 0.1 * (t + 1)) }).create(1, F64);
    const p = Float64Array.of(0);
    for (let s = 0; s < 3; s++) opt.update(p, Float64Array.of(1));
    expect(seen).toEqual([0, 1, 2]);
    expect(p[0]).toBeCloseTo(-(0.1 + 0.2 + 0.3), 14);
    expect(opt.lrAt(5)).toBeCloseTo(0.6, 14);
    const decayed = momentum({ lr: stepDecay({ lr: 1, every: 2, factor: 0.1 }) }).create(1);
    expect([decayed.lrAt(0), decayed.lrAt(1), decayed.lrAt(2)]).toEqual([1, 1, 0.1]);
    expect(sgd({ lr: constant(0.3) }).create(1).lr()).toBe(0.3);
  });
});

describe("state and options", () => {
  it("preallocates state of paramSize in the requested array type, and reset zeroes it", () => {
    const opt = adam({ lr: 0.1 }).create(5);
    expect(opt.state.m).toBeInstanceOf(Float32Array);
    expect(opt.state.m!.length).toBe(5);
    const m = opt.state.m;
    opt.update(new Float32Array(5), Float32Array.of(1, 1, 1, 1, 1));
    expect(opt.state.m).toBe(m); // the same array, updated in place
    expect(m![0]).toBeCloseTo(0.1, 6);
    opt.reset();
    expect(opt.step).toBe(0);
    expect(Array.from(m!)).toEqual([0, 0, 0, 0, 0]);
    expect(Object.keys(sgd({ lr: 1 }).create(3).state)).toEqual([]);
    expect(Object.keys(momentum({ lr: 1 }).create(3).state)).toEqual(["velocity"]);
    expect(Object.keys(rmsprop({ lr: 1 }).create(3).state)).toEqual(["meanSquare"]);
    expect(Object.keys(adagrad({ lr: 1 }).create(3).state)).toEqual(["sumSquares"]);
  });

  it("rejects bad options with a message naming the option", () => {
    expect(() => sgd({ lr: -1 })).toThrow(/sgd: lr must be/);
    expect(() => sgd({ lr: NaN })).toThrow(/lr must be/);
    expect(() => momentum({ lr: 0.1, momentum: 1 })).toThrow(/momentum must be in \[0, 1\)/);
    expect(() => adam({ lr: 0.1, beta2: 1.5 })).toThrow(/beta2/);
    expect(() => rmsprop({ lr: 0.1, eps: 0 })).toThrow(/eps/);
    expect(() => adamw({ lr: 0.1, weightDecay: -1 })).toThrow(/weightDecay/);
    const bad = sgd({ lr: () => NaN }).create(1);
    expect(() => bad.update(new Float32Array(1), new Float32Array(1))).toThrow(/schedule returned NaN at step 0/);
    expect(() => adamw({ lr: 0.1 }).create(4, { decay: Int32Array.of(0, 9) })).toThrow(/outside/);
  });
});
