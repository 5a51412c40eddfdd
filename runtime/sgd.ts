/**
 * A minimal SGD loop over a generated module (the demo's trainer; the full
 * runtime with optimizers and schedules comes later).
 *
 * The batch size is baked into the spec: axis 0 of every input is the batch
 * axis, and all inputs must agree on its length B (XOR: x [4,2], t [4,1],
 * B = 4). `data` holds N examples per input, flattened row-major, so input
 * `x` of shape [B, ...rest] takes N * size(rest) numbers. Each step packs B
 * examples into the inputs buffer, runs forward + backward, and updates
 *
 *   v <- momentum * v + g;   p <- p - lr * v        (plain SGD when momentum = 0)
 *
 * An epoch is ceil(N / B) steps over a permutation of the examples (shuffled
 * each epoch from the seed unless `shuffle: false`); when B does not divide N
 * the last batch is completed from the start of the permutation, so every
 * batch is full and every example is seen every epoch. With N = B (full
 * batch) the inputs are packed once and an epoch is one step.
 *
 * Every buffer is allocated before the first step; the step loop allocates
 * nothing (no arrays, closures or objects), so it runs at the speed of the
 * generated code.
 */
import { initParams } from "./init.ts";
import { deriveSeed, Rng } from "./rng.ts";
import { type ArrayCtor, type Buf, type Init, type Layout, type Module, ownBuffers, RuntimeError } from "./types.ts";

/** N examples per input, by input name; each flattened row-major. */
export type Dataset = Readonly<Record<string, ArrayLike<number>>>;

export interface TrainOptions<A extends Buf = Float32Array> {
  /** The training examples, by input name (every input of the layout). */
  readonly data: Dataset;
  /** Learning rate. */
  readonly lr: number;
  /** Passes over the data. */
  readonly epochs: number;
  /** Seeds the initialization (when `params` is not given) and the shuffling. Default 0. */
  readonly seed?: number;
  /** Heavy-ball momentum in [0, 1). Default 0. */
  readonly momentum?: number;
  /** Shuffle the examples every epoch. Default true (irrelevant when N = B). */
  readonly shuffle?: boolean;
  /** Start from these parameters (updated in place and returned) instead of a fresh `initParams`. */
  readonly params?: A;
  /** With a fresh init: use this for every parameter instead of the layout's inits. */
  readonly init?: Init;
  /** Called after every epoch with its mean step loss; return `false` to stop early. */
  readonly onEpoch?: (epoch: number, loss: number) => void | boolean;
  /** The array type of the buffers: Float32Array (default) or Float64Array for an f64 build. */
  readonly Array?: ArrayCtor<A>;
}

export interface TrainResult<A extends Buf = Float32Array> {
  /** The trained parameters (`layout.params` order). */
  readonly params: A;
  /** Mean step loss of the last epoch run (losses are taken before each step's update). */
  readonly loss: number;
  /** Epochs run (fewer than asked if `onEpoch` returned false). */
  readonly epochs: number;
  /** Parameter updates made. */
  readonly steps: number;
}

/** One SGD update with momentum, in place: v = momentum v + g; p -= lr v. */
export function sgdStep(params: Buf, grads: Buf, velocity: Buf, lr: number, momentum: number): void {
  const n = params.length;
  if (momentum === 0) {
    for (let i = 0; i < n; i++) params[i] -= lr * grads[i]!;
    return;
  }
  for (let i = 0; i < n; i++) {
    const v = momentum * velocity[i]! + grads[i]!;
    velocity[i] = v;
    params[i] -= lr * v;
  }
}

interface Plan {
  /** Batch size: axis 0 of every input. */
  readonly batch: number;
  /** Examples in the data set. */
  readonly n: number;
  /** Per input: numbers per example, offset in the inputs buffer, the data. */
  readonly rows: Int32Array;
  readonly offsets: Int32Array;
  readonly sources: readonly (Buf | undefined)[];
}

/** The batch axis of `layout` and the data set's shape, checked. Inputs missing from `data` are allowed only if `partial`. */
function plan<A extends Buf>(layout: Layout, data: Dataset, Arr: ArrayCtor<A>, partial: boolean): Plan {
  if (layout.inputs.length === 0) throw new RuntimeError("E_ARG", `model '${layout.name}' has no inputs to feed`);
  const first = layout.inputs[0]!;
  const batch = first.shape[0];
  for (const inp of layout.inputs)
    if (inp.shape.length === 0 || inp.shape[0] !== batch)
      throw new RuntimeError(
        "E_ARG",
        `input '${inp.name}' has shape [${inp.shape.join(",")}]; the runtime needs axis 0 of every input to be the batch axis, ` +
          `of one length (input '${first.name}' has ${batch})`,
      );
  const known = new Set(layout.inputs.map((i) => i.name));
  for (const k of Object.keys(data))
    if (!known.has(k))
      throw new RuntimeError("E_ARG", `data has '${k}', which is not an input of '${layout.name}' (inputs: ${[...known].join(", ")})`);
  let n = -1;
  let nFrom = "";
  const rows = new Int32Array(layout.inputs.length);
  const offsets = new Int32Array(layout.inputs.length);
  const sources = layout.inputs.map((inp, k) => {
    const row = inp.size / batch!;
    rows[k] = row;
    offsets[k] = inp.offset;
    const src = Object.hasOwn(data, inp.name) ? data[inp.name] : undefined;
    if (src === undefined) {
      if (partial) return undefined;
      throw new RuntimeError("E_ARG", `data is missing input '${inp.name}' (shape [${inp.shape.join(",")}])`);
    }
    if (src.length % row !== 0 || src.length === 0)
      throw new RuntimeError(
        "E_ARG",
        `data.${inp.name} has ${src.length} numbers; input '${inp.name}' [${inp.shape.join(",")}] takes ${row} per example, so a multiple of ${row}`,
      );
    const count = src.length / row;
    if (n >= 0 && count !== n)
      throw new RuntimeError(
        "E_ARG",
        `data.${inp.name} holds ${count} examples but data.${nFrom} holds ${n}; every input needs the same number`,
      );
    n = count;
    nFrom = inp.name;
    const copy = new Arr(src.length);
    for (let i = 0; i < src.length; i++) copy[i] = src[i]!;
    return copy;
  });
  if (n < 0) throw new RuntimeError("E_ARG", "data holds no inputs");
  return { batch: batch!, n, rows, offsets, sources };
}

/** Copies examples order[start .. start + batch) (wrapping around) into the inputs buffer. */
function pack(p: Plan, order: Int32Array, start: number, inputs: Buf): void {
  for (let k = 0; k < p.sources.length; k++) {
    const src = p.sources[k];
    if (src === undefined) continue;
    const row = p.rows[k]!;
    const off = p.offsets[k]!;
    for (let r = 0; r < p.batch; r++) {
      const from = order[(start + r) % p.n]! * row;
      const to = off + r * row;
      for (let j = 0; j < row; j++) inputs[to + j] = src[from + j]!;
    }
  }
}

const identity = (n: number) => {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
};

/** Trains `mod` by (mini-batch) SGD; see the file comment for how `data` is batched. */
export function train<A extends Buf = Float32Array>(mod: Module<A>, opts: TrainOptions<A>): TrainResult<A> {
  const { layout } = mod;
  // Read the functions once, outside the loop.
  const forward = mod.forward;
  const backward = mod.backward;
  if (!layout.hasLoss || !backward)
    throw new RuntimeError("E_NO_LOSS", `model '${layout.name}' has no loss, so there is nothing to train (call m.loss(...) in the spec)`);
  const { lr, epochs, momentum = 0, seed = 0, shuffle = true, onEpoch } = opts;
  if (!(Number.isFinite(lr) && lr > 0)) throw new RuntimeError("E_ARG", `lr must be a positive number, got ${lr}`);
  if (!(Number.isInteger(epochs) && epochs >= 0)) throw new RuntimeError("E_ARG", `epochs must be a non-negative integer, got ${epochs}`);
  if (!(momentum >= 0 && momentum < 1)) throw new RuntimeError("E_ARG", `momentum must be in [0, 1), got ${momentum}`);
  const Arr = opts.Array ?? (Float32Array as unknown as ArrayCtor<A>);

  // ---- everything the loop touches, allocated once ----------------------------------
  const p = plan(layout, opts.data, Arr, false);
  // The module's own buffers when it has them (a module with wasm kernels accepts only those).
  const own = ownBuffers(mod);
  let params: A;
  if (opts.params) {
    if (opts.params.length !== layout.paramSize)
      throw new RuntimeError("E_ARG", `params has ${opts.params.length} elements, layout '${layout.name}' needs ${layout.paramSize}`);
    params = own ? own.params : opts.params;
    if (own) params.set(opts.params);
  } else {
    params = initParams(layout, own?.params ?? new Arr(layout.paramSize), seed, opts.init);
  }
  const inputs = own?.inputs ?? new Arr(layout.inputSize);
  const arena = own?.arena ?? new Arr(layout.arenaSize);
  const grads = own?.grads ?? new Arr(layout.paramSize);
  const velocity = new Arr(layout.paramSize);
  const order = identity(p.n);
  const rng = new Rng(deriveSeed(seed, "shuffle"));
  const stepsPerEpoch = Math.ceil(p.n / p.batch);
  const fullBatch = p.n === p.batch;
  if (fullBatch) pack(p, order, 0, inputs);

  // ---- the loop: nothing below allocates (forward leaves the loss in the arena).
  const lossAt = layout.lossOffset!;
  let steps = 0;
  let loss = NaN;
  let epoch = 0;
  while (epoch < epochs) {
    if (shuffle && !fullBatch) rng.shuffle(order);
    let sum = 0;
    for (let s = 0; s < stepsPerEpoch; s++) {
      if (!fullBatch) pack(p, order, s * p.batch, inputs);
      forward.call(mod, params, inputs, arena);
      sum += arena[lossAt]!;
      backward.call(mod, params, inputs, arena, grads);
      sgdStep(params, grads, velocity, lr, momentum);
      steps++;
    }
    loss = sum / stepsPerEpoch;
    epoch++;
    if (onEpoch && onEpoch(epoch, loss) === false) break;
  }
  if (own && opts.params) {
    opts.params.set(params); // trained in the module's memory; hand back the caller's array, as documented
    params = opts.params;
  }
  return { params, loss, epochs: epoch, steps };
}

/**
 * Runs `forward` over N examples (batch by batch, as `train` does) and returns
 * every output's N rows, by output name. Inputs missing from `data` (e.g.
 * targets) read as zeros; every output's axis 0 must be the batch axis.
 * Allocates its result: for evaluation, not inside a training loop.
 */
export function predict<A extends Buf = Float32Array>(
  mod: Module<A>,
  params: A,
  data: Dataset,
  Arr: ArrayCtor<A> = Float32Array as unknown as ArrayCtor<A>,
): Record<string, A> {
  const { layout } = mod;
  if (params.length !== layout.paramSize)
    throw new RuntimeError("E_ARG", `params has ${params.length} elements, layout '${layout.name}' needs ${layout.paramSize}`);
  const p = plan(layout, data, Arr, true);
  for (const o of layout.outputs)
    if (o.shape[0] !== p.batch)
      throw new RuntimeError(
        "E_ARG",
        `output '${o.name}' has shape [${o.shape.join(",")}]; predict needs axis 0 to be the batch axis (${p.batch})`,
      );
  const own = ownBuffers(mod);
  if (own) own.params.set(params);
  const weights = own?.params ?? params;
  const inputs = own?.inputs ?? new Arr(layout.inputSize);
  const arena = own?.arena ?? new Arr(layout.arenaSize);
  const order = identity(p.n);
  const result: Record<string, A> = {};
  for (const o of layout.outputs) result[o.name] = new Arr((o.size / p.batch) * p.n);
  for (let start = 0; start < p.n; start += p.batch) {
    pack(p, order, start, inputs);
    mod.forward(weights, inputs, arena);
    const rowsHere = Math.min(p.batch, p.n - start);
    for (const o of layout.outputs) {
      const row = o.size / p.batch;
      result[o.name]!.set(arena.subarray(o.offset, o.offset + rowsHere * row), start * row);
    }
  }
  return result;
}
