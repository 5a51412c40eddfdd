// The wasm SIMD matmul path against the float64 interpreter: every layout the
// kernel takes (x·W, x·Wᵀ via a scratch transpose, Xᵀ·dY), shapes with row and
// column remainders (M % 4, N % 8), and fused epilogues run after the kernel.
import { describe, expect, it } from "vitest";
import { gradients } from "../../compiler/autodiff/reverse.ts";
import { importModule } from "../../compiler/emit/load.ts";
import { compile } from "../../compiler/index.ts";
import { evaluate } from "../../compiler/ir/interp.ts";
import type { Node } from "../../compiler/ir/graph.ts";
import { B, Graph, Leaves, modelOf, rng, runModule, weighted } from "../helpers.ts";

type Form = "AB" | "ABt" | "AtB";
const SHAPES: [number, number, number][] = [
  [4, 8, 8],
  [7, 13, 19],
  [64, 30, 10],
  [5, 3, 16],
  [12, 40, 33],
];

/** float32 against float64: relative to the largest magnitude of each tensor. */
const close = (got: ArrayLike<number>, want: ArrayLike<number>) => {
  const scale = Math.max(1e-30, ...Array.from(want, Math.abs));
  return Array.from(want).every((w, i) => Math.abs(got[i]! - w) <= 1e-6 + 1e-5 * scale);
};

describe("wasm SIMD matmul kernels", () => {
  for (const [M, K, N] of SHAPES)
    for (const form of ["AB", "ABt", "AtB"] as Form[])
      for (const epilogue of [false, true])
        it(`${form} [${M}x${K}]·[${K}x${N}]${epilogue ? " + bias, relu" : ""}`, async () => {
          const g = new Graph();
          const b = new B(g);
          const L = new Leaves(g, rng(M * 1000 + K * 10 + N));
          const A: Node = form === "AtB" ? b.transpose(L.param([K, M], [-1, 1])) : L.param([M, K], [-1, 1]);
          const Bm: Node = form === "ABt" ? b.transpose(L.param([N, K], [-1, 1])) : L.param([K, N], [-1, 1]);
          let out = b.matmul(A, Bm);
          if (epilogue) out = b.op("relu", b.add(out, L.param([1, N], [-1, 1])));
          const loss = weighted(b, L, out);
          const model = modelOf("mm", g, L, [{ name: "out", node: out }], loss);
          const c = await compile(model, { precision: "f32", backend: "wasm", unrollLimit: 0 });
          expect(c.lowered.kernels.length).toBeGreaterThan(0); // the wasm path really ran
          const run = runModule(await importModule(c.js), L.values, Float32Array);
          const { grads } = gradients(b, loss, L.params.map((p) => p.node));
          const ref = evaluate([out, ...grads], L.values);
          expect(close(run.outputs[0]!, ref.get(out.id)!)).toBe(true);
          grads.forEach((gn, i) => expect(close(run.grads[i]!, ref.get(gn.id)!), `d/d${L.params[i]!.name}`).toBe(true));
        });

  it("the module refuses buffers that are not views of its memory", async () => {
    const g = new Graph();
    const b = new B(g);
    const L = new Leaves(g, rng(1));
    const out = b.matmul(L.param([8, 8]), L.param([8, 8]));
    const c = await compile(modelOf("mm", g, L, [], weighted(b, L, out)), { backend: "wasm", unrollLimit: 0 });
    const mod = await importModule(c.js);
    const L2 = mod.layout;
    expect(() => mod.forward(new Float32Array(L2.paramSize), new Float32Array(L2.inputSize), new Float32Array(L2.arenaSize))).toThrow(/buffers\(\)/);
  });
});
