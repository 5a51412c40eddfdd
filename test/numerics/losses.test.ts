/**
 * The fused losses of the DSL at the extremes, in generated code (float64
 * and float32; the small models here unroll, the batched ones run as loop
 * kernels), against references computed in 80-digit arithmetic (mathjs
 * BigNumber, i.e. decimal.js):
 *   - bceWithLogits: logits ±1e4, ±100, ±30, ±1, 0; targets exactly 0 and 1
 *     (probabilities saturating at 0 and 1) and soft targets;
 *   - a batch mean over 65,536 examples, and over n < B real rows with
 *     garbage (finite, huge) padding rows;
 *   - softmaxCrossEntropy: logits up to ±1e4, one-hot and soft targets.
 * Tolerances are stated per case in units of the precision's epsilon:
 * float64 eps64 = 2^-52, float32 eps32 = 2^-23 (and 2^-149, its smallest
 * subnormal, for results float32 can only hold as subnormals).
 */
import { createRequire } from "node:module";
import type * as MathJs from "mathjs";
import { describe, expect, it } from "vitest";
import { importModule } from "../../compiler/emit/load.ts";
import { type ModelBuilder, builder } from "../../compiler/frontend/dsl.ts";
import { compile } from "../../compiler/index.ts";
import { rng } from "../helpers.ts";

const math = createRequire(import.meta.url)("mathjs/lib/browser/math.js") as typeof MathJs;
const M = math.create(math.all, { number: "BigNumber", precision: 80 });
type Big = MathJs.BigNumber;
const bn = (x: number) => M.bignumber(x) as Big;
const num = (x: Big) => Number(x);

const EPS64 = 2 ** -52;
const EPS32 = 2 ** -23;
const TINY32 = 2 ** -149;

// ---- 80-digit references ---------------------------------------------------------
/** log(1 + e^x) - x z, the cross-entropy of sigmoid(x) against z. */
const bceRef = (x: number, z: number): Big => M.subtract(M.log(M.add(bn(1), M.exp(bn(x)))), M.multiply(bn(x), bn(z))) as Big;
const sigmoidRef = (x: number): Big => M.divide(bn(1), M.add(bn(1), M.exp(bn(-x)))) as Big;
function lseRef(row: readonly number[]): Big {
  const m = bn(Math.max(...row));
  let s = bn(0);
  for (const v of row) s = M.add(s, M.exp(M.subtract(bn(v), m))) as Big;
  return M.add(m, M.log(s)) as Big;
}
const ceRef = (row: readonly number[], z: readonly number[]): Big =>
  M.subtract(lseRef(row), row.reduce((acc, v, i) => M.add(acc, M.multiply(bn(v), bn(z[i]!))) as Big, bn(0))) as Big;
const softmaxRef = (row: readonly number[]): Big[] => {
  const l = lseRef(row);
  return row.map((v) => M.exp(M.subtract(bn(v), l)) as Big);
};

// ---- running a spec -----------------------------------------------------------------
const BUILDS = [
  ["f64", { precision: "f64" }],
  ["f64 loops", { precision: "f64", unrollLimit: 0 }],
  ["f32", { precision: "f32" }],
  ["f32 loops", { precision: "f32", unrollLimit: 0 }],
] as const;

async function run(
  spec: (m: ModelBuilder) => void,
  opts: { readonly precision: "f32" | "f64"; readonly unrollLimit?: number },
  params: Record<string, number[]>,
  inputs: Record<string, number[]>,
  n?: number,
) {
  const m = builder("numerics", "test/numerics/losses.test.ts");
  spec(m);
  const mod = await importModule((await compile(m.finish(), opts)).js);
  const buf = mod.buffers();
  for (const s of mod.layout.params) buf.params.set(params[s.name]!, s.offset);
  for (const s of mod.layout.inputs) buf.inputs.set(inputs[s.name]!, s.offset);
  if (n === undefined) {
    mod.forward(buf.params, buf.inputs, buf.arena);
    mod.backward!(buf.params, buf.inputs, buf.arena, buf.grads);
  } else {
    mod.forward(buf.params, buf.inputs, buf.arena, n);
    mod.backward!(buf.params, buf.inputs, buf.arena, buf.grads, n);
  }
  const out = (name: string) => {
    const s = mod.layout.outputs.find((o) => o.name === name)!;
    return Array.from(buf.arena.subarray(s.offset, s.offset + s.size));
  };
  const grad = (name: string) => {
    const s = mod.layout.params.find((p) => p.name === name)!;
    return Array.from(buf.grads.subarray(s.offset, s.offset + s.size));
  };
  return { loss: buf.arena[mod.layout.lossOffset!]!, out, grad };
}

// ---------------------------------------------------------------------------------------

describe("bceWithLogits at the extremes", () => {
  const X = [-1e4, -100, -30, -1, 0, 1, 30, 100, 1e4];
  const Z = [0, 1, 0.25];
  const xs = X.flatMap((x) => Z.map(() => x));
  const zs = X.flatMap(() => Z);
  const spec = (m: ModelBuilder) => {
    const l = m.bceWithLogits(m.param("x", [xs.length]), m.input("z", [xs.length]));
    m.output("l", l);
    m.loss(m.sum(l));
  };

  it.each(BUILDS)("%s: every loss term to the last bit, every gradient σ(x) - z to eps", async (name, opts) => {
    const r = await run(spec, opts, { x: xs }, { z: zs });
    const f32 = opts.precision === "f32";
    const l = r.out("l");
    const g = r.grad("x");
    expect(Number.isFinite(r.loss)).toBe(true);
    const bad: string[] = [];
    xs.forEach((x, i) => {
      const want = num(bceRef(x, zs[i]!));
      // One rounding of the result (float32: to a subnormal when below 2^-126, e.g. bce(-100, 0) = 3.7e-44).
      const tolL = f32 ? EPS32 * Math.abs(want) + TINY32 : 2 * EPS64 * Math.abs(want);
      if (!(Math.abs(l[i]! - want) <= tolL)) bad.push(`${name}: bce(${x}, ${zs[i]}) = ${l[i]}, exact ${want}`);
      // σ(x) - z is a difference of O(1) terms: its error is absolute, one eps of 1.
      const gw = num(M.subtract(sigmoidRef(x), bn(zs[i]!)) as Big);
      if (!(Math.abs(g[i]! - gw) <= (f32 ? EPS32 : EPS64))) bad.push(`${name}: d/dx bce(${x}, ${zs[i]}) = ${g[i]}, exact ${gw}`);
    });
    expect(bad).toEqual([]);
  });
});

describe("large batch sums", () => {
  const B = 65536;
  const next = rng(7);
  const logits = Array.from({ length: B }, () => Math.fround(8 * next() - 4));
  const targets = Array.from({ length: B }, () => (next() < 0.5 ? 0 : 1));
  const spec = (m: ModelBuilder) => {
    m.batch(B);
    const x = m.input("x", ["batch", 1]);
    const t = m.input("t", ["batch", 1]);
    const w = m.param("w", [1, 1]);
    m.loss(m.mean(m.bceWithLogits(x.matmul(w), t)));
  };
  /**
   * The mean of the first n terms and its gradient in w: each term in float64 by the stable formulas
   * (within an ulp of the 80-digit value; checked above), summed without rounding error (Neumaier).
   */
  const reference = (n: number) => {
    const sum = (f: (i: number) => number) => {
      let s = 0;
      let c = 0;
      for (let i = 0; i < n; i++) {
        const v = f(i);
        const t = s + v;
        c += Math.abs(s) >= Math.abs(v) ? s - t + v : v - t + s;
        s = t;
      }
      return s + c;
    };
    const sig = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
    const bce = (x: number, t: number) => Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
    return {
      loss: sum((i) => bce(logits[i]!, targets[i]!)) / n,
      gw: sum((i) => (sig(logits[i]!) - targets[i]!) * logits[i]!) / n,
    };
  };

  it("float32, 65,536 rows: the mean is accumulated in float64 — off by a few float32 roundings, not n of them", async () => {
    const want = reference(B);
    const r = await run(spec, { precision: "f32" }, { w: [1] }, { x: logits, t: targets });
    // Summing 65,536 terms in float32 would be off by up to ~1e-3 relative (~1.5e-5 typically);
    // accumulating in a float64 local leaves the roundings of the stored terms and of the result.
    expect(Math.abs(r.loss - want.loss) / want.loss).toBeLessThan(8 * EPS32);
    expect(Math.abs(r.grad("w")[0]! - want.gw) / Math.abs(want.gw)).toBeLessThan(1e-5);
  }, 120_000);

  it("n < B real rows: padding rows full of huge finite garbage change neither the loss nor the gradient", async () => {
    const n = 1000;
    const x = logits.map((v, i) => (i < n ? v : i % 2 ? 3e38 : -3e38));
    const t = targets.map((v, i) => (i < n ? v : 0.5));
    const want = reference(n);
    for (const precision of ["f32", "f64"] as const) {
      const r = await run(spec, { precision }, { w: [1] }, { x, t }, n);
      const eps = precision === "f32" ? EPS32 : EPS64;
      expect(Math.abs(r.loss - want.loss) / want.loss, precision).toBeLessThan(8 * eps);
      expect(Math.abs(r.grad("w")[0]! - want.gw) / Math.abs(want.gw), precision).toBeLessThan(precision === "f32" ? 1e-5 : 1e-12);
    }
  }, 120_000);
});

describe("softmaxCrossEntropy at the extremes", () => {
  // One row per case; x is a param (the gradient d CE / d x = softmax(x) - z is checked too).
  const ROWS: [number[], number[]][] = [
    [[1e4, 0, -1e4], [1, 0, 0]], // CE = e^-1e4 ≈ 0
    [[1e4, 0, -1e4], [0, 1, 0]], // CE = 1e4
    [[10010, 1e4, 9995], [1, 0, 0]], // CE = 4.57e-5: large logits, small loss
    [[100, 80, 90], [1, 0, 0]], // 4.54e-5
    [[30, 10, 20], [1, 0, 0]], // 4.54e-5
    [[-1e4, -9997, -1e4], [0, 1, 0]], // 0.0949
    [[1, 2, 3], [0, 0, 1]], // 0.408
    [[1e4, 1e4, 1e4], [1, 0, 0]], // ln 3
    [[20, 0, 0], [1, 0, 0]], // 4.1e-9
    [[5, -3, 2], [0.25, 0.25, 0.5]], // soft target
  ];
  const C = 3;
  const x = ROWS.flatMap(([r]) => r);
  const z = ROWS.flatMap(([, t]) => t);
  const spec = (m: ModelBuilder) => {
    const ce = m.softmaxCrossEntropy(m.param("x", [ROWS.length, C]), m.input("z", [ROWS.length, C]));
    m.output("ce", ce);
    m.loss(m.sum(ce));
  };
  const want = ROWS.map(([r, t]) => num(ceRef(r, t)));
  const wantGrad = ROWS.flatMap(([r, t]) => softmaxRef(r).map((s, j) => num(M.subtract(s, bn(t[j]!)) as Big)));

  it.each(BUILDS)("%s: the loss is finite and within a few ulps of the largest logit; the gradient softmax - z within eps", async (name, opts) => {
    const r = await run(spec, opts, { x }, { z });
    const f32 = opts.precision === "f32";
    const eps = f32 ? EPS32 : EPS64;
    const ce = r.out("ce");
    const g = r.grad("x");
    const bad: string[] = [];
    ROWS.forEach(([row], i) => {
      // logsumexp(x) - sum(z x): two numbers of the size of the logits, subtracted.
      const scale = Math.max(...row.map(Math.abs), 1);
      if (!(Math.abs(ce[i]! - want[i]!) <= 4 * eps * scale)) bad.push(`${name}: CE row ${i} = ${ce[i]}, exact ${want[i]}`);
    });
    wantGrad.forEach((gw, k) => {
      if (!(Math.abs(g[k]! - gw) <= 2 * eps)) bad.push(`${name}: d CE / d x[${k}] = ${g[k]}, exact ${gw}`);
    });
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(bad).toEqual([]);
  });

  // FIXED: logsumexp(x) - sum(z·x) stored logsumexp (a number the size of the logits) in the float32 arena before
  // subtracting, so a small loss under large logits lost all its digits ([10010, 10000, 9995] -> 0, exact 4.57e-5;
  // [20, 0, 0] -> 0). softmaxCrossEntropy is now one row-wise op (softmaxCE): per row in float64 locals,
  // m = max x, CE = log1p(sum of e^(x-m) but one max term) - sum z (x - m) + m (1 - sum z), stored once.
  it.each(BUILDS)("%s: the loss to 1e-6 relative in float32, 1e-12 in float64, under large logits", async (name, opts) => {
    const ce = (await run(spec, opts, { x }, { z })).out("ce");
    const rel = opts.precision === "f32" ? 1e-6 : 1e-12;
    ROWS.forEach((_, i) => expect(Math.abs(ce[i]! - want[i]!), `${name} row ${i}: ${ce[i]} vs ${want[i]}`).toBeLessThanOrEqual(rel * want[i]! + TINY32));
  });

  // The rows: [s + d, s, s] with target 0 (float32 was 56% off at d = 15, 0 from d = 17; float64 0.6% off at
  // d = 30 and 100% at s = 1e4), and the float extremes [3.4e38, 3.4e38, 0] -> ln 2 (0 in every build).
  const EXTREME: [number[], number[]][] = [
    ...[0, 1, 1e4, -1e4].flatMap((sh) => [15, 17, 30].map((d) => [[sh + d, sh, sh], [1, 0, 0]] as [number[], number[]])),
    [[3.4e38, 3.4e38, 0], [1, 0, 0]],
    [[-3.4e38, 0, 0], [0, 1, 0]],
    [[3.4e38, 3.4e38, 0], [0.5, 0.5, 0]],
  ];
  it.each(BUILDS)("%s: rows [s + d, s, s] for s up to ±1e4, and rows at ±3.4e38", async (name, opts) => {
    const ex = EXTREME.flatMap(([r]) => r);
    const ez = EXTREME.flatMap(([, t]) => t);
    const sp = (m: ModelBuilder) => {
      const ce = m.softmaxCrossEntropy(m.param("x", [EXTREME.length, C]), m.input("z", [EXTREME.length, C]));
      m.output("ce", ce);
      m.loss(m.sum(ce));
    };
    const ce = (await run(sp, opts, { x: ex }, { z: ez })).out("ce");
    const f32 = opts.precision === "f32";
    const rel = f32 ? 1e-6 : 1e-12;
    EXTREME.forEach(([r, t], i) => {
      // float32 stores s + d rounded: the reference is for the row as stored.
      const row = f32 ? r.map(Math.fround) : r;
      const w = num(ceRef(row, t));
      expect(Math.abs(ce[i]! - w), `${name} [${r}] -> ${ce[i]}, exact ${w}`).toBeLessThanOrEqual(rel * w + TINY32);
    });
    expect(ce[EXTREME.length - 3]).toBeCloseTo(Math.LN2, f32 ? 6 : 12);
  });
});

describe("logsumexp at the extremes", () => {
  const ROWS = [[0, 0, 0], [15, 0, 0], [1e4 + 30, 1e4, 1e4], [-1e4, -1e4 - 30, -1e4], [3.4e38, 3.4e38, 0], [-3.4e38, -3.4e38, -3.4e38]];
  it.each(BUILDS)("%s: within 1e-6 relative (float32), 1e-12 (float64), finite at ±3.4e38", async (name, opts) => {
    const sp = (m: ModelBuilder) => {
      const l = m.logsumexp(m.param("x", [ROWS.length, 3]));
      m.output("l", l);
      m.loss(m.sum(l));
    };
    const f32 = opts.precision === "f32";
    const l = (await run(sp, opts, { x: ROWS.flat() }, {})).out("l");
    ROWS.forEach((r, i) => {
      const w = num(lseRef(f32 ? r.map(Math.fround) : r));
      expect(Math.abs(l[i]! - w), `${name} [${r}] -> ${l[i]}, exact ${w}`).toBeLessThanOrEqual((f32 ? 1e-6 : 1e-12) * Math.abs(w) + TINY32);
    });
  });
});
