// A deeper MLP: 256-256-256-256-10, four ReLU layers 256 wide on a 256-dim
// input, softmax cross-entropy on the logits, mini-batches of up to 32.
// The `npm run bench` "deep" workload (bench/README.md).
import type { ModelBuilder } from "../../compiler/frontend/dsl.ts";

export default (m: ModelBuilder) => {
  m.batch(32);
  const x = m.input("x", ["batch", 256], { range: [0, 1] });
  const y = m.input("y", ["batch", 10], { range: [0, 1] });
  const W1 = m.param("W1", [256, 256], { init: "he" });
  const b1 = m.param("b1", [1, 256], { init: "zeros" });
  const W2 = m.param("W2", [256, 256], { init: "he" });
  const b2 = m.param("b2", [1, 256], { init: "zeros" });
  const W3 = m.param("W3", [256, 256], { init: "he" });
  const b3 = m.param("b3", [1, 256], { init: "zeros" });
  const W4 = m.param("W4", [256, 256], { init: "he" });
  const b4 = m.param("b4", [1, 256], { init: "zeros" });
  const W5 = m.param("W5", [256, 10], { init: "he" });
  const b5 = m.param("b5", [1, 10], { init: "zeros" });

  const h1 = m.relu(x.matmul(W1).add(b1)).as("h1");
  const h2 = m.relu(h1.matmul(W2).add(b2)).as("h2");
  const h3 = m.relu(h2.matmul(W3).add(b3)).as("h3");
  const h4 = m.relu(h3.matmul(W4).add(b4)).as("h4");
  const logits = h4.matmul(W5).add(b5).as("logits");
  m.output("probs", m.softmax(logits));
  m.loss(m.mean(m.softmaxCrossEntropy(logits, y)));
};
