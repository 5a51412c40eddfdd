// Trains the iris classifier (model.ts) and tests it on 30 flowers held out
// (10 per species, a seeded stratified split; features standardized with the
// training flowers' mean and std). Of the 120 training flowers, 20 more are
// set aside for validation: early stopping watches their loss and restores
// the best epoch's weights, so the test flowers are seen once, at the end.
// Adam, mini-batches of 16.
//
//   npx gradc compile examples/iris/model.ts -o generated/ && npx tsx examples/iris/train.ts
import * as iris from "../../generated/iris.js";
import { adam, argmaxRows, createTrainer, loadIris, splitDataset } from "../../runtime/node.ts";

const { train: all, test, classes, nTrain, nTest } = loadIris({ test: 30, seed: 1 });
const { train, validation } = splitDataset(all, nTrain, { validation: 20, seed: 1, stratify: "y" });
const t = createTrainer(iris, { optimizer: adam({ lr: 0.01 }), batchSize: 16, seed: 1, l2: 1e-4 });

const start = performance.now();
const history = t.fit(train, {
  epochs: 200,
  validation,
  earlyStopping: { patience: 20 },
  onEpoch: (e) => {
    if (e.epoch === 1 || e.epoch % 20 === 0)
      console.log(
        `epoch ${String(e.epoch).padStart(3)}  loss ${e.loss.toFixed(4)}  acc ${(100 * e.accuracy).toFixed(1)}%` +
          `  | validation loss ${e.valLoss!.toFixed(4)}  acc ${(100 * e.valAccuracy!).toFixed(1)}%`,
      );
  },
});
const ms = performance.now() - start;
const final = t.evaluate(test);
console.log(
  `${history.epochs.length} epochs (${history.stopped}${history.bestEpoch ? `, best epoch ${history.bestEpoch}` : ""}) in ${ms.toFixed(0)} ms; ` +
    `${nTrain - 20} train / 20 validation / ${nTest} test flowers`,
);
console.log(`test: loss ${final.loss.toFixed(4)}, accuracy ${(100 * final.accuracy).toFixed(1)}% (${Math.round(final.accuracy * nTest)}/${nTest})`);

// The confusion matrix on the test flowers: rows are the true species.
const predicted = argmaxRows(t.predict(test.x), 3);
const truth = argmaxRows(test.y, 3);
const confusion = classes.map(() => classes.map(() => 0));
for (let i = 0; i < nTest; i++) confusion[truth[i]!]![predicted[i]!]!++;
console.log(`\n${"".padEnd(12)}${classes.map((c) => c.padStart(12)).join("")}`);
classes.forEach((c, i) => console.log(`${c.padEnd(12)}${confusion[i]!.map((v) => String(v).padStart(12)).join("")}`));
