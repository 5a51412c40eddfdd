// Logistic regression with the regularizer written into the objective, as the lectures
// do (Larochelle: minimize l + λΩ(θ)): up to 256 examples with 4 features, mean BCE on
// the logit plus λ‖w‖² with λ = 0.005. examples/newton/train.ts minimizes it by
// Newton's method, with Hessian-vector products from hvpModel (conjugate gradients
// solve H d = −g without ever forming H), and by plain gradient descent for comparison.
import type { ModelBuilder } from "../../compiler/frontend/dsl.ts";

export default (m: ModelBuilder) => {
  m.batch(256);
  const x = m.input("x", ["batch", 4]);
  const t = m.input("t", ["batch", 1], { range: [0, 1] });
  const w = m.param("w", [4, 1], { init: "zeros" });
  const b = m.param("b", [1, 1], { init: "zeros" });

  const logit = x.matmul(w).add(b).as("logit");
  m.output("p", m.sigmoid(logit));
  const omega = m.sum(w.mul(w)).as("omega"); // Ω(θ) = ‖w‖² (the bias is not penalized)
  m.loss(m.mean(m.bceWithLogits(logit, t)).add(omega.mul(0.005)));
};
