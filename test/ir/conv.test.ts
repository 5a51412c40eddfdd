/**
 * The conv and pool ops beyond the op-table cases (test/ir/conv-cases.ts): the builder's
 * options and its errors (the spatial arithmetic named), the tie rule of max pooling at
 * three-way ties, that the checker catches wrong conv rules, and Hessian-vector products
 * through a small conv net (the derivative of each conv op is made of conv ops).
 */
import { describe, expect, it } from "vitest";
import { gradients } from "../../compiler/autodiff/reverse.ts";
import { builder } from "../../compiler/frontend/dsl.ts";
import type { Node } from "../../compiler/ir/graph.ts";
import { evaluate } from "../../compiler/ir/interp.ts";
import type { Leaf } from "../../compiler/ir/model.ts";
import { OPS } from "../../compiler/ir/ops.ts";
import { B, Graph, Leaves, TOL, checkGradients, fmtMismatch, rng, uniform, weighted, withinTol } from "../helpers.ts";
import { CONV_CASES, convAttrs, distinct, poolAttrs } from "./conv-cases.ts";

const spec = () => builder("conv", "conv.ts");
const err = (f: () => unknown): { code: string; message: string; hint?: string } => {
  try {
    f();
  } catch (e) {
    const ge = e as { code: string; message: string; info?: { hint?: string } };
    return { code: ge.code, message: ge.message, hint: ge.info?.hint };
  }
  throw new Error("no error");
};

describe("builder: conv2d, pools, flatten, globalAvgPool", () => {
  it("conv2d shapes: stride, padding valid/same/explicit, dilation, groups, bias", () => {
    const m = spec();
    const x = m.input("x", [2, 4, 28, 28]);
    const shape = (o: Parameters<typeof m.conv2d>[2], w = [6, 4, 5, 5]) => m.conv2d(x, m.param(`W${Math.random()}`.replace(".", ""), w), o).shape;
    expect(shape({})).toEqual([2, 6, 24, 24]);
    expect(shape({ padding: "same" })).toEqual([2, 6, 28, 28]);
    expect(shape({ padding: "same", stride: 2 })).toEqual([2, 6, 14, 14]);
    expect(shape({ padding: "same", stride: 3 })).toEqual([2, 6, 10, 10]); // ceil(28 / 3)
    expect(shape({ padding: [2, 2, 2, 3], stride: [1, 2] })).toEqual([2, 6, 28, 15]);
    expect(shape({ padding: [0, 1], dilation: 2 })).toEqual([2, 6, 20, 22]);
    expect(shape({ padding: [1, 0, 2, 0], stride: 1 })).toEqual([2, 6, 27, 24]);
    expect(shape({ groups: 2 }, [6, 2, 5, 5])).toEqual([2, 6, 24, 24]);
    expect(shape({ groups: 4, padding: "same" }, [4, 1, 3, 3])).toEqual([2, 4, 28, 28]);
    const b = m.param("b", [6]);
    const y = m.conv2d(x, m.param("Wb", [6, 4, 5, 5]), { bias: b });
    expect(y.shape).toEqual([2, 6, 24, 24]);
    expect(y.node.op).toBe("add");
  });

  it('"same" is ONNX SAME_UPPER: the odd cell of padding goes to the bottom and right', () => {
    const m = spec();
    const x = m.input("x", [1, 1, 5, 6]);
    const y = m.conv2d(x, m.param("W", [1, 1, 2, 2]), { padding: "same" });
    expect(y.node.attrs.pad).toEqual([0, 0, 1, 1]);
    const z = m.conv2d(x, m.param("W2", [1, 1, 3, 3]), { padding: "same", stride: 2 });
    expect(z.shape).toEqual([1, 1, 3, 3]);
    expect(z.node.attrs.pad).toEqual([1, 0, 1, 1]); // rows: (3 − 1)·2 + 3 − 5 = 2 → 1 + 1; cols: (3 − 1)·2 + 3 − 6 = 1 → 0 + 1
  });

  it("a non-integer output size names the spatial arithmetic and the fix", () => {
    const m = spec();
    const x = m.input("x", [1, 1, 28, 28]);
    const e = err(() => m.conv2d(x, m.param("W", [6, 1, 5, 5]), { stride: 2 }));
    expect(e.code).toBe("E_SHAPE");
    expect(e.message).toContain("conv2d: input 28×28, kernel 5×5, stride 2, padding valid → 12.5 output rows");
    expect(e.message).toContain("not an integer");
    expect(e.hint).toContain("(23) must be a multiple of the stride 2: pad 1 more row at the bottom (padding [0, 0, 1, 0]), crop 1 row, or change the stride");
    const p = err(() => m.maxPool2d(m.input("y", [1, 1, 5, 5]), { size: 2 }));
    expect(p.message).toContain("maxPool2d: input 5×5, window 2×2, stride 2, padding valid → 2.5 output rows");
    const big = err(() => m.conv2d(m.input("s", [1, 1, 3, 3]), m.param("W5", [1, 1, 5, 5])));
    expect(big.message).toContain("the kernel's extent 5 is larger than the padded input's rows (3)");
  });

  it("bad options: unknown keys, strides, padding, groups, bias, ranks", () => {
    const m = spec();
    const x = m.input("x", [1, 4, 8, 8]);
    const W = m.param("W", [2, 4, 3, 3]);
    expect(err(() => m.conv2d(x, W, { strides: 2 } as never)).message).toContain("unknown option 'strides'");
    expect(err(() => m.conv2d(x, W, { stride: 0 })).message).toContain("stride 0 is not a positive integer");
    expect(err(() => m.conv2d(x, W, { padding: "full" as never })).code).toBe("E_BAD_ATTR");
    expect(err(() => m.conv2d(x, W, { padding: [1, 2, 3] as never })).code).toBe("E_BAD_ATTR");
    expect(err(() => m.conv2d(x, W, { groups: 1.5 })).code).toBe("E_BAD_ATTR");
    expect(err(() => m.conv2d(x, W, { groups: 3 })).message).toContain("groups 3 does not divide the 4 input channels");
    expect(err(() => m.conv2d(x, m.param("W1", [2, 3, 3, 3]))).message).toContain("the filter holds 3 input channel(s) per group, the input has 4 channels");
    expect(err(() => m.conv2d(x, W, { bias: m.param("b", [3]) })).message).toContain("bias [3] is not [2]");
    expect(err(() => m.conv2d(m.input("f", [4, 64]), W)).message).toContain("the input must be 4-D");
    expect(err(() => m.maxPool2d(x, {} as never)).message).toContain("size");
    expect(err(() => m.maxPool2d(x, { size: 2, padding: 2 })).message).toContain("not smaller than the window");
    expect(err(() => m.op("conv2d", x, W)).message).toContain("has no way to pass its attributes");
  });

  it("pools, globalAvgPool, flatten", () => {
    const m = spec();
    const x = m.input("x", [3, 2, 6, 6]);
    expect(m.maxPool2d(x, { size: 2 }).shape).toEqual([3, 2, 3, 3]);
    expect(m.maxPool2d(x, { size: 3, stride: 1, padding: 1 }).shape).toEqual([3, 2, 6, 6]);
    expect(m.avgPool2d(x, { size: [2, 3], padding: "same" }).shape).toEqual([3, 2, 3, 2]);
    expect(m.globalAvgPool(x).shape).toEqual([3, 2, 1, 1]);
    expect(m.flatten(x).shape).toEqual([3, 72]);
    expect(m.flatten(x).node.op).toBe("reshape");
  });
});

describe("max pooling: tied maxima share the gradient equally", () => {
  it("a three-way tie gives 1/3 to each tied cell, and the shares add up to the derivative along all of them", () => {
    const g = new Graph();
    const b = new B(g);
    const L = new Leaves(g, rng(1));
    const v = Float64Array.of(0.5, 0.5, -1, 0.5); // one 2×2 window, three cells at the max
    const x = L.param([1, 1, 2, 2], v);
    const y = b.sum(b.mul(b.g.mk("maxPool2d", [x], poolAttrs([2, 2])), 3));
    const { grads } = gradients(b, y, [x]);
    expect([...evaluate(grads, L.values).get(grads[0]!.id)!]).toEqual([1, 1, 0, 1]);
    // Moving the three tied cells together moves the max with them: d/dt max(x + t·(1,1,0,1)) = 1, times 3.
    const f = (t: number) => evaluate([y], { [L.params[0]!.name]: v.map((z, i) => (i === 2 ? z : z + t)) }).get(y.id)![0]!;
    expect((f(TOL.eps) - f(-TOL.eps)) / (2 * TOL.eps)).toBeCloseTo(3, 9);
  });

  it("the checker catches a tie rule that gives the whole gradient to every tied cell", () => {
    const c = CONV_CASES.find((k) => k.label.startsWith("maxPool2d [2,1,4,4]") && k.label.includes("ties"))!;
    const g = new Graph();
    const b = new B(g);
    const L = new Leaves(g, rng(7));
    const y = weighted(b, L, c.build(b, L));
    expect(checkGradients(b, y, L.params, L.values).mismatches).toEqual([]);
    const whole = (gn: Node, [x]: readonly Node[], out: Node, bb: B) => {
      // g to every cell equal to the window max: maxPool2dBack at each cell, times the number of tied cells (2)
      return [bb.mul(bb.g.mk("maxPool2dBack", [x!, gn], out.attrs), 2)];
    };
    expect(checkGradients(b, y, L.params, L.values, { ...OPS, maxPool2d: { vjp: whole } }).mismatches.length).toBeGreaterThan(0);
  });
});

describe("the checker catches wrong conv rules", () => {
  const wrong = {
    "dx with the padding swapped top/bottom": (g: Node, [, w]: readonly Node[], y: Node, bb: B) => {
      const p = y.attrs.pad as number[];
      return [bb.g.mk("conv2dBackInput", [g, w!], { ...y.attrs, pad: [p[2]!, p[1]!, p[0]!, p[3]!] }), null];
    },
    "dw as the correlation without dilation": (g: Node, [x]: readonly Node[], y: Node, bb: B) => [null, bb.g.mk("conv2dBackFilter", [x!, g], { ...y.attrs, dilation: [1, 1] })],
  };
  it.each(Object.entries(wrong))("%s", (_, vjp) => {
    const g = new Graph();
    const b = new B(g);
    const L = new Leaves(g, rng(3));
    const y = weighted(b, L, b.g.mk("conv2d", [L.param([1, 2, 7, 6]), L.param([2, 2, 2, 2])], convAttrs({ pad: [1, 0, 0, 0], dilation: [2, 1] })));
    expect(checkGradients(b, y, L.params, L.values).mismatches).toEqual([]);
    const res = checkGradients(b, y, L.params, L.values, { ...OPS, conv2d: { vjp } });
    expect(res.mismatches.length).toBeGreaterThan(0);
  });
});

/** H v (symbolic, interpreted) against central differences of the symbolic gradient along v. */
function checkHvp(b: B, y: Node, params: readonly Leaf[], values: Record<string, Float64Array>, seed: number): string[] {
  const next = rng(seed);
  const v = params.map((p, i) => {
    values[`v${i}`] = uniform(next, [-1, 1], p.node.shape.reduce((a, d) => a * d, 1));
    return b.g.mk("input", [], { name: `v${i}`, shape: [...p.node.shape] });
  });
  const { grads } = gradients(b, y, params.map((p) => p.node));
  const gv = grads.map((gn, i) => b.sum(b.mul(gn, v[i]!))).reduce((acc, t) => b.add(acc, t));
  const { grads: hv } = gradients(b, gv, params.map((p) => p.node));
  const at = evaluate(hv, values);
  const gradAt = (sign: number) => {
    params.forEach((p, i) => values[p.name]!.forEach((_, j, x) => (x[j]! += sign * TOL.eps * values[`v${i}`]![j]!)));
    const r = evaluate(grads, values);
    const out = grads.map((n) => Float64Array.from(r.get(n.id)!));
    params.forEach((p, i) => values[p.name]!.forEach((_, j, x) => (x[j]! -= sign * TOL.eps * values[`v${i}`]![j]!)));
    return out;
  };
  const [plus, minus] = [gradAt(1), gradAt(-1)];
  const bad: string[] = [];
  hv.forEach((n, i) =>
    at.get(n.id)!.forEach((a, j) => {
      const numeric = (plus[i]![j]! - minus[i]![j]!) / (2 * TOL.eps);
      if (!withinTol(a, numeric)) bad.push(fmtMismatch({ quantity: `(H v) for ${params[i]!.name}`, wrt: params[i]!.name, index: j, analytic: a, numeric }));
    }),
  );
  return bad;
}

describe("second order through convs", () => {
  it("a conv net (conv + bias + tanh, max-pool, strided dilated grouped conv, avg-pool, softmax CE): H v matches central differences", () => {
    const m = spec();
    const x = m.input("x", [2, 2, 8, 8]);
    const t = m.input("t", [2, 3]);
    const W1 = m.param("W1", [4, 2, 3, 3]);
    const b1 = m.param("b1", [4]);
    const W2 = m.param("W2", [6, 2, 2, 2]);
    const h = m.tanh(m.conv2d(x, W1, { padding: "same", bias: b1 }));
    const p = m.maxPool2d(h, { size: 2 }); // [2,4,4,4]
    const c = m.sigmoid(m.conv2d(p, W2, { groups: 2, stride: 2, dilation: [1, 2], padding: [1, 1, 1, 0] })); // [2,6,3,2]
    const a = m.avgPool2d(c, { size: 2, padding: [1, 1, 0, 0], stride: 1 }); // [2,6,3,2]
    const logits = m.flatten(m.globalAvgPool(a)).matmul(m.param("W3", [6, 3]));
    m.loss(m.mean(m.softmaxCrossEntropy(logits, t)));
    const model = m.finish();
    const next = rng(5);
    const values: Record<string, Float64Array> = {};
    for (const l of [...model.inputs, ...model.params]) values[l.name] = uniform(next, [-1, 1], l.shape.reduce((s, d) => s * d, 1));
    const b = new B(model.graph);
    expect(checkGradients(b, model.loss!, model.params, values).mismatches.map(fmtMismatch)).toEqual([]);
    for (const seed of [1, 2]) expect(checkHvp(b, model.loss!, model.params, values, seed)).toEqual([]);
  });

  it("hvp through pure conv ops reaches every conv op (backInput and backFilter appear differentiated)", () => {
    const g = new Graph();
    const b = new B(g);
    const L = new Leaves(g, rng(9));
    const x = L.param([1, 2, 5, 5], distinct(L.next, 50));
    const w = L.param([2, 2, 3, 3]);
    const y = b.g.mk("conv2d", [x, w], convAttrs({ stride: [2, 2], pad: [1, 1, 1, 1] }));
    const f = b.sum(b.mul(b.op("tanh", b.g.mk("maxPool2d", [y], poolAttrs([2, 2], { stride: [1, 1] }))), 1.5));
    expect(checkHvp(b, f, L.params, L.values, 4)).toEqual([]);
  });
});
