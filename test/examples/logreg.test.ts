// examples/logreg: the generated gradient of mean BCE-on-logits is the
// closed form X^T (sigmoid(Xw + b) - t) / n, and SGD separates a separable set.
import { beforeAll, describe, expect, it } from "vitest";
import { importModule } from "../../compiler/emit/load.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { compile } from "../../compiler/index.ts";
import { createTrainer, momentum, Rng, type Module } from "../../runtime/index.ts";

let f64: Module<Float64Array>;
let f32: Module;

beforeAll(async () => {
  const model = await loadSpec("examples/logreg/model.ts");
  f64 = (await importModule((await compile(model, { precision: "f64" })).js)) as Module<Float64Array>;
  f32 = (await importModule((await compile(model)).js)) as Module;
});

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

describe("examples/logreg", () => {
  it("has gradient X^T (p - t) / 8 for w and mean(p - t) for b", () => {
    const { layout } = f64;
    const rng = new Rng(1);
    const at = (name: string) => [...layout.params, ...layout.inputs].find((s) => s.name === name)!.offset;
    for (let point = 0; point < 5; point++) {
      const params = Float64Array.from({ length: layout.paramSize }, () => rng.uniform(-2, 2));
      const inputs = Float64Array.from({ length: layout.inputSize }, () => rng.uniform(-1, 1));
      for (let i = 0; i < 8; i++) inputs[at("t") + i] = rng.int(2);
      const arena = new Float64Array(layout.arenaSize);
      const grads = new Float64Array(layout.paramSize);
      f64.forward(params, inputs, arena);
      f64.backward!(params, inputs, arena, grads);
      const X = (i: number, k: number) => inputs[at("x") + 3 * i + k]!;
      const err = Array.from({ length: 8 }, (_, i) => {
        const logit = X(i, 0) * params[at("w")]! + X(i, 1) * params[at("w") + 1]! + X(i, 2) * params[at("w") + 2]! + params[at("b")]!;
        return sigmoid(logit) - inputs[at("t") + i]!;
      });
      for (let k = 0; k < 3; k++) expect(grads[at("w") + k]).toBeCloseTo(err.reduce((s, e, i) => s + e * X(i, k), 0) / 8, 13);
      expect(grads[at("b")]).toBeCloseTo(err.reduce((s, e) => s + e, 0) / 8, 13);
    }
  });

  it("learns a linearly separable rule (t = x0 + 2 x1 - x2 > 0) with mini-batches of 8", () => {
    const rng = new Rng(2);
    const n = 64;
    const x = Float32Array.from({ length: 3 * n }, () => rng.uniform(-1, 1));
    const t = Float32Array.from({ length: n }, (_, i) => (x[3 * i]! + 2 * x[3 * i + 1]! - x[3 * i + 2]! > 0 ? 1 : 0));
    const trainer = createTrainer(f32, { optimizer: momentum({ lr: 1, momentum: 0.9 }), seed: 3 });
    const h = trainer.fit({ x, t }, { epochs: 200, progress: false });
    const p = trainer.predict(x, "p" as never);
    const correct = Array.from(t).filter((ti, i) => Math.round(p[i]!) === ti).length;
    expect(correct).toBeGreaterThanOrEqual(62);
    expect(h.loss[h.loss.length - 1]).toBeLessThan(0.15);
  });
});
