// The Newton example's data: 256 examples with 4 correlated features and labels drawn
// from a logistic model (not separable, so the regularized optimum is well inside).
import { Rng, type Layout } from "../../runtime/index.ts";

export function makeData(layout: Layout, seed: number): Float64Array {
  const rng = new Rng(seed);
  const inputs = new Float64Array(layout.inputSize);
  const x = layout.inputs.find((s) => s.name === "x")!.offset;
  const t = layout.inputs.find((s) => s.name === "t")!.offset;
  const truth = [1.5, -2, 0.5, 0];
  for (let i = 0; i < 256; i++) {
    const z = rng.normal(0, 1);
    const row = [z + rng.normal(0, 0.3), -z + rng.normal(0, 0.3), rng.normal(0, 2), rng.normal(0, 1)];
    row.forEach((v, k) => (inputs[x + 4 * i + k] = v));
    const logit = row.reduce((s, v, k) => s + v * truth[k]!, 0.3);
    inputs[t + i] = rng.uniform(0, 1) < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
  }
  return inputs;
}
