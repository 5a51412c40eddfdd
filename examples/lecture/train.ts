// Trains the lecture's 2-2-1 network (model.ts) the way the lecture does:
// online SGD, one pattern per step (the spec's batch is x [1,2]), patterns in
// a fresh random order every epoch. The task is XOR as regression: a linear
// output fitted by squared error.
//
//   npx gradc compile examples/lecture/model.ts -o generated/ && npx tsx examples/lecture/train.ts
import * as lecture from "../../generated/lecture.js";
import { createTrainer, dataset, sgd } from "../../runtime/index.ts";

const data = dataset({ x: [[0, 0], [0, 1], [1, 0], [1, 1]], t: [0, 1, 1, 0] });

// Compiled without m.batch, the model takes exactly its one row per step: 4 steps per epoch.
const t = createTrainer(lecture, { optimizer: sgd({ lr: 0.3 }), seed: 0 });
const start = performance.now();
const history = t.fit(data, {
  epochs: 500,
  onEpoch: (e) => {
    if (e.epoch === 1 || e.epoch % 50 === 0) console.log(`epoch ${String(e.epoch).padStart(4)}  mean loss ${e.loss.toExponential(3)}`);
  },
});
const ms = performance.now() - start;
console.log(`${t.steps} steps (${history.epochs.length} epochs of 4 patterns) in ${ms.toFixed(1)} ms`);

const y = t.predict(data.x);
for (let i = 0; i < 4; i++) console.log(`  x = (${data.x[2 * i]}, ${data.x[2 * i + 1]})  target ${data.t[i]}   y = ${y[i]!.toFixed(4)}`);
