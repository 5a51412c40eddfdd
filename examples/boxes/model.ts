// The lectures' flow-graph "boxes" (Larochelle): modules with their own fprop and bprop. XOR with a 2-2-1
// network whose hidden layer is a box with a derivative rule written here (m.custom: the lecture's
// bprop, σ' = σ(1 − σ) on the box's own output), and whose output layer uses a function defined from
// builder ops and differentiated automatically (m.define). `npx gradc check examples/boxes/model.ts`
// compares the written rule with central differences of the box's forward.
import type { ModelBuilder } from "../../compiler/frontend/dsl.ts";

export default (m: ModelBuilder) => {
  // fprop: σ(a) = 1 / (1 + e^−a); bprop: ∂L/∂a = ∂L/∂σ · σ (1 − σ), with the forward σ reused
  const sigmoidBox = m.custom("sigmoidBox", {
    forward: (a) => m.div(1, m.add(1, m.exp(m.neg(a)))),
    vjp: (g, _inputs, s) => [m.mul(g, m.mul(s, m.sub(1, s)))],
  });
  // an affine layer as a function: x W + b (differentiated automatically)
  const affine = m.define("affine", (x, W, b) => x.matmul(W).add(b));

  const x = m.input("x", [4, 2], { range: [0, 1] });
  const t = m.input("t", [4, 1], { range: [0, 1] });
  const W1 = m.param("W1", [2, 2], { init: "xavier" });
  const b1 = m.param("b1", [1, 2], { init: "zeros" });
  const W2 = m.param("W2", [2, 1], { init: "xavier" });
  const b2 = m.param("b2", [1, 1], { init: "zeros" });

  const h = sigmoidBox(affine(x, W1, b1)).as("h");
  const z = affine(h, W2, b2).as("z");
  m.output("y", m.sigmoid(z));
  m.loss(m.mean(m.bceWithLogits(z, t)));
};
