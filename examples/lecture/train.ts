// Trains the lecture's 2-2-1 network (model.ts) the way the lecture does:
// online SGD, one pattern per step (the spec's batch is x [1,2]), patterns in
// a fresh random order every epoch. The task is XOR as regression: a linear
// output fitted by squared error.
//
//   npx gradc compile examples/lecture/model.ts -o generated/ && npx tsx examples/lecture/train.ts
import * as lecture from "../../generated/lecture.js";
import { predict, train } from "../../runtime/index.ts";

const data = {
  x: [0, 0, 0, 1, 1, 0, 1, 1],
  t: [0, 1, 1, 0],
};

const start = performance.now();
const result = train(lecture, {
  data,
  lr: 0.3,
  epochs: 500,
  seed: 0,
  onEpoch: (epoch, loss) => {
    if (epoch === 1 || epoch % 50 === 0) console.log(`epoch ${String(epoch).padStart(4)}  mean loss ${loss.toExponential(3)}`);
  },
});
const ms = performance.now() - start;
console.log(`${result.steps} steps (${result.epochs} epochs of 4 patterns) in ${ms.toFixed(1)} ms`);

const { y } = predict(lecture, result.params, { x: data.x });
for (let i = 0; i < 4; i++) console.log(`  x = (${data.x[2 * i]}, ${data.x[2 * i + 1]})  target ${data.t[i]}   y = ${y![i]!.toFixed(4)}`);
