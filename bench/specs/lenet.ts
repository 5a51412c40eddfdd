// LeNet on MNIST digits: two convolutions with ReLU and 2×2 max-pooling, then
// two dense layers; softmax cross-entropy on the logits, mini-batches of up
// to 32 images of 1×28×28 (NCHW: the loader's 784 gray levels per digit, row
// by row, are that layout's bytes).
//
//   x [N,1,28,28] → conv 5×5×6 → ReLU → pool 2 → [N,6,12,12]
//                 → conv 5×5×16 → ReLU → pool 2 → [N,16,4,4] → flatten [N,256]
//                 → 120 ReLU → 10 logits
import type { ModelBuilder } from "../../compiler/frontend/dsl.ts";

export default (m: ModelBuilder) => {
  m.batch(32);
  const x = m.input("x", ["batch", 1, 28, 28], { range: [0, 1] });
  const y = m.input("y", ["batch", 10], { range: [0, 1] });
  const W1 = m.param("W1", [6, 1, 5, 5], { init: "he" });
  const b1 = m.param("b1", [6], { init: "zeros" });
  const W2 = m.param("W2", [16, 6, 5, 5], { init: "he" });
  const b2 = m.param("b2", [16], { init: "zeros" });
  const W3 = m.param("W3", [256, 120], { init: "he" });
  const b3 = m.param("b3", [1, 120], { init: "zeros" });
  const W4 = m.param("W4", [120, 10], { init: "xavier" });
  const b4 = m.param("b4", [1, 10], { init: "zeros" });

  const c1 = m.maxPool2d(m.relu(m.conv2d(x, W1, { bias: b1 })), { size: 2 }).as("c1");
  const c2 = m.maxPool2d(m.relu(m.conv2d(c1, W2, { bias: b2 })), { size: 2 }).as("c2");
  const h = m.relu(m.flatten(c2).matmul(W3).add(b3)).as("h");
  const logits = h.matmul(W4).add(b4).as("logits");
  m.output("probs", m.softmax(logits));
  m.loss(m.mean(m.softmaxCrossEntropy(logits, y)));
};
