/**
 * gradc's runtime: what apps import next to a generated module. It never
 * imports the compiler.
 *
 *   import * as mnist from "./generated/mnist.js";
 *   import { createTrainer, adam, loadMnist } from "gradc/runtime";
 *   const { train, test } = loadMnist({ train: 8000, test: 1500 });
 *   const t = createTrainer(mnist, { optimizer: adam({ lr: 1e-3 }), batchSize: 64, seed: 7 });
 *   t.fit(train, { epochs: 15, validation: test });
 *   t.evaluate(test); // { loss, accuracy, n }
 */
export {
  createTrainer,
  DivergedError,
  isWeight,
  weightRanges,
  type ArrayOf,
  type DataNames,
  type EarlyStopping,
  type EpochRecord,
  type Evaluation,
  type FitOptions,
  type History,
  type InputNames,
  type OutputNames,
  type Trainer,
  type TrainerOptions,
} from "./trainer.ts";
export {
  adagrad,
  adam,
  adamw,
  momentum,
  nesterov,
  rmsprop,
  sgd,
  type AdagradOptions,
  type AdamOptions,
  type AdamWOptions,
  type MomentumOptions,
  type Optimizer,
  type OptimizerKind,
  type OptimizerSpec,
  type RmspropOptions,
  type SgdOptions,
} from "./optim.ts";
export { constant, cosine, exponentialDecay, stepDecay, type LearningRate, type Schedule } from "./schedule.ts";
export {
  argmaxRows,
  dataset,
  encodeLabels,
  loadCsv,
  loadIris,
  loadJson,
  loadMnist,
  oneHot,
  parseCsv,
  parseCsvRows,
  parseJson,
  splitDataset,
  standardize,
  take,
  type ColumnSpec,
  type CsvOptions,
  type Dataset,
  type IrisData,
  type JsonOptions,
  type Loaded,
  type MnistData,
} from "./data.ts";
export {
  decodeCheckpoint,
  encodeCheckpoint,
  fnv1a,
  readCheckpoint,
  writeCheckpoint,
  writeFileAtomic,
  type CheckpointData,
  type CheckpointFile,
} from "./checkpoint.ts";
export { progressBar, progressVisible, type Progress } from "./progress.ts";
export { Rng, rng, deriveSeed } from "./rng.ts";
export { initParams, initTensor, fans } from "./init.ts";
export { numericGrad, compareGrads, checkModule, type CompareOptions, type GradComparison } from "./gradcheck.ts";
export { ownBuffers, RuntimeError, type ArrayCtor, type Buf, type Init, type Layout, type Module, type RuntimeErrorCode, type Slot } from "./types.ts";
