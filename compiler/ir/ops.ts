/**
 * The op table: one entry per op holding everything about it — shape rule,
 * float64 reference `eval`, derivative rule (vector-Jacobian product built
 * from IR nodes; `null` means "no gradient flows here"), emit template for the
 * lowering pass, the sampling domain the tests draw inputs from, and the
 * mathjs name. The DSL, the formula frontend, the tests and the docs all read
 * this table; adding an op is one edit here.
 */
import type { B, Node } from "./graph.ts";
import * as S from "./sexpr.ts";
import type { SExpr } from "./sexpr.ts";
import { type Shape, ShapeError, broadcastIndex, broadcastShapes, normAxes, sameShape, size, strides } from "./shape.ts";
import { fmtShape } from "../errors.ts";
import * as C from "./conv.ts";

/** Vector-Jacobian product: given the output adjoint `g`, one adjoint per input (`null` = none). */
export type Vjp = (g: Node, inputs: readonly Node[], out: Node, b: B) => (Node | null)[];

/** Hoists an expression into a local and returns a reference to it (for multi-use temporaries). */
export interface LowerCtx {
  temp(e: SExpr): SExpr;
}

export interface OpDef {
  /** How many inputs; -1: one or more (custom). */
  readonly arity: number;
  readonly kind: "leaf" | "elementwise" | "reduce" | "view" | "matmul" | "rowwise" | "conv";
  readonly doc: string;
  /** The function's name in mathjs, when mathjs knows it (formulas, cross-checks). */
  readonly mathjs?: string;
  readonly shape: (inputs: Shape[], attrs: Node["attrs"]) => Shape;
  /** Float64 reference semantics (leaves are bound by the interpreter). */
  readonly eval?: (inputs: Float64Array[], node: Node) => Float64Array;
  readonly vjp: Vjp | null;
  /** Inputs the rule never differentiates (it returns null there): where's condition. */
  readonly noGrad?: readonly number[];
  /** Every output element as a scalar expression of input elements (leaves are bound by the lowering pass). */
  readonly lower?: (inputs: SExpr[][], node: Node, ctx: LowerCtx) => SExpr[];
  /** Elements touched to compute the node, when it is not what its kind implies (the plan unrolls small work). */
  readonly work?: (n: Node) => number;
  /** A "conv" op that sums over the images of its first input (the filter gradient): its output has no batch rows. */
  readonly sumsImages?: boolean;
  /** Where tests sample each input: [lo, hi]. Defaults to [-2, 2]. */
  readonly domain?: readonly (readonly [number, number])[];
  /**
   * Its output never holds NaN or −0, whatever the input (relu: x > 0 ? x : +0). A max pool over it may then take
   * f32x4.pmax, one instruction, whose bits are f32x4.max's on such values (compiler/lower/wasm-conv.ts).
   */
  readonly ordered?: boolean;
}

// ---------------------------------------------------------------------------
// Helpers for the common rule shapes (JAX's `deflinear`, `defjvp` …)

const ewShape = (ins: Shape[]): Shape => {
  const s = broadcastShapes(...ins);
  if (!s)
    throw new ShapeError(
      `cannot broadcast ${ins.map(fmtShape).join(" with ")}`,
      "elementwise ops broadcast like numpy: trailing axes must match or be 1; reshape or transpose one input",
    );
  return s;
};

/** An elementwise op of any arity, broadcasting its inputs; the vjp's results are summed back to each input's shape. */
function elementwise<A extends number>(o: {
  doc: string;
  arity: A;
  f: (...xs: number[]) => number;
  emit: (...xs: SExpr[]) => SExpr;
  vjp: Vjp | null;
  noGrad?: readonly number[];
  domain?: readonly (readonly [number, number])[];
  mathjs?: string;
  ordered?: boolean;
}): OpDef & { readonly arity: A; readonly kind: "elementwise" } {
  const vjp: Vjp | null = o.vjp
    ? (g, xs, out, b) => {
        // A strong zero: when the adjoint is where(c, g', 0) (or where(c, 0, g')) — what `where` sends its branches —
        // the rule runs on g' and the select goes around the result. The rule is linear in the adjoint, so this is the
        // same derivative, but where c rules the element out the result is an exact 0, never 0 · f'(x) = 0 · Inf = NaN
        // (the gradient of where(c, p, 1/p) at p = 0 with c true).
        const zero = (n: Node) => n.op === "const" && n.attrs.value === 0;
        const [c, ifTrue, ifFalse] = g.inputs as [Node, Node, Node]; // meaningful only when g is a where
        const zeroFirst = g.op === "where" && zero(ifTrue);
        const ds =
          g.op === "where" && (zeroFirst || zero(ifFalse))
            ? o.vjp!(zeroFirst ? ifFalse : ifTrue, xs, out, b).map((d) => d && (zeroFirst ? b.where(c, 0, d) : b.where(c, d, 0)))
            : o.vjp!(g, xs, out, b);
        return ds.map((d, i) => (d ? b.unbroadcast(d, xs[i]!.shape) : null));
      }
    : null;
  return {
    arity: o.arity,
    kind: "elementwise" as const,
    doc: o.doc,
    mathjs: o.mathjs,
    domain: o.domain,
    shape: ewShape,
    vjp,
    ...(o.noGrad ? { noGrad: o.noGrad } : {}),
    ...(o.ordered ? { ordered: true } : {}),
    eval(ins, node) {
      const n = size(node.shape);
      const out = new Float64Array(n);
      const f = o.f;
      // Same-shape inputs index directly; broadcast ones through a (cached) index map.
      const get = ins.map((x, k) => {
        if (x.length === n) return (i: number) => x[i]!;
        if (x.length === 1) return () => x[0]!;
        const m = bcastMap(node, k);
        return (i: number) => x[m[i]!]!;
      });
      if (ins.length === 1) {
        const [a] = get as [(i: number) => number];
        for (let i = 0; i < n; i++) out[i] = f(a(i));
      } else if (ins.length === 2) {
        const [a, b] = get as [(i: number) => number, (i: number) => number];
        for (let i = 0; i < n; i++) out[i] = f(a(i), b(i));
      } else for (let i = 0; i < n; i++) out[i] = f(...get.map((g) => g(i)));
      return out;
    },
    lower(ins, node) {
      const maps = node.inputs.map((x) => broadcastIndex(node.shape, x.shape));
      return Array.from({ length: size(node.shape) }, (_, i) =>
        o.emit(...ins.map((xs, k) => xs[maps[k]![i]!]!)),
      );
    },
  };
}

/** y = f(x) elementwise with dy/dx = d(x, y): the rule may reuse the output `y`. */
const unary = (o: {
  doc: string;
  f: (x: number) => number;
  emit: (x: SExpr) => SExpr;
  d: ((x: Node, y: Node, b: B) => Node) | null;
  domain?: readonly [number, number];
  mathjs?: string;
  ordered?: boolean;
}) =>
  elementwise({
    doc: o.doc,
    arity: 1 as const,
    f: o.f,
    emit: o.emit,
    mathjs: o.mathjs,
    ordered: o.ordered,
    domain: o.domain ? [o.domain] : undefined,
    vjp: o.d ? (g, [x], y, b) => [b.mul(g, o.d!(x!, y, b))] : null,
  });

/** Rules for functions with the same shape of derivative. */
const recip = (b: B, x: Node) => b.div(1, x);
const sqrtOf = (b: B, x: Node) => b.op("sqrt", x);

const bcastMaps = new WeakMap<Node, Int32Array[]>();
/** Flat index into input k for each output element of an elementwise node (memoized per node). */
function bcastMap(node: Node, k: number): Int32Array {
  let ms = bcastMaps.get(node);
  if (!ms) bcastMaps.set(node, (ms = []));
  return (ms[k] ??= broadcastIndex(node.shape, node.inputs[k]!.shape));
}

/** Index of the last axis, for row-wise ops (softmax, logsumexp). */
const rows = (shape: Shape) => {
  const n = shape.length ? shape[shape.length - 1]! : 1;
  return { n, count: size(shape) / n };
};

const lastAxisShape = (keep: boolean) => (ins: Shape[]): Shape => {
  const [x] = ins;
  if (x!.length === 0)
    throw new ShapeError("needs at least one axis", "apply it to a vector or a [batch, classes] matrix");
  return keep ? x! : x!.slice(0, -1);
};

/** The stable row cross-entropy (see the op softmaxCE), in float64: the reference the generated code follows. */
function softmaxCE(x: ArrayLike<number>, z: ArrayLike<number>): number {
  let m = -Infinity;
  for (let j = 0; j < x.length; j++) m = Math.max(m, x[j]!);
  let q = 0;
  let atMax = 0;
  let zx = 0;
  let zs = 0;
  for (let j = 0; j < x.length; j++) {
    if (x[j]! < m) q += Math.exp(x[j]! - m);
    else atMax++;
    zx += z[j]! * (x[j]! - m);
    zs += z[j]!;
  }
  return Math.log1p(q + (atMax - 1)) - zx + m * (1 - zs);
}

const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
/**
 * d/dx, d/dy of max or min given `xWins` (x is selected: x >= y for max) and `yWins`: all of g to the
 * one selected alone, g/2 to each at a tie (both selected), none where neither is (NaN inputs).
 */
const tieSplit = (g: Node, xWins: Node, yWins: Node, b: B): Node[] => {
  const half = b.mul(g, 0.5);
  return [b.where(xWins, b.where(yWins, half, g), 0), b.where(yWins, b.where(xWins, half, g), 0)];
};

/**
 * x + 0: turns -0 into +0 and changes nothing else (the simplifier never folds it). At x = -0,
 * log and sqrt are at the edge of their domain and the derivative's limit is +Infinity (from
 * inside the domain); 1/x of -0 would give -Infinity.
 */
const plus0 = (b: B, x: Node) => b.add(x, 0);

const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const gt0 = (x: SExpr) => S.bin(">", x, S.num(0));

// ---------------------------------------------------------------------------

export const OPS = {
  // ---- leaves --------------------------------------------------------------
  input: leaf("a value the caller supplies each step (features, targets)"),
  param: leaf("a trainable parameter; gradients are taken with respect to these"),
  batchSize: {
    arity: 0,
    kind: "leaf",
    doc: "n, the number of real examples in this step (1 <= n <= the compiled batch size)",
    shape: () => [],
    vjp: null,
  },
  batchMask: {
    arity: 0,
    kind: "leaf",
    doc: "[B] with 1 for the first n rows and 0 for the padding rows",
    shape: (_, attrs) => [attrs.max as number],
    vjp: null,
  },
  const: {
    arity: 0,
    kind: "leaf",
    doc: "a scalar constant",
    shape: () => [],
    vjp: null,
    eval: (_, n) => Float64Array.of(n.attrs.value as number),
    lower: (_, n) => [S.num(n.attrs.value as number)],
  },

  // ---- arithmetic ------------------------------------------------------------
  add: elementwise({
    doc: "a + b", arity: 2, mathjs: "add", f: (a, b) => a + b, emit: S.add,
    vjp: (g) => [g, g],
  }),
  sub: elementwise({
    doc: "a - b", arity: 2, mathjs: "subtract", f: (a, b) => a - b, emit: S.sub,
    vjp: (g, _, __, b) => [g, b.neg(g)],
  }),
  mul: elementwise({
    doc: "a * b", arity: 2, mathjs: "multiply", f: (a, b) => a * b, emit: S.mul,
    vjp: (g, [x, y], _, b) => [b.mul(g, y!), b.mul(g, x!)],
  }),
  div: elementwise({
    doc: "a / b", arity: 2, mathjs: "divide", f: (a, b) => a / b, emit: S.div,
    domain: [[-2, 2], [0.5, 2]],
    // d(a/b)/db = -(a/b)/b reuses the output.
    vjp: (g, [, y], out, b) => [b.div(g, y!), b.neg(b.div(b.mul(g, out), y!))],
  }),
  neg: elementwise({
    doc: "-x", arity: 1, mathjs: "unaryMinus", f: (x) => -x, emit: S.neg,
    vjp: (g, _, __, b) => [b.neg(g)], // d/dx -x = -1
  }),
  pow: elementwise({
    doc: "x ^ y (real: NaN for a negative base with a fractional exponent)", arity: 2, mathjs: "pow",
    f: Math.pow,
    emit: (x, y) =>
      y.k === "num" && y.v === 2 ? S.mul(x, x) : y.k === "num" && y.v === 3 ? S.mul(S.mul(x, x), x) : S.M("pow", x, y),
    domain: [[0.2, 2], [-2, 2]],
    // d/dx x^y = y x^(y-1); d/dy x^y = x^y ln x (reuses the output). At x = 0 the limits, not 0·Inf = NaN:
    // d/dx x^0 = 0, and d/dy 0^y = 0 (x^y ln x -> 0). A constant operand keeps the plain rule (no select in the code).
    vjp: (g, [x, y], out, b) => {
      const nonzero = (n: Node) => n.op === "const" && n.attrs.value !== 0;
      const dx = b.mul(y!, b.pow(x!, b.sub(y!, 1)));
      const dy = b.mul(out, b.op("log", x!));
      return [
        b.mul(g, nonzero(y!) ? dx : b.where(y!, dx, 0)),
        b.mul(g, nonzero(x!) ? dy : b.where(out, dy, 0)),
      ];
    },
  }),
  // At a tie (a = b) the gradient is split evenly, g/2 to each (PyTorch's convention): then identities
  // hold through ties — max(a,b) + min(a,b) = a + b has gradient [1, 1], max(x, x) = x has 1 — and it is
  // exactly what a central difference measures there. Selects, not products: an Inf/NaN g stays out of
  // the input that is not taken.
  max: elementwise({
    doc: "elementwise maximum (a tie splits the gradient evenly)", arity: 2, mathjs: "max",
    f: Math.max, emit: (a, b) => S.M("max", a, b),
    vjp: (g, [x, y], _, b) => tieSplit(g, b.op("ge", x!, y!), b.op("ge", y!, x!), b),
  }),
  min: elementwise({
    doc: "elementwise minimum (a tie splits the gradient evenly)", arity: 2, mathjs: "min",
    f: Math.min, emit: (a, b) => S.M("min", a, b),
    vjp: (g, [x, y], _, b) => tieSplit(g, b.op("ge", y!, x!), b.op("ge", x!, y!), b),
  }),
  ge: elementwise({
    doc: "1 where a >= b, else 0 (no gradient)", arity: 2,
    f: (a, b) => (a >= b ? 1 : 0), emit: (a, b) => S.cond(S.bin(">=", a, b), S.num(1), S.num(0)), vjp: null,
  }),
  where: elementwise({
    doc: "where(c, a, b): a where c != 0, else b; the unselected branch gets exactly 0 (never NaN)", arity: 3,
    f: (c, a, b) => (c !== 0 ? a : b),
    // A 0/1 condition written as `t ? 1 : 0` selects on `t` directly.
    emit: (c, a, b) =>
      c.k === "cond" && c.a.k === "num" && c.a.v === 1 && c.b.k === "num" && c.b.v === 0
        ? S.cond(c.c, a, b)
        : S.cond(S.bin("!==", c, S.num(0)), a, b),
    vjp: (g, [c], _, b) => [null, b.where(c!, g, 0), b.where(c!, 0, g)],
    noGrad: [0],
  }),

  // ---- exponentials and logarithms ------------------------------------------
  exp: unary({ doc: "e^x", mathjs: "exp", f: Math.exp, emit: (x) => S.M("exp", x), d: (_, y) => y }),
  expm1: unary({ doc: "e^x - 1", mathjs: "expm1", f: Math.expm1, emit: (x) => S.M("expm1", x), d: (_, y, b) => b.add(y, 1) }),
  log: unary({ doc: "natural log", mathjs: "log", f: Math.log, emit: (x) => S.M("log", x), d: (x, _, b) => recip(b, plus0(b, x)), domain: [0.1, 3] }),
  log1p: unary({ doc: "ln(1 + x)", mathjs: "log1p", f: Math.log1p, emit: (x) => S.M("log1p", x), d: (x, _, b) => recip(b, b.add(x, 1)), domain: [-0.5, 3] }),
  log2: unary({ doc: "log base 2", mathjs: "log2", f: Math.log2, emit: (x) => S.M("log2", x), d: (x, _, b) => recip(b, plus0(b, b.mul(x, Math.LN2))), domain: [0.1, 3] }),
  log10: unary({ doc: "log base 10", mathjs: "log10", f: Math.log10, emit: (x) => S.M("log10", x), d: (x, _, b) => recip(b, plus0(b, b.mul(x, Math.LN10))), domain: [0.1, 3] }),
  logb: elementwise({
    doc: "log(x, base) = ln x / ln base", arity: 2, mathjs: "log",
    f: (x, base) => Math.log(x) / Math.log(base), emit: (x, base) => S.div(S.M("log", x), S.M("log", base)),
    domain: [[0.1, 3], [1.5, 4]],
    // d/dx = 1 / (x ln b); d/db = -log_b(x) / (b ln b)
    vjp: (g, [x, base], out, b) => {
      const lnb = b.op("log", base!);
      return [b.div(g, b.mul(x!, lnb)), b.neg(b.div(b.mul(g, out), b.mul(base!, lnb)))];
    },
  }),
  sqrt: unary({ doc: "square root", mathjs: "sqrt", f: Math.sqrt, emit: (x) => S.M("sqrt", x), d: (_, y, b) => b.div(0.5, plus0(b, y)), domain: [0.1, 3] }),
  cbrt: unary({ doc: "real cube root", mathjs: "cbrt", f: Math.cbrt, emit: (x) => S.M("cbrt", x), d: (_, y, b) => b.div(1, b.mul(3, b.sq(y))), domain: [0.2, 3] }),
  nthRoot: elementwise({
    doc: "nthRoot(x, n): the real n-th root (negative x allowed for odd integer n)", arity: 2, mathjs: "nthRoot",
    f: nthRoot, emit: (x, n) => S.call("nthRoot", x, n), domain: [[0.2, 3], [2, 4]],
    // r = x^(1/n): dr/dx = 1 / (n r^(n-1)) (= r / (n x), but +Inf at x = 0 like sqrt, not 0/0);
    // dr/dn = -r ln|x| / n^2, with its limit 0 at x = 0 (r ln|x| -> 0), not 0·Inf.
    vjp: (g, [x, n], r, b) => [
      b.div(g, b.mul(n!, b.pow(r, b.sub(n!, 1)))),
      b.neg(b.div(b.mul(g, b.where(r, b.mul(r, b.op("log", b.op("abs", x!))), 0)), b.sq(n!))),
    ],
  }),
  abs: unary({
    doc: "|x| (subgradient 0 at 0)", mathjs: "abs", f: Math.abs, emit: (x) => S.M("abs", x),
    d: (x, _, b) => b.op("sign", x),
  }),
  sign: unary({ doc: "sign(x) in {-1, 0, 1} (no gradient)", mathjs: "sign", f: Math.sign, emit: (x) => S.M("sign", x), d: null }),

  // ---- trigonometric ---------------------------------------------------------
  sin: unary({ doc: "sine", mathjs: "sin", f: Math.sin, emit: (x) => S.M("sin", x), d: (x, _, b) => b.op("cos", x) }),
  cos: unary({ doc: "cosine", mathjs: "cos", f: Math.cos, emit: (x) => S.M("cos", x), d: (x, _, b) => b.neg(b.op("sin", x)) }),
  tan: unary({ doc: "tangent", mathjs: "tan", f: Math.tan, emit: (x) => S.M("tan", x), d: (_, y, b) => b.add(1, b.sq(y)), domain: [-1.2, 1.2] }),
  sec: unary({ doc: "1 / cos x", mathjs: "sec", f: (x) => 1 / Math.cos(x), emit: (x) => S.div(S.num(1), S.M("cos", x)), d: (x, y, b) => b.mul(y, b.op("tan", x)), domain: [-1.2, 1.2] }),
  csc: unary({ doc: "1 / sin x", mathjs: "csc", f: (x) => 1 / Math.sin(x), emit: (x) => S.div(S.num(1), S.M("sin", x)), d: (x, y, b) => b.neg(b.mul(y, b.op("cot", x))), domain: [0.3, 2.8] }),
  cot: unary({ doc: "1 / tan x", mathjs: "cot", f: (x) => 1 / Math.tan(x), emit: (x) => S.div(S.num(1), S.M("tan", x)), d: (_, y, b) => b.neg(b.add(1, b.sq(y))), domain: [0.3, 2.8] }),
  asin: unary({ doc: "arcsine", mathjs: "asin", f: Math.asin, emit: (x) => S.M("asin", x), d: (x, _, b) => recip(b, sqrtOf(b, b.sub(1, b.sq(x)))), domain: [-0.9, 0.9] }),
  acos: unary({ doc: "arccosine", mathjs: "acos", f: Math.acos, emit: (x) => S.M("acos", x), d: (x, _, b) => b.neg(recip(b, sqrtOf(b, b.sub(1, b.sq(x))))), domain: [-0.9, 0.9] }),
  atan: unary({ doc: "arctangent", mathjs: "atan", f: Math.atan, emit: (x) => S.M("atan", x), d: (x, _, b) => recip(b, b.add(1, b.sq(x))) }),
  asec: unary({ doc: "arcsecant, acos(1/x)", mathjs: "asec", f: (x) => Math.acos(1 / x), emit: (x) => S.M("acos", S.div(S.num(1), x)), d: (x, _, b) => recip(b, b.mul(b.op("abs", x), sqrtOf(b, b.sub(b.sq(x), 1)))), domain: [1.2, 3] }),
  acsc: unary({ doc: "arccosecant, asin(1/x)", mathjs: "acsc", f: (x) => Math.asin(1 / x), emit: (x) => S.M("asin", S.div(S.num(1), x)), d: (x, _, b) => b.neg(recip(b, b.mul(b.op("abs", x), sqrtOf(b, b.sub(b.sq(x), 1))))), domain: [1.2, 3] }),
  acot: unary({ doc: "arccotangent, atan(1/x)", mathjs: "acot", f: (x) => Math.atan(1 / x), emit: (x) => S.M("atan", S.div(S.num(1), x)), d: (x, _, b) => b.neg(recip(b, b.add(1, b.sq(x)))), domain: [0.2, 3] }),

  // ---- hyperbolic -------------------------------------------------------------
  sinh: unary({ doc: "hyperbolic sine", mathjs: "sinh", f: Math.sinh, emit: (x) => S.M("sinh", x), d: (x, _, b) => b.op("cosh", x) }),
  cosh: unary({ doc: "hyperbolic cosine", mathjs: "cosh", f: Math.cosh, emit: (x) => S.M("cosh", x), d: (x, _, b) => b.op("sinh", x) }),
  tanh: unary({ doc: "hyperbolic tangent", mathjs: "tanh", f: Math.tanh, emit: (x) => S.M("tanh", x), d: (_, y, b) => b.sub(1, b.sq(y)) }),
  sech: unary({ doc: "1 / cosh x", mathjs: "sech", f: (x) => 1 / Math.cosh(x), emit: (x) => S.div(S.num(1), S.M("cosh", x)), d: (x, y, b) => b.neg(b.mul(y, b.op("tanh", x))) }),
  csch: unary({ doc: "1 / sinh x", mathjs: "csch", f: (x) => 1 / Math.sinh(x), emit: (x) => S.div(S.num(1), S.M("sinh", x)), d: (x, y, b) => b.neg(b.mul(y, b.op("coth", x))), domain: [0.3, 3] }),
  coth: unary({ doc: "1 / tanh x", mathjs: "coth", f: (x) => 1 / Math.tanh(x), emit: (x) => S.div(S.num(1), S.M("tanh", x)), d: (_, y, b) => b.sub(1, b.sq(y)), domain: [0.3, 3] }),
  asinh: unary({ doc: "inverse hyperbolic sine", mathjs: "asinh", f: Math.asinh, emit: (x) => S.M("asinh", x), d: (x, _, b) => recip(b, sqrtOf(b, b.add(b.sq(x), 1))) }),
  acosh: unary({ doc: "inverse hyperbolic cosine", mathjs: "acosh", f: Math.acosh, emit: (x) => S.M("acosh", x), d: (x, _, b) => recip(b, sqrtOf(b, b.sub(b.sq(x), 1))), domain: [1.2, 3] }),
  atanh: unary({ doc: "inverse hyperbolic tangent", mathjs: "atanh", f: Math.atanh, emit: (x) => S.M("atanh", x), d: (x, _, b) => recip(b, b.sub(1, b.sq(x))), domain: [-0.9, 0.9] }),
  asech: unary({ doc: "inverse hyperbolic secant, acosh(1/x)", mathjs: "asech", f: (x) => Math.acosh(1 / x), emit: (x) => S.M("acosh", S.div(S.num(1), x)), d: (x, _, b) => b.neg(recip(b, b.mul(x, sqrtOf(b, b.sub(1, b.sq(x)))))), domain: [0.1, 0.9] }),
  acsch: unary({ doc: "inverse hyperbolic cosecant, asinh(1/x)", mathjs: "acsch", f: (x) => Math.asinh(1 / x), emit: (x) => S.M("asinh", S.div(S.num(1), x)), d: (x, _, b) => b.neg(recip(b, b.mul(b.op("abs", x), sqrtOf(b, b.add(1, b.sq(x)))))), domain: [0.2, 3] }),
  acoth: unary({ doc: "inverse hyperbolic cotangent, atanh(1/x)", mathjs: "acoth", f: (x) => Math.atanh(1 / x), emit: (x) => S.M("atanh", S.div(S.num(1), x)), d: (x, _, b) => recip(b, b.sub(1, b.sq(x))), domain: [1.2, 3] }),

  // ---- neural-network activations ----------------------------------------------
  sigmoid: unary({
    doc: "1 / (1 + e^-x)", f: sigmoid,
    emit: (x) => S.div(S.num(1), S.add(S.num(1), S.M("exp", S.neg(x)))),
    d: (_, s, b) => b.mul(s, b.sub(1, s)), // sigma' = s (1 - s), with the forward s
    domain: [-4, 4],
  }),
  relu: unary({
    doc: "max(x, 0) (subgradient 0 at 0)", f: (x) => (x > 0 ? x : 0),
    emit: (x) => S.cond(gt0(x), x, S.num(0)),
    d: (_, y, b) => b.op("step", y), // relu(x) > 0 exactly when x > 0: reuse the output, not the input
    ordered: true, // NaN and −0 are not > 0: both give +0
  }),
  softplus: unary({
    doc: "ln(1 + e^x), computed as max(x,0) + log1p(e^-|x|)", f: softplus,
    emit: (x) => S.add(S.M("max", x, S.num(0)), S.M("log1p", S.M("exp", S.neg(S.M("abs", x))))),
    d: (x, _, b) => b.op("sigmoid", x),
  }),
  step: unary({
    doc: "threshold unit: 1 if x > 0 else 0 (derivative 0)", f: (x) => (x > 0 ? 1 : 0),
    emit: (x) => S.cond(gt0(x), S.num(1), S.num(0)), d: null,
  }),
  halfSquare: unary({
    // The squared-error loss of a residual r = y - t as one op: its rule is d = r itself, where
    // 0.5 * r^2 through pow would give 0.5 * (2 r) — the same number, but two more multiplies the
    // simplifier may not fold (2 r overflows first), on the hottest path of a small network.
    doc: "x^2 / 2, computed as 0.5 x x (the squared-error loss of a residual; derivative x)",
    f: (x) => 0.5 * x * x,
    emit: (x) => S.mul(S.mul(S.num(0.5), x), x),
    d: (x) => x,
  }),
  bceLogits: elementwise({
    doc: "binary cross-entropy of logit x against target z: max(x,0) - x z + log1p(e^-|x|)", arity: 2,
    f: (x, z) => Math.max(x, 0) - x * z + Math.log1p(Math.exp(-Math.abs(x))),
    emit: (x, z) =>
      S.add(S.sub(S.M("max", x, S.num(0)), S.mul(x, z)), S.M("log1p", S.M("exp", S.neg(S.M("abs", x))))),
    domain: [[-4, 4], [0, 1]],
    // d/dx = sigma(x) - z; d/dz = -x
    vjp: (g, [x, z], _, b) => [b.mul(g, b.sub(b.op("sigmoid", x!), z!)), b.neg(b.mul(g, x!))],
  }),

  // ---- reductions and row-wise ops ---------------------------------------------
  sum: {
    arity: 1,
    kind: "reduce",
    doc: "sum over `axes` (removed from the shape)",
    mathjs: "sum",
    shape([x], attrs) {
      const axes = normAxes(attrs.axes as number[], x!.length);
      if (!axes)
        throw new ShapeError(`axes ${JSON.stringify(attrs.axes)} out of range for rank ${x!.length}`, "axes count from 0; -1 is the last axis");
      return x!.filter((_, i) => !axes.includes(i));
    },
    eval([x], node) {
      const out = new Float64Array(size(node.shape));
      reduceMap(node).forEach((o, i) => (out[o] += x![i]!));
      return out;
    },
    lower([x], node) {
      const groups: SExpr[][] = Array.from({ length: size(node.shape) }, () => []);
      reduceMap(node).forEach((o, i) => groups[o]!.push(x![i]!));
      return groups.map((xs) => S.chain("+", xs));
    },
    // The adjoint of a sum broadcasts g back over the summed axes.
    vjp: (g, [x], out, b) => {
      const axes = normAxes(out.attrs.axes as number[], x!.shape.length)!;
      const kept = x!.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      return [b.broadcast(b.reshape(g, kept), x!.shape)];
    },
  },
  logsumexp: {
    arity: 1,
    kind: "rowwise",
    doc: "log(sum(exp(x))) over the last axis, shifted by the row max for stability",
    shape: lastAxisShape(false),
    eval([x], node) {
      const { n, count } = rows(node.inputs[0]!.shape);
      const out = new Float64Array(count);
      for (let r = 0; r < count; r++) {
        const row = x!.subarray(r * n, r * n + n);
        const m = Math.max(...row);
        out[r] = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
      }
      return out;
    },
    lower([x], node, ctx) {
      const { n, count } = rows(node.inputs[0]!.shape);
      return Array.from({ length: count }, (_, r) => {
        const row = x!.slice(r * n, r * n + n);
        const m = ctx.temp(S.M("max", ...row));
        return S.add(m, S.M("log", S.chain("+", row.map((v) => S.M("exp", S.sub(v, m))))));
      });
    },
    // d lse / dx = softmax(x)
    vjp: (g, [x], _, b) => [b.mul(b.keepLast(g, x!.shape), b.op("softmax", x!))],
  },
  softmaxCE: {
    arity: 2,
    kind: "rowwise",
    doc: "cross-entropy of softmax(x) against target rows z over the last axis, logsumexp(x) - sum(z x), computed stably",
    shape: (ins) => {
      if (!sameShape(ins[0]!, ins[1]!)) throw new ShapeError(`targets ${fmtShape(ins[1]!)} differ from logits ${fmtShape(ins[0]!)}`, "give one target row per logits row");
      return lastAxisShape(false)(ins);
    },
    eval([x, z], node) {
      const { n, count } = rows(node.inputs[0]!.shape);
      const out = new Float64Array(count);
      for (let r = 0; r < count; r++) out[r] = softmaxCE(x!.subarray(r * n, r * n + n), z!.subarray(r * n, r * n + n));
      return out;
    },
    // Per row, in registers (float64 locals, one store): with m = max x,
    //   CE = log(sum e^(x-m)) - sum z (x - m) + m (1 - sum z)
    // and log(sum e^(x-m)) = log1p(q), q = the sum without one of the max terms (each exactly 1):
    // a small loss under large logits keeps its digits (x = [s+30, s, s], z on the max: 2e-13 exactly),
    // and rows at the float extremes stay finite ([3.4e38, 3.4e38, 0] -> ln 2).
    lower([xs, zs], node, ctx) {
      const { n, count } = rows(node.inputs[0]!.shape);
      return Array.from({ length: count }, (_, r) => {
        const x = xs!.slice(r * n, r * n + n);
        const z = zs!.slice(r * n, r * n + n);
        const m = ctx.temp(S.M("max", ...x));
        const below = x.map((v) => S.bin("<", v, m));
        const q = ctx.temp(
          S.add(
            S.chain("+", x.map((v, j) => S.cond(below[j]!, S.M("exp", S.sub(v, m)), S.num(0)))),
            S.sub(S.chain("+", below.map((b) => S.cond(b, S.num(0), S.num(1)))), S.num(1)),
          ),
        );
        const zx = S.chain("+", x.map((v, j) => S.mul(z[j]!, S.sub(v, m))));
        return S.add(S.sub(S.M("log1p", q), zx), S.mul(m, S.sub(S.num(1), S.chain("+", z))));
      });
    },
    // d/dx = softmax(x) - z, d/dz = -x (per row, times g)
    vjp: (g, [x, z], _, b) => {
      const gb = b.keepLast(g, x!.shape);
      return [b.mul(gb, b.sub(b.op("softmax", x!), z!)), b.mul(gb, b.neg(x!))];
    },
  },
  softmax: {
    arity: 1,
    kind: "rowwise",
    doc: "softmax over the last axis",
    shape: lastAxisShape(true),
    eval([x], node) {
      const { n, count } = rows(node.shape);
      const out = new Float64Array(size(node.shape));
      for (let r = 0; r < count; r++) {
        const row = x!.subarray(r * n, r * n + n);
        const m = Math.max(...row);
        let s = 0;
        for (let j = 0; j < n; j++) s += out[r * n + j] = Math.exp(row[j]! - m);
        for (let j = 0; j < n; j++) out[r * n + j]! /= s;
      }
      return out;
    },
    lower([x], node, ctx) {
      const { n, count } = rows(node.shape);
      const out: SExpr[] = [];
      for (let r = 0; r < count; r++) {
        const row = x!.slice(r * n, r * n + n);
        const m = ctx.temp(S.M("max", ...row));
        const e = row.map((v) => ctx.temp(S.M("exp", S.sub(v, m))));
        const inv = ctx.temp(S.div(S.num(1), S.chain("+", e)));
        out.push(...e.map((v) => S.mul(v, inv)));
      }
      return out;
    },
    // y = softmax(x): dx = y * (g - sum(g * y))
    vjp: (g, [x], y, b) => {
      const last = [x!.shape.length - 1];
      return [b.mul(y, b.sub(g, b.keepLast(b.sum(b.mul(g, y), last), x!.shape)))];
    },
  },

  // ---- linear algebra and views -------------------------------------------------
  matmul: {
    arity: 2,
    kind: "matmul",
    doc: "[m,k] x [k,n] -> [m,n]",
    mathjs: "multiply",
    shape([a, b]) {
      if (a!.length !== 2 || b!.length !== 2 || a![1] !== b![0])
        throw new ShapeError(
          `needs [m,k] x [k,n], got ${fmtShape(a!)} x ${fmtShape(b!)}`,
          a!.length === 2 && b!.length === 2 ? "the inner dimensions differ: transpose one side or fix the layer sizes" : "matmul takes 2-D inputs: reshape a vector to [1,k] or [k,1]",
        );
      return [a![0]!, b![1]!];
    },
    eval([a, bm], node) {
      const [m, n] = node.shape as [number, number];
      const k = node.inputs[0]!.shape[1]!;
      const out = new Float64Array(m * n);
      for (let i = 0; i < m; i++)
        for (let p = 0; p < k; p++) {
          const av = a![i * k + p]!;
          for (let j = 0; j < n; j++) out[i * n + j] += av * bm![p * n + j]!;
        }
      return out;
    },
    lower([a, bm], node) {
      const [m, n] = node.shape as [number, number];
      const k = node.inputs[0]!.shape[1]!;
      const out: SExpr[] = [];
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++)
          out.push(S.chain("+", Array.from({ length: k }, (_, p) => S.mul(a![i * k + p]!, bm![p * n + j]!))));
      return out;
    },
    // dA = g B^T, dB = A^T g
    vjp: (g, [x, y], _, b) => [b.matmul(g, b.transpose(y!)), b.matmul(b.transpose(x!), g)],
  },
  transpose: {
    arity: 1,
    kind: "view",
    doc: "swap the two axes of a matrix",
    mathjs: "transpose",
    shape([x]) {
      if (x!.length !== 2) throw new ShapeError(`needs a 2-D input, got ${fmtShape(x!)}`, "reshape to [m,n] first");
      return [x![1]!, x![0]!];
    },
    eval: ([x], node) => Float64Array.from(transposeMap(node), (i) => x![i]!),
    lower: ([x], node) => Array.from(transposeMap(node), (i) => x![i]!),
    vjp: (g, _, __, b) => [b.transpose(g)],
  },
  reshape: {
    arity: 1,
    kind: "view",
    doc: "same elements, new shape (row-major)",
    shape([x], attrs) {
      const s = attrs.shape as number[];
      if (!Array.isArray(s) || s.some((d) => !Number.isInteger(d) || d < 1) || size(s) !== size(x!))
        throw new ShapeError(`cannot reshape ${fmtShape(x!)} to ${JSON.stringify(s)}`, "the new shape must hold the same number of elements");
      return s;
    },
    eval: ([x]) => x!.slice(),
    lower: ([x]) => x!,
    vjp: (g, [x], _, b) => [b.reshape(g, x!.shape)],
  },
  broadcast: {
    arity: 1,
    kind: "view",
    doc: "numpy-broadcast to a larger shape",
    shape([x], attrs) {
      const s = attrs.shape as number[];
      const r = broadcastShapes(x!, s);
      if (!r || r.length !== s.length || r.some((d, i) => d !== s[i]))
        throw new ShapeError(`cannot broadcast ${fmtShape(x!)} to ${JSON.stringify(s)}`, "trailing axes must match or be 1");
      return s;
    },
    eval: ([x], node) => Float64Array.from(broadcastIndex(node.shape, node.inputs[0]!.shape), (i) => x![i]!),
    lower: ([x], node) => Array.from(broadcastIndex(node.shape, node.inputs[0]!.shape), (i) => x![i]!),
    vjp: (g, [x], _, b) => [b.unbroadcast(g, x!.shape)],
  },

  // ---- convolution and pooling: NCHW images, OIHW filters (compiler/ir/conv.ts) ------------
  // attrs: conv ops { stride: [sh, sw], pad: [top, left, bottom, right], dilation: [dh, dw], groups },
  // pool ops { size: [r, s], stride, pad }. The three conv ops are the partial derivatives of one
  // trilinear form, so each one's derivative is built from the others (second order works).
  conv2d: {
    arity: 2,
    kind: "conv",
    doc: "2-D convolution (cross-correlation, ONNX Conv) of x [N,C,H,W] with filters w [K,C/groups,R,S] -> [N,K,OH,OW]; attrs stride, pad, dilation, groups",
    shape: C.conv2dShape,
    eval: C.convEval,
    lower: C.convLower,
    work: C.convWork,
    // dx = the transposed convolution of g with w; dw = the correlation of x with g
    vjp: (g, [x, w], y, b) => [b.g.mk("conv2dBackInput", [g, w!], y.attrs), b.g.mk("conv2dBackFilter", [x!, g], y.attrs)],
  },
  conv2dBackInput: {
    arity: 2,
    kind: "conv",
    doc: "conv2d's input gradient (transposed convolution) of g [N,K,OH,OW] with w [K,C/groups,R,S] -> [N,C,H,W]; conv2d's attrs",
    shape: C.conv2dBackInputShape,
    eval: C.convEval,
    lower: C.convLower,
    work: C.convWork,
    // linear in g and in w: <G, backInput(g, w)> = T(G, w, g)
    vjp: (G, [g, w], dx, b) => [b.g.mk("conv2d", [G, w!], dx.attrs), b.g.mk("conv2dBackFilter", [G, g!], dx.attrs)],
  },
  conv2dBackFilter: {
    arity: 2,
    kind: "conv",
    doc: "conv2d's filter gradient (correlation of x [N,C,H,W] with g [N,K,OH,OW]) -> [K,C/groups,R,S]; conv2d's attrs",
    sumsImages: true,
    shape: C.conv2dBackFilterShape,
    eval: C.convEval,
    lower: C.convLower,
    work: C.convWork,
    // linear in x and in g: <G, backFilter(x, g)> = T(x, G, g)
    vjp: (G, [x, g], dw, b) => [b.g.mk("conv2dBackInput", [g!, G], dw.attrs), b.g.mk("conv2d", [x!, G], dw.attrs)],
  },
  maxPool2d: {
    arity: 1,
    kind: "conv",
    doc: "max over each window of x [N,C,H,W] (padding cells never win) -> [N,C,OH,OW]; tied maxima share the gradient equally; attrs size, stride, pad",
    shape: ([x], a) => C.poolShape(x!, a),
    eval([x], n) {
      const out = new Float64Array(size(n.shape));
      C.forEachWindow(n.inputs[0]!.shape, n.attrs, (yi, cells) => (out[yi] = C.windowMax(x!, cells).m));
      return out;
    },
    lower([x], n) {
      const out: SExpr[] = [];
      C.forEachWindow(n.inputs[0]!.shape, n.attrs, (yi, cells) => (out[yi] = S.M("max", ...cells.map((c) => x![c]!))));
      return out;
    },
    work: C.poolWork,
    vjp: (g, [x], y, b) => [b.g.mk("maxPool2dBack", [x!, g], y.attrs)],
  },
  maxPool2dBack: {
    arity: 2,
    kind: "conv",
    doc: "maxPool2d's input gradient: g [N,C,OH,OW] routed to each window's maxima of x (t tied maxima get g/t each) -> x's shape",
    shape([x, g], a) {
      C.poolPairShape(x!, g!, a, "the output gradient");
      return x!;
    },
    eval([x, g], n) {
      const out = new Float64Array(size(n.shape));
      C.forEachWindow(n.shape, n.attrs, (yi, cells) => {
        const { m, ties } = C.windowMax(x!, cells);
        for (const c of cells) if (x![c] === m) out[c] += g![yi]! / ties;
      });
      return out;
    },
    lower([x, g], n, ctx) {
      const terms: SExpr[][] = Array.from({ length: size(n.shape) }, () => []);
      C.forEachWindow(n.shape, n.attrs, (yi, cells) => {
        const { hit, t } = C.windowMaxExpr(x!, cells, ctx.temp);
        cells.forEach((c, j) => terms[c]!.push(S.cond(hit[j]!, S.div(g![yi]!, t), S.num(0))));
      });
      return terms.map((t) => (t.length ? S.chain("+", t) : S.num(0)));
    },
    work: C.poolWork,
    // linear in g (piecewise constant in x: no gradient there): <G, back(x, g)> = <pick(x, G), g>
    vjp: (G, [x], dx, b) => [null, b.g.mk("maxPool2dPick", [x!, G], dx.attrs)],
    noGrad: [0],
  },
  maxPool2dPick: {
    arity: 2,
    kind: "conv",
    doc: "G [N,C,H,W] read at each window's maxima of x (the mean over tied maxima) -> [N,C,OH,OW]: maxPool2d's tangent map",
    shape([x, G], a) {
      if (!sameShape(x!, G!)) throw new ShapeError(`the tangent ${fmtShape(G!)} differs from the input ${fmtShape(x!)}`, "G has the shape of x");
      return C.poolShape(x!, a);
    },
    eval([x, G], n) {
      const out = new Float64Array(size(n.shape));
      C.forEachWindow(n.inputs[0]!.shape, n.attrs, (yi, cells) => {
        const { m, ties } = C.windowMax(x!, cells);
        let s = 0;
        for (const c of cells) s += x![c] === m ? G![c]! / ties : 0;
        out[yi] = s;
      });
      return out;
    },
    lower([x, G], n, ctx) {
      const out: SExpr[] = [];
      C.forEachWindow(n.inputs[0]!.shape, n.attrs, (yi, cells) => {
        const { hit, t } = C.windowMaxExpr(x!, cells, ctx.temp);
        out[yi] = S.chain("+", cells.map((c, j) => S.cond(hit[j]!, S.div(G![c]!, t), S.num(0))));
      });
      return out;
    },
    work: C.poolWork,
    vjp: (g, [x], y, b) => [null, b.g.mk("maxPool2dBack", [x!, g], y.attrs)],
    noGrad: [0],
  },
  avgPool2d: {
    arity: 1,
    kind: "conv",
    doc: "mean over each window of x [N,C,H,W], padding cells not counted (ONNX count_include_pad = 0) -> [N,C,OH,OW]; attrs size, stride, pad",
    shape: ([x], a) => C.poolShape(x!, a),
    eval([x], n) {
      const out = new Float64Array(size(n.shape));
      C.forEachWindow(n.inputs[0]!.shape, n.attrs, (yi, cells) => {
        let s = 0;
        for (const c of cells) s += x![c]!;
        out[yi] = s / cells.length;
      });
      return out;
    },
    lower([x], n) {
      const out: SExpr[] = [];
      C.forEachWindow(n.inputs[0]!.shape, n.attrs, (yi, cells) => (out[yi] = S.div(S.chain("+", cells.map((c) => x![c]!)), S.num(cells.length))));
      return out;
    },
    work: C.poolWork,
    vjp: (g, _, y, b) => [b.g.mk("avgPool2dBack", [g], y.attrs)],
  },
  avgPool2dBack: {
    arity: 1,
    kind: "conv",
    doc: "avgPool2d's input gradient: each window's g [N,C,OH,OW] spread evenly over its real cells -> [N,C,H,W]",
    shape: ([g], a) => C.unpoolShape(g!, a),
    eval([g], n) {
      const out = new Float64Array(size(n.shape));
      C.forEachWindow(n.shape, n.attrs, (yi, cells) => {
        for (const c of cells) out[c] += g![yi]! / cells.length;
      });
      return out;
    },
    lower([g], n) {
      const terms: SExpr[][] = Array.from({ length: size(n.shape) }, () => []);
      C.forEachWindow(n.shape, n.attrs, (yi, cells) => {
        for (const c of cells) terms[c]!.push(S.div(g![yi]!, S.num(cells.length)));
      });
      return terms.map((t) => (t.length ? S.chain("+", t) : S.num(0)));
    },
    work: C.poolWork,
    // linear: <G, back(g)> = <avgPool2d(G), g>
    vjp: (G, _, dx, b) => [b.g.mk("avgPool2d", [G], dx.attrs)],
  },

  // ---- user-defined boxes ---------------------------------------------------------
  // custom(f, x1, …, xk){name}: a spec's `m.custom(name, { forward, vjp })` box. Its value is f, the forward
  // expression the spec built from x1…xk, so the interpreter and every backend see f itself (simplify erases the
  // box after autodiff). Its derivative rule is the spec's own, registered per spec (`Model.customs`, bound by
  // autodiff's `rulesFor`): contributions go to x1…xk and none into f. The rule here is the one that holds
  // without a registration — the identity into f, i.e. f differentiated automatically.
  custom: {
    arity: -1,
    kind: "view",
    doc: "a spec's custom box m.custom(name, { forward, vjp }): its value is its first input f = forward(x1, …); its derivative is the spec's vjp, checked by gradc check",
    shape: ([f]) => f!,
    eval: ([f]) => f!.slice(),
    lower: ([f]) => f!,
    vjp: (g, xs) => [g, ...xs.slice(1).map(() => null)],
  },
} satisfies Record<string, OpDef>;

export type OpName = keyof typeof OPS;
export const opNames = Object.keys(OPS) as OpName[];
export const opDef = (op: string): OpDef => (OPS as Record<string, OpDef>)[op]!;

// ---------------------------------------------------------------------------

function leaf(doc: string): OpDef {
  return {
    arity: 0,
    kind: "leaf",
    doc,
    shape: (_, attrs) => attrs.shape as number[],
    vjp: null,
  };
}

/** The real n-th root, as mathjs defines it: negative x is allowed for odd integer n. */
export function nthRoot(x: number, n: number): number {
  if (x < 0 && Number.isInteger(n) && Math.abs(n % 2) === 1) return -Math.pow(-x, 1 / n);
  return Math.pow(x, 1 / n);
}

/** For a `sum` node: flat input index -> flat output index. */
function reduceMap(node: Node): Int32Array {
  const x = node.inputs[0]!.shape;
  const axes = normAxes(node.attrs.axes as number[], x.length)!;
  const st = strides(x);
  const keptSt = strides(x.filter((_, i) => !axes.includes(i)));
  const out = new Int32Array(size(x));
  for (let f = 0; f < out.length; f++) {
    let o = 0;
    let kk = 0;
    for (let ax = 0; ax < x.length; ax++) {
      if (axes.includes(ax)) continue;
      o += (Math.floor(f / st[ax]!) % x[ax]!) * keptSt[kk++]!;
    }
    out[f] = o;
  }
  return out;
}

function transposeMap(node: Node): Int32Array {
  const [m, n] = node.inputs[0]!.shape as [number, number];
  const out = new Int32Array(m * n);
  for (let j = 0; j < n; j++) for (let i = 0; i < m; i++) out[j * m + i] = i * n + j;
  return out;
}
