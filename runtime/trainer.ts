/**
 * The trainer: what an app calls to fit a generated module to data.
 *
 *   import * as mnist from "./generated/mnist.js";
 *   import { createTrainer, adam, loadMnist } from "gradc/runtime/node"; // in a browser: gradc/runtime, without loadMnist
 *   const { train, test } = loadMnist({ train: 8000, test: 1500 });
 *   const t = createTrainer(mnist, { optimizer: adam({ lr: 1e-3 }), batchSize: 64, seed: 7 });
 *   const history = t.fit(train, { epochs: 15, validation: test, earlyStopping: { patience: 3 } });
 *   t.evaluate(test);             // { loss, accuracy, metric, n }
 *   t.predict(test.x);            // Float32Array: the first output, N rows
 *   t.save("mnist.weights.json"); // weights + optimizer state + position, checksummed, atomic
 *
 * Batches. A module compiled with `m.batch(B)` takes up to B rows per call;
 * `batchSize` (default B) may be anything from 1 (stochastic) to B, and an
 * epoch visits every example once, in a fresh seeded shuffle, in
 * ceil(N / batchSize) steps; the last step takes the n < batchSize rows left
 * (forward/backward get n; the padding rows are zero-filled). A module
 * compiled without `m.batch` has a fixed row count R (XOR's x [4,2]: R = 4):
 * every step takes exactly R rows, so batchSize must be R and N a multiple
 * of R (N = R is full-batch gradient descent; R = 1 is online learning).
 * A full batch (N = batchSize) is fed in data order, unshuffled. The
 * lectures' conventions are options: `dropLast` makes an epoch ⌊N / batchSize⌋
 * full batches (Saremi), `replacement` draws every step's rows uniformly with
 * replacement (L14's "randomly sample a batch").
 *
 * Stopping. `fit` runs `epochs` epochs unless early stopping, a callback or
 * `until` stops it first: `until: { gradNorm }` stops once the gradient of the
 * mean training loss over all N examples has at most that norm (an extra
 * forward/backward pass per epoch), `until: { lossChange }` once the epoch's
 * loss moves by at most that much (`relative` for a fraction), `patience`
 * epochs in a row.
 *
 * Weights and biases. A parameter is a *weight* when it has rank >= 2 and
 * more than one row per output (size / last axis > 1) — in gradc's x · W
 * convention, [784, 128] and [3, 1] are weights, while [1, 128], [128] and
 * scalars are biases or scales (the same line runtime/init.ts draws for
 * fan-in). `l2` (coupled L2: the gradient gains λ w, i.e. the loss gains
 * λ/2 ‖w‖²) and AdamW's decay apply to weights only; `l2Params` names them
 * explicitly instead.
 *
 * Dropout. `inputDropout: p` zeroes each input value of the features (every
 * data input but the target) with probability p during `fit`, scaling the
 * rest by 1 / (1 - p) (inverted dropout: nothing to rescale at inference);
 * evaluation and prediction see the inputs unchanged (`dropoutScaling: "test"`:
 * kept values unscaled while training, everything scaled by 1 - p in evaluation
 * and prediction — L14's convention; the same holds for masks). Hidden-layer dropout
 * needs the mask inside the graph: an input whose name starts with
 * `dropout_` (or whose layout slot carries `dropout: p`) is a mask the model
 * multiplies a layer by; the trainer fills it every step with a fresh
 * inverted-dropout mask (entries 0 or 1 / (1 - p)) and with ones in
 * `evaluate`/`predict`, and the data sets never hold it.
 *
 * Determinism. Initialization is seeded per parameter (init.ts), the order of
 * epoch e by (seed, e) and its dropout masks by (seed, e) too, so the same
 * seed gives bit-identical weights run to run, and a run saved after epoch k
 * and resumed continues exactly as if never stopped.
 *
 * Divergence guard. A non-finite loss or gradient, or a loss that has grown
 * more than a million-fold (past 10^6 × max(|first loss|, 1), the first loss
 * being that of the first step since the trainer was made, reset or loaded,
 * or of the current fit call), stops training with a `DivergedError` (code
 * E_DIVERGED) that names the step, epoch, batch and the parameter (the first
 * non-finite gradient element, or for a bad loss the largest parameter). The
 * guard runs before the update — the loss right after forward, the gradient
 * inside the optimizer's update, which checks every element before it changes
 * anything — so no update is made: the parameters are those the failing step
 * started from (for a bad gradient they are finite with a finite loss, and
 * backward can be rerun on them to debug). The optimizer state is untouched.
 *
 * Zero allocation per step. Every buffer — parameters, gradients, inputs,
 * arena, optimizer state, the shuffle order — exists
 * before the first step (parameters, gradients, inputs and arena come from
 * the module's `buffers()` when it has one: wasm kernels work on their own
 * memory, and a float32 module with wasm kernels also holds the optimizer's
 * state and runs its update, L2 and check as SIMD kernels there: runtime/optim.ts).
 * A step (pack a batch, forward, backward, L2, the finiteness check,
 * the optimizer update) creates no objects, arrays or closures, and no heap
 * numbers: nothing on the step's path returns a double from a call that V8
 * might not inline (the loss and the learning rate travel through
 * Float64Array slots). Per epoch a few small objects are made (its record).
 */
import { encodeCheckpoint, decodeCheckpoint, type CheckpointData } from "./checkpoint.ts";
import type { Dataset } from "./data.ts";
import { initParams } from "./init.ts";
import { type Optimizer, type OptimizerSpec, sgd, wasmUpdate } from "./optim.ts";
import { browserPlatform, type Platform } from "./platform.ts";
import { fmtAcc, fmtLoss } from "./progress.ts";
import { deriveSeed, Rng } from "./rng.ts";
import { Reducer } from "./reduce.ts";
import { sharedMemoryAvailable, ThreadPool } from "./threads.ts";
import { OP, type SplitPart } from "./worker.ts";
import { type ArrayCtor, type Buf, type Init, type Layout, type Module, nearest, ownBuffers, RuntimeError } from "./types.ts";

// ---- types --------------------------------------------------------------------------

type SlotName<S> = S extends { readonly name: infer N extends string } ? N : never;
/** The input names of a module (literal when its layout is `as const`, as generated files declare it). */
export type InputNames<M> = M extends { readonly layout: { readonly inputs: readonly (infer S)[] } } ? SlotName<S> : string;
/** The inputs a data set must hold: every input but the dropout masks the trainer fills. */
export type DataNames<M> = Exclude<InputNames<M>, `dropout_${string}`>;
/** The output names of a module. */
export type OutputNames<M> = M extends { readonly layout: { readonly outputs: readonly (infer S)[] } } ? SlotName<S> : string;
/** The array type a module computes in: Float64Array for an f64 build, else Float32Array. */
export type ArrayOf<M> = M extends Module<Float32Array> ? Float32Array : M extends Module<Float64Array> ? Float64Array : Float32Array;

export interface TrainerOptions<A extends Buf = Float32Array> {
  /** Default `sgd({ lr: 0.01 })`. */
  readonly optimizer?: OptimizerSpec;
  /** Rows per step: 1 (stochastic) to the compiled batch B. Default B (R without m.batch). */
  readonly batchSize?: number;
  /** Seeds initialization, shuffling and dropout masks. Default 0. */
  readonly seed?: number;
  /** Coupled L2 penalty λ: adds λ w to the gradient of every weight (see the file comment). Default 0. */
  readonly l2?: number;
  /** The parameters that count as weights for `l2` and AdamW's decay, instead of the rank rule. */
  readonly l2Params?: readonly string[];
  /** Drop rate for the features during fit: one rate for every data input but the target, or rates by input name. */
  readonly inputDropout?: number | Readonly<Record<string, number>>;
  /** Drop rates of `dropout_*` mask inputs (default: the rate in the layout, from `m.dropout(x, p)`): one for all, or by mask name. */
  readonly dropout?: number | Readonly<Record<string, number>>;
  /** Initialize every parameter this way instead of by the spec's inits (e.g. "zeros" to see symmetry fail). */
  readonly init?: Init;
  /** Start from these parameters (copied) instead of a seeded initialization. */
  readonly params?: ArrayLike<number>;
  /** The output that accuracy and `predict` read. Default: the first output. */
  readonly outputName?: string;
  /** The input holding the targets. Default: the last data input (when there are two or more). */
  readonly targetName?: string;
  /** Accuracy of a one-column output: (output > threshold) == (target > 0.5). Default 0.5 (a probability). */
  readonly threshold?: number;
  /** Shuffle the examples every epoch. Default true. */
  readonly shuffle?: boolean;
  /**
   * Epochs of ⌊N / batchSize⌋ full batches (Saremi's count): the last, partial batch is left out (a fresh shuffle
   * each epoch leaves out different examples). Default false: ⌈N / batchSize⌉ steps, the last one partial.
   */
  readonly dropLast?: boolean;
  /**
   * Sampling with replacement (L14's "randomly sample a batch"): every step's rows are drawn uniformly from all
   * N examples, independently, so a batch may repeat an example and an epoch (the same number of steps) need not
   * visit every one. Seeded by (seed, epoch) like the shuffle. Default false (each epoch a permutation).
   */
  readonly replacement?: boolean;
  /**
   * How dropout keeps expectations (input dropout and `m.dropout` masks): "inverted" (default) scales kept units by
   * 1 / (1 − p) while training and leaves evaluation alone; "test" (L14's convention) keeps units unscaled while
   * training and scales them by the keep probability 1 − p in evaluate and predict.
   */
  readonly dropoutScaling?: "inverted" | "test";
  /** The module's array type. Default: that of the module's `buffers()`, else Float32Array. */
  readonly Array?: ArrayCtor<A>;
  /**
   * Where `save`/`load` keep checkpoints and how `fit` shows progress (runtime/platform.ts).
   * Default: files and a terminal bar when the trainer comes from `gradc/runtime/node` (and from
   * `gradc/runtime` in Node), else the browser's (localStorage, no bar).
   */
  readonly platform?: Platform;
  /**
   * Data-parallel training (runtime/threads.ts): each step's rows are cut into `threads` chunks of at most the
   * compiled batch B (so batchSize may reach threads × B), computed on that many threads, and the losses and
   * gradients combined in a fixed order into one update. The same seed gives bit-identical weights run to run
   * for a given thread count; against threads: 1 they differ by float32 rounding of the sums' order. Needs a
   * model whose loss is a batch mean or sum (the layout's `split`), and shared memory: where there is none (a page
   * without cross-origin isolation) the chunks run one after another on this thread, with the same results, and
   * `trainer.threads` is 1. Dropout masks and input dropout are drawn for the whole batch as one thread draws them
   * (for batchSize <= B the very masks of threads: 1; runtime/README.md#threads). Default 1, not the core count: threads change the batch (and the sums'
   * order), so a default taken from the machine would train the same seed to different weights on different
   * machines (runtime/README.md#threads has the measurements).
   */
  readonly threads?: number;
  /** In a browser with `threads`: the module script each training thread runs; it calls `serveThread(model)` (runtime/worker.ts). */
  readonly threadScript?: string | URL;
}

export interface EarlyStopping {
  /** Epochs without improvement before stopping. */
  readonly patience: number;
  /** What must improve: "loss" (lower, default) or "accuracy" (higher) — on `validation` when given, else on the training set. */
  readonly monitor?: "loss" | "accuracy";
  /** The smallest change that counts as an improvement. Default 0. */
  readonly minDelta?: number;
  /** End fit with the best epoch's weights (the optimizer state stays as it is). Default true. */
  readonly restoreBest?: boolean;
}

/**
 * fit's stopping tolerances (L14's "do until stopping criterion"), checked after every epoch; either one met
 * `patience` epochs in a row stops training.
 */
export interface Convergence {
  /**
   * ‖∇L(θ)‖₂ ≤ gradNorm, the gradient of the training loss over all N examples at the epoch's final weights
   * (dropout off; the trainer's `l2` term included), combined from batches as the layout's `split` says (a batch
   * mean: weights nᵢ/N; a batch sum: 1); a loss that is neither is refused when N exceeds one batch. It costs one forward and backward pass over the training set
   * per epoch (per `every` epochs), with no update; the value is in `EpochRecord.gradNorm`, and `grads` then holds that gradient.
   */
  readonly gradNorm?: number;
  /**
   * Measure gradNorm only every `every` epochs of this call (epochs every, 2·every, …), to spend one extra pass per
   * `every` epochs instead of one per epoch. Default 1. `patience` counts the epochs on which a tolerance was measured.
   */
  readonly every?: number;
  /** |L_e − L_(e−1)| ≤ lossChange, the change of the epoch's mean training loss from the previous epoch of this call. */
  readonly lossChange?: number;
  /** lossChange relative to |L_(e−1)|. Default false (absolute). */
  readonly relative?: boolean;
  /** Epochs in a row a tolerance must hold. Default 1. */
  readonly patience?: number;
}

export interface FitOptions<K extends string = string> {
  /** Epochs to run in this call (the trainer's epoch count carries on across calls). */
  readonly epochs: number;
  /** Evaluated after every epoch. */
  readonly validation?: Dataset<K, Buf>;
  readonly earlyStopping?: EarlyStopping;
  /** Called after every epoch; return false to stop. */
  readonly onEpoch?: (e: EpochRecord) => void | boolean;
  /** Draw the progress bar (only on a terminal, never under CI). Default true. */
  readonly progress?: boolean;
  /** "Until converged": stop before `epochs` when a tolerance is met (see `Convergence`); History.stopped is then "converged". */
  readonly until?: Convergence;
  /**
   * Rows per step for each epoch, instead of the trainer's `batchSize`: called before epoch `epoch` (1-based,
   * across calls) with the previous epoch's record, it returns 1 to the compiled batch B. Growing the batch as
   * the loss flattens is an alternative to decaying the rate (Smith et al. 2018, "Don't decay the learning rate,
   * increase the batch size"); a compiled model takes any n <= B rows, so nothing is recompiled.
   */
  readonly batchSchedule?: (epoch: number, previous: EpochRecord | undefined) => number;
}

/** fitAsync's options: fit's, with per-batch and per-epoch callbacks and a signal to stop. */
export interface FitAsyncOptions<K extends string = string> extends Omit<FitOptions<K>, "onEpoch" | "progress"> {
  /** Called after every batch (after its update); return false to stop there. */
  readonly onBatchEnd?: (b: BatchRecord) => void | boolean;
  /** Called after every epoch (after validation and early stopping's check); return false to stop. */
  readonly onEpochEnd?: (e: EpochRecord) => void | boolean;
  /** Aborting stops training before the next batch; fitAsync then resolves with `stopped: "aborted"`. */
  readonly signal?: AbortSignal;
}

/** The internal options of the shared epoch loop (fit's and fitAsync's). */
interface RunOptions extends FitOptions {
  readonly onBatch?: ((b: BatchRecord) => void | boolean) | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface BatchRecord {
  /** 1-based, counted across fit calls and resumes (as EpochRecord's). */
  readonly epoch: number;
  /** 1-based within the epoch, of `batches`. */
  readonly batch: number;
  readonly batches: number;
  /** This batch's loss (before its update). */
  readonly loss: number;
  /** Mean training loss and accuracy over the epoch's batches so far (accuracy NaN without an output/target pair). */
  readonly epochLoss: number;
  readonly accuracy: number;
  /** Optimizer updates made so far. */
  readonly steps: number;
}

export interface EpochRecord {
  /** 1-based, counted across fit calls and resumes. */
  readonly epoch: number;
  /** Mean training loss over the epoch's examples (each step's loss before its update, weighted by its rows). */
  readonly loss: number;
  /** Training accuracy over the epoch (NaN when the model has no output/target pair to compare). */
  readonly accuracy: number;
  readonly valLoss?: number;
  readonly valAccuracy?: number;
  /** Learning rate of the epoch's last step. */
  readonly lr: number;
  /** Optimizer updates made so far. */
  readonly steps: number;
  readonly seconds: number;
  readonly examplesPerSecond: number;
  /** With `until.gradNorm`: ‖∇L‖₂ over the whole training set at the epoch's final weights. */
  readonly gradNorm?: number;
}

export interface History {
  readonly epochs: readonly EpochRecord[];
  readonly loss: readonly number[];
  readonly accuracy: readonly number[];
  /** NaN for epochs without validation. */
  readonly valLoss: readonly number[];
  readonly valAccuracy: readonly number[];
  /**
   * Why fit returned. "callback": onEpoch/onEpochEnd or onBatchEnd returned false;
   * "aborted": fitAsync's signal. A stop inside an epoch (onBatchEnd, the signal)
   * leaves that epoch out of the history and the epoch count: the weights hold its
   * updates so far (unless early stopping restores its best epoch's), and a later
   * fit runs that epoch (its shuffle) again from the start.
   */
  readonly stopped: "epochs" | "earlyStopping" | "converged" | "callback" | "aborted";
  /** With stopped "converged": the tolerance that was met. */
  readonly converged?: "gradNorm" | "lossChange";
  /** With early stopping: the epoch whose weights the trainer holds (when restoreBest) and its monitored value. */
  readonly bestEpoch?: number;
  readonly best?: number;
}

/**
 * What `accuracy` measures: "argmax" — the output's argmax matches the target's (one-hot or
 * probability rows); "threshold" — (output > threshold) == (target > 0.5), for 0/1 targets;
 * "none" — no classification to score (a regression target, or no output/target pair): accuracy is NaN.
 */
export type Metric = "argmax" | "threshold" | "none";

export interface Evaluation {
  /** Mean loss over the examples. */
  readonly loss: number;
  /** The fraction of examples classified right, as `metric` says (NaN when `metric` is "none"). */
  readonly accuracy: number;
  readonly metric: Metric;
  readonly n: number;
}

export interface Trainer<K extends string = string, O extends string = string, A extends Buf = Float32Array> {
  readonly module: Module<A>;
  readonly layout: Layout;
  /** The live parameters (layout order); updated in place by every step. */
  readonly params: A;
  /** The last step's gradient (including L2). */
  readonly grads: A;
  readonly optimizer: Optimizer<A>;
  readonly batchSize: number;
  readonly seed: number;
  /** Optimizer updates made. */
  readonly steps: number;
  /** Epochs completed (across fit calls; restored by load). */
  readonly epochs: number;
  /** The last step's loss. */
  readonly lastLoss: number;
  /** Names of the parameters treated as weights (L2, AdamW decay). */
  readonly weights: readonly string[];
  fit(train: Dataset<K, Buf>, opts: FitOptions<K>): History;
  /**
   * fit that yields to the event loop after every batch (a macrotask: a page
   * repaints and handles input while it trains), with onBatchEnd/onEpochEnd and
   * an AbortSignal. The same epochs, shuffles and updates as fit: the same seed
   * gives bit-identical weights. No progress bar (the callbacks are the progress).
   * fit or fitAsync on a trainer that is fitting is an E_ARG error; do not call
   * trainStep, load, restore or reset while it runs either.
   */
  fitAsync(train: Dataset<K, Buf>, opts: FitAsyncOptions<K>): Promise<History>;
  /**
   * One update on rows [start, start + count) of `data`, in order (count <= batchSize);
   * the loss is then `lastLoss`. (It returns nothing: a returned double can cost a
   * heap number per call, and this is the zero-allocation path.)
   */
  trainStep(data: Dataset<K, Buf>, start?: number, count?: number): void;
  evaluate(data: Dataset<K, Buf>): Evaluation;
  /** The output `output` (default `outputName`) for every example: N rows. `x` alone feeds the features input. */
  predict(x: Partial<Dataset<K, Buf>> | Float32Array | Float64Array, output?: O): A;
  /** Writes `checkpoint()` to a file (Node: atomically), or to localStorage in a browser (see `TrainerOptions.platform`). */
  save(file: string): void;
  /** Reads what `save(file)` wrote; `weightsOnly` takes the weights alone (any optimizer). */
  load(file: string, opts?: { weightsOnly?: boolean }): void;
  /** The checkpoint as JSON text (what `save` writes); `new TextEncoder().encode(...)` for bytes. */
  checkpoint(): string;
  /** Loads checkpoint JSON, as text or its UTF-8 bytes (what `load` reads). */
  restore(text: string | Uint8Array, opts?: { weightsOnly?: boolean }): void;
  /** Fresh seeded parameters and optimizer state, epoch 0. */
  reset(seed?: number): void;
  /** Threads that compute a step (`threads`; 1 when shared memory is not available here). */
  readonly threads: number;
  /** Resolves when the training threads have started (fitAsync waits for this itself; a page's fit needs it first). */
  ready(): Promise<void>;
  /** Ends the training threads (the trainer still evaluates and predicts, but trains no more). */
  close(): void;
}

/** Training stopped on a non-finite loss or gradient; see the file comment. */
export class DivergedError extends RuntimeError {
  constructor(
    message: string,
    readonly step: number,
    readonly epoch: number,
    readonly batch: number,
    readonly what: "loss" | "gradient",
    /** The parameter named in the message, and the element's index in it (row-major, per axis). */
    readonly param: string | undefined,
    readonly index: readonly number[] | undefined,
    readonly value: number,
    public history?: History,
  ) {
    super("E_DIVERGED", message);
    this.name = "DivergedError";
  }
}

// ---- weights ------------------------------------------------------------------------

/** The rank rule: rank >= 2 and more than one row per output (see the file comment). */
export function isWeight(shape: readonly number[]): boolean {
  if (shape.length < 2) return false;
  let rows = 1;
  for (let i = 0; i < shape.length - 1; i++) rows *= shape[i]!;
  return rows > 1;
}

/** The [start, end) element ranges of the weights of `layout` (by the rank rule, or exactly `names`). */
export function weightRanges(layout: Layout, names?: readonly string[]): Int32Array {
  if (names) {
    const known = new Set(layout.params.map((p) => p.name));
    for (const n of names)
      if (!known.has(n)) throw new RuntimeError("E_ARG", `l2Params names '${n}', which is not a parameter of '${layout.name}' (${[...known].join(", ")})`);
  }
  const pick = layout.params.filter((p) => (names ? names.includes(p.name) : isWeight(p.shape)));
  const out: number[] = [];
  for (const p of pick) {
    if (out.length && out[out.length - 1] === p.offset) out[out.length - 1] = p.offset + p.size;
    else out.push(p.offset, p.offset + p.size);
  }
  return Int32Array.from(out);
}

// ---- the trainer --------------------------------------------------------------------

/** A data set bound to the layout: one source per data input (undefined: feed zeros), N rows, an order. */
interface Feed {
  readonly data: object;
  readonly n: number;
  readonly cols: readonly (Buf | undefined)[];
  /**
   * Per data input, a view of each row of its column when the column has the inputs' array type (made once
   * here): packing a row is then one `set` (a memory copy) instead of a loop over its numbers.
   */
  readonly rowViews: readonly (readonly Buf[] | undefined)[];
  readonly order: Int32Array;
  /** What accuracy means on this data (its targets decide: 0/1, one-hot, or continuous). */
  readonly metric: Metric;
}

/**
 * A chunked step's dropout, drawn for the whole batch before the chunks are packed (TrainerImpl.drawBatch): per data
 * input with input dropout, its n rows with dropout applied, and per mask its values; chunk j then copies its rows
 * out, as it copies its rows of the data. Buffers of threads × B rows, made once; `*Rows` are views of their rows
 * (for rows of 16 numbers or more, so a row is one `set`), else undefined.
 */
interface BatchDrop<A extends Buf> {
  readonly data: readonly (A | undefined)[];
  readonly dataRows: readonly (readonly A[] | undefined)[];
  readonly masks: readonly A[];
  readonly maskRows: readonly (readonly A[] | undefined)[];
}

/** Row views are made for data sets up to this many rows × inputs (each view is a small object, made once). */
const MAX_ROW_VIEWS = 1 << 18;

const STAT_LOSS = 0; // the last step's loss
const STAT_SUM = 1; // Σ loss * rows over the epoch
const STAT_ROWS = 2; // rows over the epoch
const STAT_CORRECT = 3; // correct predictions over the epoch
const STAT_REF = 4; // the first loss since construction, reset, load or the start of fit (NaN: none yet), for the growth guard

/** The divergence guard's growth rule: a loss beyond GROWTH × max(|first loss|, 1) has diverged. */
const GROWTH = 1e6;

// ---- option checks: one row per option; an option not in the table is an error naming the nearest ----

type Check = readonly [ok: (v: unknown) => boolean, want: string];
const isNum = (v: unknown): v is number => typeof v === "number";
const finiteAtLeast0: Check = [(v) => isNum(v) && Number.isFinite(v) && v >= 0, "a finite number >= 0"];
const dropRate = (v: unknown) => isNum(v) && v >= 0 && v < 1;
const ratesOrRate: Check = [
  (v) => dropRate(v) || (typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every(dropRate)),
  "a drop probability in [0, 1), or such rates by input name",
];
const aName: Check = [(v) => typeof v === "string", "an input or output name (a string)"];

/** The trainer's options (TrainerOptions): how each is checked before anything else reads it. */
const TRAINER_OPTIONS: { readonly [K in keyof Required<TrainerOptions>]: Check } = {
  optimizer: [(v) => typeof v === "object" && v !== null && typeof (v as OptimizerSpec).create === "function", "an optimizer such as adam({ lr: 1e-3 })"],
  batchSize: [(v) => Number.isInteger(v) && (v as number) >= 1, "a whole number >= 1"],
  seed: [(v) => isNum(v) && Number.isFinite(v), "a finite number"],
  l2: finiteAtLeast0,
  l2Params: [(v) => Array.isArray(v) && v.every((x) => typeof x === "string"), "an array of parameter names"],
  inputDropout: ratesOrRate,
  dropout: ratesOrRate,
  init: [(v) => typeof v === "string" || (typeof v === "object" && v !== null), "an init such as \"zeros\", \"he\" or { uniform: [lo, hi] }"],
  params: [(v) => typeof v === "object" && v !== null && typeof (v as ArrayLike<number>).length === "number", "an array of numbers (layout order)"],
  outputName: aName,
  targetName: aName,
  threshold: [(v) => isNum(v) && Number.isFinite(v), "a finite number"],
  shuffle: [(v) => typeof v === "boolean", "true or false"],
  dropLast: [(v) => typeof v === "boolean", "true or false"],
  replacement: [(v) => typeof v === "boolean", "true or false"],
  dropoutScaling: [(v) => v === "inverted" || v === "test", '"inverted" (scale while training) or "test" (scale at test time)'],
  Array: [(v) => v === Float32Array || v === Float64Array, "Float32Array or Float64Array"],
  platform: [
    (v) => typeof v === "object" && v !== null && ["readText", "writeText", "progress"].every((f) => typeof (v as Record<string, unknown>)[f] === "function"),
    "a Platform: { name, readText, writeText, progress } (runtime/platform.ts; gradc/runtime/node passes the Node one)",
  ],
  threads: [(v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 256, "a whole number from 1 to 256"],
  threadScript: [(v) => typeof v === "string" || (typeof URL === "function" && v instanceof URL), "a URL (string or URL) of a script that calls serveThread(model)"],
};

/** fit's options (FitOptions), the same way. */
const FIT_OPTIONS: { readonly [K in keyof Required<FitOptions>]: Check } = {
  epochs: [(v) => Number.isInteger(v) && (v as number) >= 0, "a whole number >= 0"],
  validation: [(v) => typeof v === "object" && v !== null, "a data set (typed arrays by input name)"],
  earlyStopping: [(v) => typeof v === "object" && v !== null, "{ patience, monitor?, minDelta?, restoreBest? }"],
  onEpoch: [(v) => typeof v === "function", "a function (record) => void | boolean"],
  progress: [(v) => typeof v === "boolean", "true or false"],
  batchSchedule: [(v) => typeof v === "function", "a function (epoch, previous record) => rows per step"],
  until: [(v) => typeof v === "object" && v !== null, "{ gradNorm?, every?, lossChange?, relative?, patience? }"],
};
/** fit's `until` (Convergence). */
const UNTIL_OPTIONS: { readonly [K in keyof Required<Convergence>]: Check } = {
  gradNorm: finiteAtLeast0,
  lossChange: finiteAtLeast0,
  relative: [(v) => typeof v === "boolean", "true or false"],
  patience: [(v) => Number.isInteger(v) && (v as number) >= 1, "a whole number >= 1"],
  every: [(v) => Number.isInteger(v) && (v as number) >= 1, "a whole number >= 1"],
};
const FIT_ASYNC_OPTIONS: { readonly [K in keyof Required<FitAsyncOptions>]: Check } = {
  epochs: FIT_OPTIONS.epochs,
  validation: FIT_OPTIONS.validation,
  earlyStopping: FIT_OPTIONS.earlyStopping,
  onBatchEnd: [(v) => typeof v === "function", "a function (batch record) => void | boolean"],
  onEpochEnd: [(v) => typeof v === "function", "a function (epoch record) => void | boolean"],
  batchSchedule: FIT_OPTIONS.batchSchedule,
  until: FIT_OPTIONS.until,
  signal: [(v) => typeof v === "object" && v !== null && typeof (v as AbortSignal).aborted === "boolean", "an AbortSignal"],
};


/**
 * Cross-entropy targets as the loss reads them (layout `target`) are probabilities in [0, 1]. A value
 * outside — a class label 5 where a one-hot row belongs, a -1/+1 label for a BCE — trains to a
 * negative or meaningless loss without a word. (Softmax rows that do not sum to 1 are let through:
 * a zero row is a common way to leave an example out, and the loss stays >= 0.)
 */
function checkTargets(kind: "distribution" | "probability" | undefined, name: string, col: Buf, w: number, purpose: string): void {
  if (!kind) return;
  const what = kind === "distribution" ? "softmax cross-entropy" : "binary cross-entropy";
  for (let i = 0; i < col.length; i++) {
    const v = col[i]!;
    if (v < 0 || v > 1)
      throw new RuntimeError(
        "E_DATA",
        `${purpose}: data.${name} holds ${v} in example ${Math.floor(i / w)} (column ${i % w}), but '${name}' is the target of a ${what}: targets are probabilities in [0, 1] ` +
          `(${kind === "distribution" ? "one-hot rows: oneHot(labels, k)" : "0/1 labels: map -1/+1 to 0/1"}); other values train to a negative loss`,
      );
  }
}

/** Checks `opts` against `table`: every key known (else the nearest valid one is named), every present value of its kind. */
function checkOptions(what: string, opts: object, table: Readonly<Record<string, Check>>): void {
  if (typeof opts !== "object" || opts === null) throw new RuntimeError("E_ARG", `${what}: options must be an object, got ${String(opts)}`);
  const known = Object.keys(table);
  for (const key of Object.keys(opts)) {
    if (!Object.hasOwn(table, key)) {
      const near = nearest(key, known);
      throw new RuntimeError("E_ARG", `${what}: unknown option '${key}' — did you mean '${near}'? (options: ${known.join(", ")})`);
    }
    const v = (opts as Record<string, unknown>)[key];
    if (v === undefined) continue;
    const [ok, want] = table[key]!;
    if (!ok(v)) throw new RuntimeError("E_ARG", `${what}: ${key} must be ${want}, got ${typeof v === "function" ? "a function" : String(v)}`);
  }
}

const rate = (what: string, p: unknown): number => {
  if (typeof p !== "number" || !(p >= 0 && p < 1)) throw new RuntimeError("E_ARG", `${what} must be a drop probability in [0, 1), got ${String(p)}`);
  return p;
};

/** Rows from .. from + n of `src` (rows of w; `rows`: its row views, or undefined) into `dst` from `off`. Allocates nothing. */
function copyRows<A extends Buf>(dst: A, off: number, w: number, src: A, rows: readonly A[] | undefined, from: number, n: number): void {
  if (rows !== undefined) for (let r = 0; r < n; r++) dst.set(rows[from + r]!, off + r * w);
  else {
    const a = from * w - off;
    for (let i = off; i < off + n * w; i++) dst[i] = src[a + i]!;
  }
}

class TrainerImpl<A extends Buf> implements Trainer<string, string, A> {
  readonly layout: Layout;
  readonly params: A;
  readonly grads: A;
  readonly optimizer: Optimizer<A>;
  readonly batchSize: number;
  readonly weights: readonly string[];
  seed: number;
  epochs = 0;

  private readonly Arr: ArrayCtor<A>;
  /** Rows per forward call: the compiled batch B, or R for a module without m.batch. */
  private readonly rows: number;
  private readonly batched: boolean;
  private readonly lossAt: number;
  // data inputs (what a Dataset holds), in layout order
  private readonly dataNames: readonly string[];
  private readonly dataOff: Int32Array;
  private readonly dataWidth: Int32Array;
  private readonly dataDrop: Float64Array;
  // dropout-mask inputs
  private readonly maskNames: readonly string[];
  private readonly maskOff: Int32Array;
  private readonly maskSize: Int32Array;
  private readonly maskDrop: Float64Array;
  // accuracy: output vs target
  private readonly targetK: number;
  private readonly featureK: number;
  private readonly outName: string | undefined;
  private readonly outOff: number;
  private readonly outWidth: number;
  private readonly accuracyOk: boolean;
  private readonly threshold: number;
  // buffers
  private readonly inputs: A;
  private readonly arena: A;
  private readonly decay: Int32Array;
  private readonly l2: number;
  private readonly shuffle: boolean;
  private readonly dropLast: boolean;
  private readonly replacement: boolean;
  /** Dropout's kept-unit scale while training: 1 / (1 − p) ("inverted") or 1 ("test", scaled by 1 − p at evaluation). */
  private readonly invertedDropout: boolean;
  private readonly init: Init | undefined;
  private readonly stats = Float64Array.of(0, 0, 0, 0, NaN);
  private readonly rngShuffle = new Rng(0);
  private readonly rngDrop = new Rng(0);
  private epochInRun = 0; // for divergence messages
  private batchInEpoch = 0;
  private stepFeed: Feed | undefined;
  private fitting = false; // fit or fitAsync is running
  private readonly platform: Platform;
  // threads (runtime/threads.ts): `chunks` per step (the threads asked for), computed on `pool`'s threads, or
  // one after another here when there is no shared memory; `reduce` combines their gradients
  private readonly chunks: number;
  private readonly pool: ThreadPool<A> | undefined;
  private readonly reduce: Reducer | undefined;
  /** With threads and dropout: the whole batch's dropped inputs and masks, drawn as one thread draws them (drawBatch). */
  private readonly batchDrop: BatchDrop<A> | undefined;

  constructor(
    readonly module: Module<A>,
    opts: TrainerOptions<A>,
  ) {
    checkOptions("createTrainer", opts, TRAINER_OPTIONS);
    this.platform = opts.platform ?? browserPlatform;
    const layout = (this.layout = module.layout);
    if (!layout.hasLoss || !module.backward || layout.lossOffset === undefined)
      throw new RuntimeError("E_NO_LOSS", `model '${layout.name}' has no loss, so there is nothing to train (call m.loss(...) in the spec)`);
    this.lossAt = layout.lossOffset;
    // The module's own buffers when it has them (wasm kernels accept nothing else); their type is its precision.
    // With threads and wasm kernels, the module's buffers in a shared memory, so each thread can update its own
    // range of the parameters there (runtime/threads.ts); a module whose buffers() takes no memory keeps its own.
    const m = layout.memory;
    const splitMemory =
      (opts.threads ?? 1) > 1 && m && module.optimizerKernels && module.buffers && this.platform.spawnThread && sharedMemoryAvailable()
        ? new WebAssembly.Memory({ initial: m.pages, maximum: m.pages, shared: true })
        : undefined;
    const own = splitMemory ? (module.buffers as (shared: WebAssembly.Memory) => ReturnType<typeof ownBuffers<A>>)(splitMemory) : ownBuffers(module);
    this.Arr = opts.Array ?? (own ? (own.params.constructor as ArrayCtor<A>) : (Float32Array as unknown as ArrayCtor<A>));
    if (own && !(own.params instanceof this.Arr))
      throw new RuntimeError("E_ARG", `Array is ${this.Arr.name}, but model '${layout.name}' computes in ${own.params.constructor.name}`);
    if (layout.inputs.length === 0) throw new RuntimeError("E_ARG", `model '${layout.name}' has no inputs to feed`);

    // ---- rows and batch size
    this.batched = layout.batch !== undefined;
    const rows = layout.batch ?? layout.inputs[0]!.shape[0] ?? 1;
    this.rows = rows;
    for (const inp of layout.inputs)
      if (inp.shape.length === 0 || inp.shape[0] !== rows)
        throw new RuntimeError(
          "E_BATCH",
          this.batched
            ? `input '${inp.name}' [${inp.shape.join(",")}] has no batch axis; the trainer feeds only inputs declared ["batch", ...] (compiled batch ${rows})`
            : `input '${inp.name}' [${inp.shape.join(",")}] does not share the first axis of '${layout.inputs[0]!.name}' (${rows} rows); without m.batch(B) every input's axis 0 is the example axis, of one length`,
        );
    const chunks = (this.chunks = opts.threads ?? 1);
    const bs = opts.batchSize ?? rows * chunks;
    if (!Number.isInteger(bs) || bs < 1) throw new RuntimeError("E_BATCH", `batchSize must be a whole number >= 1, got ${bs}`);
    if (this.batched && bs > rows * chunks)
      throw new RuntimeError(
        "E_BATCH",
        chunks > 1
          ? `batchSize ${bs} is larger than threads × the batch model '${layout.name}' was compiled for (${chunks} × ${rows}); the compiled batch is one thread's`
          : `batchSize ${bs} is larger than the batch model '${layout.name}' was compiled for (${rows}); use batchSize <= ${rows}, or recompile with m.batch(${bs})`,
      );
    if (!this.batched && bs !== rows)
      throw new RuntimeError(
        "E_BATCH",
        `model '${layout.name}' was compiled without m.batch(...), so every step takes exactly its ${rows} rows; batchSize must be ${rows} (got ${bs}), or declare m.batch(B) in the spec`,
      );
    this.batchSize = bs;

    // ---- inputs: data vs dropout masks
    const isMask = (s: Layout["inputs"][number]) => s.name.startsWith("dropout_") || s.dropout !== undefined;
    const data = layout.inputs.filter((s) => !isMask(s));
    const masks = layout.inputs.filter(isMask);
    if (data.length === 0) throw new RuntimeError("E_ARG", `model '${layout.name}' has only dropout-mask inputs`);
    this.dataNames = data.map((s) => s.name);
    this.dataOff = Int32Array.from(data, (s) => s.offset);
    this.dataWidth = Int32Array.from(data, (s) => s.size / rows);
    this.maskNames = masks.map((s) => s.name);
    this.maskOff = Int32Array.from(masks, (s) => s.offset);
    this.maskSize = Int32Array.from(masks, (s) => s.size);
    this.maskDrop = Float64Array.from(masks, (s) => {
      const given = typeof opts.dropout === "number" ? opts.dropout : opts.dropout?.[s.name];
      const p = given ?? s.dropout; // the trainer's option overrides the rate the spec compiled in
      if (p === undefined)
        throw new RuntimeError("E_ARG", `input '${s.name}' is a dropout mask with no rate; pass dropout: { ${s.name}: 0.5 } (or one rate for all masks: dropout: 0.5)`);
      return rate(`dropout rate of '${s.name}'`, p);
    });
    if (opts.dropout !== undefined && typeof opts.dropout === "object")
      for (const k of Object.keys(opts.dropout))
        if (!this.maskNames.includes(k)) throw new RuntimeError("E_ARG", `dropout names '${k}', which is not a dropout_* input of '${layout.name}'`);

    // ---- target, features, output
    if (opts.targetName !== undefined && !this.dataNames.includes(opts.targetName))
      throw new RuntimeError("E_ARG", `targetName '${opts.targetName}' is not an input of '${layout.name}' (${this.dataNames.join(", ")})`);
    const targetName = opts.targetName ?? (data.length >= 2 ? this.dataNames[data.length - 1] : undefined);
    this.targetK = targetName === undefined ? -1 : this.dataNames.indexOf(targetName);
    this.featureK = this.targetK === 0 ? (data.length > 1 ? 1 : -1) : 0;
    if (opts.outputName !== undefined && !layout.outputs.some((o) => o.name === opts.outputName))
      throw new RuntimeError("E_ARG", `outputName '${opts.outputName}' is not an output of '${layout.name}' (${layout.outputs.map((o) => o.name).join(", ") || "none"})`);
    const out = opts.outputName !== undefined ? layout.outputs.find((o) => o.name === opts.outputName) : layout.outputs[0];
    this.outName = out?.name;
    this.outOff = out?.offset ?? 0;
    this.outWidth = out && out.shape[0] === rows ? out.size / rows : 0;
    this.accuracyOk = out !== undefined && this.targetK >= 0 && this.outWidth > 0 && this.outWidth === this.dataWidth[this.targetK];
    if ((opts.outputName !== undefined || opts.targetName !== undefined) && !this.accuracyOk && out && this.targetK >= 0)
      throw new RuntimeError(
        "E_ARG",
        `accuracy compares output '${out.name}' [${out.shape.join(",")}] with target '${targetName}' (${this.dataWidth[this.targetK]} per row); they need the same width per row`,
      );
    this.threshold = opts.threshold ?? 0.5;

    // ---- input dropout
    this.dataDrop = new Float64Array(data.length);
    const inDrop = opts.inputDropout;
    if (typeof inDrop === "number") {
      const p = rate("inputDropout", inDrop);
      for (let k = 0; k < data.length; k++) if (k !== this.targetK) this.dataDrop[k] = p;
    } else if (inDrop) {
      for (const [k, p] of Object.entries(inDrop)) {
        const at = this.dataNames.indexOf(k);
        if (at < 0) throw new RuntimeError("E_ARG", `inputDropout names '${k}', which is not a data input of '${layout.name}' (${this.dataNames.join(", ")})`);
        this.dataDrop[at] = rate(`inputDropout.${k}`, p);
      }
    }

    // ---- regularization
    this.l2 = opts.l2 ?? 0;
    this.decay = weightRanges(layout, opts.l2Params);
    this.weights = layout.params.filter((p) => (opts.l2Params ? opts.l2Params.includes(p.name) : isWeight(p.shape))).map((p) => p.name);
    this.shuffle = opts.shuffle ?? true;
    this.dropLast = opts.dropLast ?? false;
    this.replacement = opts.replacement ?? false;
    if (this.replacement && opts.shuffle === false)
      throw new RuntimeError("E_ARG", "createTrainer: replacement: true draws every batch at random, shuffle: false asks for data order; choose one");
    this.invertedDropout = (opts.dropoutScaling ?? "inverted") === "inverted";
    this.init = opts.init;

    // ---- buffers
    const Arr = this.Arr;
    this.params = own?.params ?? new Arr(layout.paramSize);
    this.grads = own?.grads ?? new Arr(layout.paramSize);
    this.inputs = own?.inputs ?? new Arr(layout.inputSize);
    this.arena = own?.arena ?? new Arr(layout.arenaSize);
    // A float32 module with wasm kernels updates on its own memory (bit-for-bit the JS loops, state in that memory).
    const kernels = own && this.params instanceof Float32Array ? module.optimizerKernels?.(this.params) : undefined;
    const wasm = wasmUpdate(layout, kernels, this.params.buffer);
    this.optimizer = (opts.optimizer ?? sgd({ lr: 0.01 })).create<A>(layout.paramSize, { decay: this.decay, l2: this.l2, Array: Arr, ...(wasm ? { wasm } : {}) });
    this.seed = opts.seed ?? 0;
    deriveSeed(this.seed); // validates
    if (opts.params) {
      if (opts.params.length !== layout.paramSize)
        throw new RuntimeError("E_ARG", `params has ${opts.params.length} numbers, model '${layout.name}' has ${layout.paramSize}`);
      for (let i = 0; i < layout.paramSize; i++) this.params[i] = opts.params[i]!;
    } else initParams(layout, this.params, this.seed, this.init);
    // ---- threads
    if (chunks > 1) {
      const why = !this.batched
        ? `model '${layout.name}' was compiled without m.batch(...), so its rows cannot be split`
        : layout.split === undefined
          ? `the loss of '${layout.name}' is not a batch mean or sum of per-example terms (its rows mix, e.g. a batch statistic, or the loss is not linear in its batch mean), so chunks of the batch do not combine into the batch's gradient`
          : undefined;
      if (why) throw new RuntimeError("E_THREAD", `threads: ${chunks}: ${why}. Train with threads: 1`);
      // dropout: drawn for the whole batch of up to chunks × rows rows here, then handed out by rows (drawBatch)
      const all = chunks * rows;
      const views = (buf: A, w: number) => (w < 16 ? undefined : Array.from({ length: all }, (_, r) => buf.subarray(r * w, (r + 1) * w) as A));
      const dropped = Array.from(this.dataDrop, (p, k) => (p > 0 ? new Arr(all * this.dataWidth[k]!) : undefined));
      const masksAll = Array.from(this.maskSize, (size) => new Arr(all * (size / rows)));
      this.batchDrop =
        this.maskNames.length > 0 || dropped.some((d) => d !== undefined)
          ? {
              data: dropped,
              dataRows: dropped.map((d, k) => (d ? views(d, this.dataWidth[k]!) : undefined)),
              masks: masksAll,
              maskRows: masksAll.map((d, m) => views(d, this.maskSize[m]! / rows)),
            }
          : undefined;
      const where = { ...(module.url !== undefined ? { module: module.url } : {}), ...(opts.threadScript !== undefined ? { script: opts.threadScript } : {}) };
      const spawn = this.platform.spawnThread;
      const ranged = this.optimizer.ranged;
      const split =
        splitMemory && kernels && ranged && this.optimizer.prepare && this.optimizer.advance && this.params.buffer === splitMemory.buffer
          ? { memory: splitMemory, kernels, update: ranged, mean: layout.split === "mean" }
          : undefined;
      this.pool =
        sharedMemoryAvailable() && spawn
          ? new ThreadPool<A>(layout, chunks, (init) => spawn.call(this.platform, init, where), this.params instanceof Float64Array, split)
          : undefined;
      this.reduce = new Reducer(layout.paramSize, this.params instanceof Float64Array);
    } else {
      this.pool = undefined;
      this.reduce = undefined;
      this.batchDrop = undefined;
    }
  }

  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  async ready(): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    const until = performance.now() + 60_000;
    while (!pool.isReady()) {
      if (pool.isClosed) throw new RuntimeError("E_THREAD", "this trainer's threads are closed");
      if (performance.now() > until) throw pool.close(new RuntimeError("E_THREAD", "the training threads did not start within 60 s"));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  close(): void {
    this.pool?.close();
  }

  get steps(): number {
    return this.optimizer.step;
  }
  get lastLoss(): number {
    return this.stats[STAT_LOSS]!;
  }

  reset(seed = this.seed): void {
    deriveSeed(seed);
    this.seed = seed;
    initParams(this.layout, this.params, seed, this.init);
    this.optimizer.reset();
    this.epochs = 0;
    this.stats.fill(0);
    this.stats[STAT_REF] = NaN;
  }

  // ---- data ---------------------------------------------------------------------------

  /** Checks `data` against the layout: every data input (targets optional for predict), equal row counts, finite values. */
  private bind(data: object, purpose: "train" | "evaluate" | "predict"): Feed {
    if (!data || typeof data !== "object") throw new RuntimeError("E_DATA", `${purpose}: data must be an object of typed arrays by input name`);
    const d = data as Record<string, unknown>;
    for (const k of Object.keys(d)) {
      if (this.maskNames.includes(k)) throw new RuntimeError("E_DATA", `${purpose}: data has '${k}', a dropout mask; the trainer fills it, leave it out`);
      if (!this.dataNames.includes(k))
        throw new RuntimeError("E_DATA", `${purpose}: data has '${k}', which is not an input of '${this.layout.name}' (inputs: ${this.dataNames.join(", ")})`);
    }
    // The example count the other inputs agree on, to name the width a wrong column has.
    const lengthOf = (k: number): number => {
      const raw = d[this.dataNames[k]!];
      return raw instanceof Float32Array || raw instanceof Float64Array || Array.isArray(raw) ? raw.length : -1;
    };
    const examplesBy = (skip: number): [number, string] | undefined => {
      for (let k = 0; k < this.dataNames.length; k++) {
        const len = lengthOf(k);
        const w = this.dataWidth[k]!;
        if (k !== skip && len > 0 && len % w === 0) return [len / w, this.dataNames[k]!];
      }
      return undefined;
    };
    let n = -1;
    let nFrom = "";
    const cols = this.dataNames.map((name, k) => {
      const raw = d[name];
      const w = this.dataWidth[k]!;
      if (raw === undefined) {
        if (purpose === "predict") return undefined;
        throw new RuntimeError("E_DATA", `${purpose}: data has no '${name}' (${w} numbers per example)`);
      }
      if (Array.isArray(raw) && raw.some((v) => Array.isArray(v)))
        throw new RuntimeError("E_DATA", `${purpose}: data.${name} is an array of rows; flatten the data set with dataset({ ${name}: rows, … }) (or pass a Float32Array of N rows × ${w})`);
      if (!(raw instanceof Float32Array || raw instanceof Float64Array || Array.isArray(raw)))
        throw new RuntimeError("E_DATA", `${purpose}: data.${name} must be a Float32Array (N rows of ${w}, row-major)`);
      const col = raw instanceof Float32Array || raw instanceof Float64Array ? raw : Float32Array.from(raw as number[]);
      const other = examplesBy(k);
      // Class labels (one integer per example) where the model takes one-hot rows.
      if (k === this.targetK && w > 1 && other !== undefined && col.length === other[0]) {
        let labels = col.length > 0;
        for (let i = 0; i < col.length && labels; i++) labels = Number.isInteger(col[i]!) && col[i]! >= 0;
        if (labels)
          throw new RuntimeError(
            "E_DATA",
            `${purpose}: data.${name} holds ${col.length} integers, one per example — class labels? Input '${name}' takes one-hot rows of ${w}: ` +
              `pass oneHot(labels, ${w}) (from gradc/runtime) instead`,
          );
      }
      // A row width that does not divide the column, or a column that disagrees with the others: name the widths.
      const got = other && col.length > 0 && col.length % other[0] === 0 ? col.length / other[0] : undefined;
      if (col.length === 0 || col.length % w !== 0) {
        if (got !== undefined)
          throw new RuntimeError(
            "E_DATA",
            `${purpose}: input '${name}' expects ${w} numbers per example, got ${got} (data.${name} holds ${col.length} numbers for the ${other![0]} examples of data.${other![1]})`,
          );
        throw new RuntimeError(
          "E_DATA",
          `${purpose}: data.${name} has ${col.length} numbers; input '${name}' takes ${w} per example, so a positive multiple of ${w}` +
            (other ? ` (${other[0]} examples, as data.${other[1]} has, would be ${other[0] * w})` : ""),
        );
      }
      const count = col.length / w;
      if (n >= 0 && count !== n) {
        // Which width would make the two agree: this input's at the other's count, or the other's at this one's.
        const fromK = this.dataNames.indexOf(nFrom);
        const mine = col.length % n === 0 ? col.length / n : undefined;
        const theirs = lengthOf(fromK) % count === 0 ? lengthOf(fromK) / count : undefined;
        const candidates = [
          { input: name, k, got: mine },
          { input: nFrom, k: fromK, got: theirs },
        ].filter((c) => c.got !== undefined && c.got !== this.dataWidth[c.k]);
        candidates.sort((a, b) => Number(a.k === this.targetK) - Number(b.k === this.targetK)); // a feature count is the likelier slip
        const c = candidates[0];
        const hint = c ? ` (or input '${c.input}' expects ${this.dataWidth[c.k]} numbers per example and was given ${c.got})` : "";
        throw new RuntimeError("E_DATA", `${purpose}: data.${name} holds ${count} examples, data.${nFrom} ${n}; every input needs the same number${hint}`);
      }
      n = count;
      nFrom = name;
      for (let i = 0; i < col.length; i++)
        if (!Number.isFinite(col[i]!))
          throw new RuntimeError("E_DATA", `${purpose}: data.${name} holds ${col[i]} in example ${Math.floor(i / w)} (column ${i % w}); inputs must be finite`);
      if (purpose !== "predict") checkTargets(this.layout.inputs.find((s) => s.name === name)?.target, name, col, w, purpose);
      return col;
    });
    if (n < 0) throw new RuntimeError("E_DATA", `${purpose}: data holds none of the inputs (${this.dataNames.join(", ")})`);
    if (!this.batched && purpose !== "predict" && n % this.rows !== 0)
      throw new RuntimeError(
        "E_DATA",
        `${purpose}: ${n} examples, but model '${this.layout.name}' (compiled without m.batch) takes exactly ${this.rows} rows per step; give a multiple of ${this.rows}`,
      );
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    const rowViews = cols.map((col, k) => {
      const w = this.dataWidth[k]!;
      if (col === undefined || col.constructor !== this.inputs.constructor || n * cols.length > MAX_ROW_VIEWS || w < 16) return undefined;
      return Array.from({ length: n }, (_, r) => col.subarray(r * w, (r + 1) * w));
    });
    return { data, n, cols, rowViews, order, metric: this.metricOf(cols[this.targetK]) };
  }

  /** What accuracy means for these targets: 0/1 targets of a one-column output, probability rows of a wider one, else nothing. */
  private metricOf(target: Buf | undefined): Metric {
    if (!this.accuracyOk || target === undefined) return "none";
    if (this.outWidth === 1) {
      for (let i = 0; i < target.length; i++) if (target[i] !== 0 && target[i] !== 1) return "none"; // a regression target
      return "threshold";
    }
    for (let i = 0; i < target.length; i++) if (!(target[i]! >= 0 && target[i]! <= 1)) return "none";
    return "argmax";
  }

  /**
   * Copies rows order[start .. start + n) into the inputs buffer: input dropout
   * and fresh dropout masks when `training`, masks of ones otherwise; rows n..B-1
   * of the data inputs are zero-filled when n < B. Allocates nothing.
   */
  private pack(feed: Feed, order: Int32Array, start: number, n: number, training: boolean, inputs: A = this.inputs): void {
    const rows = this.rows;
    const rng = this.rngDrop;
    for (let k = 0; k < this.dataNames.length; k++) {
      const off = this.dataOff[k]!;
      const w = this.dataWidth[k]!;
      const src = feed.cols[k];
      if (src === undefined) {
        inputs.fill(0, off, off + rows * w);
        continue;
      }
      const views = feed.rowViews[k];
      if (views !== undefined) for (let r = 0; r < n; r++) inputs.set(views[order[start + r]!]!, off + r * w);
      else
        for (let r = 0; r < n; r++) {
          const from = order[start + r]! * w;
          const to = off + r * w;
          for (let j = 0; j < w; j++) inputs[to + j] = src[from + j]!;
        }
      const p = this.dataDrop[k]!;
      if (p > 0 && training) rng.dropout(inputs, off, off + n * w, p, this.invertedDropout);
      else if (p > 0 && !this.invertedDropout) for (let i = off; i < off + n * w; i++) inputs[i] = inputs[i]! * (1 - p); // scaled at test time
      if (n < rows) inputs.fill(0, off + n * w, off + rows * w);
    }
    for (let m = 0; m < this.maskNames.length; m++) {
      const off = this.maskOff[m]!;
      const end = off + this.maskSize[m]!;
      const p = this.maskDrop[m]!;
      inputs.fill(training || this.invertedDropout ? 1 : 1 - p, off, end); // "test" scaling: 1 - p at evaluation
      if (training) rng.dropout(inputs, off, end, p, this.invertedDropout); // 0 or 1 / (1 - p) (or 1)
    }
  }

  /**
   * pack for chunk j of a chunked step with dropout (training): rows order[start .. start + n) are rows at .. at + n
   * of the step's batch, whose input dropout and masks drawBatch drew; those rows of them are copied in as the data
   * rows are. Rows n..B-1 of the data inputs are zero-filled, those of the masks hold ones (no loss or gradient
   * reads them). Allocates nothing.
   */
  private packChunk(feed: Feed, order: Int32Array, start: number, n: number, inputs: A, at: number): void {
    const rows = this.rows;
    const batch = this.batchDrop!;
    for (let k = 0; k < this.dataNames.length; k++) {
      const off = this.dataOff[k]!;
      const w = this.dataWidth[k]!;
      const drawn = batch.data[k];
      if (drawn !== undefined) copyRows(inputs, off, w, drawn, batch.dataRows[k], at, n);
      else this.copyFeed(feed, order, start, n, k, inputs, off);
      if (n < rows) inputs.fill(0, off + n * w, off + rows * w);
    }
    for (let m = 0; m < this.maskNames.length; m++) {
      const off = this.maskOff[m]!;
      const w = this.maskSize[m]! / rows;
      copyRows(inputs, off, w, batch.masks[m]!, batch.maskRows[m], at, n);
      if (n < rows) inputs.fill(1, off + n * w, off + rows * w);
    }
  }

  /** A chunk's inputs: pack, or with dropout packChunk (its rows of drawBatch's draws). */
  private packPart(feed: Feed, order: Int32Array, start: number, n: number, inputs: A, at: number): void {
    if (this.batchDrop === undefined) this.pack(feed, order, start, n, true, inputs);
    else this.packChunk(feed, order, start, n, inputs, at);
  }

  /** Rows order[start .. start + n) of data input k, into `dst` from `off` (row r at off + r·w). */
  private copyFeed(feed: Feed, order: Int32Array, start: number, n: number, k: number, dst: A, off: number): void {
    const w = this.dataWidth[k]!;
    const views = feed.rowViews[k];
    if (views !== undefined) for (let r = 0; r < n; r++) dst.set(views[order[start + r]!]!, off + r * w);
    else {
      const src = feed.cols[k]!;
      for (let r = 0; r < n; r++) {
        const from = order[start + r]! * w;
        const to = off + r * w;
        for (let j = 0; j < w; j++) dst[to + j] = src[from + j]!;
      }
    }
  }

  /**
   * A chunked step's dropout, before its chunks are packed: draws from the dropout stream exactly what a one-thread
   * step of these n rows draws, in its order (pack) — each data input's input dropout over its n rows, then each mask
   * over all the rows of its buffer — into `batchDrop`; chunk j then copies out its rows of them (packChunk).
   * A one-thread mask buffer has the module's B rows; here a mask is drawn over max(B, batchSize) rows: for
   * batchSize <= B the draws of threads: 1 on this module, above it those of one thread on a module compiled for
   * batchSize rows (m.batch(batchSize)), the partial last batch included. So every row of a batch gets the mask
   * one thread would give it. Allocates nothing.
   */
  private drawBatch(feed: Feed, order: Int32Array, start: number, n: number): void {
    const batch = this.batchDrop!;
    const rng = this.rngDrop;
    for (let k = 0; k < this.dataNames.length; k++) {
      const dst = batch.data[k];
      if (dst === undefined) continue;
      this.copyFeed(feed, order, start, n, k, dst, 0);
      rng.dropout(dst, 0, n * this.dataWidth[k]!, this.dataDrop[k]!, this.invertedDropout);
    }
    const drawn = Math.max(n, this.rows, this.batchSize); // n > batchSize: a batchSchedule's epoch
    for (let m = 0; m < this.maskNames.length; m++) {
      const dst = batch.masks[m]!;
      const end = drawn * (this.maskSize[m]! / this.rows);
      dst.fill(1, 0, end);
      rng.dropout(dst, 0, end, this.maskDrop[m]!, this.invertedDropout);
    }
  }

  /** Correct predictions among the first n rows of the current forward pass. */
  private correct(n: number, arena: A = this.arena, inputs: A = this.inputs): number {
    if (!this.accuracyOk) return 0;
    const w = this.outWidth;
    const o = this.outOff;
    const t = this.dataOff[this.targetK]!;
    let hits = 0;
    if (w === 1) {
      const thr = this.threshold;
      for (let r = 0; r < n; r++) if (arena[o + r]! > thr === inputs[t + r]! > 0.5) hits++;
      return hits;
    }
    for (let r = 0; r < n; r++) {
      let bo = 0;
      let bt = 0;
      for (let j = 1; j < w; j++) {
        if (arena[o + r * w + j]! > arena[o + r * w + bo]!) bo = j;
        if (inputs[t + r * w + j]! > inputs[t + r * w + bt]!) bt = j;
      }
      if (bo === bt) hits++;
    }
    return hits;
  }

  // ---- the step -----------------------------------------------------------------------

  /**
   * One update on rows order[start .. start + n). Leaves the loss and counts in `stats`. Allocates nothing.
   * The guard runs before the update (the loss after forward, the gradient inside the optimizer's update,
   * which checks it before changing anything), so a diverged step leaves nothing to undo.
   */
  private stepOn(feed: Feed, order: Int32Array, start: number, n: number): void {
    if (this.chunks > 1) return this.stepChunks(feed, order, start, n);
    const params = this.params;
    const grads = this.grads;
    const arena = this.arena;
    this.pack(feed, order, start, n, true);
    const mod = this.module;
    if (mod.step) mod.step(params, this.inputs, arena, grads, n); // fused: forward values stay in locals
    else mod.forward(params, this.inputs, arena, n);
    const stats = this.stats;
    const loss = arena[this.lossAt]!;
    if (loss - loss !== 0) this.diverged("loss", loss);
    if (!(stats[STAT_REF]! === stats[STAT_REF]!)) stats[STAT_REF] = loss;
    else if (Math.abs(loss) > GROWTH * Math.max(Math.abs(stats[STAT_REF]!), 1)) this.diverged("growth", loss);
    if (!mod.step) mod.backward!(params, this.inputs, arena, grads, n);
    // L2, the finiteness check and the update (a wasm kernel each on modules with wasm kernels)
    if (!this.optimizer.update(params, grads)) this.diverged("gradient", NaN);
    stats[STAT_LOSS] = loss;
    stats[STAT_SUM] += loss * n;
    stats[STAT_ROWS] += n;
    stats[STAT_CORRECT] += this.correct(n);
  }

  /**
   * stepOn with `threads` (runtime/threads.ts): chunk j of the n rows (n_j rows, the first n % chunks one row
   * longer) runs on thread j, or here one after another without a pool; then, in the order j = 0, 1, …,
   * loss = Σ w_j L_j and grads = fl(… fl(fl(w_0 g_0) + fl(w_1 g_1)) + fl(w_2 g_2) …) (fl: float32 rounding;
   * runtime/reduce.ts), w_j = n_j / n for a batch mean and 1 for a batch sum — the same arithmetic on both
   * paths, so they give the same bits.
   */
  private stepChunks(feed: Feed, order: Int32Array, start: number, n: number): void {
    const k = this.chunks;
    const pool = this.pool;
    if (pool?.part0) return this.stepSplit(feed, order, start, n, pool, pool.part0);
    const mod = this.module;
    const params = this.params;
    const grads = this.grads;
    const mean = this.layout.split === "mean";
    if (this.batchDrop !== undefined) this.drawBatch(feed, order, start, n); // before any chunk: one thread's draws
    if (pool)
      for (let j = 1; j < k; j++) {
        const nj = this.chunkRows(n, j);
        if (nj === 0) continue;
        this.packPart(feed, order, this.chunkStart(start, n, j), nj, pool.inputs[j]!, this.chunkStart(0, n, j));
        pool.params[j]!.set(params);
        pool.start(j, nj);
      }
    let loss = 0;
    let hits = 0;
    // G = g₀, then G ← fl(fl(w₀ G) + fl(w₁ g₁)), then G ← fl(G + fl(w_j g_j)) (runtime/reduce.ts), on both paths
    const red = this.reduce!;
    const w0 = mean ? this.chunkRows(n, 0) / n : 1;
    for (let j = 0; j < (pool ? 1 : k); j++) {
      const nj = this.chunkRows(n, j);
      if (nj === 0) continue;
      this.packPart(feed, order, this.chunkStart(start, n, j), nj, this.inputs, this.chunkStart(0, n, j));
      if (mod.step) mod.step(params, this.inputs, this.arena, grads, nj);
      else {
        mod.forward(params, this.inputs, this.arena, nj);
        mod.backward!(params, this.inputs, this.arena, grads, nj);
      }
      const w = mean ? nj / n : 1;
      loss += w * this.arena[this.lossAt]!;
      hits += this.correct(nj);
      if (j === 0) red.a.set(grads);
      else {
        red.b.set(grads);
        red.w[0] = j === 1 ? w0 : 1;
        red.w[1] = w;
        red.axpby();
      }
    }
    if (pool)
      for (let j = 1; j < k; j++) {
        const nj = this.chunkRows(n, j);
        if (nj === 0) continue;
        pool.finish(j);
        const w = mean ? nj / n : 1;
        red.b.set(pool.grads[j]!);
        red.w[0] = j === 1 ? w0 : 1;
        red.w[1] = w;
        red.axpby();
        loss += w * pool.arena[j]![this.lossAt]!;
        hits += this.correct(nj, pool.arena[j]!, pool.inputs[j]!);
      }
    if (this.chunkRows(n, 1) > 0) grads.set(red.a); // with one chunk (n = 1) the gradient is g₀ itself (w₀ = 1)
    const stats = this.stats;
    if (loss - loss !== 0) this.diverged("loss", loss);
    if (!(stats[STAT_REF]! === stats[STAT_REF]!)) stats[STAT_REF] = loss;
    else if (Math.abs(loss) > GROWTH * Math.max(Math.abs(stats[STAT_REF]!), 1)) this.diverged("growth", loss);
    if (!this.optimizer.update(params, grads)) this.diverged("gradient", NaN);
    stats[STAT_LOSS] = loss;
    stats[STAT_SUM] += loss * n;
    stats[STAT_ROWS] += n;
    stats[STAT_CORRECT] += hits;
  }

  /**
   * stepChunks with a split update (modules with optimizer kernels, runtime/threads.ts): the parameters, the summed
   * gradient and the optimizer's state live in the trainer's shared memory; after the chunks' forward and backward
   * (each thread copies the parameters in first) every thread combines the gradients over its own range of the
   * parameters, adds L2 and checks it (REDUCE), and only when every range is finite and the loss passed the guard
   * makes the update there (UPDATE): elementwise the arithmetic of the serial path, so the same bits.
   */
  private stepSplit(feed: Feed, order: Int32Array, start: number, n: number, pool: ThreadPool<A>, part: SplitPart): void {
    const k = this.chunks;
    const mod = this.module;
    const mean = this.layout.split === "mean";
    if (this.batchDrop !== undefined) this.drawBatch(feed, order, start, n); // before any chunk: one thread's draws
    for (let j = 1; j < k; j++) {
      const nj = this.chunkRows(n, j);
      if (nj === 0) continue;
      this.packPart(feed, order, this.chunkStart(start, n, j), nj, pool.inputs[j]!, this.chunkStart(0, n, j));
      pool.start(j, nj);
    }
    const n0 = this.chunkRows(n, 0);
    this.packPart(feed, order, start, n0, this.inputs, 0);
    if (mod.step) mod.step(this.params, this.inputs, this.arena, this.grads, n0);
    else {
      mod.forward(this.params, this.inputs, this.arena, n0);
      mod.backward!(this.params, this.inputs, this.arena, this.grads, n0);
    }
    let loss = (mean ? n0 / n : 1) * this.arena[this.lossAt]!;
    let hits = this.correct(n0);
    for (let j = 1; j < k; j++) {
      const nj = this.chunkRows(n, j);
      if (nj === 0) continue;
      pool.finish(j);
      loss += (mean ? nj / n : 1) * pool.arena[j]![this.lossAt]!;
      hits += this.correct(nj, pool.arena[j]!, pool.inputs[j]!);
    }
    const stats = this.stats;
    if (loss - loss !== 0) this.diverged("loss", loss);
    if (!(stats[STAT_REF]! === stats[STAT_REF]!)) stats[STAT_REF] = loss;
    else if (Math.abs(loss) > GROWTH * Math.max(Math.abs(stats[STAT_REF]!), 1)) this.diverged("growth", loss);
    const opt = this.optimizer;
    opt.prepare!(); // the rate and scalars every range's update reads
    for (let j = 1; j < k; j++) pool.start(j, n, OP.REDUCE);
    let finite = part.reduce(n);
    for (let j = 1; j < k; j++) {
      pool.finish(j);
      if (!pool.finite(j)) finite = false;
    }
    if (!finite) this.diverged("gradient", NaN); // nothing updated; this.grads holds the whole summed gradient
    for (let j = 1; j < k; j++) pool.start(j, n, OP.UPDATE);
    part.apply();
    for (let j = 1; j < k; j++) pool.finish(j);
    opt.advance!();
    stats[STAT_LOSS] = loss;
    stats[STAT_SUM] += loss * n;
    stats[STAT_ROWS] += n;
    stats[STAT_CORRECT] += hits;
  }

  /** Rows of chunk j of a step's n rows (the first n % chunks chunks one more); methods, not per-step closures. */
  private chunkRows(n: number, j: number): number {
    return Math.floor(n / this.chunks) + (j < n % this.chunks ? 1 : 0);
  }

  /** The first row of chunk j of the n rows from `start`. */
  private chunkStart(start: number, n: number, j: number): number {
    return start + j * Math.floor(n / this.chunks) + Math.min(j, n % this.chunks);
  }

  /** Throws a DivergedError naming the step and a parameter; the parameters are those the step started from. */
  private diverged(what: "loss" | "growth" | "gradient", loss: number): never {
    const step = this.optimizer.step + 1;
    const where = `step ${step} (epoch ${this.epochInRun}, batch ${this.batchInEpoch})`;
    const locate = (flat: number): { name: string; index: number[] } => {
      const p = this.layout.params.find((q) => flat >= q.offset && flat < q.offset + q.size)!;
      let rest = flat - p.offset;
      const index = new Array<number>(p.shape.length);
      for (let a = p.shape.length - 1; a >= 0; a--) {
        index[a] = rest % p.shape[a]!;
        rest = Math.floor(rest / p.shape[a]!);
      }
      return { name: p.name, index };
    };
    const at = (l: { name: string; index: number[] }) => `${l.name}[${l.index.join(",")}]`;
    let message: string;
    let param: { name: string; index: number[] } | undefined;
    let value: number;
    if (what === "gradient") {
      let i = 0;
      while (Number.isFinite(this.grads[i]!)) i++;
      param = locate(i);
      value = this.grads[i]!;
      message = `training diverged at ${where}: the gradient of '${param.name}' is ${value} at ${at(param)}`;
    } else {
      value = loss;
      let worst = 0;
      for (let i = 1; i < this.params.length; i++) if (!(Math.abs(this.params[i]!) <= Math.abs(this.params[worst]!))) worst = i;
      param = this.params.length ? locate(worst) : undefined;
      const ref = this.stats[STAT_REF]!;
      message =
        `training diverged at ${where}: the loss is ${loss}` +
        (what === "growth" ? `, more than ${GROWTH.toExponential(0)} times its first value ${ref}` : "") +
        (param ? `; the largest parameter is '${param.name}', ${at(param)} = ${this.params[worst]}` : "");
    }
    const lr = this.optimizer.lrAt(Math.max(0, step - 2));
    message += `. No update was made: the parameters are those step ${step} started from`;
    message += what === "gradient" ? ` (finite, with loss ${this.arena[this.lossAt]})` : ` (they give this loss)`;
    message += `. Lower the learning rate (${lr} at the last update), check the data for extreme values, or compute the loss from logits.`;
    throw new DivergedError(message, step, this.epochInRun, this.batchInEpoch, what === "gradient" ? "gradient" : "loss", param?.name, param?.index, value);
  }

  trainStep(data: object, start = 0, count = this.batchSize): void {
    if (!this.stepFeed || this.stepFeed.data !== data) this.stepFeed = this.bind(data, "train");
    const feed = this.stepFeed;
    if (!(Number.isInteger(start) && Number.isInteger(count) && start >= 0 && count >= 1 && count <= this.batchSize && start + count <= feed.n))
      throw new RuntimeError("E_ARG", `trainStep: rows [${start}, ${start + count}) must lie in [0, ${feed.n}) and number 1 to batchSize ${this.batchSize}`);
    if (!this.batched && count !== this.rows) throw new RuntimeError("E_BATCH", `trainStep: model '${this.layout.name}' takes exactly ${this.rows} rows per step`);
    this.epochInRun = this.epochs + 1;
    this.batchInEpoch = Math.floor(start / this.batchSize) + 1;
    this.stepOn(feed, feed.order, start, count);
  }

  // ---- fit ----------------------------------------------------------------------------

  fit(train: object, opts: FitOptions): History {
    checkOptions("fit", opts, FIT_OPTIONS);
    this.enterFit("fit");
    try {
      // Without pauses the run never yields: its first next() runs every epoch.
      const r = this.run(train, opts, false).next();
      if (!r.done) throw new Error("internal: a fit without pauses yielded");
      return r.value;
    } finally {
      this.fitting = false;
    }
  }

  async fitAsync(train: object, opts: FitAsyncOptions): Promise<History> {
    checkOptions("fitAsync", opts, FIT_ASYNC_OPTIONS);
    this.enterFit("fitAsync");
    try {
      const { onBatchEnd, onEpochEnd, signal, ...rest } = opts;
      await this.ready(); // a page cannot start its workers while a step blocks it
      const run = this.run(train, { ...rest, onEpoch: onEpochEnd, onBatch: onBatchEnd, signal, progress: false }, true);
      for (;;) {
        const r = run.next();
        if (r.done) return r.value;
        await nextTask();
      }
    } finally {
      this.fitting = false;
    }
  }

  /** One fit at a time: a second fitAsync (a double-clicked Train button) or a fit from a callback would interleave updates. */
  private enterFit(what: string): void {
    if (this.fitting)
      throw new RuntimeError("E_ARG", `${what}: this trainer is already fitting; await the running fitAsync (or stop it: its signal, or return false from a callback) first`);
    this.fitting = true;
  }

  /**
   * The epoch loop behind fit and fitAsync. With `pauses` it yields after every
   * batch (fitAsync resumes it on a fresh macrotask); without, it never yields.
   * Pausing changes nothing that is computed: fit and fitAsync give the same weights.
   */
  private *run(train: object, opts: RunOptions, pauses: boolean): Generator<void, History, void> {
    const { epochs, validation, earlyStopping: es, onEpoch, onBatch, signal, until } = opts;
    if (until !== undefined) {
      checkOptions("fit: until", until, UNTIL_OPTIONS);
      if (until.gradNorm === undefined && until.lossChange === undefined)
        throw new RuntimeError("E_ARG", "fit: until needs a tolerance: { gradNorm: 1e-4 } (gradient norm) or { lossChange: 1e-6 } (loss change per epoch)");
      if (until.every !== undefined && until.gradNorm === undefined)
        throw new RuntimeError("E_ARG", `fit: until.every (${until.every}) says how often to measure gradNorm, but until has no gradNorm: add { gradNorm: 1e-4 } or drop every`);
    }
    if (!(Number.isInteger(epochs) && epochs >= 0)) throw new RuntimeError("E_ARG", `fit: epochs must be a whole number >= 0, got ${epochs}`);
    const feed = this.bind(train, "train");
    const val = validation ? this.bind(validation, "evaluate") : undefined;
    if (es) {
      if (!(Number.isInteger(es.patience) && es.patience >= 1)) throw new RuntimeError("E_ARG", `earlyStopping.patience must be a whole number >= 1, got ${es.patience}`);
      if (es.monitor === "accuracy" && (val ?? feed).metric === "none")
        throw new RuntimeError(
          "E_ARG",
          this.accuracyOk
            ? `earlyStopping monitors accuracy, but the targets of '${this.dataNames[this.targetK]}' are not classes (not 0/1 or probability rows): monitor "loss"`
            : `earlyStopping monitors accuracy, but model '${this.layout.name}' has no output/target pair to compare`,
        );
    }
    const monitorAcc = es?.monitor === "accuracy";
    const minDelta = es?.minDelta ?? 0;
    const best = es ? new this.Arr(this.params.length) : undefined;
    let bestValue = NaN;
    let bestEpoch = 0;
    let wait = 0;

    const n = feed.n;
    const order = feed.order;
    const shuffleBase = deriveSeed(this.seed, "shuffle");
    const dropBase = deriveSeed(this.seed, "dropout");
    const bar = this.platform.progress(opts.progress ?? true);
    const records: EpochRecord[] = [];
    let stopped: History["stopped"] = "epochs";
    let converged: History["converged"];
    let calm = 0; // epochs in a row a tolerance held
    if (until?.gradNorm !== undefined && n > this.rows && this.layout.split === undefined)
      throw new RuntimeError(
        "E_ARG",
        `fit: until.gradNorm sums the gradient over batches of ${this.rows}, but the loss of '${this.layout.name}' is not a batch mean or sum (layout.split), so the batches' gradients do not combine into the full set's; use until.lossChange`,
      );
    const full = until?.gradNorm !== undefined ? { acc: new Float64Array(this.params.length), order: Int32Array.from({ length: n }, (_, i) => i) } : undefined;
    const stats = this.stats;
    stats[STAT_REF] = NaN; // the growth guard measures from this call's first loss
    if (pauses) yield; // the options are checked; the caller's task ends before the first batch

    for (let e = 0; e < epochs; e++) {
      const epoch = this.epochs; // 0-based, across calls: seeds this epoch's order and masks
      const bs = opts.batchSchedule ? this.scheduledBatch(opts.batchSchedule(epoch + 1, records.at(-1)), epoch + 1) : this.batchSize;
      if (this.dropLast && n < bs)
        throw new RuntimeError("E_BATCH", `fit: dropLast with ${n} examples and batches of ${bs} makes no update in an epoch (⌊${n}/${bs}⌋ = 0): lower the batch size or drop dropLast`);
      const stepsPerEpoch = this.dropLast ? Math.floor(n / bs) : Math.ceil(n / bs);
      const fullBatch = n === bs;
      if (this.replacement) {
        // with replacement: every row of every step drawn from all n examples
        const r = this.rngShuffle.reseed(shuffleBase + epoch);
        for (let i = 0; i < n; i++) order[i] = r.int(n);
      } else if (this.shuffle && !fullBatch) {
        for (let i = 0; i < n; i++) order[i] = i;
        this.rngShuffle.reseed(shuffleBase + epoch).shuffle(order);
      }
      this.rngDrop.reseed(dropBase + epoch);
      stats[STAT_SUM] = 0;
      stats[STAT_ROWS] = 0;
      stats[STAT_CORRECT] = 0;
      this.epochInRun = epoch + 1;
      bar?.start(epoch + 1, this.epochs - e + epochs, stepsPerEpoch);
      const t0 = performance.now();
      let halted = false; // stopped mid-epoch (signal, onBatch): the epoch counts as not run
      try {
        for (let s = 0; s < stepsPerEpoch; s++) {
          if (signal?.aborted) {
            stopped = "aborted";
            halted = true;
            break;
          }
          this.batchInEpoch = s + 1;
          const start = s * bs;
          this.stepOn(feed, order, start, Math.min(bs, n - start));
          if (bar) bar.tick(s + 1, stats[STAT_SUM]! / stats[STAT_ROWS]!, feed.metric !== "none" ? stats[STAT_CORRECT]! / stats[STAT_ROWS]! : NaN, stats[STAT_ROWS]!);
          if (onBatch && onBatch(this.batchRecord(s + 1, stepsPerEpoch, feed.metric !== "none")) === false) {
            stopped = "callback";
            halted = true;
            break;
          }
          if (pauses) yield;
        }
      } catch (err) {
        bar?.end(err instanceof DivergedError ? "diverged" : "stopped");
        if (err instanceof DivergedError) err.history = historyOf(records, "epochs");
        throw err;
      }
      if (halted) {
        bar?.end("stopped");
        break;
      }
      const seconds = (performance.now() - t0) / 1000;
      this.epochs++;
      const rows = stats[STAT_ROWS]!;
      const loss = stats[STAT_SUM]! / rows;
      const scored = feed.metric !== "none";
      const accuracy = scored ? stats[STAT_CORRECT]! / rows : NaN;
      const v = val ? this.evaluateFeed(val) : undefined;
      const gradNorm = full && (e + 1) % (until!.every ?? 1) === 0 ? this.fullGradient(feed, full.order, full.acc) : undefined;
      const record: EpochRecord = {
        epoch: this.epochs,
        loss,
        accuracy,
        ...(v ? { valLoss: v.loss, valAccuracy: v.accuracy } : {}),
        lr: this.lastLr(),
        steps: this.optimizer.step,
        seconds,
        examplesPerSecond: rows / Math.max(seconds, 1e-9),
        ...(gradNorm !== undefined ? { gradNorm } : {}),
      };
      records.push(record);
      bar?.end(
        `epoch ${record.epoch}: loss ${fmtLoss(loss)}${scored ? ` acc ${fmtAcc(accuracy)}` : ""}` +
          (v ? ` | val loss ${fmtLoss(v.loss)}${v.metric !== "none" ? ` acc ${fmtAcc(v.accuracy)}` : ""}` : "") +
          ` | ${Math.round(record.examplesPerSecond).toLocaleString("en-US")} ex/s, ${seconds.toFixed(1)} s`,
      );

      let stop = false;
      if (es && best) {
        const value = monitorAcc ? (v ? v.accuracy : accuracy) : v ? v.loss : loss;
        const improved = Number.isNaN(bestValue) || (monitorAcc ? value > bestValue + minDelta : value < bestValue - minDelta);
        if (improved) {
          bestValue = value;
          bestEpoch = this.epochs;
          best.set(this.params);
          wait = 0;
        } else if (++wait >= es.patience) {
          stopped = "earlyStopping";
          stop = true;
        }
      }
      if (until && !stop) {
        const prev = records.length >= 2 ? records[records.length - 2]!.loss : undefined;
        const gradOk = gradNorm !== undefined && gradNorm <= until.gradNorm!;
        const lossOk = until.lossChange !== undefined && prev !== undefined && Math.abs(loss - prev) <= until.lossChange * (until.relative ? Math.abs(prev) : 1);
        if (gradNorm !== undefined || until.lossChange !== undefined) calm = gradOk || lossOk ? calm + 1 : 0; // an epoch measuring nothing leaves it
        if (calm >= (until.patience ?? 1)) {
          stopped = "converged";
          converged = gradOk ? "gradNorm" : "lossChange";
          stop = true;
        }
      }
      if (onEpoch && onEpoch(record) === false && !stop) {
        stopped = "callback";
        stop = true;
      }
      if (stop) break;
    }
    if (es && best && bestEpoch > 0 && bestEpoch !== this.epochs && (es.restoreBest ?? true)) {
      this.params.set(best);
    }
    return { ...historyOf(records, stopped), ...(converged ? { converged } : {}), ...(es && bestEpoch > 0 ? { bestEpoch, best: bestValue } : {}) };
  }

  /**
   * ‖∇L(θ)‖₂ of the mean loss over all of `feed` (chunks of the compiled batch, each gradient weighted by its rows;
   * dropout off), plus the `l2` term λw on the weights; `grads` is left holding that gradient. Allocates nothing.
   */
  private fullGradient(feed: Feed, order: Int32Array, acc: Float64Array): number {
    const { params, inputs, arena, grads, module: mod } = this;
    acc.fill(0);
    // The chunks combine as layout.split says (a batch mean: weights nᵢ / N; a batch sum: 1), checked in fit.
    const mean = this.layout.split !== "sum";
    for (let start = 0; start < feed.n; start += this.rows) {
      const n = Math.min(this.rows, feed.n - start);
      this.pack(feed, order, start, n, false);
      if (mod.backward) {
        mod.forward(params, inputs, arena, n);
        mod.backward(params, inputs, arena, grads, n);
      } else mod.step!(params, inputs, arena, grads, n);
      const w = mean ? n / feed.n : 1;
      for (let i = 0; i < acc.length; i++) acc[i] += grads[i]! * w;
    }
    const ranges = this.decay;
    for (let r = 0; r < ranges.length; r += 2) for (let i = ranges[r]!; i < ranges[r + 1]!; i++) acc[i] += this.l2 * params[i]!;
    let ss = 0;
    for (let i = 0; i < acc.length; i++) {
      grads[i] = acc[i]!;
      ss += acc[i]! * acc[i]!;
    }
    return Math.sqrt(ss);
  }

  /** A batch schedule's answer for `epoch`, checked as `batchSize` is at creation. */
  private scheduledBatch(bs: unknown, epoch: number): number {
    const ok = typeof bs === "number" && Number.isInteger(bs) && bs >= 1 && (this.batched ? bs <= this.rows * this.chunks : bs === this.rows);
    if (!ok)
      throw new RuntimeError(
        "E_BATCH",
        `batchSchedule returned ${String(bs)} for epoch ${epoch}; ` +
          (this.batched ? `it must be a whole number from 1 to ${this.rows * this.chunks}, the batch '${this.layout.name}' was compiled for` : `model '${this.layout.name}' takes exactly ${this.rows} rows per step (compiled without m.batch)`),
      );
    return bs;
  }

  /** What onBatchEnd sees after batch `batch` (1-based) of the epoch running. */
  private batchRecord(batch: number, batches: number, scored: boolean): BatchRecord {
    const stats = this.stats;
    const rows = stats[STAT_ROWS]!;
    return {
      epoch: this.epochInRun,
      batch,
      batches,
      loss: stats[STAT_LOSS]!,
      epochLoss: stats[STAT_SUM]! / rows,
      accuracy: scored ? stats[STAT_CORRECT]! / rows : NaN,
      steps: this.optimizer.step,
    };
  }

  /** The learning rate of the last update made. */
  private lastLr(): number {
    const opt = this.optimizer;
    return opt.lrAt(Math.max(0, opt.step - 1));
  }

  // ---- evaluation ---------------------------------------------------------------------

  private evaluateFeed(feed: Feed): Evaluation {
    const rows = this.rows;
    let sum = 0;
    let hits = 0;
    for (let start = 0; start < feed.n; start += rows) {
      const n = Math.min(rows, feed.n - start);
      this.pack(feed, feed.order, start, n, false);
      this.module.forward(this.params, this.inputs, this.arena, n);
      sum += this.arena[this.lossAt]! * n;
      hits += this.correct(n);
    }
    return { loss: sum / feed.n, accuracy: feed.metric !== "none" ? hits / feed.n : NaN, metric: feed.metric, n: feed.n };
  }

  evaluate(data: object): Evaluation {
    return this.evaluateFeed(this.bind(data, "evaluate"));
  }

  predict(x: object, output?: string): A {
    const layout = this.layout;
    const name = output ?? this.outName;
    const slot = layout.outputs.find((o) => o.name === name);
    if (!slot) throw new RuntimeError("E_ARG", `predict: model '${layout.name}' has no output ${name === undefined ? "" : `'${name}' `}(outputs: ${layout.outputs.map((o) => o.name).join(", ") || "none"})`);
    if (slot.shape[0] !== this.rows)
      throw new RuntimeError("E_ARG", `predict: output '${slot.name}' [${slot.shape.join(",")}] has no example axis (${this.rows} rows) to return per example`);
    let data = x;
    if (x instanceof Float32Array || x instanceof Float64Array) {
      if (this.featureK < 0) throw new RuntimeError("E_ARG", "predict: this model has no features input to feed a bare array to; pass { name: array }");
      data = { [this.dataNames[this.featureK]!]: x };
    }
    const feed = this.bind(data, "predict");
    const w = slot.size / this.rows;
    const out = new this.Arr(feed.n * w);
    for (let start = 0; start < feed.n; start += this.rows) {
      const n = Math.min(this.rows, feed.n - start);
      this.pack(feed, feed.order, start, n, false);
      this.module.forward(this.params, this.inputs, this.arena, n);
      for (let i = 0; i < n * w; i++) out[start * w + i] = this.arena[slot.offset + i]!;
    }
    return out;
  }

  // ---- checkpoints --------------------------------------------------------------------

  private state(): CheckpointData<A> {
    const opt = this.optimizer;
    return {
      model: this.layout.name,
      precision: this.params instanceof Float64Array ? "f64" : "f32",
      seed: this.seed,
      epoch: this.epochs,
      optimizer: { kind: opt.kind, options: opt.options, step: opt.step, state: opt.state },
      weights: this.params,
    };
  }

  checkpoint(): string {
    return encodeCheckpoint(this.layout, this.state());
  }

  save(file: string): void {
    this.platform.writeText(file, this.checkpoint());
  }

  private apply(ck: CheckpointData<Float32Array | Float64Array>, file: string, weightsOnly: boolean): void {
    const mine = this.params instanceof Float64Array ? "f64" : "f32";
    if (ck.precision !== mine)
      throw new RuntimeError("E_CHECKPOINT_MODEL", `checkpoint '${file}' holds ${ck.precision} weights; this trainer computes in ${mine}`);
    const opt = this.optimizer;
    if (!weightsOnly) {
      const have = Object.keys(ck.optimizer.state).sort().join(",");
      const want = Object.keys(opt.state).sort().join(",");
      if (ck.optimizer.kind !== opt.kind || have !== want)
        throw new RuntimeError(
          "E_CHECKPOINT_MODEL",
          `checkpoint '${file}' was written with optimizer ${ck.optimizer.kind}, this trainer uses ${opt.kind}; ` +
            `load(file, { weightsOnly: true }) takes only its weights`,
        );
      for (const k of Object.keys(opt.state)) opt.state[k]!.set(ck.optimizer.state[k]!);
      opt.step = ck.optimizer.step;
      this.epochs = ck.epoch;
      this.seed = ck.seed;
    }
    this.params.set(ck.weights);
    this.stats[STAT_REF] = NaN;
  }

  load(file: string, opts: { weightsOnly?: boolean } = {}): void {
    this.apply(decodeCheckpoint(this.platform.readText(file), this.layout, file), file, opts.weightsOnly ?? false);
  }

  restore(text: string | Uint8Array, opts: { weightsOnly?: boolean } = {}): void {
    this.apply(decodeCheckpoint(text, this.layout), "<text>", opts.weightsOnly ?? false);
  }
}

/**
 * Resolves on a fresh macrotask — not a microtask, which would run before the
 * page could render. setImmediate in Node (no 1 ms timer floor); a
 * MessageChannel message in browsers (no 4 ms clamp of nested setTimeout).
 */
function nextTask(): Promise<void> {
  if (typeof setImmediate === "function") return new Promise((resolve) => setImmediate(resolve));
  if (typeof MessageChannel === "function")
    return new Promise((resolve) => {
      const { port1, port2 } = new MessageChannel();
      port1.onmessage = () => {
        port1.close();
        resolve();
      };
      port2.postMessage(null);
    });
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function historyOf(records: EpochRecord[], stopped: History["stopped"]): History {
  return {
    epochs: records,
    loss: records.map((r) => r.loss),
    accuracy: records.map((r) => r.accuracy),
    valLoss: records.map((r) => r.valLoss ?? NaN),
    valAccuracy: records.map((r) => r.valAccuracy ?? NaN),
    stopped,
  };
}

/**
 * A trainer for a generated module (see the file comment). Buffers, the
 * optimizer's state and the initial weights (seeded) are created here.
 */
export function createTrainer<M extends Module<Buf>>(
  mod: M,
  opts: TrainerOptions<ArrayOf<M>> = {},
): Trainer<DataNames<M>, OutputNames<M>, ArrayOf<M>> {
  return new TrainerImpl(mod as unknown as Module<ArrayOf<M>>, opts) as unknown as Trainer<DataNames<M>, OutputNames<M>, ArrayOf<M>>;
}
