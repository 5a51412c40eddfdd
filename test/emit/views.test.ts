/**
 * Generated code where memory layout matters: outputs and gradients that are
 * views (transposed, broadcast, reshaped) of computed values, values read
 * through two different views by one kernel, and row-wise ops over
 * non-contiguous rows. Each graph is compiled fully unrolled, fully looped
 * (`unrollLimit: 0`) and mixed, and must agree with the float64 interpreter.
 */
import { describe, expect, it } from "vitest";
import { gradients } from "../../compiler/autodiff/reverse.ts";
import { importModule } from "../../compiler/emit/load.ts";
import type { Node } from "../../compiler/ir/graph.ts";
import { evaluate } from "../../compiler/ir/interp.ts";
import { compile } from "../../compiler/index.ts";
import { B, Graph, Leaves, modelOf, rng, runModule, weighted } from "../helpers.ts";

interface Case {
  readonly label: string;
  /** Returns the outputs and the loss. */
  build(b: B, L: Leaves): { outputs: Node[]; loss: Node };
}

/** A little work after the interesting part, so freed arena slots get reused before outputs are copied out. */
const more = (b: B, L: Leaves) => weighted(b, L, b.op("exp", b.mul(L.param([2, 3]), L.param([2, 3]))));

const CASES: Case[] = [
  {
    label: "output (p * q)ᵀ",
    build: (b, L) => {
      const o = b.transpose(b.mul(L.param([2, 3]), L.param([3])));
      return { outputs: [o], loss: b.add(weighted(b, L, o), more(b, L)) };
    },
  },
  {
    label: "output reshape((p * q)ᵀ, [6])",
    build: (b, L) => {
      const o = b.reshape(b.transpose(b.mul(L.param([2, 3]), L.param([3]))), [6]);
      return { outputs: [o], loss: weighted(b, L, o) };
    },
  },
  {
    label: "output broadcast(sin v) read by nothing after the loss term",
    build: (b, L) => {
      const o = b.broadcast(b.op("sin", L.param([3])), [2, 3]);
      return { outputs: [o], loss: b.add(weighted(b, L, o), more(b, L)) };
    },
  },
  {
    label: "gradient that is a broadcast view: d/dp sum(p * sin s), s [2,1]",
    build: (b, L) => {
      const p = L.param([2, 3]);
      const s = L.param([2, 1]);
      return { outputs: [], loss: b.add(b.sum(b.mul(p, b.op("sin", s))), more(b, L)) };
    },
  },
  {
    label: "gradient that is a transpose view: d/dp sum(pᵀ * cos q)",
    build: (b, L) => {
      const p = L.param([2, 3]);
      return { outputs: [], loss: b.add(b.sum(b.mul(b.transpose(p), b.op("cos", L.param([3, 2])))), more(b, L)) };
    },
  },
  {
    label: "one kernel reads u and uᵀ: (u + uᵀ)², u = sin x",
    build: (b, L) => {
      const u = b.op("sin", L.param([3, 3]));
      const y = b.add(u, b.transpose(u));
      return { outputs: [], loss: b.sum(b.mul(y, y)) };
    },
  },
  {
    label: "softmax and logsumexp of a transpose and of a broadcast",
    build: (b, L) => {
      const t = b.transpose(L.param([3, 2]));
      const o1 = b.op("softmax", t);
      const o2 = b.op("logsumexp", t);
      const o3 = b.op("softmax", b.broadcast(L.param([3]), [2, 3]));
      return { outputs: [o1, o2, o3], loss: b.add(b.add(weighted(b, L, o1), weighted(b, L, o2)), weighted(b, L, o3)) };
    },
  },
  {
    label: "reshape of a transposed param",
    build: (b, L) => {
      const o = b.reshape(b.transpose(L.param([2, 3])), [3, 2]);
      return { outputs: [o], loss: weighted(b, L, b.op("tanh", o)) };
    },
  },
];

const LIMITS = [undefined, 0, 4] as const;

describe("views in generated code (float64, vs the interpreter)", () => {
  it.each(CASES.flatMap((c) => LIMITS.map((limit) => [c.label, limit ?? "default", c] as const)))(
    "%s, unrollLimit %s",
    async (_, limit, c) => {
      const g = new Graph();
      const b = new B(g);
      const L = new Leaves(g, rng(42));
      const { outputs, loss } = c.build(b, L);
      const model = modelOf(
        "views",
        g,
        L,
        outputs.map((node, i) => ({ name: `o${i}`, node })),
        loss,
      );
      const { grads } = gradients(
        b,
        loss,
        L.params.map((p) => p.node),
      );
      const ref = evaluate([...outputs, loss, ...grads], L.values);
      const { js } = await compile(model, { precision: "f64", ...(limit === "default" ? {} : { unrollLimit: limit }) });
      const run = runModule(await importModule(js), L.values, Float64Array);
      const off = (what: string, got: ArrayLike<number>, want: ArrayLike<number>) =>
        Array.from(want, (w, i) => (Math.abs(got[i]! - w) <= 1e-12 * Math.max(1, Math.abs(w)) ? "" : `${what}[${i}]: got ${got[i]}, expected ${w}`)).filter(Boolean);
      expect([
        ...outputs.flatMap((o, i) => off(`output ${i}`, run.outputs[i]!, ref.get(o.id)!)),
        ...off("loss", [run.loss], ref.get(loss.id)!),
        ...grads.flatMap((gn, i) => off(`d/d${L.params[i]!.name}`, run.grads[i]!, ref.get(gn.id)!)),
      ]).toEqual([]);
    },
  );
});
