// The online perceptron (lecture 004, "Online Perceptron"): from θ = 0, for each
// example (x, y) with y ∈ {−1, +1}: if y θᵀx ≤ 0 (the prediction is wrong), θ ← θ + y x.
//
// As gradient descent: plain SGD with learning rate 1 and one example per step on the
// perceptron criterion L = where(y θᵀx ≤ 0, −y θᵀx, 0). Its gradient is −y x exactly when
// y θᵀx ≤ 0 — *including* at y θᵀx = 0, where the rule updates (θ = 0 at the start).
// Written as relu(−y θᵀx) it would never leave θ = 0: relu'(0) = 0.
import type { ModelBuilder } from "../../compiler/frontend/dsl.ts";

export default (m: ModelBuilder) => {
  const x = m.input("x", [1, 2]); // one example per step: the online rule
  const y = m.input("y", [1, 1], { range: [-1, 1] }); // its label, −1 or +1
  const w = m.param("w", [2, 1], { init: "zeros" }); // θ = 0, as the lecture starts
  const b = m.param("b", [1, 1], { init: "zeros" }); // the bias (θ₀, a constant-1 feature)

  const score = x.matmul(w).add(b);
  const margin = y.mul(score).as("margin"); // y θᵀx
  m.output("score", score); // predict sign(score)
  m.loss(m.sum(m.where(m.ge(0, margin), m.neg(margin), 0)));
};
