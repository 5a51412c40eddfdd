// Conv nets compiled with backend "wasm" against the float64 interpreter: every conv and pool node runs as a wasm
// kernel (forward, input and filter gradients, pool gradients, the bias gradient's sum), with bias + relu fused on conv2d's registers, and
// padding, stride and dilation through the kernels' scratch.
import { describe, expect, it } from "vitest";
import { gradients } from "../../compiler/autodiff/reverse.ts";
import { importModule } from "../../compiler/emit/load.ts";
import { compile } from "../../compiler/index.ts";
import type { Node } from "../../compiler/ir/graph.ts";
import { evaluate } from "../../compiler/ir/interp.ts";
import { B, Graph, Leaves, modelOf, rng, runModule, weighted } from "../helpers.ts";

const close = (got: ArrayLike<number>, want: ArrayLike<number>) => {
  const scale = Math.max(1e-30, ...Array.from(want, Math.abs));
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / (1e-6 + 2e-5 * scale));
  return worst;
};

interface Net {
  readonly pad: [number, number, number, number];
  readonly stride: [number, number];
  readonly dilation: [number, number];
  readonly pool: "max" | "avg";
}
const NETS: [string, Net][] = [
  ["LeNet-like (valid, max pool)", { pad: [0, 0, 0, 0], stride: [1, 1], dilation: [1, 1], pool: "max" }],
  ["padded, avg pool", { pad: [1, 1, 1, 1], stride: [1, 1], dilation: [1, 1], pool: "avg" }],
  ["stride 2, asymmetric pad, dilation", { pad: [2, 1, 1, 2], stride: [2, 2], dilation: [1, 2], pool: "max" }],
];

describe("conv nets on wasm vs the float64 interpreter", () => {
  for (const [label, net] of NETS)
    it(label, async () => {
      const g = new Graph();
      const b = new B(g);
      const L = new Leaves(g, rng(label.length));
      const N = 4;
      const x = L.input([N, 2, 12, 12]);
      const w1 = L.param([6, 2, 3, 3], [-0.5, 0.5]);
      const b1 = L.param([6], [-0.2, 0.2]);
      const attrs = { stride: net.stride, pad: net.pad, dilation: net.dilation, groups: 1 };
      const c1 = g.mk("conv2d", [x, w1], attrs);
      const h1 = b.op("relu", b.add(c1, b.broadcast(b.reshape(b1, [1, 6, 1, 1]), c1.shape)));
      const [, , H1, W1] = h1.shape as [number, number, number, number];
      const size = [2, 2];
      const pad = [0, 0, H1 % 2, W1 % 2]; // whole windows
      const p1 = g.mk(net.pool === "max" ? "maxPool2d" : "avgPool2d", [h1], { size, stride: [2, 2], pad });
      const w2 = L.param([4, 6, 2, 2], [-0.5, 0.5]);
      const c2 = g.mk("conv2d", [p1, w2], { stride: [1, 1], pad: [0, 0, 0, 0], dilation: [1, 1], groups: 1 });
      const out: Node = b.op("tanh", c2);
      const loss = weighted(b, L, out);
      const model = modelOf("cnn", g, L, [{ name: "out", node: out }], loss);
      const c = await compile(model, { precision: "f32", backend: "wasm" });
      const kinds = c.lowered.kernels.map((k) => (k.kind === "conv" || k.kind === "pool" ? k.op : k.kind === "sum" ? "sum" : "matmul"));
      expect(kinds).toContain("sum"); // the bias gradient, Σ over images and pixels, as a wasm kernel
      // forward convs and pool, both gradients of conv2, conv1's filter gradient, the pool gradient: all on wasm
      for (const op of ["conv2d", "conv2dBackInput", "conv2dBackFilter", net.pool === "max" ? "maxPool2dBack" : "avgPool2dBack"]) expect(kinds).toContain(op);
      expect(c.lowered.kernels.some((k) => k.kind === "conv" && k.op === "conv2d" && k.epilogue)).toBe(true); // bias + relu fused
      // relu's mask on the pool gradient's registers, where each cell lies in one window
      if (net.pad.every((p) => p === 0)) expect(c.lowered.kernels.some((k) => k.kind === "pool" && k.epilogue)).toBe(true);
      // the max pool and its gradient read relu's output (no NaN, no −0): both may take pmax for max
      if (net.pool === "max") for (const op of ["maxPool2d", "maxPool2dBack"]) expect(c.lowered.kernels.some((k) => k.kind === "pool" && k.op === op && k.ordered)).toBe(true);
      const run = runModule(await importModule(c.js), L.values, Float32Array);
      const { grads } = gradients(b, loss, L.params.map((p) => p.node));
      const ref = evaluate([out, loss, ...grads], L.values);
      expect(close(run.outputs[0]!, ref.get(out.id)!)).toBeLessThanOrEqual(1);
      grads.forEach((gn, i) => expect(close(run.grads[i]!, ref.get(gn.id)!), `d/d${L.params[i]!.name}`).toBeLessThanOrEqual(1));
    });
});
