// Newton's method vs gradient descent on regularized logistic regression (model.ts).
// Both from θ = 0 on the same 256 examples; Newton's steps come from Hessian-vector
// products (hvpModel), gradient descent uses the best rate of a small sweep.
//
//   npx tsx examples/newton/train.ts
import { hvpModel } from "../../compiler/autodiff/hvp.ts";
import { importModule } from "../../compiler/emit/load.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { compile } from "../../compiler/index.ts";
import { gradientDescent, newtonCg, type Problem } from "./newton.ts";
import { makeData } from "./data.ts";

const spec = new URL("./model.ts", import.meta.url).pathname;
const grad = await importModule((await compile(await loadSpec(spec), { precision: "f64" })).js);
const hv = await importModule((await compile(hvpModel(await loadSpec(spec)), { precision: "f64" })).js);
const problem: Problem = { grad, hv, inputs: makeData(grad.layout, 1), n: 256 };

let t0 = performance.now();
const newton = newtonCg(problem, { tol: 1e-10 });
const newtonMs = performance.now() - t0;
console.log("Newton-CG (H v by reverse over reverse):");
newton.gradNorms.forEach((g, i) => console.log(`  step ${i}  loss ${newton.losses[i]!.toFixed(12)}  |grad| ${g.toExponential(2)}`));

console.log("gradient descent, full batch, to |grad| <= 1e-6:");
let best: ReturnType<typeof gradientDescent> | undefined;
let bestLr = 0;
t0 = performance.now();
for (const lr of [0.5, 1, 2, 4, 8]) {
  const r = gradientDescent(problem, lr, { tol: 1e-6, maxSteps: 50_000 });
  const reached = r.gradNorms.at(-1)! <= 1e-6;
  console.log(`  lr ${lr}: ${reached ? `${r.steps} steps` : `not there after ${r.steps} steps (|grad| ${r.gradNorms.at(-1)!.toExponential(2)})`}`);
  if (reached && (!best || r.steps < best.steps)) [best, bestLr] = [r, lr];
}
const gdMs = performance.now() - t0;
const tight = gradientDescent(problem, bestLr || 1, { tol: 1e-10, maxSteps: 50_000 });
console.log(
  `Newton: ${newton.steps} steps to |grad| ${newton.gradNorms.at(-1)!.toExponential(1)} in ${newtonMs.toFixed(0)} ms; ` +
    `gradient descent: ${best ? `${best.steps} steps at lr ${bestLr} to 1e-6, ${tight.steps} to 1e-10` : "did not converge"} (sweep ${gdMs.toFixed(0)} ms)`,
);
