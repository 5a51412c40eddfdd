// Trains the boxes network (model.ts: a hidden layer that is an m.custom box with its own bprop, and an
// m.define affine layer) on XOR, full batch, until the gradient norm is below 1e-3 (fit's `until`), and
// prints the predictions. The box's rule is the one the
// generated backward runs; `npx gradc check examples/boxes/model.ts` verified it first.
//
//   npx gradc compile examples/boxes/model.ts -o generated/ && npx tsx examples/boxes/train.ts
import * as boxes from "../../generated/boxes.js";
import { createTrainer, dataset, sgd } from "../../runtime/index.ts";

const data = dataset({ x: [[0, 0], [0, 1], [1, 0], [1, 1]], t: [0, 1, 1, 0] });
const t = createTrainer(boxes, { optimizer: sgd({ lr: 1 }), seed: 1 });
const start = performance.now();
// "until converged": stop once the full-batch gradient norm is below 1e-3 (at most 20,000 steps)
const history = t.fit(data, { epochs: 20000, until: { gradNorm: 1e-3 } });
const ms = performance.now() - start;
const last = history.epochs.at(-1)!;
console.log(`stopped: ${history.stopped} after ${t.steps} steps in ${ms.toFixed(1)} ms, loss ${last.loss.toFixed(5)}, |∇L| ${last.gradNorm!.toExponential(2)}`);
const y = t.predict(data.x);
for (let i = 0; i < 4; i++) console.log(`  ${data.x[2 * i]} xor ${data.x[2 * i + 1]} = ${data.t[i]}   predicted ${y[i]!.toFixed(3)}`);
