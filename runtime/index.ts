/**
 * gradc's runtime: what apps import next to a generated module. It never
 * imports the compiler, and it runs anywhere — no `node:` import, no
 * `process` or `Buffer`: file loading, file checkpoints and the terminal
 * progress bar are in the Node entry, runtime/node.ts (`gradc/runtime/node`,
 * which re-exports all of this; in Node `gradc/runtime` resolves to it).
 *
 *   import * as mnist from "./generated/mnist.js";
 *   import { createTrainer, adam, loadMnist } from "gradc/runtime/node";
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
  type BatchRecord,
  type DataNames,
  type EarlyStopping,
  type EpochRecord,
  type Evaluation,
  type FitAsyncOptions,
  type Metric,
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
  irisFrom,
  mnistFrom,
  mnistFromIdx,
  oneHot,
  parseCsv,
  parseCsvRows,
  parseJson,
  splitDataset,
  shiftImages,
  standardize,
  take,
  type ColumnSpec,
  type CsvOptions,
  type Dataset,
  type IrisData,
  type IrisOptions,
  type JsonOptions,
  type Loaded,
  type MnistData,
  type MnistDigits,
  type MnistFiles,
  type MnistOptions,
  type MnistStandardOptions,
  type ShiftOptions,
} from "./data.ts";
export { decodeCheckpoint, encodeCheckpoint, fnv1a, fromBase64, structureHash, toBase64, type CheckpointData, type CheckpointFile } from "./checkpoint.ts";
export { browserPlatform, type Platform } from "./platform.ts";
// Training threads (createTrainer({ threads })): a thread's script calls serveThread(model).
export { serveThread, type ThreadInit } from "./worker.ts";
export type { Progress } from "./progress.ts";
// Training plots (SVG text and a terminal chart; browser-safe). The PNG rasterizer, svgToPng, is Node-only: runtime/png.ts.
export { asciiPlot, historyPlot, type PlotHistory, type PlotOptions } from "./plot.ts";
export { Rng, rng, deriveSeed } from "./rng.ts";
export { initParams, initTensor, fans } from "./init.ts";
export { numericGrad, compareGrads, checkModule, type CompareOptions, type GradComparison } from "./gradcheck.ts";
export { ownBuffers, RuntimeError, type ArrayCtor, type Buf, type Init, type Layout, type Module, type RuntimeErrorCode, type Slot } from "./types.ts";
