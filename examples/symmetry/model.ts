// The symmetry problem of Rumelhart, Hinton & Williams (1986, Nature 323,
// fig. 1): does a 6-bit input read the same from both ends? Six inputs, two
// logistic hidden units, one logistic output; the summed squared error over
// all 64 patterns, E = ½ Σ (y - t)²; every weight and bias drawn uniformly
// from ±0.3 as in the paper. Full batch: one step is one sweep.
import type { ModelBuilder } from "../../compiler/frontend/dsl.ts";

export default (m: ModelBuilder) => {
  const x = m.input("x", [64, 6], { range: [0, 1] });
  const t = m.input("t", [64, 1], { range: [0, 1] });
  const W1 = m.param("W1", [6, 2], { init: { uniform: [-0.3, 0.3] } });
  const b1 = m.param("b1", [1, 2], { init: { uniform: [-0.3, 0.3] } });
  const W2 = m.param("W2", [2, 1], { init: { uniform: [-0.3, 0.3] } });
  const b2 = m.param("b2", [1, 1], { init: { uniform: [-0.3, 0.3] } });

  const h = m.sigmoid(x.matmul(W1).add(b1)).as("h");
  const y = m.sigmoid(h.matmul(W2).add(b2)).as("y");
  m.output("out", y);
  m.loss(m.sum(m.squaredError(y, t)));
};
