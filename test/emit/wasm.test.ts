// The wasm SIMD matmul path against the float64 interpreter: every layout the
// kernel takes (x·W, x·Wᵀ via a scratch transpose, Xᵀ·dY), shapes with row and
// column remainders (M % 4, N % 8), and fused epilogues run after the kernel.
import { describe, expect, it } from "vitest";
import { gradients } from "../../compiler/autodiff/reverse.ts";
import { importModule } from "../../compiler/emit/load.ts";
import { compile } from "../../compiler/index.ts";
import { evaluate } from "../../compiler/ir/interp.ts";
import { isMatmul } from "../../compiler/lower/kernel.ts";
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

const EPILOGUES = [undefined, "bias, relu", "row scale, max, abs, ÷ scalar", "tanh"] as const;

/** float32 against float64: relative to the largest magnitude of each tensor. */
const close = (got: ArrayLike<number>, want: ArrayLike<number>) => {
  const scale = Math.max(1e-30, ...Array.from(want, Math.abs));
  return Array.from(want).every((w, i) => Math.abs(got[i]! - w) <= 1e-6 + 1e-5 * scale);
};

describe("wasm SIMD matmul kernels", () => {
  for (const [M, K, N] of SHAPES)
    for (const form of ["AB", "ABt", "AtB"] as Form[])
      for (const epilogue of EPILOGUES)
        it(`${form} [${M}x${K}]·[${K}x${N}]${epilogue ? ` + ${epilogue}` : ""}`, async () => {
          const g = new Graph();
          const b = new B(g);
          const L = new Leaves(g, rng(M * 1000 + K * 10 + N));
          const A: Node = form === "AtB" ? b.transpose(L.param([K, M], [-1, 1])) : L.param([M, K], [-1, 1]);
          const Bm: Node = form === "ABt" ? b.transpose(L.param([N, K], [-1, 1])) : L.param([K, N], [-1, 1]);
          let out = b.matmul(A, Bm);
          // relu and the mix run on the kernel's registers (forward, and the relu mask in dX); tanh stays a JS pass.
          // The mix reads a column of row scales, a row (bias) and one value (the divisor) per element.
          if (epilogue === "bias, relu") out = b.op("relu", b.add(out, L.param([1, N], [-1, 1])));
          if (epilogue === "row scale, max, abs, ÷ scalar")
            out = b.op("abs", b.div(b.op("max", b.mul(out, L.param([M, 1], [-1, 1])), L.param([1, N], [-1, 1])), L.input([1, 1], [1, 2])));
          if (epilogue === "tanh") out = b.op("tanh", out);
          // The mix is forward-only: with a loss, backward needs its intermediates stored, so nothing is fused.
          const loss = epilogue?.startsWith("row") ? undefined : weighted(b, L, out);
          const model = modelOf("mm", g, L, [{ name: "out", node: out }], loss);
          const c = await compile(model, { precision: "f32", backend: "wasm", unrollLimit: 0 });
          expect(c.lowered.kernels.length).toBeGreaterThan(0); // the wasm path really ran
          if (epilogue === "bias, relu" || epilogue?.startsWith("row")) expect(c.lowered.kernels.filter(isMatmul).some((k) => k.epilogue)).toBe(true);
          const run = runModule(await importModule(c.js), L.values, Float32Array);
          const { grads } = loss ? gradients(b, loss, L.params.map((p) => p.node)) : { grads: [] };
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

  it("every buffer must be the module's own: foreign inputs, another buffers() call's arena or grads, a subarray", async () => {
    const g = new Graph();
    const b = new B(g);
    const L = new Leaves(g, rng(2));
    const x = L.input([8, 8]);
    const out = b.matmul(x, L.param([8, 8]));
    const c = await compile(modelOf("mm", g, L, [], weighted(b, L, out)), { backend: "wasm", unrollLimit: 0 });
    expect(c.lowered.kernels.length).toBeGreaterThan(0);
    const mod = await importModule(c.js);
    const [a, other] = [mod.buffers(), mod.buffers()];
    const refused = /pass the params, inputs, arena and grads of one buffers\(\) call/;
    const fwd = (p: typeof a.params, i: typeof a.params, ar: typeof a.params) => () => mod.forward(p, i, ar);
    expect(fwd(a.params, new Float32Array(a.inputs.length), a.arena)).toThrow(refused);
    expect(fwd(a.params, a.inputs, other.arena)).toThrow(refused);
    expect(fwd(a.params, other.inputs, a.arena)).toThrow(refused);
    expect(fwd(a.params, a.inputs.subarray(1), a.arena)).toThrow(refused);
    expect(fwd(a.params, a.inputs, new Float32Array(a.arena.length))).toThrow(refused);
    expect(() => mod.backward!(a.params, a.inputs, a.arena, other.grads)).toThrow(refused);
    expect(() => mod.backward!(a.params, a.inputs, a.arena, new Float32Array(a.grads.length))).toThrow(refused);
    expect(() => mod.sgd!(a.params, other.grads, 0.1)).toThrow(/one buffers\(\) call/);
    expect(() => mod.sgd!(other.params, a.grads, 0.1)).toThrow(/one buffers\(\) call/);
    // Its own buffers, from either call, still run.
    mod.forward(a.params, a.inputs, a.arena);
    mod.backward!(a.params, a.inputs, a.arena, a.grads);
    mod.sgd!(other.params, other.grads, 0.1);
  });

  for (const paramCount of [1, 4, 7, 8, 13, 64])
    it(`sgd: the wasm update equals params - lr * grads in float32 (${paramCount} params)`, async () => {
      const g = new Graph();
      const b = new B(g);
      const L = new Leaves(g, rng(paramCount));
      const p = L.param([1, paramCount]);
      const out = b.matmul(L.input([4, 1]), p); // a [4,1]·[1,n] product: a wasm kernel at unrollLimit 0
      const c = await compile(modelOf("upd", g, L, [], weighted(b, L, out)), { backend: "wasm", unrollLimit: 0 });
      const mod = await importModule(c.js);
      expect(mod.layout.memory).toBeDefined();
      const buf = mod.buffers();
      const next = rng(3);
      for (let i = 0; i < paramCount; i++) (buf.params[i] = next() - 0.5), (buf.grads[i] = 4 * next() - 2);
      // the padding past the last parameter (up to the grads region) must not leak into anything visible
      const want = Array.from(buf.params, (x, i) => Math.fround(x - Math.fround(Math.fround(0.01) * buf.grads[i]!)));
      mod.sgd!(buf.params, buf.grads, 0.01);
      expect(Array.from(buf.params)).toEqual(want);
      expect(() => mod.sgd!(buf.params, new Float32Array(paramCount), 0.01)).toThrow(/buffers\(\)/);
    });
});
