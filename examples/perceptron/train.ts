// Runs the online perceptron (model.ts) through the trainer: plain SGD, lr 1, one
// example per step, on a linearly separable set, until an epoch makes no mistake.
// The perceptron convergence theorem bounds the number of mistakes by (R/γ)².
//
//   npx gradc compile examples/perceptron/model.ts -o generated/ && npx tsx examples/perceptron/train.ts
import * as perceptron from "../../generated/perceptron.js";
import { createTrainer, dataset, Rng, sgd } from "../../runtime/index.ts";

// 200 points in [-1, 1]², labelled by the line x1 + 2 x2 = 0.3, with a margin of 0.05 kept clear.
const rng = new Rng(4);
const x: number[][] = [];
const y: number[] = [];
while (x.length < 200) {
  const p = [rng.uniform(-1, 1), rng.uniform(-1, 1)];
  const s = (p[0]! + 2 * p[1]! - 0.3) / Math.sqrt(5);
  if (Math.abs(s) < 0.05) continue;
  x.push(p);
  y.push(s > 0 ? 1 : -1);
}
const data = dataset({ x, y });

const t = createTrainer(perceptron, { optimizer: sgd({ lr: 1 }), seed: 0 });
const mistakes = () => {
  const score = t.predict(data.x);
  return y.filter((label, i) => label * score[i]! <= 0).length;
};
for (let epoch = 1; epoch <= 100; epoch++) {
  t.fit(data, { epochs: 1 });
  const wrong = mistakes();
  console.log(`epoch ${String(epoch).padStart(3)}  ${wrong} of ${y.length} misclassified`);
  if (wrong === 0) break;
}
const [w1, w2, b] = [...t.params];
console.log(`θ = (${w1}, ${w2}), b = ${b}: the boundary ${w1!.toFixed(2)} x1 + ${w2!.toFixed(2)} x2 + ${b!.toFixed(2)} = 0`);
