// The bench's "small" workload: 64-32-10, ReLU hidden layer, softmax
// cross-entropy on the logits, mini-batches of up to 32.
import type { ModelBuilder } from "../../compiler/frontend/dsl.ts";

export default (m: ModelBuilder) => {
  m.batch(32);
  const x = m.input("x", ["batch", 64], { range: [0, 1] });
  const y = m.input("y", ["batch", 10], { range: [0, 1] });
  const W1 = m.param("W1", [64, 32], { init: "he" });
  const b1 = m.param("b1", [1, 32], { init: "zeros" });
  const W2 = m.param("W2", [32, 10], { init: "xavier" });
  const b2 = m.param("b2", [1, 10], { init: "zeros" });

  const h = m.relu(x.matmul(W1).add(b1)).as("h");
  const logits = h.matmul(W2).add(b2).as("logits");
  m.output("probs", m.softmax(logits));
  m.loss(m.mean(m.softmaxCrossEntropy(logits, y)));
};
