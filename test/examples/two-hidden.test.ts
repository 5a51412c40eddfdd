// examples/two-hidden: the generated gradient is lecture 004's two-hidden-layer
// derivation, written out with its deltas (float64 build, random points):
//
//   δ[3] = a[3] − y                          ∂L/∂W[3] = δ[3] a[2]ᵀ   ∂L/∂b[3] = δ[3]
//   δ[2] = W[3]ᵀ δ[3] ⊙ a[2] ⊙ (1 − a[2])    ∂L/∂W[2] = δ[2] a[1]ᵀ   ∂L/∂b[2] = δ[2]
//   δ[1] = W[2]ᵀ δ[2] ⊙ a[1] ⊙ (1 − a[1])    ∂L/∂W[1] = δ[1] xᵀ      ∂L/∂b[1] = δ[1]
//
// (gradc stores W[ℓ]ᵀ as a row-major [fan_in, fan_out] matrix: dL/dW[i][j] = input_i δ_j.)
import { beforeAll, describe, expect, it } from "vitest";
import { importModule } from "../../compiler/emit/load.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { compile } from "../../compiler/index.ts";
import { checkModule, Rng, type Module } from "../../runtime/index.ts";

let mod: Module<Float64Array>;
const off: Record<string, number> = {};
beforeAll(async () => {
  mod = (await importModule((await compile(await loadSpec("examples/two-hidden/model.ts"), { precision: "f64" })).js)) as Module<Float64Array>;
  for (const s of [...mod.layout.params, ...mod.layout.inputs]) off[s.name] = s.offset;
});

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const sizes = [3, 4, 3, 1]; // d, layer 1, layer 2, output

describe("examples/two-hidden", () => {
  it("matches the lecture's δ[3] = a[3] − y, δ[ℓ] = W[ℓ+1]ᵀ δ[ℓ+1] ⊙ σ'(z[ℓ]) at 10 random points", () => {
    const rng = new Rng(404);
    const { layout } = mod;
    const params = new Float64Array(layout.paramSize);
    const inputs = new Float64Array(layout.inputSize);
    const arena = new Float64Array(layout.arenaSize);
    const grads = new Float64Array(layout.paramSize);
    for (let point = 0; point < 10; point++) {
      for (let i = 0; i < params.length; i++) params[i] = rng.uniform(-2, 2);
      for (let i = 0; i < 3; i++) inputs[off.x! + i] = rng.uniform(-1, 1);
      inputs[off.y!] = rng.int(2);
      mod.forward(params, inputs, arena);
      mod.backward!(params, inputs, arena, grads);

      const W = (l: number, i: number, j: number) => params[off[`W${l}`]! + sizes[l]! * i + j]!;
      const b = (l: number, j: number) => params[off[`b${l}`]! + j]!;
      // Forward by hand: a[0] = x.
      const a: number[][] = [[0, 1, 2].map((i) => inputs[off.x! + i]!)];
      for (let l = 1; l <= 3; l++)
        a.push(Array.from({ length: sizes[l]! }, (_, j) => sigmoid(a[l - 1]!.reduce((s, v, i) => s + v * W(l, i, j), b(l, j)))));
      const yv = inputs[off.y!]!;
      const yhat = a[3]![0]!;
      expect(arena[layout.outputs[0]!.offset]).toBeCloseTo(yhat, 13);
      expect(arena[layout.lossOffset!]).toBeCloseTo(-(yv * Math.log(yhat) + (1 - yv) * Math.log(1 - yhat)), 12);

      // Backward by hand, the lecture's deltas.
      const delta: number[][] = [];
      delta[3] = [yhat - yv];
      for (let l = 2; l >= 1; l--)
        delta[l] = a[l]!.map((al, j) => delta[l + 1]!.reduce((s, d, k) => s + W(l + 1, j, k) * d, 0) * al * (1 - al));
      const expected = new Float64Array(params.length);
      for (let l = 1; l <= 3; l++)
        for (let j = 0; j < sizes[l]!; j++) {
          expected[off[`b${l}`]! + j] = delta[l]![j]!;
          for (let i = 0; i < sizes[l - 1]!; i++) expected[off[`W${l}`]! + sizes[l]! * i + j] = a[l - 1]![i]! * delta[l]![j]!;
        }
      for (let i = 0; i < params.length; i++)
        expect(Math.abs(grads[i]! - expected[i]!), `param ${i} at point ${point}`).toBeLessThanOrEqual(1e-13 * Math.max(1, Math.abs(expected[i]!)));
    }
  });

  it("agrees with central differences too", () => {
    const rng = new Rng(5);
    for (let point = 0; point < 3; point++) {
      const params = Float64Array.from({ length: mod.layout.paramSize }, () => rng.uniform(-2, 2));
      const inputs = Float64Array.from({ length: mod.layout.inputSize }, (_, i) => (i === off.y ? rng.int(2) : rng.uniform(-1, 1)));
      const r = checkModule(mod, params, inputs, { atol: 1e-8, rtol: 1e-6 });
      expect(r.ok, JSON.stringify(r)).toBe(true);
    }
  });
});
