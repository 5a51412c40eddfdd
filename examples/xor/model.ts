// XOR with a 2-2-1 network: sigmoid hidden layer, one logit out, binary
// cross-entropy on the logit. Full batch: all four patterns at once.
import type { ModelBuilder } from "../../compiler/frontend/dsl.ts";

export default (m: ModelBuilder) => {
  const x = m.input("x", [4, 2], { range: [0, 1] });
  const t = m.input("t", [4, 1], { range: [0, 1] });
  const W1 = m.param("W1", [2, 2], { init: "xavier" });
  const b1 = m.param("b1", [1, 2], { init: "zeros" });
  const W2 = m.param("W2", [2, 1], { init: "xavier" });
  const b2 = m.param("b2", [1, 1], { init: "zeros" });

  const h = m.sigmoid(x.matmul(W1).add(b1)).as("h");
  const z = h.matmul(W2).add(b2).as("z");
  m.output("y", m.sigmoid(z));
  m.loss(m.mean(m.bceWithLogits(z, t)));
};
