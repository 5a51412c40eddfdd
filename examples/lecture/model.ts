// The classic lecture network, 2-2-1: one example x [1,2], a sigmoid hidden
// layer z = sigmoid(x·Wh + bh), a linear output y = z·Wo + bo, and the squared
// error loss 0.5 (y - t)^2. Small enough to check its backprop by hand
// (test/examples/lecture.test.ts does exactly that).
import type { ModelBuilder } from "../../compiler/frontend/dsl.ts";

export default (m: ModelBuilder) => {
  const x = m.input("x", [1, 2], { range: [0, 1] });
  const t = m.input("t", [1, 1], { range: [0, 1] });
  const Wh = m.param("Wh", [2, 2], { init: "xavier" });
  const bh = m.param("bh", [1, 2], { init: "zeros" });
  const Wo = m.param("Wo", [2, 1], { init: "xavier" });
  const bo = m.param("bo", [1, 1], { init: "zeros" });

  const h = x.matmul(Wh).add(bh).as("h"); // hidden pre-activation
  const z = m.sigmoid(h).as("z"); // hidden activation
  const y = m.output("y", z.matmul(Wo).add(bo)); // linear output
  m.loss(m.sum(m.squaredError(y, t)));
};
