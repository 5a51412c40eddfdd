// examples/perceptron: SGD (lr 1, one example per step) on the perceptron
// criterion is the lecture's online perceptron rule, step for step and bit for
// bit — including the first update from θ = 0, where y θᵀx = 0.
import { beforeAll, describe, expect, it } from "vitest";
import { importModule, type GeneratedModule } from "../../compiler/emit/load.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { compile } from "../../compiler/index.ts";
import { Rng } from "../../runtime/index.ts";

let mod: GeneratedModule;
beforeAll(async () => {
  mod = (await importModule((await compile(await loadSpec("examples/perceptron/model.ts"))).js));
});

describe("examples/perceptron", () => {
  it("takes the lecture's steps: θ ← θ + y x exactly when y θᵀx ≤ 0", () => {
    const { layout } = mod;
    const slot = (name: string) => [...layout.params, ...layout.inputs].find((s) => s.name === name)!.offset;
    const buf = mod.buffers();
    const rng = new Rng(3);
    // The lecture's rule on θ = (w1, w2, b), with float32 arithmetic like the module's.
    const theta = new Float32Array(3);
    let updates = 0;
    for (let step = 0; step < 400; step++) {
      const x1 = Math.fround(rng.uniform(-1, 1));
      const x2 = Math.fround(rng.uniform(-1, 1));
      const y = x1 - 0.5 * x2 + 0.1 > 0 ? 1 : -1;
      buf.inputs[slot("x")] = x1;
      buf.inputs[slot("x") + 1] = x2;
      buf.inputs[slot("y")] = y;
      mod.forward(buf.params, buf.inputs, buf.arena);
      mod.backward!(buf.params, buf.inputs, buf.arena, buf.grads);
      mod.sgd!(buf.params, buf.grads, 1);
      const score = Math.fround(Math.fround(x1 * theta[0]! + x2 * theta[1]!) + theta[2]!);
      if (y * score <= 0) {
        theta[0] = theta[0]! + y * x1;
        theta[1] = theta[1]! + y * x2;
        theta[2] = theta[2]! + y;
        updates++;
      }
      expect([buf.params[slot("w")], buf.params[slot("w") + 1], buf.params[slot("b")]], `step ${step}`).toEqual([...theta]);
      if (step === 0) expect(updates, "the first example updates θ = 0 (y θᵀx = 0 counts as wrong)").toBe(1);
    }
    expect(updates).toBeGreaterThan(3);
    expect(updates).toBeLessThan(400);
  });
});
