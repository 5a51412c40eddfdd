/**
 * The simplifier's contract (compiler/optimize/simplify.ts): rewrites are
 * IEEE-safe — `x * 0` is never turned into 0 for a non-constant x (NaN * 0 and
 * Infinity * 0 are NaN) — constants fold, and identities (x*1, x+0, --x,
 * transpose(transpose x), …) disappear. Every rewrite is checked by
 * evaluating before and after with the float64 interpreter on inputs that
 * include NaN, ±Infinity and ±0. Signed zeros count: a rewrite that flips the
 * sign of a zero flips the sign of an Infinity after a division.
 */
import { describe, expect, it } from "vitest";
import { type Node, topo } from "../../compiler/ir/graph.ts";
import { evaluate } from "../../compiler/ir/interp.ts";
import { rewrite } from "../../compiler/optimize/simplify.ts";
import { type Shape, size } from "../../compiler/ir/shape.ts";
import { B, Graph, rng } from "../helpers.ts";

/** Values that break unsafe algebra. */
const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 0.5, 2, -3];

/** Prints -0 as -0. */
const show = (v: number) => (Object.is(v, -0) ? "-0" : String(v));

/** Same value, with every NaN equal to every NaN (payloads are not observable). */
const same = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

function setup() {
  const g = new Graph();
  const b = new B(g);
  const x = g.mk("param", [], { name: "x", shape: [2, 3] });
  const v = g.mk("param", [], { name: "v", shape: [3] });
  const s = g.mk("param", [], { name: "s", shape: [] });
  const vals = {
    x: Float64Array.of(NaN, Infinity, -Infinity, 0, -0, 1.5),
    v: Float64Array.of(NaN, -2, 0.25),
    s: Float64Array.of(Infinity),
  };
  return { g, b, x, v, s, vals };
}

const simp = (b: B, n: Node) => rewrite([n], b).get(n.id)!;
const ev = (n: Node, vals: Record<string, Float64Array>) => [...evaluate([n], vals).get(n.id)!];

/** Expects `after` to evaluate exactly like `before` (NaN-aware, sign of zero included). */
function expectSameValues(before: Node, after: Node, vals: Record<string, Float64Array>) {
  expect(after.shape).toEqual(before.shape);
  const [p, q] = [ev(before, vals), ev(after, vals)];
  const diff = p.flatMap((v, i) => (same(v, q[i]!) ? [] : [`[${i}] ${show(v)} -> ${show(q[i]!)}`]));
  expect(diff).toEqual([]);
}

describe("IEEE safety: x * 0 is not 0", () => {
  it.each([
    ["x * 0", (b: B, x: Node) => b.mul(x, 0)],
    ["0 * x", (b: B, x: Node) => b.mul(0, x)],
    ["x * -0", (b: B, x: Node) => b.mul(x, b.c(-0))],
    ["x * zeros", (b: B, x: Node) => b.mul(x, b.zeros(x.shape))],
    ["0 * x * 1", (b: B, x: Node) => b.mul(b.mul(0, x), 1)],
    ["0 / x", (b: B, x: Node) => b.div(0, x)],
    ["x - x", (b: B, x: Node) => b.sub(x, x)],
    ["x ^ 0", (b: B, x: Node) => b.pow(x, 0)],
  ])("%s keeps x (NaN and Infinity propagate)", (_, f) => {
    const { b, x, vals } = setup();
    const n = f(b, x);
    const m = simp(b, n);
    expect(topo([m])).toContain(x);
    expectSameValues(n, m, vals);
  });

  it("x * 0 at NaN and ±Infinity is NaN after simplification", () => {
    const { b, x, vals } = setup();
    const m = simp(b, b.mul(x, 0));
    expect(ev(m, vals).slice(0, 3).every(Number.isNaN)).toBe(true);
  });
});

describe("constant folding", () => {
  it.each([
    ["2 + 3", (b: B) => b.add(2, 3), 5],
    ["2 * exp(0)", (b: B) => b.mul(2, b.op("exp", b.c(0))), 2],
    ["sqrt(1 + 3) - 0.5", (b: B) => b.sub(b.op("sqrt", b.add(1, 3)), 0.5), 1.5],
    ["where(1, 2, 3)", (b: B) => b.where(b.c(1), 2, 3), 2],
    ["ge(2, 3)", (b: B) => b.op("ge", b.c(2), b.c(3)), 0],
    ["-(4) / 8", (b: B) => b.div(b.neg(b.c(4)), 8), -0.5],
    ["1 / 0", (b: B) => b.div(1, 0), Infinity],
    ["log(0)", (b: B) => b.op("log", b.c(0)), -Infinity],
    ["-(1 / 0)", (b: B) => b.neg(b.div(1, 0)), -Infinity],
  ])("%s folds to a constant", (_, f, want) => {
    const { b } = setup();
    const m = simp(b, f(b));
    expect(m.op).toBe("const");
    expect(m.attrs.value).toBe(want);
  });

  it("-Infinity folds to -Infinity when an Infinity constant already exists", () => {
    const { b } = setup();
    b.c(Infinity);
    const m = simp(b, b.op("log", b.c(0)));
    expect(m.attrs.value).toBe(-Infinity);
  });

  it("an expression of constants that is NaN does not crash the pass and stays NaN", () => {
    const { b, s, vals } = setup();
    const n = b.add(b.op("log", b.c(-1)), s); // log(-1) = NaN
    const m = simp(b, n);
    expect(ev(m, vals).every(Number.isNaN)).toBe(true);
  });

  it("folds inside a larger expression and leaves the rest", () => {
    const { b, x, vals } = setup();
    const n = b.mul(x, b.add(1, 1));
    const m = simp(b, n);
    expect(m.op).toBe("mul");
    expect(m.inputs.map((i) => (i.op === "const" ? i.attrs.value : i))).toEqual([x, 2]);
    expectSameValues(n, m, vals);
  });
});

describe("identities disappear", () => {
  const cases: [string, (b: B, n: { x: Node; v: Node; s: Node }) => Node, (n: { x: Node; v: Node; s: Node }, b: B) => Node][] = [
    ["x * 1", (b, { x }) => b.mul(x, 1), ({ x }) => x],
    ["1 * x", (b, { x }) => b.mul(1, x), ({ x }) => x],
    ["x / 1", (b, { x }) => b.div(x, 1), ({ x }) => x],
    ["x - 0", (b, { x }) => b.sub(x, 0), ({ x }) => x],
    ["x + -0", (b, { x }) => b.add(x, b.c(-0)), ({ x }) => x],
    ["-0 + x", (b, { x }) => b.add(b.c(-0), x), ({ x }) => x],
    ["-0 - x", (b, { x }) => b.sub(b.c(-0), x), ({ x }, b) => b.neg(x)],
    ["x ^ 1", (b, { x }) => b.pow(x, 1), ({ x }) => x],
    ["-(-x)", (b, { x }) => b.neg(b.neg(x)), ({ x }) => x],
    ["-(-(-(-x)))", (b, { x }) => b.neg(b.neg(b.neg(b.neg(x)))), ({ x }) => x],
    ["transpose(transpose(x))", (b, { x }) => b.transpose(b.transpose(x)), ({ x }) => x],
    ["x * -1", (b, { x }) => b.mul(x, -1), ({ x }, b) => b.neg(x)],
    ["-1 * x", (b, { x }) => b.mul(-1, x), ({ x }, b) => b.neg(x)],
    ["x - -v", (b, { x, v }) => b.sub(x, b.neg(v)), ({ x, v }, b) => b.add(x, v)],
    ["x + -v", (b, { x, v }) => b.add(x, b.neg(v)), ({ x, v }, b) => b.sub(x, v)],
    ["where(s, x, x)", (b, { x, s }) => b.where(s, x, x), ({ x }) => x],
    ["reshape(reshape(x, [6]), [3, 2])", (b, { x }) => b.reshape(b.reshape(x, [6]), [3, 2]), ({ x }, b) => b.reshape(x, [3, 2])],
    ["reshape(reshape(x, [6]), [2, 3])", (b, { x }) => b.reshape(b.reshape(x, [6]), [2, 3]), ({ x }) => x],
    ["broadcast(broadcast(s, [3]), [2, 3])", (b, { s }) => b.broadcast(b.broadcast(s, [3]), [2, 3]), ({ s }, b) => b.broadcast(s, [2, 3])],
    ["s * 1 (broadcast to [3] by the 1? no: scalar stays scalar)", (b, { s }) => b.mul(s, 1), ({ s }) => s],
    ["v * ones: the constant broadcasts, v already has the shape", (b, { v }) => b.mul(v, 1), ({ v }) => v],
    ["(x * 1 + 0) / 1 * -1 * -1", (b, { x }) => b.mul(b.mul(b.div(b.add(b.mul(x, 1), b.c(-0)), 1), -1), -1), ({ x }) => x],
  ];
  it.each(cases)("%s", (_, build, expected) => {
    const { b, x, v, s, vals } = setup();
    const n = build(b, { x, v, s });
    const m = simp(b, n);
    expect(m).toBe(expected({ x, v, s }, b));
    expectSameValues(n, m, vals);
  });

  it("a scalar operand that was removed is broadcast back to the result's shape", () => {
    const { b, s, vals } = setup();
    const n = b.add(s, b.zeros([2, 3])); // s + zeros([2,3]) has shape [2,3]
    const m = simp(b, n);
    expect(m.shape).toEqual([2, 3]);
    expect(ev(m, vals).every((q) => q === Infinity)).toBe(true);
  });
});

describe("signed zeros: a flipped zero becomes a flipped Infinity after a division", () => {
  // simplify.ts documents `x + 0 -> x` as its one liberty ("no result of a model
  // depends on the sign of a zero"); 1 / (x + 0) at x = -0 shows that one does.
  // Exact alternatives: x + (-0) -> x, x - (+0) -> x, (-0) - y -> -y.
  it.each([
    ["1 / (x + 0) at x = -0", (b: B, x: Node) => b.div(1, b.add(x, 0))],
    ["1 / (0 + x) at x = -0", (b: B, x: Node) => b.div(1, b.add(0, x))],
    ["1 / (0 - x) at x = 0", (b: B, x: Node) => b.div(1, b.sub(0, x))],
    ["1 / (x - -0) at x = -0", (b: B, x: Node) => b.div(1, b.sub(x, b.c(-0)))],
    ["1 / -(x - x) at x = 1", (b: B, x: Node) => b.div(1, b.neg(b.sub(x, x)))],
  ])("%s", (_, f) => {
    const { b, x, vals } = setup();
    const n = f(b, x);
    expectSameValues(n, simp(b, n), { ...vals, x: Float64Array.of(-0, 0, 1, -1, NaN, 2) });
  });
});

// ---------------------------------------------------------------------------
// Property: random expressions evaluate identically before and after rewrite.

const LEAF_SHAPES: Record<string, Shape> = { x: [2, 3], v: [3], s: [] };
const CONSTS = [0, 1, -1, 2, 0.5, 3];

function randomExpr(b: B, leaves: Node[], next: () => number, depth: number): Node {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  if (depth === 0 || next() < 0.2) return next() < 0.7 ? pick(leaves) : b.c(pick(CONSTS));
  const sub = () => randomExpr(b, leaves, next, depth - 1);
  const k = pick([
    "add", "sub", "mul", "div", "max", "pow", "neg", "exp", "log", "sqrt", "tanh", "abs", "where",
    "x*1", "1*x", "x*0", "0*x", "x+0", "0-x", "x/1", "x*-1", "--x", "x^1", "where(c,a,a)", "views",
  ] as const);
  switch (k) {
    case "add": case "sub": case "mul": case "div": case "max": case "pow":
      return b.op(k, sub(), sub());
    case "neg": case "exp": case "log": case "sqrt": case "tanh": case "abs":
      return b.op(k, sub());
    case "where":
      return b.where(sub(), sub(), sub());
    case "x*1": return b.mul(sub(), 1);
    case "1*x": return b.mul(1, sub());
    case "x*0": return b.mul(sub(), 0);
    case "0*x": return b.mul(0, sub());
    case "x+0": return b.add(sub(), 0);
    case "0-x": return b.sub(0, sub());
    case "x/1": return b.div(sub(), 1);
    case "x*-1": return b.mul(sub(), -1);
    case "--x": return b.neg(b.neg(sub()));
    case "x^1": return b.pow(sub(), 1);
    case "where(c,a,a)": {
      const a = sub();
      return b.where(sub(), a, a);
    }
    case "views": {
      const a = b.broadcast(sub(), [2, 3]);
      return pick([
        () => b.transpose(b.transpose(a)),
        () => b.g.mk("reshape", [b.g.mk("reshape", [a], { shape: [6] })], { shape: [2, 3] }),
        () => b.broadcast(b.reshape(b.sum(a, [0]), [1, 3]), [2, 3]),
      ])();
    }
  }
}

describe("random expressions evaluate identically before and after rewrite", () => {
  const next = rng(2024);
  const N = 400;
  it(`${N} expressions at NaN, ±Infinity, ±0 and ordinary points (same value, signed zeros included; NaN = NaN)`, () => {
    const g = new Graph();
    const b = new B(g);
    const leaves = Object.entries(LEAF_SHAPES).map(([name, shape]) => g.mk("param", [], { name, shape: [...shape] }));
    const bad: string[] = [];
    for (let t = 0; t < N; t++) {
      const n = randomExpr(b, leaves, next, 4);
      let m: Node;
      try {
        m = simp(b, n);
      } catch (e) {
        bad.push(`#${t}: rewrite threw ${String(e)}`);
        continue;
      }
      if (m.shape.join() !== n.shape.join()) bad.push(`#${t}: shape ${n.shape} -> ${m.shape}`);
      for (let trial = 0; trial < 4; trial++) {
        const vals = Object.fromEntries(
          Object.entries(LEAF_SHAPES).map(([name, shape]) => [
            name,
            Float64Array.from({ length: size(shape) }, () => (next() < 0.6 ? SPECIAL[Math.floor(next() * SPECIAL.length)]! : 4 * next() - 2)),
          ]),
        );
        const [p, q] = [ev(n, vals), ev(m, vals)];
        const off = p.findIndex((v, i) => !same(v, q[i]!));
        if (off >= 0)
          bad.push(
            `#${t} [${off}]: ${show(p[off]!)} -> ${show(q[off]!)} at ${JSON.stringify(Object.fromEntries(Object.entries(vals).map(([k2, a]) => [k2, [...a].map(show)])))}`,
          );
      }
    }
    // Group by kind of failure so one bug does not hide another.
    const kinds = new Map<string, string[]>();
    for (const line of bad) {
      const kind = line.includes("threw") ? line.replace(/^#\d+: /, "") : "value changed";
      kinds.set(kind, [...(kinds.get(kind) ?? []), line]);
    }
    expect([...kinds].map(([kind, lines]) => `${lines.length}× ${kind}: ${lines[0]}`)).toEqual([]);
  });
});
