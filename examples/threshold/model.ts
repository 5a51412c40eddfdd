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
};
