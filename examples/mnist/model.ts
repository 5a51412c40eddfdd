// MNIST digits: 784-128-10, ReLU hidden layer, softmax cross-entropy on the
// logits, mini-batches of up to 64 images.
import type { ModelBuilder } from "../../compiler/frontend/dsl.ts";

export default (m: ModelBuilder) => {
  m.batch(64);
  const x = m.input("x", ["batch", 784], { range: [0, 1] });
  const y = m.input("y", ["batch", 10], { range: [0, 1] });
  const W1 = m.param("W1", [784, 128], { init: "he" });
  const b1 = m.param("b1", [1, 128], { init: "zeros" });
  const W2 = m.param("W2", [128, 10], { init: "xavier" });
  const b2 = m.param("b2", [1, 10], { init: "zeros" });

  const h = m.relu(x.matmul(W1).add(b1)).as("h");
  const logits = h.matmul(W2).add(b2).as("logits");
  m.output("probs", m.softmax(logits));
  m.loss(m.mean(m.softmaxCrossEntropy(logits, y)));
};
