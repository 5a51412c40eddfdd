/**
 * ONNX export, checked by the real engine: every exported model is loaded
 * in ONNX Runtime (onnxruntime-node, CPU) and its outputs are compared with
 *   1. gradc's float32 forward — the compiled module in generated/ — for every
 *      example with an output, on random params and inputs, at the full batch
 *      and at partial batches (the padding rows of gradc's buffers filled with
 *      junk, which must not reach any output);
 *   2. the float64 reference interpreter, for every op of the op table (a meta
 *      test fails when an op has no case);
 *   3. the batch mask: outputs that reduce over the batch axis, which gradc
 *      computes over the first n rows and ONNX over the rows it is given.
 * Tolerance: max abs error <= 1e-5 x the output's scale (its largest |value|, at least 1e-3).
 * Plus the errors (E_ONNX_OP, E_ONNX_BATCH, E_ONNX_NO_OUTPUT, E_WEIGHTS) and `gradc export` on a trained checkpoint.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { exportCommand } from "../../compiler/cli/export.ts";
import { exampleSpecs } from "../../compiler/cli/compile.ts";
import type { GeneratedModule } from "../../compiler/emit/load.ts";
import { decodeOnnx } from "../../compiler/export/onnx-decode.ts";
import { BATCH_DIM, EXPORT_RULES, ONNX_OPSET, exportOnnx } from "../../compiler/export/onnx.ts";
import { builder, type ModelBuilder } from "../../compiler/frontend/dsl.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import type { Node } from "../../compiler/ir/graph.ts";
import { evaluate } from "../../compiler/ir/interp.ts";
import type { Model } from "../../compiler/ir/model.ts";
import { OPS, opDef } from "../../compiler/ir/ops.ts";
import type { Shape } from "../../compiler/ir/shape.ts";
import { GradcError } from "../../compiler/errors.ts";
import { adam, initParams } from "../../runtime/index.ts";
import { createTrainer } from "../../runtime/node.ts"; // saves checkpoints to files
import { B, Graph, Leaves, modelOf, rng, seedOf, uniform } from "../helpers.ts";
import { compare } from "./compare.ts";

async function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  // One thread each: the test machine's cores are shared.
  return ort.InferenceSession.create(bytes, { graphOptimizationLevel: "all", intraOpNumThreads: 1, interOpNumThreads: 1 });
}

// ---------------------------------------------------------------------------
// 1. Every example against its compiled module

interface Example {
  readonly spec: string;
  readonly model: Model;
  readonly mod: GeneratedModule;
}

const examples: Example[] = [];
beforeAll(async () => {
  for (const spec of exampleSpecs()) {
    const model = await loadSpec(spec);
    if (model.outputs.length === 0) continue;
    const mod = (await import(`../../generated/${model.name}.js`)) as GeneratedModule;
    examples.push({ spec, model, mod });
  }
});

/**
 * Random params around the spec's init, ±0.05 added to every one (so zero-initialized biases
 * matter too). Noise much larger than the init scale saturates deep's softmax, and the
 * comparison then measures float32 conditioning (±0.25 gave 4e-6 there), not the export.
 */
function randomParams(mod: GeneratedModule, params: Float32Array | Float64Array, seed: number): void {
  initParams(mod.layout, params, seed);
  const next = rng(seed);
  for (let i = 0; i < params.length; i++) params[i]! += 0.1 * (next() - 0.5);
}

describe("every example exports and ONNX Runtime matches gradc's float32 forward", () => {
  it("found the examples", () => {
    expect(examples.map((e) => e.model.name)).toEqual(expect.arrayContaining(["mnist", "deep", "iris", "xor", "threshold", "logreg"]));
  });

  it.each(exampleSpecs())("%s", async (spec) => {
    const ex = examples.find((e) => e.spec === spec);
    if (!ex) return; // no output: nothing to export
    const { model, mod } = ex;
    const L = mod.layout;
    const buf = mod.buffers();
    const seed = seedOf(spec);
    randomParams(mod, buf.params, seed);
    const exported = exportOnnx(model, buf.params, { weights: "random (test)" });
    expect(exported.outputs.map((o) => o.name)).toEqual(L.outputs.map((o) => o.name));
    const s = await session(exported.bytes);
    expect(s.outputNames).toEqual(L.outputs.map((o) => o.name));

    const B = L.batch;
    // Full batch, then partial ones: one row, and a middle size.
    const sizes = B ? [B, 1, Math.max(1, Math.floor(B / 2) - 1)] : [undefined];
    const next = rng(seed + 1);
    for (const n of sizes) {
      // gradc's buffers: the first n rows real, the padding rows junk (1e3) that no output may see.
      for (const slot of L.inputs) {
        const lo = slot.range?.[0] ?? -1;
        const hi = slot.range?.[1] ?? 1;
        const per = slot.size / (slot.shape[0] ?? 1);
        for (let i = 0; i < slot.size; i++) {
          const padding = n !== undefined && (slot as { batched?: boolean }).batched && i >= n * per;
          buf.inputs[slot.offset + i] = padding ? 1e3 : slot.dropout !== undefined ? 1 : Math.fround(lo + (hi - lo) * next());
        }
      }
      mod.forward(buf.params, buf.inputs, buf.arena, n);
      const feeds: Record<string, ort.Tensor> = {};
      for (const input of exported.inputs) {
        const slot = L.inputs.find((x) => x.name === input.name)!;
        const rows = input.shape[0] === BATCH_DIM ? n! : slot.shape[0]!;
        const per = slot.size / (slot.shape[0] ?? 1);
        const dims = input.shape.map((d) => (d === BATCH_DIM ? rows : d));
        feeds[input.name] = new ort.Tensor("float32", Float32Array.from(buf.inputs.subarray(slot.offset, slot.offset + rows * per)), dims);
      }
      const got = await s.run(feeds);
      for (const [k, o] of exported.outputs.entries()) {
        const slot = L.outputs[k]!;
        const rows = o.shape[0] === BATCH_DIM ? n! : undefined;
        const want = buf.arena.subarray(slot.offset, slot.offset + (rows !== undefined ? (rows * slot.size) / slot.shape[0]! : slot.size));
        const t = got[o.name]!;
        expect(t.dims).toEqual(o.shape.map((d) => (d === BATCH_DIM ? n : d)));
        const r = compare(t.data as Float32Array, want);
        expect(r.ok, `${model.name} ${o.name} n=${n}: max abs err ${r.err} at scale ${r.scale}`).toBe(true);
      }
    }
  });

  it("batched models take a symbolic batch axis, fixed-size ones keep their shapes", () => {
    const mnist = examples.find((e) => e.model.name === "mnist")!;
    const ex = exportOnnx(mnist.model, mnist.mod.buffers().params);
    expect(ex.inputs).toEqual([{ name: "x", shape: [BATCH_DIM, 784] }]); // y, the loss's target, is not an input
    expect(ex.outputs).toEqual([{ name: "probs", shape: [BATCH_DIM, 10] }]);
    expect([...ex.ops.keys()].sort()).toEqual(["Gemm", "Relu", "Softmax"]);
    const proto = decodeOnnx(ex.bytes);
    expect(Number(proto.opsetImport[0]!.version)).toBe(ONNX_OPSET);
    expect(proto.producerName).toBe("gradc");
    expect(proto.graph!.initializer!.map((t) => t.name)).toEqual(["W1", "b1", "W2", "b2"]);
    const xor = examples.find((e) => e.model.name === "xor")!;
    expect(exportOnnx(xor.model, xor.mod.buffers().params).inputs).toEqual([{ name: "x", shape: [4, 2] }]);
  });
});

// ---------------------------------------------------------------------------
// 2. Every op of the table against the float64 interpreter

interface OpCase {
  readonly op: string;
  readonly label: string;
  build(b: B, L: Leaves): Node;
}
const fmt = (s: Shape) => `[${s.join(",")}]`;
const dom = (op: string, k: number) => opDef(op).domain?.[k] ?? ([-2, 2] as const);
const ewCase = (op: string, shapes: Shape[]): OpCase => ({
  op,
  label: `${op} ${shapes.map(fmt).join(" ")}`,
  build: (b, L) => b.op(op, ...shapes.map((s, k) => L.input(s, dom(op, k)))),
});
const opCase = (op: string, label: string, build: OpCase["build"]): OpCase => ({ op, label: `${op} ${label}`, build });

const OP_CASES: OpCase[] = [
  ...Object.entries(OPS).flatMap(([op, d]) =>
    d.kind !== "elementwise" || d.arity === 3
      ? []
      : d.arity === 1
        ? [ewCase(op, [[2, 3]]), ewCase(op, [[]])]
        : [ewCase(op, [[2, 3], [2, 3]]), ewCase(op, [[3, 1], [2]])],
  ),
  opCase("where", "c in {0,1}", (b, L) => {
    const c = L.input([2, 3], Float64Array.from([0, 1, 1, 0, 1, 0]));
    return b.where(c, L.input([2, 3]), L.input([3]));
  }),
  opCase("where", "on ge (a bool in ONNX)", (b, L) => {
    const [x, y] = [L.input([2, 3]), L.input([2, 3])];
    return b.where(b.op("ge", x, y), b.op("log", b.op("abs", x)), 0);
  }),
  opCase("where", "on step", (b, L) => {
    const x = L.input([4]);
    return b.where(b.op("step", x), x, b.mul(x, 0.1));
  }),
  opCase("nthRoot", "negative x, odd and even n", (b, L) =>
    b.op("nthRoot", L.input([4], Float64Array.from([-8, -27, 16, -16])), L.input([4], Float64Array.from([3, 3, 4, 2]))),
  ),
  opCase("expm1", "near 0", (b, L) => b.op("expm1", L.input([3], Float64Array.from([1e-9, -3e-7, 2e-4])))),
  opCase("log1p", "near 0", (b, L) => b.op("log1p", L.input([3], Float64Array.from([1e-9, -3e-7, 2e-4])))),
  opCase("softplus", "large |x|", (b, L) => b.op("softplus", L.input([4], Float64Array.from([-100, -20, 20, 100])))),
  opCase("bceLogits", "large |x|", (b, L) =>
    b.op("bceLogits", L.input([4], Float64Array.from([-100, -20, 20, 100])), L.input([4], Float64Array.from([0, 1, 0, 1]))),
  ),
  opCase("sum", "[2,3,4] axes [1]", (b, L) => b.sum(L.input([2, 3, 4]), [1])),
  opCase("sum", "[2,3] all", (b, L) => b.sum(L.input([2, 3]))),
  opCase("sum", "[2,3] axes [-1]", (b, L) => b.sum(L.input([2, 3]), [-1])),
  opCase("sum", "[] axes []", (b, L) => b.sum(L.input([]), [])),
  opCase("logsumexp", "[3,4] large", (b, L) => b.op("logsumexp", L.input([3, 4], [50, 90]))),
  opCase("logsumexp", "[4]", (b, L) => b.op("logsumexp", L.input([4]))),
  opCase("softmaxCE", "[3,4] large logits", (b, L) => b.op("softmaxCE", L.input([3, 4], [40, 90]), L.input([3, 4], [0, 1]))),
  opCase("softmaxCE", "[2,2,3]", (b, L) => b.op("softmaxCE", L.input([2, 2, 3]), L.input([2, 2, 3], [0, 1]))),
  opCase("softmax", "[3,4]", (b, L) => b.op("softmax", L.input([3, 4], [-5, 5]))),
  opCase("softmax", "[2,2,3]", (b, L) => b.op("softmax", L.input([2, 2, 3]))),
  opCase("matmul", "[3,4]x[4,2]", (b, L) => b.matmul(L.input([3, 4]), L.input([4, 2]))),
  opCase("matmul", "+ bias (a Gemm)", (b, L) => b.add(b.matmul(L.input([3, 4]), L.input([4, 2])), L.input([1, 2]))),
  opCase("matmul", "+ [2] bias (a Gemm)", (b, L) => b.add(L.input([2]), b.matmul(L.input([3, 4]), L.input([4, 2])))),
  opCase("transpose", "[2,3]", (b, L) => b.transpose(L.input([2, 3]))),
  opCase("reshape", "[2,3] -> [3,2]", (b, L) => b.g.mk("reshape", [L.input([2, 3])], { shape: [3, 2] })),
  opCase("reshape", "[6] -> [1,2,3]", (b, L) => b.g.mk("reshape", [b.op("exp", L.input([6]))], { shape: [1, 2, 3] })),
  opCase("broadcast", "[1,3] -> [2,3]", (b, L) => b.g.mk("broadcast", [L.input([1, 3])], { shape: [2, 3] })),
  opCase("broadcast", "[] -> [2,2]", (b, L) => b.g.mk("broadcast", [L.input([])], { shape: [2, 2] })),
  opCase("const", "x + 2.5 - (-0)", (b, L) => b.sub(b.add(L.input([3]), 2.5), b.c(-0))),
  // conv and pools: ONNX's layout and attributes (NCHW, OIHW, pads [top, left, bottom, right])
  opCase("conv2d", "[2,4,6,5] * [6,2,3,2], stride 2×1, pads [1,0,0,1], dilation 1×2, groups 2", (b, L) =>
    b.g.mk("conv2d", [L.input([2, 4, 6, 5]), L.input([6, 2, 3, 2])], { stride: [2, 1], pad: [1, 0, 0, 1], dilation: [1, 2], groups: 2 }),
  ),
  opCase("conv2d", "+ bias [1,K,1,1] (Conv's bias input)", (b, L) =>
    b.add(b.g.mk("conv2d", [L.input([1, 2, 5, 5]), L.input([3, 2, 3, 3])], { stride: [1, 1], pad: [1, 1, 1, 1], dilation: [1, 1], groups: 1 }), b.reshape(L.input([3]), [1, 3, 1, 1])),
  ),
  opCase("conv2dBackInput", "[2,3,3,3] with [3,2,3,3], stride 2, pads 1 (ConvTranspose)", (b, L) =>
    b.g.mk("conv2dBackInput", [L.input([2, 3, 3, 3]), L.input([3, 2, 3, 3])], { stride: [2, 2], pad: [1, 1, 1, 1], dilation: [1, 1], groups: 1 }),
  ),
  opCase("maxPool2d", "[2,2,5,5] size 3 stride 2 pads 1", (b, L) => b.g.mk("maxPool2d", [L.input([2, 2, 5, 5])], { size: [3, 3], stride: [2, 2], pad: [1, 1, 1, 1] })),
  opCase("avgPool2d", "[2,2,5,4] size [3,2] stride [2,1] pads [1,0,1,1]: padding not counted", (b, L) =>
    b.g.mk("avgPool2d", [L.input([2, 2, 5, 4])], { size: [3, 2], stride: [2, 1], pad: [1, 0, 1, 1] }),
  ),
];

/** Ops that appear only in gradient graphs (the derivatives of the conv and pool ops): no ONNX form, E_ONNX_OP. */
const GRADIENT_ONLY = ["conv2dBackFilter", "maxPool2dBack", "maxPool2dPick", "avgPool2dBack"];

/** Exports one graph output and runs it in ONNX Runtime on the leaves' values. */
async function runOnnx(model: Model, values: Record<string, Float64Array>, params: Record<string, ArrayLike<number>> = {}) {
  const ex = exportOnnx(model, params);
  const s = await session(ex.bytes);
  const feeds: Record<string, ort.Tensor> = {};
  for (const i of ex.inputs) {
    const v = values[i.name]!;
    const per = i.shape.reduce<number>((p, d) => (d === BATCH_DIM ? p : p * d), 1);
    feeds[i.name] = new ort.Tensor("float32", Float32Array.from(v), i.shape.map((d) => (d === BATCH_DIM ? v.length / per : d)));
  }
  return { ex, out: await s.run(feeds) };
}

describe("every op of the table exports; ONNX Runtime matches the float64 interpreter", () => {
  it("has a case for every op that is not a leaf bound by the exporter", () => {
    const covered = new Set([...OP_CASES.map((c) => c.op), "batchSize", "batchMask", "input", "param", ...GRADIENT_ONLY]);
    for (const op of GRADIENT_ONLY) expect(EXPORT_RULES[op as keyof typeof EXPORT_RULES], op).toBeNull();
    expect(Object.keys(OPS).filter((op) => !covered.has(op))).toEqual([]);
  });

  // All cases in one graph and one ONNX model (one session: creating one per case would dominate the run).
  const g = new Graph();
  const b = new B(g);
  const leaves: Leaves[] = [];
  const ys = OP_CASES.map((c, k) => {
    const L = new Leaves(g, rng(seedOf(c.label)), `c${k}_`);
    leaves.push(L);
    return c.build(b, L);
  });
  let got: ort.InferenceSession.OnnxValueMapType;
  let want: Map<number, Float64Array>;
  beforeAll(async () => {
    const values = Object.assign({}, ...leaves.map((L) => L.values)) as Record<string, Float64Array>;
    const all = new Leaves(g, rng(0));
    all.inputs.push(...leaves.flatMap((L) => L.inputs));
    const model = modelOf("ops", g, all, ys.map((y, k) => ({ name: `y${k}`, node: y })), undefined);
    want = evaluate(ys, values);
    got = (await runOnnx(model, values)).out;
  });

  it.each(OP_CASES.map((c, k) => [c.label, k] as const))("%s", (label, k) => {
    const y = ys[k]!;
    const out = got[`y${k}`]!;
    expect(out.dims).toEqual([...y.shape]);
    const r = compare(out.data as Float32Array, want.get(y.id)!);
    expect(r.ok, `${label}: max abs err ${r.err} at scale ${r.scale}; got ${[...(out.data as Float32Array)]}, want ${[...want.get(y.id)!]}`).toBe(true);
  });
});

// ---------------------------------------------------------------------------
// 3. The batch mask: reductions over the batch axis count the rows ONNX is given

const spec = (name: string, f: (m: ModelBuilder) => void): Model => {
  const m = builder(name, "test/export/onnx.test.ts");
  f(m);
  return m.finish();
};

describe("reductions over the batch axis", () => {
  const model = spec("batchstats", (m) => {
    m.batch(8);
    const x = m.input("x", ["batch", 3]);
    const t = m.input("t", ["batch", 3]);
    const W = m.param("W", [3, 3]);
    const h = m.tanh(x.matmul(W));
    m.output("h", h);
    m.output("mean_all", m.mean(h)); // sum over the first n rows / (n * 3)
    m.output("col_sums", m.sum(h, [0])); // [3]
    m.output("row_means", m.mean(h, [1])); // [N]: no batch reduction
    const d = m.dropout(h, 0.5);
    m.output("centered", d.sub(m.mean(d, [0]))); // [N,3] minus a batch mean; dropout is 1 at inference
    m.output("flat", m.reshape(h, [8, 3, 1])); // the batch axis kept through a reshape
    m.output("weights", W); // leaves as outputs: an Identity of an initializer, of a graph input
    m.output("echo", x);
    m.output("h_again", h); // one value under two output names
    m.loss(m.mean(m.squaredError(h, t)));
  });
  const W = Float64Array.from({ length: 9 }, (_, i) => Math.sin(i + 1));

  it.each([8, 5, 1])("n = %i", async (n) => {
    const next = rng(n);
    const x = uniform(next, [-1, 1], 8 * 3);
    const values = { x: x.slice(0, n * 3), W };
    const { ex, out } = await runOnnx(model, values, { W });
    expect(ex.inputs).toEqual([{ name: "x", shape: [BATCH_DIM, 3] }]); // neither the target nor the dropout mask
    const leaves = { x, W, t: new Float64Array(24), dropout_0: new Float64Array(24).fill(1) };
    const ref = evaluate(model.outputs.map((o) => o.node), leaves, undefined, n);
    for (const o of model.outputs) {
      const full = ref.get(o.node.id)!;
      const batched = ex.outputs.find((e) => e.name === o.name)!.shape[0] === BATCH_DIM;
      const want = batched ? full.subarray(0, (n * full.length) / 8) : full;
      const r = compare(out[o.name]!.data as Float32Array, want);
      expect(r.ok, `${o.name} n=${n}: max abs err ${r.err}`).toBe(true);
    }
    expect(out.col_sums!.dims).toEqual([3]);
    expect(out.flat!.dims).toEqual([n, 3, 1]);
    expect(out.echo!.dims).toEqual([n, 3]);
    expect(out.weights!.dims).toEqual([3, 3]);
  });
});

describe("a conv net: Conv with bias, MaxPool, AveragePool, GlobalAveragePool, Flatten, on a symbolic batch", () => {
  const model = spec("convnet", (m) => {
    m.batch(4);
    const x = m.input("x", ["batch", 1, 8, 8]);
    const h = m.relu(m.conv2d(x, m.param("W1", [4, 1, 3, 3]), { padding: "same", bias: m.param("b1", [4]) }));
    const p = m.maxPool2d(h, { size: 2 });
    const c = m.tanh(m.conv2d(p, m.param("W2", [6, 2, 3, 3]), { stride: 2, padding: [1, 1, 0, 0], groups: 2, bias: m.param("b2", [6]) }));
    const a = m.avgPool2d(c, { size: 2, stride: 1, padding: [1, 1, 0, 0] });
    m.output("pooled", m.globalAvgPool(a));
    m.output("logits", m.flatten(a).matmul(m.param("W3", [24, 3])));
  });
  const next = rng(3);
  const params = Object.fromEntries(model.params.map((p) => [p.name, uniform(next, [-0.5, 0.5], p.shape.reduce((s, d) => s * d, 1))]));

  it("exports to those operators, and no Reshape or Add for the biases", () => {
    const ex = exportOnnx(model, params);
    expect(Object.fromEntries(ex.ops)).toMatchObject({ Conv: 2, MaxPool: 1, AveragePool: 1, GlobalAveragePool: 1, Flatten: 1 });
    expect(ex.ops.get("Add")).toBeUndefined();
    expect(ex.ops.get("ReduceSum")).toBeUndefined();
    expect(ex.outputs).toEqual([
      { name: "pooled", shape: [BATCH_DIM, 6, 1, 1] },
      { name: "logits", shape: [BATCH_DIM, 3] },
    ]);
  });

  it.each([4, 2])("ONNX Runtime on %i images = the float64 interpreter", async (n) => {
    const x = uniform(next, [0, 1], 4 * 64);
    const { out } = await runOnnx(model, { x: x.slice(0, n * 64) }, params);
    const ref = evaluate(model.outputs.map((o) => o.node), { x, ...params });
    for (const o of model.outputs) {
      const want = ref.get(o.node.id)!;
      const r = compare(out[o.name]!.data as Float32Array, want.subarray(0, (want.length / 4) * n));
      expect(r.ok, `${o.name}: max abs err ${r.err} at scale ${r.scale}`).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------
// 4. Errors

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    if (e instanceof GradcError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return undefined;
};

describe("errors", () => {
  it("E_ONNX_OP names an op without an ONNX form", () => {
    const model = spec("noform", (m) => m.output("y", m.cbrt(m.input("x", [2]))));
    expect(codeOf(() => exportOnnx(model, {}, { rules: { ...EXPORT_RULES, cbrt: null } }))).toMatch(/^E_ONNX_OP: cbrt: has no ONNX form/);
    const g = new Graph();
    const L = new Leaves(g, rng(1));
    const x = L.input([1, 1, 4, 4]);
    const back = g.mk("maxPool2dBack", [x, L.input([1, 1, 2, 2])], { size: [2, 2], stride: [2, 2], pad: [0, 0, 0, 0] });
    expect(codeOf(() => exportOnnx(modelOf("grad", g, L, [{ name: "y", node: back }], undefined), {}))).toMatch(/^E_ONNX_OP: maxPool2dBack: has no ONNX form/);
  });

  it("E_ONNX_BATCH for a fixed axis that meets the batch axis, or a reshape across it", () => {
    const mixed = spec("mixed", (m) => {
      m.batch(4);
      m.output("y", m.input("x", ["batch", 2]).add(m.input("z", [4, 2])));
    });
    expect(codeOf(() => exportOnnx(mixed, {}))).toMatch(/^E_ONNX_BATCH: add: combines the batch axis with a fixed axis of the same length 4/);
    const merged = spec("merged", (m) => {
      m.batch(4);
      m.output("y", m.reshape(m.input("x", ["batch", 2]), [8]));
    });
    expect(codeOf(() => exportOnnx(merged, {}))).toMatch(/^E_ONNX_BATCH: reshape: \[N,2\] to \[8\] merges or splits the batch axis/);
  });

  it("E_ONNX_NO_OUTPUT for a loss-only model; E_ARG for params of the wrong size", () => {
    const lossOnly = spec("lossonly", (m) => m.loss(m.sum(m.mul(m.input("x", [2]), m.param("w", [2])))));
    expect(codeOf(() => exportOnnx(lossOnly, { w: [1, 2] }))).toMatch(/^E_ONNX_NO_OUTPUT/);
    const model = spec("sized", (m) => m.output("y", m.mul(m.input("x", [2]), m.param("w", [2]))));
    expect(codeOf(() => exportOnnx(model, { w: [1, 2, 3] }))).toMatch(/^E_ARG: exportOnnx: 3 numbers for param 'w' \[2\]/);
    expect(codeOf(() => exportOnnx(model, new Float32Array(3)))).toMatch(/^E_ARG: exportOnnx: params has 3 numbers/);
  });
});

// ---------------------------------------------------------------------------
// 5. `gradc export` on a checkpoint the trainer wrote

describe("gradc export", () => {
  let dir: string;
  let stdout: string[];
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "gradc-export-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = async (...argv: string[]) => {
    stdout = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((s) => (stdout.push(String(s)), true));
    try {
      return await exportCommand(argv);
    } finally {
      spy.mockRestore();
    }
  };

  it("exports the trained weights of a checkpoint, and ONNX Runtime predicts what the trainer predicts", async () => {
    const iris = examples.find((e) => e.model.name === "iris")!;
    const t = createTrainer(iris.mod as never, { optimizer: adam({ lr: 0.05 }), batchSize: 16, seed: 3 });
    const next = rng(5);
    const x = Float32Array.from({ length: 40 * 4 }, () => next() * 4 - 2);
    const y = new Float32Array(40 * 3).map((_, i) => (i % 3 === Math.floor(i / 3) % 3 ? 1 : 0));
    t.fit({ x, y } as never, { epochs: 3 });
    const ckpt = path.join(dir, "iris.weights.json");
    t.save(ckpt);
    const out = path.join(dir, "iris.onnx");
    expect(await run(iris.spec, "--weights", ckpt, "-o", out)).toBe(0);
    expect(stdout.join("")).toMatch(/weights: trained: .*iris\.weights\.json \(epoch 3, \d+ adam steps\)/);
    const bytes = readFileSync(out);
    const proto = decodeOnnx(bytes);
    expect(proto.metadataProps.find((p) => p.key === "gradc.weights")!.value).toMatch(/^trained: /);
    const s = await session(bytes);
    const got = (await s.run({ x: new ort.Tensor("float32", x, [40, 4]) })).probs!.data as Float32Array;
    const want = t.predict(x as never) as Float32Array;
    const r = compare(got, want);
    expect(r.ok, `max abs err ${r.err}`).toBe(true);
  });

  it("without --weights exports the spec's init, and says so", async () => {
    const out = path.join(dir, "xor.onnx");
    expect(await run("examples/xor/model.ts", "-o", out, "--seed", "4")).toBe(0);
    expect(stdout.join("")).toMatch(/weights: init: the spec's initializers at seed 4 \(untrained/);
    const xor = examples.find((e) => e.model.name === "xor")!;
    const params = initParams(xor.mod.layout, new Float32Array(xor.mod.layout.paramSize), 4);
    const W1 = decodeOnnx(readFileSync(out)).graph!.initializer!.find((i) => i.name === "W1")!;
    expect(new Float32Array(Uint8Array.from(W1.rawData!).buffer)).toEqual(params.subarray(0, 4));
  });

  it("refuses to replace a file gradc did not write; E_WEIGHTS for a checkpoint of another model", async () => {
    const mine = path.join(dir, "notes.onnx");
    writeFileSync(mine, "my notes\n");
    await expect(run("examples/xor/model.ts", "-o", mine)).rejects.toThrow(/exists and is not an ONNX model gradc wrote/);
    expect(readFileSync(mine, "utf8")).toBe("my notes\n");
    await expect(run("examples/xor/model.ts", "-o", path.join(dir, "x.onnx"), "--weights", path.join(dir, "iris.weights.json"))).rejects.toMatchObject({
      code: "E_WEIGHTS",
      message: expect.stringMatching(/written by another model/),
    });
    await expect(run("examples/xor/model.ts", "--weights", path.join(dir, "missing.json"))).rejects.toMatchObject({ code: "E_WEIGHTS" });
  });
});
