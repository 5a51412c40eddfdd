// examples/newton: Newton-CG with Hessian-vector products from hvpModel converges
// quadratically on regularized logistic regression, in a handful of steps where
// gradient descent at its best rate takes over a hundred; both find the same optimum.
import { beforeAll, describe, expect, it } from "vitest";
import { hvpModel } from "../../compiler/autodiff/hvp.ts";
import { importModule } from "../../compiler/emit/load.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { compile } from "../../compiler/index.ts";
import { makeData } from "../../examples/newton/data.ts";
import { gradientDescent, newtonCg, type Problem } from "../../examples/newton/newton.ts";

const spec = "examples/newton/model.ts";
let problem: Problem;
beforeAll(async () => {
  const grad = await importModule((await compile(await loadSpec(spec), { precision: "f64" })).js);
  const hv = await importModule((await compile(hvpModel(await loadSpec(spec)), { precision: "f64" })).js);
  problem = { grad, hv, inputs: makeData(grad.layout, 1), n: 256 };
});

describe("examples/newton", () => {
  it("Newton-CG reaches |grad| <= 1e-10 in at most 8 steps, quadratically at the end", () => {
    const r = newtonCg(problem, { tol: 1e-10 });
    expect(r.gradNorms.at(-1)!).toBeLessThanOrEqual(1e-10);
    expect(r.steps).toBeLessThanOrEqual(8);
    const [g1, g2] = r.gradNorms.slice(-2) as [number, number];
    expect(g2, "quadratic convergence: |g_k+1| <= 100 |g_k|^2").toBeLessThanOrEqual(100 * g1 * g1);
    for (let i = 1; i < r.losses.length; i++) expect(r.losses[i]!).toBeLessThanOrEqual(r.losses[i - 1]!);
  });

  it("gradient descent needs over 100 steps to |grad| <= 1e-6 at its best rate, and agrees on the optimum", () => {
    const newton = newtonCg(problem, { tol: 1e-10 });
    const gd = gradientDescent(problem, 4, { tol: 1e-6, maxSteps: 10_000 });
    expect(gd.gradNorms.at(-1)!).toBeLessThanOrEqual(1e-6);
    expect(gd.steps).toBeGreaterThan(100);
    expect(gradientDescent(problem, 8, { tol: 1e-6, maxSteps: 2_000 }).gradNorms.at(-1)!, "lr 8 diverges or stalls").toBeGreaterThan(1e-6);
    const tight = gradientDescent(problem, 4, { tol: 1e-10, maxSteps: 10_000 });
    expect(tight.steps).toBeGreaterThan(2 * gd.steps - 20); // linear convergence: twice the steps for twice the digits
    // |θ − θ*| <= |g| / λmin, and λmin >= ~0.01 (2λ on w; the BCE curvature on b): 1e-10 / 0.01.
    newton.params.forEach((p, i) => expect(Math.abs(p - tight.params[i]!)).toBeLessThanOrEqual(1e-8));
  });
});
