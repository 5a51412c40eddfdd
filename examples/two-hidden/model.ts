// The two-hidden-layer binary classifier of lecture 004 ("Example 2 Hidden Layers",
// "Binary Classification Example"): one example x of dimension d = 3,
//   a[1] = σ(z[1]), z[1] = W[1] x + b[1]      (4 units)
//   a[2] = σ(z[2]), z[2] = W[2] a[1] + b[2]   (3 units)
//   ŷ = a[3] = σ(z[3]), z[3] = W[3] a[2] + b[3]
// and the binary cross-entropy L = −(y log ŷ + (1 − y) log(1 − ŷ)), computed from the
// logit z[3] (stable). The lecture's δ[3] = a[3] − y, δ[2] = W[3]ᵀ δ[3] ⊙ σ'(z[2]), …;
// test/examples/two-hidden.test.ts checks the generated gradient against those formulas.
// gradc's tensors are rows: z = x·W + b, so W here is the lecture's W transposed.
import type { ModelBuilder } from "../../compiler/frontend/dsl.ts";

export default (m: ModelBuilder) => {
  const x = m.input("x", [1, 3]);
  const y = m.input("y", [1, 1], { range: [0, 1] });
  const W1 = m.param("W1", [3, 4], { init: "xavier" });
  const b1 = m.param("b1", [1, 4], { init: "zeros" });
  const W2 = m.param("W2", [4, 3], { init: "xavier" });
  const b2 = m.param("b2", [1, 3], { init: "zeros" });
  const W3 = m.param("W3", [3, 1], { init: "xavier" });
  const b3 = m.param("b3", [1, 1], { init: "zeros" });

  const a1 = m.sigmoid(x.matmul(W1).add(b1).as("z1")).as("a1");
  const a2 = m.sigmoid(a1.matmul(W2).add(b2).as("z2")).as("a2");
  const z3 = a2.matmul(W3).add(b3).as("z3");
  m.output("yhat", m.sigmoid(z3)); // a[3] = ŷ
  m.loss(m.sum(m.bceWithLogits(z3, y)));
};
