/**
 * Conv nets through compile(): the generated module (JS loops, compiler/lower/conv.ts and
 * pool.ts) against the float64 interpreter — forward outputs, loss and every gradient — in
 * float64 (to 1e-12) and float32 (float32 tolerances), unrolled and in loops, on full and
 * partial batches with garbage in the padding rows; fused epilogues (bias + ReLU, the ReLU
 * mask of a gradient); code size flat in the image size; `gradc check` on a conv model.
 */
import { describe, expect, it } from "vitest";
import { hvpModel } from "../../compiler/autodiff/hvp.ts";
import { gradients } from "../../compiler/autodiff/reverse.ts";
import { checkModel, formatReport } from "../../compiler/check.ts";
import { importModule } from "../../compiler/emit/load.ts";
import { builder } from "../../compiler/frontend/dsl.ts";
import { topo } from "../../compiler/ir/graph.ts";
import { evaluate } from "../../compiler/ir/interp.ts";
import type { Model } from "../../compiler/ir/model.ts";
import { compile } from "../../compiler/index.ts";
import { B, rng, runModule, uniform } from "../helpers.ts";

const BATCH = 3;

/** A small LeNet: conv + bias + ReLU, max-pool, a strided grouped conv, avg-pool with padding, dense, softmax CE. */
function lenet(hw = 8, opts: { dilation?: number; gap?: boolean } = {}): Model {
  const m = builder("convnet", "convnet.ts");
  m.batch(BATCH);
  const x = m.input("x", ["batch", 2, hw, hw]);
  const t = m.input("t", ["batch", 5], { range: [0, 1] });
  const W1 = m.param("W1", [4, 2, 3, 3], { init: "he" });
  const b1 = m.param("b1", [4], { init: { uniform: [-0.1, 0.1] } });
  const h1 = m.relu(m.conv2d(x, W1, { padding: "same", bias: b1, dilation: opts.dilation ?? 1 })).as("h1");
  const p1 = m.maxPool2d(h1, { size: 2 }).as("p1"); // [B,4,hw/2,hw/2]
  const W2 = m.param("W2", [6, 2, 3, 3], { init: "he" });
  const h2 = m.tanh(m.conv2d(p1, W2, { groups: 2, stride: 2, padding: [1, 1, 0, 0] })).as("h2"); // [B,6,hw/4,hw/4]
  const p2 = m.avgPool2d(h2, { size: 2, stride: 1, padding: [1, 1, 0, 0] }).as("p2"); // [B,6,hw/4,hw/4]
  const f = m.flatten(opts.gap ? m.globalAvgPool(p2) : p2);
  const W3 = m.param("W3", [f.shape[1]!, 5]);
  const logits = f.matmul(W3);
  m.output("logits", logits);
  m.output("g", m.globalAvgPool(p2));
  m.loss(m.mean(m.softmaxCrossEntropy(logits, t)));
  return m.finish();
}

function valuesOf(model: Model, seed: number, n = BATCH): Record<string, Float64Array> {
  const next = rng(seed);
  const v: Record<string, Float64Array> = {};
  for (const l of model.params) v[l.name] = uniform(next, [-0.5, 0.5], l.shape.reduce((a, d) => a * d, 1));
  for (const l of model.inputs) {
    const per = l.shape.slice(1).reduce((a, d) => a * d, 1);
    const a = uniform(next, [0, 1], l.shape.reduce((s, d) => s * d, 1));
    for (let i = n * per; i < a.length; i++) a[i] = Math.fround(50 * (next() - 0.5)); // garbage in the padding rows
    v[l.name] = a;
  }
  return v;
}

/** The interpreter's outputs, loss and gradients on the first n rows. */
function reference(model: Model, values: Record<string, Float64Array>, n: number) {
  const b = new B(model.graph);
  const { grads } = gradients(b, model.loss!, model.params.map((p) => p.node));
  const r = evaluate([...model.outputs.map((o) => o.node), model.loss!, ...grads], values, undefined, n);
  return { outputs: model.outputs.map((o) => r.get(o.node.id)!), loss: r.get(model.loss!.id)![0]!, grads: grads.map((g) => r.get(g.id)!) };
}

const bad = (what: string, got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number, rows?: number) => {
  const out: string[] = [];
  const n = rows ?? want.length;
  for (let i = 0; i < n; i++)
    if (!(Math.abs(got[i]! - want[i]!) <= atol + rtol * Math.abs(want[i]!))) out.push(`${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  return out.slice(0, 5);
};

describe("conv nets through compile() = the float64 interpreter", () => {
  const builds = [
    { name: "f64", precision: "f64", tol: [1e-12, 1e-12] },
    { name: "f64, every node a loop", precision: "f64", unrollLimit: 0, tol: [1e-12, 1e-12] },
    { name: "f64, large nodes unrolled", precision: "f64", unrollLimit: 200, tol: [1e-12, 1e-12] },
    { name: "f32", precision: "f32", tol: [1e-5, 1e-4] },
  ] as const;
  it.each(builds)("$name build, full and partial batches", async ({ precision, tol, ...rest }) => {
    const model = lenet();
    const unrollLimit = "unrollLimit" in rest ? rest.unrollLimit : undefined;
    const { js } = await compile(model, { precision, ...(unrollLimit === undefined ? {} : { unrollLimit }) });
    const mod = await importModule(js);
    for (const n of [BATCH, 1, 2]) {
      const values = valuesOf(model, 10 + n, n);
      const ref = reference(model, values, n);
      const run = runModule(mod, values, precision === "f64" ? Float64Array : Float32Array, n);
      const [atol, rtol] = tol;
      const rowsOf = (k: number) => (model.outputs[k]!.node.shape[0] === BATCH ? (ref.outputs[k]!.length / BATCH) * n : undefined);
      const errs = [
        ...ref.outputs.flatMap((o, k) => bad(`n=${n} ${model.outputs[k]!.name}`, run.outputs[k]!, o, atol, rtol, rowsOf(k))),
        ...bad(`n=${n} loss`, [run.loss], [ref.loss], atol, rtol),
        ...ref.grads.flatMap((g, k) => bad(`n=${n} d${model.params[k]!.name}`, run.grads[k]!, g, atol, rtol)),
      ];
      expect(errs).toEqual([]);
    }
  });

  it("a dilated first conv (dilation 2, padding same) too", async () => {
    const model = lenet(8, { dilation: 2 });
    const mod = await importModule((await compile(model, { precision: "f64" })).js);
    const values = valuesOf(model, 3);
    const ref = reference(model, values, BATCH);
    const run = runModule(mod, values, Float64Array);
    expect(ref.grads.flatMap((g, k) => bad(`d${model.params[k]!.name}`, run.grads[k]!, g, 1e-12, 1e-12))).toEqual([]);
  });

  it("fuses bias + ReLU into conv2d and the ReLU mask into the pool's backward; code size does not grow with the image", async () => {
    // The dense layer reads the channel means, so only the image grows (32×32 → 128×128, 16× the pixels; both wide enough for the kernels’ blocks of 4 columns, which a narrower image may not get).
    // One target for both sizes (with "auto", small pools stay in JS and big ones go to wasm); the wasm build too.
    const code = async (hw: number, backend: "js" | "wasm" = "js") => {
      const ts = (await compile(lenet(hw, { gap: true }), { precision: "f32", backend })).ts;
      return ts.slice(ts.indexOf("function forward"));
    };
    const [wSmall, wBig] = [await code(32, "wasm"), await code(128, "wasm")];
    expect(Math.abs(wBig.split("\n").length - wSmall.split("\n").length)).toBeLessThanOrEqual(3);
    const [small, big] = [await code(32), await code(128)];
    expect(small).toMatch(/conv2d: x 3×2×32×32, w 4×2×3×3, y 3×4×32×32, stride 1×1, padding 1 \+ fused relu epilogue/);
    expect(small).toMatch(/maxPool2dBack .* \+ fused mul epilogue/);
    // Only literals (sizes, offsets) differ: the same statements (a longer literal may wrap a line), within a few percent of the text.
    const lines = (s: string) => s.split("\n").length;
    expect(Math.abs(lines(big) - lines(small))).toBeLessThanOrEqual(3);
    expect(Math.abs(big.length - small.length) / small.length).toBeLessThan(0.05);
  });
});

describe("partial batches: a mean over conv and pool outputs counts only the n real images", () => {
  it.each([1, 2, 3])("n = %i (garbage in the padding images must not reach the loss or the gradients)", async (n) => {
    const m = builder("masked", "masked.ts");
    m.batch(BATCH);
    const x = m.input("x", ["batch", 1, 6, 6]);
    const c = m.conv2d(x, m.param("W", [2, 1, 3, 3]), { padding: "same", bias: m.param("b", [2]) });
    const p = m.maxPool2d(m.tanh(c), { size: 2 });
    // mean over every axis of an image tensor (the batch axis included), and of the channel means
    m.loss(m.add(m.mean(m.square(p)), m.mean(m.globalAvgPool(m.avgPool2d(c, { size: 3, stride: 1, padding: 1 })))));
    const model = m.finish();
    const mod = await importModule((await compile(model, { precision: "f64", unrollLimit: 0 })).js);
    const values = valuesOf(model, 20 + n, n); // rows n.. are ±25
    const run = runModule(mod, values, Float64Array, n);
    // the reference is the same model on exactly n images: no padding rows at all
    const m2 = builder("exact", "exact.ts");
    const x2 = m2.input("x", [n, 1, 6, 6]);
    const c2 = m2.conv2d(x2, m2.param("W", [2, 1, 3, 3]), { padding: "same", bias: m2.param("b", [2]) });
    const p2 = m2.maxPool2d(m2.tanh(c2), { size: 2 });
    m2.loss(m2.add(m2.mean(m2.square(p2)), m2.mean(m2.globalAvgPool(m2.avgPool2d(c2, { size: 3, stride: 1, padding: 1 })))));
    const exact = m2.finish();
    const v2 = { ...values, x: values.x!.slice(0, n * 36) };
    const ref = reference(exact, v2, n);
    expect([...bad("loss", [run.loss], [ref.loss], 1e-12, 1e-12), ...ref.grads.flatMap((g, k) => bad(`d${exact.params[k]!.name}`, run.grads[k]!, g, 1e-12, 1e-12))]).toEqual([]);
  });
});

describe("conv operands that are not plain stored values", () => {
  /** Compiles in f64 with every node a loop and compares forward and gradients with the interpreter. */
  const same = async (model: Model) => {
    const mod = await importModule((await compile(model, { precision: "f64", unrollLimit: 0 })).js);
    const values = valuesOf(model, 4, model.batch ?? 1);
    const ref = reference(model, values, model.batch ?? 1);
    const run = runModule(mod, values, Float64Array);
    return [...bad("loss", [run.loss], [ref.loss], 1e-12, 1e-12), ...ref.grads.flatMap((g, k) => bad(`d${model.params[k]!.name}`, run.grads[k]!, g, 1e-12, 1e-12))];
  };
  it("a constant gradient (sum of a pool: g is a broadcast 1) and a view with no strides (a reshape of a transpose)", async () => {
    const m = builder("views", "views.ts");
    const P = m.param("P", [12, 6]);
    const img = m.reshape(m.transpose(P), [2, 1, 6, 6]); // Pᵀ's elements in an order no strides describe
    const c = m.conv2d(img, m.param("W", [2, 1, 3, 3]), { padding: [1, 1, 0, 0], stride: 2 });
    m.loss(m.add(m.sum(m.maxPool2d(c, { size: 3, stride: 1, padding: 1 })), m.sum(m.avgPool2d(img, { size: 2 }))));
    expect(await same(m.finish())).toEqual([]);
  });
  it("a broadcast image (one image read N times) and a filter that is a computed value", async () => {
    const m = builder("bcast", "bcast.ts");
    const one = m.param("one", [1, 2, 5, 5]);
    const x = m.broadcast(one, [3, 2, 5, 5]);
    const W = m.tanh(m.param("V", [4, 1, 2, 2]));
    const y = m.conv2d(x, W, { groups: 2, dilation: 2, padding: [1, 0, 1, 2] });
    m.loss(m.mean(m.squaredError(y, m.input("t", y.shape as number[]))));
    expect(await same(m.finish())).toEqual([]);
  });
});

describe("hvpModel through convs, compiled", () => {
  it.each([
    ["f64", { precision: "f64" }],
    ["f64 loops", { precision: "f64", unrollLimit: 0 }],
  ] as const)("%s: H v from the generated module = the interpreter's", async (_, opts) => {
    const model = lenet(8);
    const hv = hvpModel(model);
    const mod = await importModule((await compile(hv, opts)).js);
    const values = valuesOf(hv, 8, BATCH);
    for (const d of hv.directions) values[d.input] = uniform(rng(9), [-1, 1], values[d.param]!.length);
    // the interpreter: the gradient of hv's loss (gᵀv) with respect to the params is H v
    const ref = reference(hv, values, BATCH);
    const run = runModule(mod, values, Float64Array);
    expect(ref.grads.flatMap((g, k) => bad(`(H v) ${hv.params[k]!.name}`, run.grads[k]!, g, 1e-12, 1e-10))).toEqual([]);
    expect(ref.grads.some((g) => g.some((e) => e !== 0))).toBe(true);
    // the second derivative reaches the derivatives of the gradient ops
    const { grads } = gradients(new B(hv.graph), hv.loss!, hv.params.map((p) => p.node));
    const ops = new Set(topo(grads).map((n) => n.op));
    for (const op of ["conv2d", "conv2dBackInput", "conv2dBackFilter", "maxPool2dBack", "maxPool2dPick", "avgPool2d", "avgPool2dBack"]) expect(ops.has(op), op).toBe(true);
  });
});

describe("gradc check on a conv model", () => {
  it("passes", async () => {
    const r = await checkModel(lenet(8), { points: 2, maxPerParam: 24 });
    expect(r.ok, formatReport("convnet", r)).toBe(true);
  });
});
