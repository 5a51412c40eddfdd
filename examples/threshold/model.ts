// Logic gates from threshold units, step(x·w + b) with hand-set weights
// (McCulloch–Pitts): AND, OR and NOT are one unit each; XOR is not linearly
// separable, so it takes two layers: AND(OR(x1, x2), NAND(x1, x2)).
// Forward only (no loss): x holds all four input patterns, one per row.
import type { ModelBuilder } from "../../compiler/frontend/dsl.ts";

export default (m: ModelBuilder) => {
  const x = m.input("x", [4, 2], { range: [0, 1] });

  // One unit each: fires when x·w + b > 0.
  const wAnd = m.param("w_and", [2, 1], { init: { value: [1, 1] } });
  const bAnd = m.param("b_and", [1, 1], { init: { value: [-1.5] } });
  const wOr = m.param("w_or", [2, 1], { init: { value: [1, 1] } });
  const bOr = m.param("b_or", [1, 1], { init: { value: [-0.5] } });
  const wNot = m.param("w_not", [2, 1], { init: { value: [-1, 0] } }); // reads x1 only
  const bNot = m.param("b_not", [1, 1], { init: { value: [0.5] } });
  m.output("and", m.step(x.matmul(wAnd).add(bAnd)));
  m.output("or", m.step(x.matmul(wOr).add(bOr)));
  m.output("not_x1", m.step(x.matmul(wNot).add(bNot)));

  // XOR: hidden units OR (column 0) and NAND (column 1), then AND of the two.
  const W1 = m.param("W1", [2, 2], { init: { value: [1, -1, 1, -1] } }); // row-major: [[1, -1], [1, -1]]
  const b1 = m.param("b1", [1, 2], { init: { value: [-0.5, 1.5] } });
  const W2 = m.param("W2", [2, 1], { init: { value: [1, 1] } });
  const b2 = m.param("b2", [1, 1], { init: { value: [-1.5] } });
  const hidden = m.step(x.matmul(W1).add(b1)).as("or_nand");
  m.output("xor", m.step(hidden.matmul(W2).add(b2)));

  // XNOR with the lecture's weights (lecture 004, "Representing Boolean Functions"):
  // NOT (x1 XOR x2) = (x1 AND x2) OR ((NOT x1) AND (NOT x2)); AND is −30 + 20 x1 + 20 x2,
  // (NOT x1) AND (NOT x2) is 10 − 20 x1 − 20 x2, and OR of the two is −10 + 20 a + 20 b.
  // No pre-activation is ever 0, so the step's value at 0 does not matter here.
  const Wh = m.param("W_xnor1", [2, 2], { init: { value: [20, -20, 20, -20] } }); // columns: AND, NOR
  const bh = m.param("b_xnor1", [1, 2], { init: { value: [-30, 10] } });
  const Wo = m.param("W_xnor2", [2, 1], { init: { value: [20, 20] } }); // OR
  const bo = m.param("b_xnor2", [1, 1], { init: { value: [-10] } });
  const andNor = m.step(x.matmul(Wh).add(bh)).as("and_nor");
  m.output("xnor", m.step(andNor.matmul(Wo).add(bo)));
};
