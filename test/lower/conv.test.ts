/**
 * Conv nets through compile(): the generated module (JS loops, compiler/lower/conv.ts and
 * pool.ts) against the float64 interpreter — forward outputs, loss and every gradient — in
 * float64 (to 1e-12) and float32 (float32 tolerances), unrolled and in loops, on full and
 * partial batches with garbage in the padding rows; fused epilogues (bias + ReLU, the ReLU
 * mask of a gradient); code size flat in the image size; `gradc check` on a conv model.
 */
import { describe, expect, it } from "vitest";
import { gradients } from "../../compiler/autodiff/reverse.ts";
import { checkModel, formatReport } from "../../compiler/check.ts";
import { importModule } from "../../compiler/emit/load.ts";
import { builder } from "../../compiler/frontend/dsl.ts";
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
    // The dense layer reads the channel means, so only the image grows (8×8 → 32×32, 16× the pixels).
    // One target for both sizes (with "auto", small pools stay in JS and big ones go to wasm); the wasm build too.
    const code = async (hw: number, backend: "js" | "wasm" = "js") => {
      const ts = (await compile(lenet(hw, { gap: true }), { precision: "f32", backend })).ts;
      return ts.slice(ts.indexOf("function forward"));
    };
    const [wSmall, wBig] = [await code(8, "wasm"), await code(32, "wasm")];
    expect(Math.abs(wBig.split("\n").length - wSmall.split("\n").length)).toBeLessThanOrEqual(3);
    const [small, big] = [await code(8), await code(32)];
    expect(small).toMatch(/conv2d: x 3×2×8×8, w 4×2×3×3, y 3×4×8×8, stride 1×1, padding 1 \+ fused relu epilogue/);
    expect(small).toMatch(/maxPool2dBack .* \+ fused mul epilogue/);
    // Only literals (sizes, offsets) differ: the same statements (a longer literal may wrap a line), within a few percent of the text.
    const lines = (s: string) => s.split("\n").length;
    expect(Math.abs(lines(big) - lines(small))).toBeLessThanOrEqual(3);
    expect(Math.abs(big.length - small.length) / small.length).toBeLessThan(0.05);
  });
});

describe("gradc check on a conv model", () => {
  it("passes", async () => {
    const r = await checkModel(lenet(8), { points: 2, maxPerParam: 24 });
    expect(r.ok, formatReport("convnet", r)).toBe(true);
  });
});
