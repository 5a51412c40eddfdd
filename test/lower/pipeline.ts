// The pipeline up to a plan, for tests of planMemory() and lower() on hand-built graphs.
import { differentiate } from "../../compiler/autodiff/reverse.ts";
import type { Node } from "../../compiler/ir/graph.ts";
import type { Program } from "../../compiler/ir/program.ts";
import { simplify } from "../../compiler/optimize/simplify.ts";
import { type Plan, planMemory } from "../../compiler/plan/memory.ts";
import { schedule } from "../../compiler/plan/schedule.ts";
import { chooseTarget } from "../../compiler/plan/target.ts";
import { B, Graph, Leaves, modelOf, rng, weighted } from "../helpers.ts";

export interface Built {
  readonly program: Program;
  readonly plan: Plan;
}

export interface Opts {
  readonly unrollLimit?: number;
  readonly backend?: "js" | "wasm" | "auto";
  readonly precision?: "f32" | "f64";
}

/** Differentiates, simplifies and plans a hand-built model. */
export function planOf(build: (b: B, L: Leaves) => { outputs?: Node[]; loss?: Node }, opts: Opts = {}): Built {
  const g = new Graph();
  const b = new B(g);
  const L = new Leaves(g, rng(1));
  const { outputs = [], loss } = build(b, L);
  const model = modelOf("m", g, L, outputs.map((node, i) => ({ name: `out${i}`, node })), loss);
  const program = simplify(differentiate(model));
  const plan = planMemory(schedule(program), { unrollLimit: opts.unrollLimit, target: chooseTarget(opts) });
  return { program, plan };
}

/** A few shapes of model that exercise every lowering path. */
export const MODELS: Record<string, { build: (b: B, L: Leaves) => { outputs?: Node[]; loss?: Node }; opts?: Opts }> = {
  "unrolled 2-2-1 net": {
    build: (b, L) => {
      const h = b.op("sigmoid", b.add(b.matmul(L.input([1, 2]), L.param([2, 2])), L.param([1, 2])));
      const y = b.add(b.matmul(h, L.param([2, 1])), L.param([1, 1]));
      return { outputs: [y], loss: b.sum(b.op("halfSquare", b.sub(y, L.input([1, 1])))) };
    },
  },
  "looped layer with fused bias + tanh": {
    build: (b, L) => {
      const h = b.op("tanh", b.add(b.matmul(L.input([8, 16]), L.param([16, 8])), L.param([8])));
      return { outputs: [h], loss: weighted(b, L, h) };
    },
  },
  "wasm layers (relu epilogue, Wᵀ kernel)": {
    build: (b, L) => {
      const h = b.op("relu", b.add(b.matmul(L.input([16, 32]), L.param([32, 32])), L.param([32])));
      const y = b.matmul(h, L.param([32, 12]));
      return { outputs: [y], loss: weighted(b, L, y) };
    },
    opts: { backend: "wasm" },
  },
  "matmul operand with no strided form (reshape of a transpose)": {
    build: (b, L) => {
      const a = b.reshape(b.transpose(L.param([6, 4])), [8, 3]);
      const y = b.matmul(a, L.param([3, 5]));
      return { outputs: [y], loss: weighted(b, L, y) };
    },
    opts: { unrollLimit: 0 },
  },
  "softmax cross-entropy rows, loops everywhere": {
    build: (b, L) => {
      const logits = b.matmul(L.input([4, 3]), L.param([3, 5]));
      return { outputs: [b.op("softmax", logits)], loss: b.sum(b.sub(b.op("logsumexp", logits), b.sum(b.mul(L.input([4, 5]), logits), [1]))) };
    },
    opts: { unrollLimit: 0 },
  },
};
