/**
 * Random tensor DAGs over the whole op table, for property-based fuzzing.
 *
 * A graph is described by a `Recipe`: a seed (leaf values) and a list of
 * small-integer instructions. `buildRecipe` interprets the instructions
 * deterministically and can build a valid graph from ANY recipe — every
 * field is used modulo what it selects — so fast-check can shrink a failing
 * recipe freely (shorter lists, smaller numbers) and still get a graph: the
 * Hypothesis "choice sequence" idea. Instruction 0 is the simplest one (an
 * `add`), so shrinking moves towards simple graphs.
 *
 * Values are tracked while the graph is built (each node through its op's
 * float64 `eval`), which is how every op input is placed where the op is
 * defined and smooth:
 *   - an operand whose values leave the op's sampling `domain` (or, for ops
 *     without one, [-4, 4]) goes through an affine map a·x + c (mul/add nodes
 *     with constants) onto the middle 90% of the domain;
 *   - inputs of ops with a kink or a jump (abs, relu, sign, step at 0; max,
 *     min, ge at ties) are shifted so that every element is at least MARGIN
 *     away from it, so float64 central differences (eps 1e-6) never straddle
 *     one. `kinkFree` re-checks this on the finished graph.
 */
import fc from "fast-check";
import type { B, Node } from "../../compiler/ir/graph.ts";
import { topo } from "../../compiler/ir/graph.ts";
import type { CustomRule, Leaf } from "../../compiler/ir/model.ts";
import { OPS, type OpDef, opDef } from "../../compiler/ir/ops.ts";
import { type Shape, broadcastIndex, broadcastShapes, sameShape, size } from "../../compiler/ir/shape.ts";
import { rng } from "../helpers.ts";
import { CONV_CHOICES, convStep, poolTies } from "./conv-graphs.ts";

export interface Instr {
  /** Which op (index into `CHOICES`, modulo). */
  readonly op: number;
  /** Operand selectors and op parameters (shapes, axes, constants), each used modulo what it picks from. */
  readonly a: number;
  readonly b: number;
  readonly k: number;
}

export interface Recipe {
  /** Seeds the leaf values and the shape of the first param. */
  readonly seed: number;
  readonly instrs: readonly Instr[];
  /**
   * Conv recipes with a batch of images: new images and reshaped ones take N of 4-8 (their tensors up to
   * CONV_BATCH_MAX_SIZE), which reaches the wasm kernels' image-vector paths (conv2dBackInput's "lanes"
   * needs N ≥ 3). Absent in every other recipe, so recorded recipes decode as before.
   */
  readonly images?: number;
}

/** How far kink-op inputs stay from the kink (abs, relu at 0; max/min/ge at ties). */
export const MARGIN = 0.05;
/** Largest tensor the generator builds (keeps interpreted central differences cheap). */
const MAX_SIZE = 24;
/** Largest tensor of a recipe with `images` (a batch of 4-8 images needs room for channels and pixels). */
const CONV_BATCH_MAX_SIZE = 128;
/** The compiled batch size of graphs that use the batch leaves. */
export const BATCH = 3;

/**
 * What an instruction can do: every non-leaf op of the table, the batch leaves, and new leaves.
 * A recipe names an entry by index modulo the length, so any change here (or to how `buildRecipe`
 * reads the digits) re-maps recorded recipes: test/fuzz/regressions.test.ts checks that each
 * recorded recipe still decodes to the ops it was recorded with; re-record them if not (new
 * entries go at the end: then a recorded op index i re-indexes to i mod the old length).
 */
export const CHOICES: readonly string[] = [
  "add",
  ...Object.keys(OPS).filter((op) => op !== "add" && op !== "input" && op !== "param" && op !== "softmaxCE" && op !== "custom" && OPS[op as keyof typeof OPS].kind !== "conv"),
  "newParam",
  "newInput",
  // Extra weight for the ops with the most lowering paths (kernels, wasm, row-wise, views).
  "matmul",
  "matmul",
  "sum",
  "softmax",
  "logsumexp",
  "transpose",
  "broadcast",
  // Convolutions and pooling (test/fuzz/conv-graphs.ts), conv2d and maxPool2d weighted up.
  ...CONV_CHOICES,
  // A spec's custom box (m.custom) around an elementwise op, its vjp written from the op's rule (see `box` below).
  "custom",
];

/** What a fuzzed custom box wraps: the differentiable elementwise ops (not `where`, whose condition has no adjoint to write). */
const BOXABLE = CHOICES.filter((c, i) => CHOICES.indexOf(c) === i && c !== "where" && (OPS as Record<string, OpDef>)[c]?.kind === "elementwise" && [1, 2].includes((OPS as Record<string, OpDef>)[c]!.arity) && typeof (OPS as Record<string, OpDef>)[c]!.vjp === "function");

const KINK0 = new Set(["abs", "relu", "sign", "step"]);
const KINK2 = new Set(["max", "min", "ge"]);
/** Kink ops whose gradient at an exact tie is defined to match central differences (g/2 each): the generator makes ties for them. */
const TIE_SPLIT = new Set(["max", "min"]);

// ---------------------------------------------------------------------------
// fast-check arbitraries

const instrArb = (opWeight?: (i: number) => boolean): fc.Arbitrary<Instr> =>
  fc.record({
    op: opWeight ? fc.nat({ max: 999 }).filter(opWeight) : fc.nat({ max: 999 }),
    a: fc.nat({ max: 999 }),
    b: fc.nat({ max: 999 }),
    k: fc.nat({ max: 9999 }),
  });

const LAYER_OPS = new Set(["matmul", "add", "tanh", "relu", "sigmoid", "softplus", "softmax", "logsumexp", "sum", "transpose", "bceLogits", "newParam"]);
const CONV_LAYER_OPS = new Set<string>([...CONV_CHOICES, "add", "relu", "tanh", "mul", "sum", "reshape"]);

/** Small graphs (1-10 instructions) most of the time, deep chains of unary ops and layer-like stacks sometimes. */
export const recipeArb: fc.Arbitrary<Recipe> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ seed: fc.nat(), instrs: fc.array(instrArb(), { minLength: 1, maxLength: 10 }) }) },
  {
    weight: 1,
    // matmul, bias, activation, row-wise ops: more matmuls (the wasm kernels need 4+ rows).
    arbitrary: fc.record({
      seed: fc.nat(),
      instrs: fc.array(instrArb((i) => LAYER_OPS.has(CHOICES[i % CHOICES.length]!)), { minLength: 2, maxLength: 10 }),
    }),
  },
  {
    weight: 1,
    // conv nets: convolutions, pools, bias, activations.
    arbitrary: fc.record({
      seed: fc.nat(),
      instrs: fc.array(instrArb((i) => CONV_LAYER_OPS.has(CHOICES[i % CHOICES.length]!)), { minLength: 2, maxLength: 8 }),
    }),
  },
  {
    weight: 2,
    // conv nets on batches of 4-8 images (the kernels' image-vector paths)
    arbitrary: fc.record({
      seed: fc.nat(),
      instrs: fc.array(instrArb((i) => CONV_LAYER_OPS.has(CHOICES[i % CHOICES.length]!)), { minLength: 2, maxLength: 6 }),
      images: fc.integer({ min: 4, max: 8 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      seed: fc.nat(),
      // Mostly unary elementwise ops, operand = the newest node (a % 4 != 0): chains 15-40 deep.
      instrs: fc.array(
        instrArb((i) => {
          const d = (OPS as Record<string, OpDef>)[CHOICES[i % CHOICES.length]!];
          return d?.kind === "elementwise" && d.arity === 1;
        }).map((x) => ({ ...x, a: x.a % 4 === 0 ? x.a + 1 : x.a })),
        { minLength: 15, maxLength: 40 },
      ),
    }),
  },
);

// ---------------------------------------------------------------------------

export interface BuiltGraph {
  readonly params: Leaf[];
  readonly inputs: Leaf[];
  /** Leaf values by name (params, inputs). */
  readonly values: Record<string, Float64Array>;
  /** Nodes nothing else in the graph reads: the graph's outputs. */
  readonly sinks: Node[];
  /** y = sum_k sum(sink_k * r_k) with fixed random inputs r_k: the scalar the gradient is taken of. */
  readonly y: Node;
  /** Ops in the finished graph (for coverage). */
  readonly ops: Set<string>;
  /** The custom boxes' derivative rules by node id, as a spec's `Model.customs` holds them. */
  readonly customs: Map<number, CustomRule>;
  /** Does the graph read the batch leaves (then it must be compiled with `batch: BATCH`)? */
  readonly batched: boolean;
  /** Does it hold a max/min tie between two different values (its gradient jumps there: no Hessian to check)? */
  readonly ties: boolean;
}

/** One instruction's random choices beyond the operands: a little PRNG per instruction, so shrinking `k` changes only it. */
const digits = (k: number) => {
  let x = k;
  return (n: number) => {
    const d = x % n;
    x = Math.floor(x / n);
    return d;
  };
};

/** `k` -> a shape of rank 0-3 with dims 1-4, at most MAX_SIZE elements; 0 -> []. */
export function shapeFrom(k: number): number[] {
  const d = digits(k);
  const rank = d(4);
  const s = Array.from({ length: rank }, () => 1 + d(4));
  while (size(s) > MAX_SIZE) s[s.indexOf(Math.max(...s))]! -= 1;
  return s;
}

/** A shape that broadcasts against `s` (a suffix of it with some axes set to 1), chosen by `k`. */
function compatibleShape(s: Shape, k: number): number[] {
  const d = digits(k);
  const drop = d(s.length + 1);
  return s.slice(drop).map((x) => (d(3) === 0 ? 1 : x));
}

/** `n` as a product of up to 4 factors (with 1s), in an order chosen by `k`. */
function factorShape(n: number, k: number): number[] {
  const d = digits(k);
  const out: number[] = [];
  let rest = n;
  const rank = 1 + d(4);
  for (let i = 0; i < rank - 1; i++) {
    const divs = [1, ...Array.from({ length: rest }, (_, j) => j + 1).filter((j) => j > 1 && rest % j === 0)];
    const f = divs[d(divs.length)]!;
    out.push(f);
    rest /= f;
  }
  out.push(rest);
  return out;
}

const round3 = (x: number) => Number(x.toPrecision(3));

/**
 * Builds one recipe's graph on `b` (names prefixed with `prefix`); `n` is the
 * number of real rows when the graph reads the batch leaves (1..BATCH).
 */
export function buildRecipe(b: B, r: Recipe, prefix: string, n: number = BATCH): BuiltGraph {
  const next = rng(r.seed ^ 0x5eed);
  const params: Leaf[] = [];
  const inputs: Leaf[] = [];
  const values: Record<string, Float64Array> = {};
  const vals = new Map<number, Float64Array>();
  let batched = false;
  let ties = false;
  let count = 0;
  const customs = new Map<number, CustomRule>();

  const val = (x: Node): Float64Array => {
    const hit = vals.get(x.id);
    if (hit) return hit;
    let v: Float64Array;
    if (x.op === "param" || x.op === "input") v = values[x.attrs.name as string]!;
    else if (x.op === "batchSize") v = Float64Array.of(n);
    else if (x.op === "batchMask") v = Float64Array.from({ length: BATCH }, (_, i) => (i < n ? 1 : 0));
    else v = opDef(x.op).eval!(x.inputs.map(val), x);
    vals.set(x.id, v);
    return v;
  };
  const f32 = (x: number) => Math.fround(x);
  const leaf = (kind: "param" | "input", shape: Shape, v?: Float64Array): Node => {
    const name = `${prefix}${kind === "param" ? "p" : "i"}${count++}`;
    const node = b.g.mk(kind, [], { name, shape: [...shape] });
    values[name] = v ?? Float64Array.from({ length: size(shape) }, () => f32(-1.5 + 3 * next()));
    const l: Leaf = { name, node, shape: [...shape], ...(kind === "param" ? { init: "zeros" as const } : {}) };
    (kind === "param" ? params : inputs).push(l);
    return node;
  };

  /** a·x + c with a, c rounded to 3 digits, as nodes (mul/add with constants). */
  const affine = (x: Node, a: number, c: number): Node => {
    let y = a === 1 ? x : b.mul(x, a);
    if (c !== 0) y = b.add(y, c);
    return y;
  };
  const range = (v: Float64Array): [number, number] => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const e of v) {
      if (e < lo) lo = e;
      if (e > hi) hi = e;
    }
    return [lo, hi];
  };
  /** Maps x into the middle 90% of [lo, hi] unless it already lies inside it. */
  const fit = (x: Node, dom: readonly [number, number]): Node => {
    const [lo, hi] = dom;
    const pad = 0.05 * (hi - lo);
    const [tlo, thi] = [lo + pad, hi - pad];
    const [mn, mx] = range(val(x));
    if (mn >= tlo && mx <= thi) return x;
    const a = mx - mn <= thi - tlo ? 1 : Math.floor(((thi - tlo) / (mx - mn)) * 1000) / 1000 || 0.001;
    let c = round3((tlo + thi) / 2 - (a * (mn + mx)) / 2);
    let y = affine(x, a, c);
    // Rounding c can push an end out by a hair: nudge back in.
    const [ymn, ymx] = range(val(y));
    if (ymn < lo || ymx > hi) {
      c = (tlo + thi) / 2 - (a * (mn + mx)) / 2;
      y = affine(x, a, c);
    }
    return y;
  };
  /** A shift s such that every d - s is at least MARGIN from 0 and d - s stays within ±lim: the middle of the widest gap. */
  const gapShift = (d: Float64Array, lim: number): number | undefined => {
    const pts = [...d, -lim, lim].sort((p, q) => p - q);
    let best: number | undefined;
    let width = 0;
    for (let i = 0; i + 1 < pts.length; i++) {
      const w = pts[i + 1]! - pts[i]!;
      if (w > width) [width, best] = [w, (pts[i]! + pts[i + 1]!) / 2];
    }
    return width >= 4 * MARGIN ? round3(best!) : undefined;
  };
  const clear0 = (v: Float64Array) => v.every((e) => Math.abs(e) >= MARGIN);
  /** x fitted to `dom` and shifted so no element is within MARGIN of 0. */
  const awayFrom0 = (x: Node, dom: readonly [number, number]): Node => {
    let y = fit(x, dom);
    if (clear0(val(y))) return y;
    const s = gapShift(val(y), 2);
    if (s !== undefined) y = affine(y, 1, -s);
    return y;
  };
  const domainOf = (op: string, i: number): readonly [number, number] => opDef(op).domain?.[i] ?? [-4, 4];

  /** Elementwise differences a - b over the broadcast shape. */
  const diffs = (x: Node, y: Node): Float64Array => {
    const out = broadcastShapes(x.shape, y.shape)!;
    const mx = broadcastIndex(out, x.shape);
    const my = broadcastIndex(out, y.shape);
    const vx = val(x);
    const vy = val(y);
    return Float64Array.from(mx, (ix, i) => vx[ix]! - vy[my[i]!]!);
  };
  /** Shifts y so that x and y never tie (within MARGIN). */
  const untie = (x: Node, y: Node): Node => {
    const d = diffs(x, y);
    if (clear0(d)) return y;
    const s = gapShift(d, 4);
    return s === undefined ? y : affine(y, 1, s);
  };

  const pool: Node[] = [leaf("param", shapeFrom(r.seed % 4096))];
  /** Mostly one of the newest nodes (deep chains), sometimes any (shared subexpressions). */
  const pick = (a: number): Node => {
    if (a % 4 !== 0) return pool[pool.length - 1 - ((a >> 2) % Math.min(pool.length, 3))]!;
    return pool[(a >> 2) % pool.length]!;
  };
  const compatible = (s: Shape, t: Shape) => broadcastShapes(s, t) !== null && size(broadcastShapes(s, t)!) <= MAX_SIZE;

  /** A second operand for `x`: x itself, a broadcast-compatible node, a constant, or a new leaf. */
  const partner = (x: Node, sel: number, k: number, op: string, i: number): Node | number => {
    const d = digits(k);
    const mode = d(6);
    if (mode === 0) return x;
    if (mode === 1 || mode === 5) {
      const cands = pool.filter((p) => p !== x && compatible(x.shape, p.shape));
      if (cands.length) return cands[sel % cands.length]!;
    }
    if (mode === 2) {
      const [lo, hi] = domainOf(op, i);
      const special = op === "pow" && i === 1 ? [2, 3, 0.5, -1, 1.5] : [];
      const c = special.length && d(2) ? special[d(special.length)]! : round3(lo + (hi - lo) * (0.1 + 0.8 * next()));
      return c;
    }
    return leaf(mode === 3 ? "param" : "input", compatibleShape(x.shape, d(1000)));
  };

  /** x as a matrix: itself if 2-D, else reshaped to [m, k] (chosen by `k`). */
  const matrix = (x: Node, k: number): Node => {
    if (x.shape.length === 2 && (x.shape[0]! >= 4 || k % 4 !== 1)) return x;
    const n = size(x.shape);
    const divs = Array.from({ length: n }, (_, j) => j + 1).filter((j) => n % j === 0);
    // Half the time 4+ rows when possible: what a wasm matmul kernel needs.
    const tall = divs.filter((m) => m >= 4 && m < n);
    const m = k % 2 && tall.length ? tall[(k >> 1) % tall.length]! : divs[(k >> 1) % divs.length]!;
    return b.reshape(x, [m, n / m]);
  };
  const bound = (x: Node) => fit(x, [-4, 4]);

  const step = (ins: Instr): Node | undefined => {
    const op = CHOICES[ins.op % CHOICES.length]!;
    const d = digits(ins.k);
    const x = pick(ins.a);
    if (op === "newParam" || op === "newInput") return leaf(op === "newParam" ? "param" : "input", shapeFrom(ins.k));
    if (op === "const") return b.mul(x, round3(-2 + 4 * next()) || 1);
    if (op === "batchSize") {
      batched = true;
      return b.div(fit(x, domainOf("div", 0)), b.g.mk("batchSize", [], { max: BATCH }));
    }
    if (op === "batchMask") {
      batched = true;
      const mask = b.g.mk("batchMask", [], { max: BATCH });
      // Rows of x (or x broadcast over a batch axis) times the 0/1 row mask.
      const lead = x.shape.length >= 1 && x.shape[0] === BATCH ? x.shape.length - 1 : x.shape.length;
      const m = b.reshape(mask, [BATCH, ...Array<number>(lead).fill(1)]);
      return compatible(x.shape, m.shape) ? b.mul(x, m) : b.mul(b.sum(x), mask);
    }
    if (op === "custom") return box(ins);
    const def = opDef(op);
    switch (def.kind) {
      case "elementwise": {
        if (op === "where") {
          // The condition: a comparison (kept off ties), a 0/1 input, or a step (kept off 0).
          const cm = d(3);
          const c =
            cm === 0
              ? (() => {
                  const p = bound(x);
                  const o = pick(ins.b);
                  const q = compatible(p.shape, o.shape) ? o : leaf("input", compatibleShape(x.shape, d(1000)));
                  return b.op("ge", p, untie(p, bound(q)));
                })()
              : cm === 1
                ? leaf("input", compatibleShape(x.shape, d(1000)), undefined)
                : b.op("step", awayFrom0(pick(ins.b), [-4, 4]));
          if (cm === 1) {
            const name = inputs[inputs.length - 1]!.name;
            values[name] = values[name]!.map((v) => (v > 0 ? 1 : 0));
          }
          const t = bound(x);
          const other = partner(x, ins.b >> 1, d(1000), op, 2);
          const e = typeof other === "number" ? other : bound(other);
          const [p, q] = d(2) ? [t, e] : [e, t];
          const ok = (u: Node | number) => typeof u === "number" || compatible(c.shape, u.shape);
          if (!ok(p) || !ok(q) || (typeof p !== "number" && typeof q !== "number" && !compatible(p.shape, q.shape)))
            return b.where(b.op("step", awayFrom0(x, [-4, 4])), t, 0);
          if (typeof p !== "number" && typeof q !== "number" && size(broadcastShapes(c.shape, p.shape, q.shape)!) > MAX_SIZE)
            return undefined;
          return b.where(c, p, q);
        }
        if (def.arity === 1) return b.op(op, KINK0.has(op) ? awayFrom0(x, domainOf(op, 0)) : fit(x, domainOf(op, 0)));
        // Binary: x op y, either way round.
        const other = partner(x, ins.b, d(1000), op, 1);
        const swap = typeof other !== "number" && d(2) === 1;
        const [p, q] = swap ? [other, x] : [x, other];
        const fp = (u: Node | number, i: number) => (typeof u === "number" ? u : fit(u, domainOf(op, i)));
        let u = fp(p, 0);
        let w = fp(q, 1);
        // Deliberate exact ties (max/min split the gradient evenly there, which is what a central difference
        // measures): a quarter of the time, a leaf against a new leaf holding the same values (a tie in every
        // element and every precision), or a value against itself.
        if (TIE_SPLIT.has(op) && typeof u !== "number" && d(4) === 0) {
          if (u.op === "param" || u.op === "input") {
            const copy = leaf(d(2) ? "param" : "input", u.shape, Float64Array.from(values[u.attrs.name as string]!));
            ties = true;
            return d(2) ? b.op(op, u, copy) : b.op(op, copy, u);
          }
          return b.op(op, u, u);
        }
        if (typeof w === "number" && typeof u !== "number" && KINK2.has(op)) {
          const c = w;
          // d = u - c must clear 0: shift u by -s.
          if (!clear0(val(u).map((e) => e - c))) u = affine(u, 1, -(gapShift(val(u).map((e) => e - c), 4) ?? 0));
        } else if (typeof u !== "number" && typeof w !== "number" && KINK2.has(op)) w = untie(u, w);
        if (u === w && typeof u !== "number" && KINK2.has(op)) return TIE_SPLIT.has(op) ? b.op(op, u, u) : b.op(op, u, b.add(u, 0.5)); // x vs x ties everywhere
        return b.op(op, b.n(u), b.n(w));
      }
      case "reduce": {
        // sum over a random subset of axes (possibly none, possibly negative).
        const rank = x.shape.length;
        const axes: number[] = [];
        for (let i = 0; i < rank; i++) if (d(2)) axes.push(d(2) ? i - rank : i);
        return d(4) === 0 ? b.sum(x) : b.sum(x, axes);
      }
      case "rowwise": {
        let y = x;
        if (y.shape.length === 0) y = b.broadcast(y, [2 + d(2)]);
        else if (d(3) === 0) y = b.reshape(y, factorShape(size(y.shape), d(1000)));
        const yy = fit(y, [-3, 3]);
        // A quarter of the logsumexps become the fused cross-entropy against softmax targets (softmaxCE is not a
        // CHOICES entry of its own: a new entry would re-map every recorded recipe).
        if (op === "logsumexp" && d(4) === 0) return b.op("softmaxCE", yy, b.op("softmax", b.mul(yy, -0.5)));
        return b.op(op, yy);
      }
      case "matmul": {
        if (d(4) === 3) {
          // x on the right of a new weight with 4+ rows (what a wasm kernel needs): W [M, K] · x [K, N].
          const X = bound(matrix(x, d(1000)));
          const [kk, nn] = X.shape as [number, number];
          const m = 4 + d(3);
          if (m * kk <= MAX_SIZE && m * nn <= MAX_SIZE) return b.matmul(leaf("param", [m, kk]), X);
        }
        const A = bound(matrix(x, d(1000)));
        const [, kk] = A.shape as [number, number];
        const mode = d(3);
        if (mode === 0 && A.shape[0] === kk) return b.matmul(A, A); // x·x for square x
        if (mode === 1 && size(A.shape) * A.shape[0]! <= MAX_SIZE * 4) return b.matmul(A, b.transpose(A)); // x·xᵀ
        const cands = pool.filter((p) => p.shape.length === 2 && p.shape[0] === kk);
        const Bm = cands.length && d(2) ? bound(cands[ins.b % cands.length]!) : leaf("param", [kk, 1 + d(3)]);
        return b.matmul(A, Bm);
      }
      case "view": {
        if (op === "transpose") return b.transpose(matrix(x, d(1000)));
        if (op === "reshape") return b.g.mk("reshape", [x], { shape: factorShape(size(x.shape), d(1000)) });
        // broadcast: stretch size-1 axes and/or add a leading axis.
        let s = x.shape.map((e) => (e === 1 ? 1 + d(3) : e));
        if (d(2) || sameShape(s, x.shape)) s = [2 + d(2), ...s];
        if (size(s) > MAX_SIZE) return undefined;
        return b.g.mk("broadcast", [x], { shape: s });
      }
      case "conv":
        return convStep({ b, next, maxSize: r.images ? CONV_BATCH_MAX_SIZE : MAX_SIZE, margin: MARGIN, pick, val, bound, leaf, ...(r.images ? { images: r.images } : {}) }, op, ins.a, ins.k);
      default:
        return undefined;
    }
  };

  /**
   * m.custom around one elementwise op u = op(x1, …) (built as that op's own instruction would build it): the box's
   * value is u, its inputs u's operands, and its vjp the op's table rule written against the box's output — what a
   * spec author writes as `vjp: (g, [x], y) => [...]`. Autodiff then must take the box's rule, not differentiate u
   * (simplify erases the box after autodiff), in every build and in H v.
   */
  const box = (ins: Instr): Node | undefined => {
    const inner = BOXABLE[ins.k % BOXABLE.length]!;
    const u = step({ op: CHOICES.indexOf(inner), a: ins.a, b: ins.b, k: Math.floor(ins.k / BOXABLE.length) });
    if (!u || u.op !== inner) return u; // folded or rewritten by the builder: no single op to box
    const xs = u.inputs.filter((x, i) => u.inputs.indexOf(x) === i);
    const name = `${prefix}box${count++}`;
    const node = b.g.mk("custom", [u, ...xs], { name });
    if (customs.has(node.id)) return node;
    const adjoint = b.g.mk("input", [], { name: "__adjoint", shape: [...node.shape], custom: name });
    const ds = opDef(inner).vjp!(adjoint, u.inputs, node, b);
    // an operand used twice (x op x) gets the sum of its two adjoints, as a spec's vjp would return it
    const vjp = xs.map((x) => {
      const parts = u.inputs.flatMap((v, i) => (v === x && ds[i] ? [ds[i]!] : []));
      return parts.length ? parts.reduce((p, q) => b.add(p, q)) : null;
    });
    customs.set(node.id, { name, adjoint, vjp });
    return node;
  };

  for (const ins of r.instrs) {
    const y = step(ins);
    if (y && size(y.shape) <= MAX_SIZE && !pool.includes(y)) pool.push(y);
  }

  // Sinks: built nodes no other node of the graph reads (all leaves when nothing else was built).
  const all = topo(pool);
  const read = new Set(all.flatMap((n) => n.inputs.map((i) => i.id)));
  let sinks = pool.filter((n) => !read.has(n.id) && opDef(n.op).kind !== "leaf");
  if (!sinks.length) sinks = [pool[pool.length - 1]!];
  let y: Node | undefined;
  for (const s of sinks) {
    const rr = leaf("input", s.shape);
    const t = b.sum(b.mul(s, rr));
    y = y ? b.add(y, t) : t;
  }
  const ops = new Set(topo([y!]).map((n) => n.op));
  return { params, inputs, values, sinks, y: y!, ops, customs, batched, ties };
}

/**
 * Re-checks the finished graph: every input of a kink op is at least
 * MARGIN/2 from its kink, and every op input lies in the op's domain, at the
 * graph's leaf values. (The builder ensures it; a shrunk recipe cannot break it.)
 */
export function kinkFree(y: Node, vals: ReadonlyMap<number, Float64Array>): string | undefined {
  for (const n of topo([y])) {
    const def = opDef(n.op);
    const ins = n.inputs.map((i) => vals.get(i.id)!);
    if (KINK0.has(n.op) && ins[0]!.some((v) => Math.abs(v) < MARGIN / 2)) return `${n.op} input within ${MARGIN / 2} of 0`;
    if (KINK2.has(n.op)) {
      const out = n.shape;
      const m0 = broadcastIndex(out, n.inputs[0]!.shape);
      const m1 = broadcastIndex(out, n.inputs[1]!.shape);
      for (let i = 0; i < m0.length; i++) {
        const gap = Math.abs(ins[0]![m0[i]!]! - ins[1]![m1[i]!]!);
        // an exact tie is fine for max/min (the even split is the central difference); a near tie is not
        if (gap < MARGIN / 2 && !(gap === 0 && TIE_SPLIT.has(n.op))) return `${n.op} inputs tie`;
      }
    }
    // max-pool: a window's two largest values apart (no argmax change within a central difference)
    if ((n.op === "maxPool2d" || n.op === "maxPool2dBack" || n.op === "maxPool2dPick") && poolTies(n.inputs[0]!.shape, n.attrs, ins[0]!) < MARGIN / 2)
      return `${n.op} window maxima tie`;
    // (Constants, e.g. the exponents 3 and -1 the pow emitter special-cases, and the batch count n are chosen, not placed.)
    if (def.domain)
      for (const [k, dom] of def.domain.entries())
        if (!["const", "batchSize"].includes(n.inputs[k]!.op) && ins[k]!.some((v) => v < dom[0] || v > dom[1]))
          return `${n.op} input ${k} outside [${dom}]`;
  }
  return undefined;
}
