// Logistic regression: batches of up to 8 examples with 3 features, one logit per
// example, mean binary cross-entropy computed from the logit (numerically
// stable), and the probability p = sigmoid(logit) as the output.
import type { ModelBuilder } from "../../compiler/frontend/dsl.ts";

export default (m: ModelBuilder) => {
  m.batch(8);
  const x = m.input("x", ["batch", 3]);
  const t = m.input("t", ["batch", 1], { range: [0, 1] });
  const w = m.param("w", [3, 1], { init: "zeros" });
  const b = m.param("b", [1, 1], { init: "zeros" });

  const logit = x.matmul(w).add(b).as("logit");
  m.output("p", m.sigmoid(logit));
  m.loss(m.mean(m.bceWithLogits(logit, t)));
};
