/**
 * Second-order and structural properties of reverse mode:
 * - the gradient is IR, so differentiating sum(grad · v) again gives a
 *   Hessian-vector product; checked against central differences of the
 *   (interpreted) gradient, and the Hessian built from it is symmetric;
 * - fan-in: a node used three times receives the sum of three contributions;
 * - reuse: rules that are written with the forward output (sigmoid, tanh,
 *   exp, softmax, div) point at the forward node itself, and the generated
 *   backward pass reads it instead of recomputing it;
 * - hash-consing: building the same expression twice returns the same node.
 */
import { describe, expect, it } from "vitest";
import { gradients } from "../../compiler/autodiff/reverse.ts";
import { importModule } from "../../compiler/emit/load.ts";
import { builder } from "../../compiler/frontend/dsl.ts";
import { type Node, topo } from "../../compiler/ir/graph.ts";
import { evaluate } from "../../compiler/ir/interp.ts";
import type { Leaf } from "../../compiler/ir/model.ts";
import { compile } from "../../compiler/index.ts";
import {
  B,
  Graph,
  Leaves,
  TOL,
  checkGradients,
  fmtMismatch,
  modelOf,
  rng,
  runModule,
  uniform,
  weighted,
  withinTol,
} from "../helpers.ts";

/** Symbolic gradient and Hessian-vector product of the scalar `y`; `v` holds one input leaf per param (the direction). */
function hvpGraph(b: B, y: Node, params: readonly Leaf[], v: readonly Node[]) {
  const wrt = params.map((p) => p.node);
  const { grads } = gradients(b, y, wrt);
  const gv = grads.map((g, i) => b.sum(b.mul(g, v[i]!))).reduce((acc, t) => b.add(acc, t));
  const { grads: hv } = gradients(b, gv, wrt);
  return { grads, hv };
}

/**
 * Checks H v (symbolic, interpreted) against central differences of the
 * symbolic gradient along v: (grad(θ + εv) - grad(θ - εv)) / 2ε.
 */
function checkHvp(b: B, y: Node, params: readonly Leaf[], values: Record<string, Float64Array>, seed: number): string[] {
  const next = rng(seed);
  const vNodes = params.map((p, i) => {
    const name = `v${i}`;
    values[name] = uniform(next, [-1, 1], p.node.shape.reduce((a, d) => a * d, 1));
    return b.g.mk("input", [], { name, shape: [...p.node.shape] });
  });
  const { grads, hv } = hvpGraph(b, y, params, vNodes);
  const at = evaluate(hv, values);
  const analytic = hv.map((n) => at.get(n.id)!);
  const gradAt = (sign: number) => {
    params.forEach((p, i) => {
      const x = values[p.name]!;
      const v = values[`v${i}`]!;
      for (let j = 0; j < x.length; j++) x[j]! += sign * TOL.eps * v[j]!;
    });
    const r = evaluate(grads, values);
    const out = grads.map((n) => Float64Array.from(r.get(n.id)!));
    params.forEach((p, i) => {
      const x = values[p.name]!;
      const v = values[`v${i}`]!;
      for (let j = 0; j < x.length; j++) x[j]! -= sign * TOL.eps * v[j]!;
    });
    return out;
  };
  const plus = gradAt(1);
  const minus = gradAt(-1);
  const bad: string[] = [];
  params.forEach((p, i) => {
    for (let j = 0; j < analytic[i]!.length; j++) {
      const numeric = (plus[i]![j]! - minus[i]![j]!) / (2 * TOL.eps);
      const a = analytic[i]![j]!;
      if (!withinTol(a, numeric)) bad.push(fmtMismatch({ quantity: `(H v) for ${p.name}`, wrt: p.name, index: j, analytic: a, numeric }));
    }
  });
  return bad;
}

/** A small MLP through the DSL: tanh hidden layer, softplus output, squared error. */
function mlp(seed: number) {
  const m = builder("mlp", "test/autodiff/hvp.test.ts");
  const x = m.input("x", [2, 3]);
  const t = m.input("t", [2, 2]);
  const W1 = m.param("W1", [3, 4]);
  const b1 = m.param("b1", [4]);
  const W2 = m.param("W2", [4, 2]);
  const b2 = m.param("b2", [2]);
  const h = m.tanh(x.matmul(W1).add(b1));
  const o = m.softplus(h.matmul(W2).add(b2));
  m.loss(m.mean(m.squaredError(o, t)));
  const model = m.finish();
  const next = rng(seed);
  const values: Record<string, Float64Array> = {};
  for (const l of [...model.inputs, ...model.params])
    values[l.name] = uniform(next, [-1, 1], l.shape.reduce((a, d) => a * d, 1));
  return { model, values, b: new B(model.graph) };
}

/** f(x, y) = x^3 y + sin(x y), elementwise, summed. */
function poly(shape: number[], seed: number) {
  const g = new Graph();
  const b = new B(g);
  const L = new Leaves(g, rng(seed));
  const x = L.param(shape, [-1.5, 1.5]);
  const y = L.param(shape, [-1.5, 1.5]);
  const f = b.sum(b.add(b.mul(b.pow(x, 3), y), b.op("sin", b.mul(x, y))));
  return { b, L, f };
}

describe("Hessian-vector products (differentiating the gradient graph)", () => {
  it("MLP with tanh and softplus: H v matches central differences of the gradient", () => {
    const { model, values, b } = mlp(1);
    // First order too, so a failure here is not a first-order bug in disguise.
    expect(checkGradients(b, model.loss!, model.params, values).mismatches.map(fmtMismatch)).toEqual([]);
    for (const seed of [11, 12, 13]) expect(checkHvp(b, model.loss!, model.params, values, seed)).toEqual([]);
  });

  it("x^3 y + sin(x y): H v matches central differences, for scalars and vectors", () => {
    for (const shape of [[], [3]]) {
      const { b, L, f } = poly(shape, 2);
      expect(checkHvp(b, f, L.params, L.values, 21)).toEqual([]);
    }
  });

  it("x^3 y + sin(x y): the Hessian built from H e_j is the analytic one and is symmetric", () => {
    const { b, L, f } = poly([], 3);
    const [x, y] = L.params.map((p) => L.values[p.name]![0]!) as [number, number];
    const e = [b.g.mk("input", [], { name: "e0", shape: [] }), b.g.mk("input", [], { name: "e1", shape: [] })];
    const { hv } = hvpGraph(b, f, L.params, e);
    const H = [0, 1].map((j) => {
      const vals = { ...L.values, e0: Float64Array.of(j === 0 ? 1 : 0), e1: Float64Array.of(j === 1 ? 1 : 0) };
      const r = evaluate(hv, vals);
      return hv.map((n) => r.get(n.id)![0]!); // column j
    });
    const s = Math.sin(x * y);
    const c = Math.cos(x * y);
    const want = [
      [6 * x * y - y * y * s, 3 * x * x + c - x * y * s],
      [3 * x * x + c - x * y * s, -x * x * s],
    ];
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 2; j++) expect(H[j]![i]!).toBeCloseTo(want[i]![j]!, 12);
    expect(Math.abs(H[0]![1]! - H[1]![0]!)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(H[0]![1]!)));
  });

  it("MLP: the full Hessian from H e_j is symmetric", () => {
    const { model, values, b } = mlp(4);
    const params = model.params;
    const sizes = params.map((p) => p.shape.reduce((a, d) => a * d, 1));
    const n = sizes.reduce((a, c) => a + c, 0);
    const e = params.map((p, i) => b.g.mk("input", [], { name: `e${i}`, shape: [...p.shape] }));
    const { hv } = hvpGraph(b, model.loss!, params, e);
    const H: number[][] = [];
    for (let j = 0; j < n; j++) {
      let off = 0;
      params.forEach((_, i) => {
        values[`e${i}`] = Float64Array.from({ length: sizes[i]! }, (__, k) => (off + k === j ? 1 : 0));
        off += sizes[i]!;
      });
      const r = evaluate(hv, values);
      H.push(hv.flatMap((h) => [...r.get(h.id)!])); // column j
    }
    const scale = Math.max(...H.flat().map(Math.abs));
    const asym: string[] = [];
    for (let i = 0; i < n; i++)
      for (let j = 0; j < i; j++)
        if (Math.abs(H[i]![j]! - H[j]![i]!) > 1e-12 * scale) asym.push(`H[${i}][${j}] = ${H[j]![i]} vs H[${j}][${i}] = ${H[i]![j]}`);
    expect(asym).toEqual([]);
  });

  it("a rational function, whose gradient graph contains neg nodes: H v matches central differences", () => {
    // d/dy of x / (1 + y^2) is built by div's rule as -(g x/(1+y^2)) / (1+y^2): a `neg` node the second pass must differentiate.
    const g = new Graph();
    const b = new B(g);
    const L = new Leaves(g, rng(5));
    const x = L.param([3]);
    const y = L.param([3]);
    const f = b.sum(b.sub(b.div(x, b.add(1, b.mul(y, y))), b.mul(x, y)));
    expect(checkGradients(b, f, L.params, L.values).mismatches.map(fmtMismatch)).toEqual([]);
    expect(checkHvp(b, f, L.params, L.values, 51)).toEqual([]);
  });
});

describe("fan-in, reuse of forward nodes, hash-consing", () => {
  it("a node used three times gets the sum of three contributions", () => {
    const g = new Graph();
    const b = new B(g);
    const L = new Leaves(g, rng(6));
    const x = L.param([3]);
    const u = b.op("sin", x);
    const y = weighted(b, L, b.add(b.mul(u, u), b.op("exp", u))); // u: twice in mul, once in exp
    const r = gradients(b, y, [x]);
    const into = r.contributions.filter((c) => c.consumer.inputs[c.index] === u);
    expect(into.map((c) => c.consumer.op).sort()).toEqual(["exp", "mul", "mul"]);
    expect(r.adjoints.get(u.id)!.op).toBe("add");
    expect(checkGradients(b, y, L.params, L.values).mismatches.map(fmtMismatch)).toEqual([]);
  });

  it.each([
    ["sigmoid", "sigmoid"],
    ["tanh", "tanh"],
    ["exp", "exp"],
    ["softmax", "softmax"],
  ])("the %s rule reuses the forward node and builds no second %s", (op) => {
    const g = new Graph();
    const b = new B(g);
    const L = new Leaves(g, rng(7));
    const x = L.param([2, 3]);
    const s = b.op(op, x);
    const y = weighted(b, L, s);
    const [dx] = gradients(b, y, [x]).grads;
    const nodes = topo([dx!]);
    expect(nodes).toContain(s);
    expect(nodes.filter((n) => n.op === op)).toEqual([s]);
  });

  it("div's rule reuses its output a/b for d/db", () => {
    const g = new Graph();
    const b = new B(g);
    const L = new Leaves(g, rng(8));
    const p = L.param([3]);
    const q = L.param([3], [0.5, 2]);
    const d = b.div(p, q);
    const [, dq] = gradients(b, weighted(b, L, d), [p, q]).grads;
    expect(topo([dq!])).toContain(d);
  });

  it("the generated backward reads the saved sigmoid instead of recomputing it", async () => {
    const g = new Graph();
    const b = new B(g);
    const L = new Leaves(g, rng(9));
    const x = L.param([2, 3], [-4, 4]);
    const s = b.op("sigmoid", x);
    const loss = weighted(b, L, s);
    const { js } = await compile(modelOf("sig", g, L, [], loss), { precision: "f64" });
    const end = js.indexOf("function step");
    const backward = js.slice(js.indexOf("function backward"), end < 0 ? undefined : end);
    const forward = js.slice(js.indexOf("function forward"), js.indexOf("function backward"));
    expect(forward.match(/Math\.exp/g)).toHaveLength(6); // one per element, in forward (step repeats forward)
    expect(backward).not.toMatch(/Math\.exp/);
    const run = runModule(await importModule(js), L.values, Float64Array);
    const { grads } = checkGradients(b, loss, L.params, L.values);
    grads[0]!.forEach((v, i) => expect(run.grads[0]![i]).toBeCloseTo(v, 12));
  });

  it("where's rule sends exactly 0 to the unselected branch, even when the upstream adjoint is NaN or Infinity", () => {
    const g = new Graph();
    const b = new B(g);
    const c = g.mk("input", [], { name: "c", shape: [4] });
    const r = g.mk("input", [], { name: "r", shape: [4] });
    const a = g.mk("param", [], { name: "a", shape: [4] });
    const e = g.mk("param", [], { name: "e", shape: [4] });
    const y = b.sum(b.mul(b.where(c, a, e), r));
    const [da, de] = gradients(b, y, [a, e]).grads;
    const vals = {
      c: Float64Array.of(1, 0, 1, 0),
      r: Float64Array.of(NaN, NaN, Infinity, -Infinity),
      a: Float64Array.of(1, 2, 3, 4),
      e: Float64Array.of(5, 6, 7, 8),
    };
    const at = evaluate([da!, de!], vals);
    expect([...at.get(da!.id)!]).toEqual([NaN, 0, Infinity, 0]);
    expect([...at.get(de!.id)!]).toEqual([0, NaN, 0, -Infinity]);
  });

  it("building the same expression twice returns the same nodes", () => {
    const g = new Graph();
    const b = new B(g);
    const x = g.mk("param", [], { name: "x", shape: [2, 3] });
    const y = g.mk("param", [], { name: "y", shape: [3] });
    const build = () => b.sum(b.add(b.mul(x, y), b.op("sin", x)), [1]);
    const first = build();
    const size = g.size;
    expect(build()).toBe(first);
    expect(g.size).toBe(size);
    expect(b.c(2)).toBe(b.c(2));
    expect(g.mk("param", [], { shape: [3], name: "y" })).toBe(y); // attribute order does not matter
  });

  it("different attributes give different nodes", () => {
    const g = new Graph();
    const b = new B(g);
    const x = g.mk("param", [], { name: "x", shape: [2, 3] });
    expect(b.sum(x, [0])).not.toBe(b.sum(x, [1]));
    expect(b.c(2)).not.toBe(b.c(3));
    expect(g.mk("reshape", [x], { shape: [3, 2] })).not.toBe(g.mk("reshape", [x], { shape: [6] }));
  });

  it("constants that differ only in sign are different nodes (±Infinity, ±0)", () => {
    const g = new Graph();
    const b = new B(g);
    const inf = b.c(Infinity);
    expect(b.c(-Infinity).attrs.value).toBe(-Infinity);
    expect(inf.attrs.value).toBe(Infinity);
    const zero = b.c(0);
    expect(Object.is(b.c(-0).attrs.value, -0)).toBe(true);
    expect(Object.is(zero.attrs.value, 0)).toBe(true);
    // What it costs: max(x, -Infinity) = x, but it evaluates to Infinity once b.c(Infinity) exists.
    const x = g.mk("param", [], { name: "x", shape: [] });
    const m = b.op("max", x, b.c(-Infinity));
    expect(evaluate([m], { x: Float64Array.of(1) }).get(m.id)![0]).toBe(1);
  });
});
