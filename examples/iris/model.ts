// Fisher's iris flowers: a 4-8-3 softmax classifier. Four standardized
// measurements in, a tanh hidden layer of 8, three logits out (setosa,
// versicolor, virginica), softmax cross-entropy against one-hot species;
// mini-batches of up to 16 flowers.
import type { ModelBuilder } from "../../compiler/frontend/dsl.ts";

export default (m: ModelBuilder) => {
  m.batch(16);
  const x = m.input("x", ["batch", 4], { range: [-2, 2] });
  const y = m.input("y", ["batch", 3], { range: [0, 1] });
  const W1 = m.param("W1", [4, 8], { init: "xavier" });
  const b1 = m.param("b1", [1, 8], { init: "zeros" });
  const W2 = m.param("W2", [8, 3], { init: "xavier" });
  const b2 = m.param("b2", [1, 3], { init: "zeros" });

  const h = m.tanh(x.matmul(W1).add(b1)).as("h");
  const logits = h.matmul(W2).add(b2).as("logits");
  m.output("probs", m.softmax(logits));
  m.loss(m.mean(m.softmaxCrossEntropy(logits, y)));
};
