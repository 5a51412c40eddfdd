/**
 * Op-table-driven tests (STYLE guideline 10, JAX's LAX_GRAD_OPS): every op of
 * `OPS` gets cases built from its own table entry (arity, kind, sampling
 * domain), and
 *   1. its derivative rule, run through `gradients` and the float64
 *      interpreter, matches float64 central differences of the interpreter;
 *   2. the code `compile` generates for it matches the op's `eval` forward and
 *      the interpreter's symbolic gradient backward (float64 builds: unrolled,
 *      all loops with `unrollLimit: 0`, and mixed), and each float32 build
 *      matches its float64 twin within float32 tolerances;
 *   3. a meta test fails when an op of the table has no case.
 * Cases also cover views that change memory order (transposes, broadcasts)
 * feeding reshapes, row-wise ops and in-place kernels, where the lowering and
 * the arena plan have to index by strides.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { gradients } from "../../compiler/autodiff/reverse.ts";
import { type GeneratedModule, importModule } from "../../compiler/emit/load.ts";
import { type Node, topo } from "../../compiler/ir/graph.ts";
import { evaluate } from "../../compiler/ir/interp.ts";
import { OPS, opDef } from "../../compiler/ir/ops.ts";
import { type Shape, broadcastIndex, broadcastShapes, size } from "../../compiler/ir/shape.ts";
import { compile } from "../../compiler/index.ts";
import {
  B,
  Graph,
  Leaves,
  type Run,
  checkGradients,
  fmtMismatch,
  modelOf,
  rng,
  runModule,
  seedOf,
  uniform,
  weighted,
} from "../helpers.ts";
import { CONV_CASES } from "./conv-cases.ts";

// ---------------------------------------------------------------------------
// Cases

interface Case {
  /** The op of the table this case is about. */
  readonly op: string;
  readonly label: string;
  /** Builds the case on `b`'s graph with leaves from `L`; returns the value to check. */
  build(b: B, L: Leaves): Node;
}

const fmt = (s: Shape) => `[${s.join(",")}]`;
const domainOf = (op: string, k: number) => opDef(op).domain?.[k] ?? ([-2, 2] as const);

/** Ops whose derivative has a kink or jump: sampled points keep this far from it (central differences straddle nothing). */
const MARGIN = 0.05;
const KINKS: Record<string, (...xs: number[]) => boolean> = {
  abs: (x) => Math.abs(x) < MARGIN,
  relu: (x) => Math.abs(x) < MARGIN,
  sign: (x) => Math.abs(x) < MARGIN,
  step: (x) => Math.abs(x) < MARGIN,
  max: (a, b) => Math.abs(a - b) < MARGIN,
  min: (a, b) => Math.abs(a - b) < MARGIN,
  ge: (a, b) => Math.abs(a - b) < MARGIN,
};

/** Ops the table declares without a gradient (`vjp: null`). */
const NO_GRAD = ["ge", "sign", "step"];

/** An elementwise op on params of the given shapes (broadcasting), sampled from the op's domain away from kinks. */
function ew(op: string, shapes: Shape[]): Case {
  return {
    op,
    label: `${op} ${shapes.map(fmt).join(" ")}`,
    build(b, L) {
      const out = broadcastShapes(...shapes)!;
      const maps = shapes.map((s) => broadcastIndex(out, s));
      const bad = KINKS[op];
      for (let tries = 0; tries < 1000; tries++) {
        const vals = shapes.map((s, k) => uniform(L.next, domainOf(op, k), size(s)));
        const hit = bad && Array.from(maps[0]!, (_, i) => bad(...vals.map((v, k) => v[maps[k]![i]!]!))).some(Boolean);
        if (!hit) return b.op(op, ...vals.map((v, k) => L.param(shapes[k]!, v)));
      }
      throw new Error(`${op}: no sample away from the kink`);
    },
  };
}

const custom = (op: string, label: string, build: Case["build"]): Case => ({ op, label: `${op} ${label}`, build });

const UNARY_SHAPES: Shape[][] = [[[]], [[3]], [[2, 3]]];
const BINARY_SHAPES: Shape[][] = [
  [[2, 3], [2, 3]],
  [[3, 2], [2]],
  [[2], [3, 2]],
  [[3, 1], [1, 2]],
  [[], [2, 2]],
  [[2, 2], []],
];

const ewCases: Case[] = Object.entries(OPS).flatMap(([op, d]) =>
  d.kind !== "elementwise" || d.arity === 3
    ? []
    : (d.arity === 1 ? UNARY_SHAPES : BINARY_SHAPES).map((shapes) => ew(op, shapes)),
);

/** where(c, a, b) with c an input in {0, 1}. */
const where = (cs: Shape, as: Shape, bs: Shape): Case =>
  custom("where", `${fmt(cs)} ${fmt(as)} ${fmt(bs)}`, (b, L) => {
    const c = L.input(cs, Float64Array.from({ length: size(cs) }, () => (L.next() < 0.5 ? 0 : 1)));
    return b.where(c, L.param(as), L.param(bs));
  });

const sum = (shape: Shape, axes?: number[]): Case =>
  custom("sum", `${fmt(shape)} axes ${axes ? fmt(axes) : "all"}`, (b, L) => b.sum(L.param(shape), axes));

const rowwise = (op: string, shape: Shape, dom: readonly [number, number] = [-2, 2]): Case =>
  custom(op, `${fmt(shape)} from [${dom}]`, (b, L) => b.op(op, L.param(shape, dom)));

const reshape = (from: Shape, to: Shape): Case =>
  custom("reshape", `${fmt(from)} -> ${fmt(to)}`, (b, L) => b.g.mk("reshape", [L.param(from)], { shape: [...to] }));

const broadcast = (from: Shape, to: Shape): Case =>
  custom("broadcast", `${fmt(from)} -> ${fmt(to)}`, (b, L) => b.g.mk("broadcast", [L.param(from)], { shape: [...to] }));

const CASES: Case[] = [
  ...ewCases,
  // A node feeding both inputs of one op (fan-in inside a rule).
  custom("mul", "x * x", (b, L) => {
    const x = L.param([2, 3]);
    return b.mul(x, x);
  }),
  custom("sub", "x - x", (b, L) => {
    const x = L.param([3]);
    return b.sub(x, x);
  }),
  custom("div", "x / x", (b, L) => {
    const x = L.param([3], [0.5, 2]);
    return b.div(x, x);
  }),
  // The batch leaves (evaluated at a full batch of 3: n = 3, mask = [1, 1, 1]).
  custom("batchMask", "x * mask rows", (b, L) => {
    const mask = b.g.mk("batchMask", [], { max: 3 });
    return b.mul(L.param([3, 2]), b.broadcast(b.reshape(mask, [3, 1]), [3, 2]));
  }),
  custom("batchSize", "x / n", (b, L) => b.div(L.param([2]), b.g.mk("batchSize", [], { max: 3 }))),
  // A custom box without a registered rule (the table's own rule: its forward f, differentiated automatically);
  // the spec-registered rules are tested in test/frontend/custom.test.ts.
  custom("custom", "box(exp(x) * y, x, y)", (b, L) => {
    const [x, y] = [L.param([2, 3]), L.param([3])];
    return b.g.mk("custom", [b.mul(b.op("exp", x), y), x, y], { name: "box" });
  }),
  // Constant operands, including the exponents the pow emitter special-cases.
  custom("const", "x * -1.5 + 2.5", (b, L) => b.add(b.mul(L.param([2, 3]), -1.5), 2.5)),
  custom("pow", "x ^ 2", (b, L) => b.pow(L.param([2, 3], domainOf("pow", 0)), 2)),
  custom("pow", "x ^ 3", (b, L) => b.pow(L.param([2, 3], domainOf("pow", 0)), 3)),
  custom("pow", "x ^ 0.5", (b, L) => b.pow(L.param([2, 3], domainOf("pow", 0)), 0.5)),
  custom("pow", "x ^ -1", (b, L) => b.pow(L.param([2, 3], domainOf("pow", 0)), -1)),
  custom("pow", "2 ^ y", (b, L) => b.pow(2, L.param([2, 3], domainOf("pow", 1)))),
  where([2, 3], [2, 3], [2, 3]),
  where([2, 1], [3], []),
  where([3], [2, 3], [2, 1]),
  custom("where", "c ? x : x*x (shared branch)", (b, L) => {
    const c = L.input([2, 3], Float64Array.of(0, 1, 1, 0, 1, 0));
    const x = L.param([2, 3]);
    return b.where(c, x, b.mul(x, x));
  }),
  sum([]),
  sum([3]),
  sum([3], [0]),
  sum([2, 3, 4]),
  sum([2, 3, 4], [0]),
  sum([2, 3, 4], [1]),
  sum([2, 3, 4], [2]),
  sum([2, 3, 4], [-1]),
  sum([2, 3, 4], [-2]),
  sum([2, 3, 4], [0, 2]),
  sum([2, 3, 4], [-3, -1]),
  sum([2, 3, 4], []),
  rowwise("logsumexp", [4]),
  rowwise("logsumexp", [2, 3]),
  rowwise("logsumexp", [2, 2, 3]),
  rowwise("logsumexp", [2, 3], [100, 102]),
  rowwise("softmax", [4]),
  rowwise("softmax", [2, 3]),
  rowwise("softmax", [2, 2, 3]),
  rowwise("softmax", [2, 3], [100, 102]),
  // Row-wise ops over views: rows are not contiguous in memory.
  custom("softmax", "of xᵀ", (b, L) => b.op("softmax", b.transpose(L.param([3, 2])))),
  custom("softmax", "of a broadcast row", (b, L) => b.op("softmax", b.broadcast(L.param([3]), [2, 3]))),
  custom("logsumexp", "of xᵀ", (b, L) => b.op("logsumexp", b.transpose(L.param([3, 2])))),
  // softmaxCE(x, z): both inputs differentiated (z a distribution, and raw values); rows as views too.
  custom("softmaxCE", "[2,3] against softmax targets", (b, L) => b.op("softmaxCE", L.param([2, 3]), b.op("softmax", L.param([2, 3])))),
  custom("softmaxCE", "[4] against raw targets", (b, L) => b.op("softmaxCE", L.param([4]), L.param([4]))),
  custom("softmaxCE", "[2,2,3] with large logits", (b, L) => b.op("softmaxCE", b.mul(L.param([2, 2, 3]), 50), b.op("softmax", L.param([2, 2, 3])))),
  custom("softmaxCE", "of xᵀ", (b, L) => b.op("softmaxCE", b.transpose(L.param([3, 2])), b.op("softmax", L.param([2, 3])))),
  custom("matmul", "[2,3] x [3,4]", (b, L) => b.matmul(L.param([2, 3]), L.param([3, 4]))),
  custom("matmul", "[1,3] x [3,1]", (b, L) => b.matmul(L.param([1, 3]), L.param([3, 1]))),
  custom("matmul", "[3,1] x [1,2]", (b, L) => b.matmul(L.param([3, 1]), L.param([1, 2]))),
  custom("matmul", "x · xᵀ", (b, L) => {
    const x = L.param([2, 3]);
    return b.matmul(x, b.transpose(x));
  }),
  custom("transpose", "[2,3]", (b, L) => b.transpose(L.param([2, 3]))),
  custom("transpose", "[1,4]", (b, L) => b.transpose(L.param([1, 4]))),
  custom("transpose", "of a product", (b, L) => b.transpose(b.mul(L.param([2, 3]), L.param([3])))),
  // u is read at (i, j) and (j, i) by one kernel: computing y in u's memory would clobber uᵀ.
  custom("transpose", "y * y, y = u + uᵀ, u = sin x", (b, L) => {
    const u = b.op("sin", L.param([3, 3]));
    const y = b.add(u, b.transpose(u));
    return b.mul(y, y);
  }),
  reshape([2, 3], [3, 2]),
  reshape([6], [2, 3]),
  reshape([2, 3], [6]),
  reshape([], [1, 1]),
  reshape([2, 3], [1, 6, 1]),
  // Reshapes of views whose elements are not in row-major order.
  custom("reshape", "xᵀ -> [6]", (b, L) => b.reshape(b.transpose(L.param([2, 3])), [6])),
  custom("reshape", "(x * v)ᵀ -> [6]", (b, L) => b.reshape(b.transpose(b.mul(L.param([2, 3]), L.param([3]))), [6])),
  custom("reshape", "broadcast(v) -> [6]", (b, L) => b.reshape(b.broadcast(L.param([3]), [2, 3]), [6])),
  broadcast([3], [2, 3]),
  broadcast([2, 1], [2, 3]),
  broadcast([], [2, 2]),
  broadcast([1, 3], [4, 1, 3]),
  broadcast([2, 1], [3, 2, 4]),
  custom("broadcast", "xᵀ [1,3] -> [2,3]", (b, L) => b.broadcast(b.transpose(L.param([3, 1])), [2, 3])),
  custom("sum", "xᵀ axes [0]", (b, L) => b.sum(b.transpose(L.param([2, 3])), [0])),
  // conv2d, its backward ops, max and average pooling (test/ir/conv-cases.ts)
  ...CONV_CASES,
];

/** Builds a case on a fresh graph: the checked value and y = sum(value * r). */
function instantiate(c: Case) {
  const g = new Graph();
  const b = new B(g);
  const L = new Leaves(g, rng(seedOf(c.label)));
  const out = c.build(b, L);
  const y = weighted(b, L, out);
  return { g, b, L, out, y };
}

// ---------------------------------------------------------------------------
// 1. Derivative rules vs central differences (float64 interpreter)

describe("derivative rules match float64 central differences", () => {
  it.each(CASES.map((c) => [c.label, c] as const))("%s", (_, c) => {
    const { b, L, y } = instantiate(c);
    const { mismatches } = checkGradients(b, y, L.params, L.values);
    expect(mismatches.map(fmtMismatch), c.label).toEqual([]);
  });

  it("the checker catches a wrong rule (d tanh = 1 - y instead of 1 - y^2)", () => {
    const c = CASES.find((k) => k.label === "tanh [2,3]")!;
    const { b, L, y } = instantiate(c);
    const rules = { ...OPS, tanh: { vjp: (g: Node, _: readonly Node[], out: Node, bb: B) => [bb.mul(g, bb.sub(1, out))] } };
    expect(checkGradients(b, y, L.params, L.values, rules).mismatches.length).toBeGreaterThan(0);
  });

  it.each(NO_GRAD)("%s has no gradient (vjp === null)", (op) => {
    expect(opDef(op).vjp).toBeNull();
  });

  it("only the ops documented as having no gradient lack a derivative rule", () => {
    const missing = Object.entries(OPS)
      .filter(([, d]) => d.kind !== "leaf" && d.vjp === null)
      .map(([op]) => op);
    expect(missing.sort()).toEqual([...NO_GRAD].sort());
  });
});

// ---------------------------------------------------------------------------
// 2. Generated code vs the interpreter, float64 and float32 builds

/**
 * Tolerances:
 * - float64 build vs interpreter: |a - b| <= 1e-12 max(1, |b|). The generated
 *   code evaluates the same formulas (a few are written differently, e.g.
 *   sigmoid and x^2 -> x*x), so only last-bit differences are expected.
 * - float32 build vs float64 build, both fed the same float32-representable
 *   inputs: outputs within 4 float32 ulps (|a - b| <= 2^-21 |b| + 1e-30): the
 *   only error is rounding the stored results (in the loop builds, reductions
 *   accumulate in the float32 arena, so outputs get the gradient tolerance); gradients within
 *   |a - b| <= 1e-6 + 1e-5 |b| (~100 float32 ulps): backward also reads forward
 *   values saved in the float32 arena, so a float32 rounding (6e-8 relative) of
 *   each saved value is amplified by the condition number of the rule. The
 *   largest error seen over the whole table is ~5% of this tolerance.
 */
const F64 = { rtol: 1e-12 };
const F32_OUT = { rtol: 2 ** -21, atol: 1e-30 };
const F32_GRAD = { atol: 1e-6, rtol: 1e-5 };

interface Build extends Run {
  readonly mod: GeneratedModule;
}

/**
 * The builds each op is compiled to: the default plan (these small cases are
 * unrolled to scalars), every node a loop kernel (`unrollLimit: 0`: loops,
 * fusion, arena reuse), and a mix (`unrollLimit: 4`: vectors unrolled,
 * matrices looped), in both precisions.
 */
const BUILDS = {
  f64: { precision: "f64", unrollLimit: undefined },
  f32: { precision: "f32", unrollLimit: undefined },
  "f64 loops": { precision: "f64", unrollLimit: 0 },
  "f32 loops": { precision: "f32", unrollLimit: 0 },
  "f64 mixed": { precision: "f64", unrollLimit: 4 },
} as const;
type BuildName = keyof typeof BUILDS;

interface OpModel {
  readonly outputs: { name: string; node: Node; label: string }[];
  readonly loss: Node;
  readonly L: Leaves;
  /** Interpreter reference: outputs by the op's eval, grads by `gradients`. */
  readonly refOutputs: Float64Array[];
  readonly refLoss: number;
  readonly refGrads: Float64Array[];
  readonly builds: Record<BuildName, Build | Error>;
}

/** One model per op holding all of its cases: loss = sum_k sum(case_k * r_k), every case value also an output. */
async function buildOpModel(op: string, cases: readonly Case[]): Promise<OpModel> {
  const g = new Graph();
  const b = new B(g);
  const outputs: OpModel["outputs"] = [];
  let loss: Node | undefined;
  let L!: Leaves;
  cases.forEach((c, k) => {
    const Lk = new Leaves(g, rng(seedOf(c.label)), `c${k}_`);
    const out = c.build(b, Lk);
    const term = weighted(b, Lk, out);
    outputs.push({ name: `c${k}_out`, node: out, label: c.label });
    loss = loss ? b.add(loss, term) : term;
    if (!L) L = Lk;
    else {
      L.params.push(...Lk.params);
      L.inputs.push(...Lk.inputs);
      Object.assign(L.values, Lk.values);
    }
  });
  const ref = evaluate([...outputs.map((o) => o.node), loss!], L.values);
  const { grads } = gradients(
    b,
    loss!,
    L.params.map((p) => p.node),
  );
  const refG = evaluate(grads, L.values);
  const batchLeaf = topo([loss!]).find((n) => n.attrs.max !== undefined && opDef(n.op).kind === "leaf");
  const model = modelOf(`op_${op}`, g, L, outputs, loss, batchLeaf?.attrs.max as number | undefined);

  const run = async (name: BuildName): Promise<Build> => {
    const { precision, unrollLimit } = BUILDS[name];
    const { js } = await compile(model, { precision, ...(unrollLimit === undefined ? {} : { unrollLimit }) });
    const mod = await importModule(js);
    return { mod, ...runModule(mod, L.values, precision === "f64" ? Float64Array : Float32Array) };
  };
  const builds = {} as Record<BuildName, Build | Error>;
  for (const name of Object.keys(BUILDS) as BuildName[])
    builds[name] = await run(name).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  return {
    outputs,
    loss: loss!,
    L,
    refOutputs: outputs.map((o) => ref.get(o.node.id)!),
    refLoss: ref.get(loss!.id)![0]!,
    refGrads: grads.map((gn) => refG.get(gn.id)!),
    builds,
  };
}

/** Element-by-element comparison; returns readable lines for every element out of tolerance. */
function compare(
  what: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  ok: (a: number, b: number) => boolean,
): string[] {
  const bad: string[] = [];
  if (got.length !== want.length) return [`${what}: length ${got.length}, expected ${want.length}`];
  for (let i = 0; i < want.length; i++)
    if (!ok(got[i]!, want[i]!)) bad.push(`${what}[${i}]: got ${got[i]}, expected ${want[i]}, diff ${Math.abs(got[i]! - want[i]!)}`);
  return bad;
}

const close64 = (a: number, b: number) => Object.is(a, b) || Math.abs(a - b) <= F64.rtol * Math.max(1, Math.abs(b));
const close32out = (a: number, b: number) => Object.is(a, b) || Math.abs(a - b) <= F32_OUT.rtol * Math.abs(b) + F32_OUT.atol;
const close32grad = (a: number, b: number) => Object.is(a, b) || Math.abs(a - b) <= F32_GRAD.atol + F32_GRAD.rtol * Math.abs(b);

const OPS_WITH_CASES = [...new Set(CASES.map((c) => c.op))];


describe("generated code matches the interpreter", () => {
  const built = new Map<string, OpModel | Error>();
  beforeAll(async () => {
    // Compiles are independent: overlap their async parts (esbuild runs out of process).
    const queue = [...OPS_WITH_CASES];
    const worker = async () => {
      for (let op = queue.shift(); op !== undefined; op = queue.shift()) {
        const cases = CASES.filter((c) => c.op === op);
        built.set(
          op,
          await buildOpModel(op, cases).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))),
        );
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  }, 120_000);

  const get = (op: string, build: BuildName): { m: OpModel; b: Build } => {
    const m = built.get(op);
    if (!m) throw new Error(`${op}: not built`);
    if (m instanceof Error) throw m;
    const b = m.builds[build];
    if (b instanceof Error) throw b;
    return { m, b };
  };

  const f64Builds = (Object.keys(BUILDS) as BuildName[]).filter((k) => BUILDS[k].precision === "f64");
  it.each(f64Builds.flatMap((build) => OPS_WITH_CASES.map((op) => [op, build] as const)))(
    "%s: %s build = eval (forward) and symbolic gradient (backward)",
    (op, build) => {
      const { m, b } = get(op, build);
      const bad = [
        ...m.outputs.flatMap((o, k) => compare(`${o.label} forward`, b.outputs[k]!, m.refOutputs[k]!, close64)),
        ...compare("loss", [b.loss], [m.refLoss], close64),
        ...m.L.params.flatMap((p, k) => compare(`d loss/d ${p.name}`, b.grads[k]!, m.refGrads[k]!, close64)),
      ];
      expect(bad).toEqual([]);
      // The layout lists the leaves in model order.
      expect(b.mod.layout.params.map((s) => s.name)).toEqual(m.L.params.map((p) => p.name));
    },
  );

  // Unrolled, an output is one rounding of a double; in loops, reductions accumulate in the float32 arena.
  const pairs: [BuildName, BuildName, typeof close32out][] = [
    ["f32", "f64", close32out],
    ["f32 loops", "f64 loops", close32grad],
  ];
  it.each(pairs.flatMap(([b32, b64, tol]) => OPS_WITH_CASES.map((op) => [op, b32, b64, tol] as const)))(
    "%s: %s build = %s build within float32 tolerances",
    (op, b32, b64, outTol) => {
      const { m, b: f32 } = get(op, b32);
      const { b: f64 } = get(op, b64);
      const bad = [
        ...m.outputs.flatMap((o, k) => compare(`${o.label} forward`, f32.outputs[k]!, f64.outputs[k]!, outTol)),
        ...compare("loss", [f32.loss], [f64.loss], close32grad),
        ...m.L.params.flatMap((p, k) => compare(`d loss/d ${p.name}`, f32.grads[k]!, f64.grads[k]!, close32grad)),
      ];
      expect(bad).toEqual([]);
    },
  );
});

// ---------------------------------------------------------------------------
// 3. Coverage of the table

describe("ordered ops (their output holds no NaN and no −0: max pools over them take pmax)", () => {
  const ordered = Object.entries(OPS).filter(([, d]) => (d as { ordered?: boolean }).ordered === true);
  it("relu is one", () => expect(ordered.map(([op]) => op)).toContain("relu"));
  it.each(ordered.map(([op]) => [op]))("%s: eval gives neither NaN nor −0 for NaN, ±0, ±∞, subnormals and ordinary values", (op) => {
    const xs = [NaN, -0, 0, Infinity, -Infinity, 1e-45, -1e-45, -1, 1, -3.5, 2.25, -1e30, 1e30];
    const d = opDef(op);
    expect(d.kind).toBe("elementwise");
    const g = new Graph();
    const x = g.mk("input", [], { name: "x", shape: [xs.length] });
    const node = g.mk(op, Array.from({ length: d.arity }, () => x), {});
    const out = d.eval!(Array.from({ length: d.arity }, () => Float64Array.from(xs)), node);
    const bad = [...out].flatMap((y, i) => (Number.isNaN(y) || Object.is(y, -0) ? [`${op}(${xs[i]}) = ${y}`] : []));
    expect(bad).toEqual([]);
  });
});

describe("every op of the table is tested", () => {
  it("each non-leaf op is the subject of a case, and each case actually builds its op", () => {
    const uncovered = Object.entries(OPS)
      .filter(([op, d]) => d.kind !== "leaf" && !CASES.some((c) => c.op === op))
      .map(([op]) => op);
    expect(uncovered, "ops of OPS without a test case: add cases in test/ir/ops.test.ts").toEqual([]);
    for (const c of CASES) {
      const { out } = instantiate(c);
      expect(
        topo([out]).some((n) => n.op === c.op),
        `case '${c.label}' does not contain a '${c.op}' node`,
      ).toBe(true);
    }
  });

  it("each leaf op appears in some case graph", () => {
    const seen = new Set(CASES.flatMap((c) => topo([instantiate(c).y]).map((n) => n.op)));
    const leaves = Object.entries(OPS)
      .filter(([, d]) => d.kind === "leaf")
      .map(([op]) => op);
    expect(leaves.filter((op) => !seen.has(op))).toEqual([]);
  });

  it("each binary elementwise op is checked with broadcasting inputs and each unary one on several ranks", () => {
    for (const [op, d] of Object.entries(OPS)) {
      if (d.kind !== "elementwise") continue;
      const labels = CASES.filter((c) => c.op === op).map((c) => c.label);
      if (d.arity === 1) expect(labels.length, op).toBeGreaterThanOrEqual(3);
      else expect(labels.some((l) => /\[3,1\].*\[1,2\]|\[2,1\]/.test(l)), `${op}: ${labels.join("; ")}`).toBe(true);
    }
  });

  it("the compile test builds every op that has a case: all but the input and param leaves", () => {
    expect(new Set(OPS_WITH_CASES)).toEqual(new Set(Object.keys(OPS).filter((op) => op !== "input" && op !== "param")));
  });
});
