// Trains the XOR network (model.ts) with full-batch gradient descent from a
// seeded random init, printing the loss as it falls and the final predictions.
//
//   npx gradc compile examples/xor/model.ts -o generated/ && npx tsx examples/xor/train.ts
import * as xor from "../../generated/xor.js";
import { createTrainer, dataset, sgd } from "../../runtime/index.ts";

// All four patterns; the spec's inputs are x [4,2] and t [4,1], so one step sees them all.
const data = dataset({ x: [[0, 0], [0, 1], [1, 0], [1, 1]], t: [0, 1, 1, 0] });

const t = createTrainer(xor, { optimizer: sgd({ lr: 1 }), seed: 1 });
const start = performance.now();
const history = t.fit(data, {
  epochs: 2000,
  onEpoch: (e) => {
    if (e.epoch === 1 || e.epoch % 200 === 0) console.log(`step ${String(e.epoch).padStart(4)}  loss ${e.loss.toFixed(5)}`);
  },
});
const ms = performance.now() - start;
console.log(`${t.steps} steps in ${ms.toFixed(1)} ms, final loss ${history.loss.at(-1)!.toFixed(5)}`);

const y = t.predict(data.x);
for (let i = 0; i < 4; i++) console.log(`  ${data.x[2 * i]} xor ${data.x[2 * i + 1]} = ${data.t[i]}   predicted ${y[i]!.toFixed(3)}`);
