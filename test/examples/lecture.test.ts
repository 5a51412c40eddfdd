// examples/lecture: the generated gradient equals the backprop formulas of
// the lecture, written out by hand, at random points (float64 build).
//
//   h_j = x_0 Wh[0][j] + x_1 Wh[1][j] + bh[j],   z_j = sigmoid(h_j)
//   y   = z_0 Wo[0] + z_1 Wo[1] + bo,            L = 0.5 (y - t)^2
//
//   dL/dbo     = (y - t)
//   dL/dWo[j]  = (y - t) z_j
//   dL/dbh[j]  = (y - t) Wo[j] z_j (1 - z_j)
//   dL/dWh[i][j] = (y - t) Wo[j] z_j (1 - z_j) x_i
import { beforeAll, describe, expect, it } from "vitest";
import { importModule } from "../../compiler/emit/load.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { compile } from "../../compiler/index.ts";
import { checkModule, Rng, type Module } from "../../runtime/index.ts";

let mod: Module<Float64Array>;
const off: Record<string, number> = {};

beforeAll(async () => {
  const compiled = await compile(await loadSpec("examples/lecture/model.ts"), { precision: "f64" });
  mod = (await importModule(compiled.js)) as Module<Float64Array>;
  for (const s of [...mod.layout.params, ...mod.layout.inputs]) off[s.name] = s.offset;
});

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

describe("examples/lecture", () => {
  it("has the lecture's layout: x [1,2], t [1,1] -> y [1,1]; Wh [2,2], bh [1,2], Wo [2,1], bo [1,1]", () => {
    const shapes = (xs: readonly { name: string; shape: readonly number[] }[]) => Object.fromEntries(xs.map((s) => [s.name, [...s.shape]]));
    expect(shapes(mod.layout.inputs)).toEqual({ x: [1, 2], t: [1, 1] });
    expect(shapes(mod.layout.params)).toEqual({ Wh: [2, 2], bh: [1, 2], Wo: [2, 1], bo: [1, 1] });
    expect(shapes(mod.layout.outputs)).toEqual({ y: [1, 1] });
  });

  it("matches the hand-derived backprop formulas at 10 random points", () => {
    const rng = new Rng(2024);
    const params = new Float64Array(mod.layout.paramSize);
    const inputs = new Float64Array(mod.layout.inputSize);
    const arena = new Float64Array(mod.layout.arenaSize);
    const grads = new Float64Array(mod.layout.paramSize);
    for (let point = 0; point < 10; point++) {
      for (let i = 0; i < params.length; i++) params[i] = rng.uniform(-2, 2);
      for (let i = 0; i < inputs.length; i++) inputs[i] = rng.uniform(-1, 1);
      mod.forward(params, inputs, arena);
      const loss = arena[mod.layout.lossOffset!]!;
      mod.backward!(params, inputs, arena, grads);

      // Forward by hand. Wh is [2,2] row-major: Wh[i][j] = params[Wh + 2i + j].
      const x = [inputs[off.x!]!, inputs[off.x! + 1]!];
      const t = inputs[off.t!]!;
      const Wh = (i: number, j: number) => params[off.Wh! + 2 * i + j]!;
      const bh = (j: number) => params[off.bh! + j]!;
      const Wo = (j: number) => params[off.Wo! + j]!;
      const bo = params[off.bo!]!;
      const z = [0, 1].map((j) => sigmoid(x[0]! * Wh(0, j) + x[1]! * Wh(1, j) + bh(j)));
      const y = z[0]! * Wo(0) + z[1]! * Wo(1) + bo;
      expect(arena[mod.layout.outputs[0]!.offset]).toBeCloseTo(y, 13);
      expect(loss).toBeCloseTo(0.5 * (y - t) ** 2, 13);

      // Backward by hand.
      const e = y - t;
      const delta = (j: number) => e * Wo(j) * z[j]! * (1 - z[j]!); // dL/dh_j
      const expected = new Float64Array(params.length);
      for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) expected[off.Wh! + 2 * i + j] = delta(j) * x[i]!;
      for (let j = 0; j < 2; j++) expected[off.bh! + j] = delta(j);
      for (let j = 0; j < 2; j++) expected[off.Wo! + j] = e * z[j]!;
      expected[off.bo!] = e;

      for (let i = 0; i < params.length; i++) {
        const tol = 1e-13 * Math.max(1, Math.abs(expected[i]!));
        expect(Math.abs(grads[i]! - expected[i]!), `param ${i} at point ${point}`).toBeLessThanOrEqual(tol);
      }
    }
  });

  it("agrees with central differences (runtime/gradcheck) too", () => {
    const rng = new Rng(7);
    for (let point = 0; point < 3; point++) {
      const params = Float64Array.from({ length: mod.layout.paramSize }, () => rng.uniform(-2, 2));
      const inputs = Float64Array.from({ length: mod.layout.inputSize }, () => rng.uniform(-1, 1));
      const r = checkModule(mod, params, inputs, { atol: 1e-8, rtol: 1e-6 });
      expect(r.ok, JSON.stringify(r)).toBe(true);
    }
  });
});
