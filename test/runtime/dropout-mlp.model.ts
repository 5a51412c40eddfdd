// A 4-16-3 classifier with hidden-layer dropout (m.dropout: a mask input
// `dropout_h` with the layer's shape multiplies the layer, and its layout slot
// carries the rate). The trainer fills the mask; the data never holds it.
// Used by test/runtime/trainer.test.ts.
import type { ModelBuilder } from "../../compiler/frontend/dsl.ts";

export default (m: ModelBuilder) => {
  m.batch(32);
  const x = m.input("x", ["batch", 4], { range: [-2, 2] });
  const y = m.input("y", ["batch", 3], { range: [0, 1] });
  const W1 = m.param("W1", [4, 16], { init: "he" });
  const b1 = m.param("b1", [1, 16], { init: "zeros" });
  const W2 = m.param("W2", [16, 3], { init: "xavier" });
  const b2 = m.param("b2", [1, 3], { init: "zeros" });

  const h = m.dropout(m.relu(x.matmul(W1).add(b1)), 0.5, "h").as("h");
  const logits = h.matmul(W2).add(b2).as("logits");
  m.output("probs", m.softmax(logits));
  m.loss(m.mean(m.softmaxCrossEntropy(logits, y)));
};
