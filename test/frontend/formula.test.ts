/**
 * The mathjs formula frontend and `gradc grad`:
 *   1. precedence: our reading of a formula (IR through the float64
 *      interpreter) equals mathjs's own `evaluate` of it;
 *   2. mathjs cross-check, driven by the op table: for every elementwise op
 *      with a mathjs name, our symbolic derivative and mathjs's `derivative`
 *      against float64 central differences — where mathjs 15.2.0 is wrong the
 *      test asserts that it is (and that we are not);
 *   3. errors: E_PARSE with a column, E_FORMULA for what cannot be compiled;
 *   4. the CLI end to end (`node bin/gradc.js grad …`).
 */
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { promisify } from "node:util";
import type * as MathJs from "mathjs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { gradients } from "../../compiler/autodiff/reverse.ts";
import { gradCommand } from "../../compiler/cli/grad.ts";
import { GradcError } from "../../compiler/errors.ts";
import { formulaSymbols, parseFormula } from "../../compiler/frontend/formula.ts";
import { B } from "../../compiler/ir/graph.ts";
import { evaluate } from "../../compiler/ir/interp.ts";
import type { Model } from "../../compiler/ir/model.ts";
import { OPS, type OpDef } from "../../compiler/ir/ops.ts";
import { rng, seedOf } from "../helpers.ts";

/** The same mathjs 15.2.0 build the frontend parses with. */
const math = createRequire(import.meta.url)("mathjs/lib/browser/math.js") as typeof MathJs;

const ROOT = new URL("../../", import.meta.url).pathname;

type Point = Record<string, number>;
const bind = (p: Point) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, Float64Array.of(v)]));

/** The formula's value by the float64 reference interpreter. */
const valueOf = (m: Model, p: Point): number => evaluate([m.loss!], bind(p)).get(m.loss!.id)![0]!;

/** Our symbolic partials (IR from reverse mode), evaluated in float64, by param name. */
function ourGradient(m: Model, p: Point): Record<string, number> {
  const { grads } = gradients(
    new B(m.graph),
    m.loss!,
    m.params.map((l) => l.node),
  );
  const vals = evaluate(grads, bind(p));
  return Object.fromEntries(m.params.map((l, i) => [l.name, vals.get(grads[i]!.id)![0]!]));
}

/** Float64 central difference of `f` in the variable `v`. */
function centralDiff(f: (p: Point) => number, p: Point, v: string, h = 1e-6): number {
  const step = h * Math.max(1, Math.abs(p[v]!));
  return (f({ ...p, [v]: p[v]! + step }) - f({ ...p, [v]: p[v]! - step })) / (2 * step);
}

/** Agreement with a central difference: float64 differences are good to ~1e-9 here, mistakes are O(1). */
const close = (a: unknown, n: number) => typeof a === "number" && Math.abs(a - n) <= 1e-7 + 1e-6 * Math.abs(n);

// ---------------------------------------------------------------------------

describe("precedence: formulas read exactly as mathjs reads them", () => {
  const FORMULAS = [
    "2x",
    "2 x y",
    "-x^2",
    "x^-2",
    "2^3^2",
    "-2^2",
    "(x+1)(x-1)",
    "x/2y",
    "1/2x",
    "2x^2y",
    "x y^2",
    "-x*-y",
    "3(x+y)z",
    "x^y^z",
    "x^2^-1",
    "-(-x)^3",
    "e^x",
    "pi*x",
    "tau phi x - 2 pi",
    "log(x, 2)",
    "nthRoot(x, 3)",
    "sin(cos(x))^2 + exp(-y^2/2)",
    "sqrt(x) / cbrt(y) - log10(z) + log2(x y)",
    "max(x, y) - min(x, 2y) + abs(x - z)",
    "+x - +y",
    "sinh(x) / cosh(y) + tanh(z)",
  ];

  it.each(FORMULAS)("%s", (src) => {
    const m = parseFormula(src, { wrt: [] });
    const next = rng(seedOf(src));
    for (let k = 0; k < 5; k++) {
      const p: Point = {};
      for (const s of formulaSymbols(src)) p[s] = 0.3 + 2.2 * next();
      const ours = valueOf(m, p);
      const theirs = math.evaluate(src, { ...p }) as number;
      expect(typeof theirs).toBe("number");
      expect(
        Math.abs(ours - theirs),
        `${src} at ${JSON.stringify(p)}: ours ${ours}, mathjs ${theirs}`,
      ).toBeLessThanOrEqual(1e-12 * Math.abs(theirs));
    }
  });

  it("follows mathjs's tree: -x^2 is -(x^2), 2^3^2 is 2^(3^2), x/2y is x/(2y) but 1/2x is (1/2)x", () => {
    const m = parseFormula("-x^2", { wrt: ["x"] });
    expect(m.loss!.op).toBe("neg");
    expect(m.loss!.inputs[0]!.op).toBe("pow");
    expect(valueOf(parseFormula("2^3^2", { wrt: [] }), {})).toBe(512);
    expect(valueOf(parseFormula("-2^2", { wrt: [] }), {})).toBe(-4);
    expect(valueOf(parseFormula("x/2y", { wrt: [] }), { x: 6, y: 3 })).toBe(1);
    expect(valueOf(parseFormula("1/2x", { wrt: [] }), { x: 6 })).toBe(3);
  });

  it("maps log by arity and accepts our own elementwise ops by table key", () => {
    expect(parseFormula("log(x)", { wrt: ["x"] }).loss!.op).toBe("log");
    expect(parseFormula("log(x, b)", { wrt: ["x"] }).loss!.op).toBe("logb");
    for (const op of ["sigmoid", "relu", "softplus", "step"])
      expect(parseFormula(`${op}(x)`, { wrt: ["x"] }).loss!.op).toBe(op);
    expect(parseFormula("bceLogits(x, z)", { wrt: ["x"] }).loss!.op).toBe("bceLogits");
    expect(valueOf(parseFormula("sigmoid(x)", { wrt: [] }), { x: 0 })).toBe(0.5);
  });

  it("builds a model: params in wrt order, inputs by first appearance, the formula as loss and output `value`", () => {
    const m = parseFormula("0.5*(w*x + b - t)^2", { wrt: ["b", "w"], name: "lsq" });
    expect(m.name).toBe("lsq");
    expect(m.source).toBe("formula");
    expect(m.params.map((l) => l.name)).toEqual(["b", "w"]);
    expect(m.inputs.map((l) => l.name)).toEqual(["x", "t"]);
    expect([...m.params, ...m.inputs].every((l) => l.shape.length === 0)).toBe(true);
    expect(m.outputs).toEqual([{ name: "value", node: m.loss }]);
    expect(ourGradient(m, { w: 1, b: 0, x: 2, t: 1 })).toEqual({ b: 1, w: 2 });
    expect(formulaSymbols("0.5*(w*x + b - t)^2")).toEqual(["w", "x", "b", "t"]);
  });

  it("reads pi, e, tau, phi as constants unless the user makes them variables", () => {
    expect(formulaSymbols("e^x + pi + tau*phi + PI*E")).toEqual(["x"]);
    expect(valueOf(parseFormula("tau - 2pi + phi - (1 + sqrt(5))/2", { wrt: [] }), {})).toBe(0);
    const m = parseFormula("e^x", { wrt: ["x"], vars: ["e"] });
    expect(m.inputs.map((l) => l.name)).toEqual(["e"]);
    expect(valueOf(m, { e: 2, x: 3 })).toBe(8);
    expect(parseFormula("pi * r^2", { wrt: ["pi"] }).params.map((l) => l.name)).toEqual(["pi"]);
  });
});

// ---------------------------------------------------------------------------

/** Infix syntax of the mathjs operators (a mathjs FunctionNode `add(x, y)` has no derivative rule in mathjs). */
const OPERATOR_SYNTAX: Record<string, string> = {
  add: "x + y",
  subtract: "x - y",
  multiply: "x * y",
  divide: "x / y",
  pow: "x ^ y",
  unaryMinus: "-x",
};

/** mathjs 15.2.0's `derivative` has no rule for these: it throws "Cannot process function …". */
const MATHJS_NO_RULE = new Set(["expm1", "log1p", "log2", "sign", "max", "min"]);

/**
 * Where mathjs 15.2.0's `derivative` is wrong on the op's sampling domain
 * (node_modules/mathjs/lib/esm/function/algebra/derivative.js):
 *   acoth: d/dx acoth x = 1/(1 - x^2), but mathjs returns -1/(1 - x^2) — the sign is flipped
 *          (its comment reads "d/dx(acoth(x)) = -1 / (1 - x^2)"); at x = 1.5 mathjs says 0.8, the truth is -0.8.
 */
const MATHJS_WRONG = new Set(["acoth"]);

const VARS = ["x", "y"];
const domainOf = (d: OpDef, k: number) => d.domain?.[k] ?? ([-2, 2] as const);
/** Keep samples off kinks (abs at 0, max/min ties) so central differences straddle nothing. */
const KINK: Record<string, (p: Point) => boolean> = {
  abs: (p) => Math.abs(p.x!) < 0.05,
  sign: (p) => Math.abs(p.x!) < 0.05,
  max: (p) => Math.abs(p.x! - p.y!) < 0.05,
  min: (p) => Math.abs(p.x! - p.y!) < 0.05,
};

const MATHJS_OPS = Object.entries(OPS as Record<string, OpDef>)
  .filter(([, d]) => d.kind === "elementwise" && d.mathjs)
  .map(([op, d]) => {
    const name = d.mathjs!;
    const expr = OPERATOR_SYNTAX[name] ?? `${name}(${VARS.slice(0, d.arity).join(", ")})`;
    return { op, def: d, name, expr, vars: VARS.slice(0, d.arity) };
  });

describe("derivatives vs mathjs 15.2.0 `derivative` and float64 central differences, for every mathjs op of the table", () => {
  it("covers every elementwise op with a mathjs name, both arities of log included", () => {
    expect(MATHJS_OPS.map((c) => c.op)).toEqual(
      expect.arrayContaining(["add", "neg", "log", "logb", "nthRoot", "acoth"]),
    );
    for (const op of [...MATHJS_NO_RULE, ...MATHJS_WRONG])
      expect(
        MATHJS_OPS.some((c) => c.name === op),
        `${op} is no longer an op with a mathjs name`,
      ).toBe(true);
  });

  it.each(MATHJS_OPS)("$op: $expr", ({ op, def, name, expr, vars }) => {
    const m = parseFormula(expr, { wrt: vars });
    expect(m.loss!.op, "the formula frontend maps the mathjs name onto this op").toBe(op);
    const next = rng(seedOf(`mathjs:${op}`));
    const f = (p: Point) => valueOf(m, p);
    const derivs = MATHJS_NO_RULE.has(name) ? undefined : vars.map((v) => math.derivative(expr, v));
    if (!derivs)
      for (const v of vars)
        expect(() => math.derivative(expr, v), `mathjs has no rule for ${name}`).toThrow(/Cannot process function/);

    for (let k = 0; k < 6; k++) {
      let p: Point;
      do p = Object.fromEntries(vars.map((v, i) => [v, lerp(domainOf(def, i), next())]));
      while (KINK[op]?.(p));
      const ours = ourGradient(m, p);
      vars.forEach((v, i) => {
        const numeric = centralDiff(f, p, v);
        expect(
          close(ours[v], numeric),
          `d/d${v} ${expr} at ${JSON.stringify(p)}: ours ${ours[v]}, central difference ${numeric}`,
        ).toBe(true);
        if (!derivs) return;
        const theirs: unknown = derivs[i]!.evaluate({ ...p });
        const what = `d/d${v} ${expr} at ${JSON.stringify(p)}: mathjs ${math.format(theirs)} (${derivs[i]!.toString()}), central difference ${numeric}`;
        expect(close(theirs, numeric), what).toBe(!MATHJS_WRONG.has(name));
      });
    }
  });

  /** Forms mathjs treats specially, and real points outside the ops' sampling domains. */
  const EXTRA: { expr: string; x: number[]; mathjsWrong: boolean; why: string }[] = [
    { expr: "log(x, 2)", x: [0.3, 1.7, 5], mathjsWrong: false, why: "constant base: 1/(x ln 2)" },
    { expr: "log(2, x)", x: [1.5, 3], mathjsWrong: false, why: "variable base" },
    { expr: "nthRoot(x, 3)", x: [0.5, 2, 8], mathjsWrong: false, why: "constant root, positive x" },
    { expr: "nthRoot(x)", x: [0.5, 2, 8], mathjsWrong: false, why: "mathjs's default root is 2: the square root" },
    { expr: "acoth(x)", x: [-3, -1.5, 2], mathjsWrong: true, why: "sign flipped everywhere: mathjs -1/(1 - x^2)" },
    {
      expr: "cbrt(x)",
      x: [-8, -1, -0.5],
      mathjsWrong: true,
      why: "mathjs gives x^(-2/3)/3, complex for x < 0; the real cube root has 1/(3 cbrt(x)^2)",
    },
    {
      expr: "nthRoot(x, 3)",
      x: [-8, -0.7],
      mathjsWrong: true,
      why: "rewritten to x^(1/3): complex for x < 0, where nthRoot is real",
    },
    { expr: "nthRoot(x, 5)", x: [-2], mathjsWrong: true, why: "same for any odd root" },
  ];

  it.each(EXTRA)("$expr at x = $x (mathjs wrong: $mathjsWrong — $why)", ({ expr, x, mathjsWrong }) => {
    const m = parseFormula(expr, { wrt: ["x"] });
    const d = math.derivative(expr, "x");
    for (const xv of x) {
      const numeric = centralDiff((p) => valueOf(m, p), { x: xv }, "x");
      const ours = ourGradient(m, { x: xv }).x;
      const theirs: unknown = d.evaluate({ x: xv });
      expect(close(ours, numeric), `ours ${ours} vs central difference ${numeric} at x = ${xv}`).toBe(true);
      expect(
        close(theirs, numeric),
        `mathjs ${math.format(theirs)} vs central difference ${numeric} at x = ${xv}`,
      ).toBe(!mathjsWrong);
    }
  });
});

const lerp = ([lo, hi]: readonly [number, number], t: number) => lo + (hi - lo) * t;

// ---------------------------------------------------------------------------

function errorOf(f: () => unknown): GradcError {
  try {
    f();
  } catch (e) {
    if (e instanceof GradcError) return e;
    throw e;
  }
  throw new Error("expected a GradcError");
}

describe("formula errors", () => {
  it("an unparsable formula is E_PARSE with the column and a caret under it", () => {
    const e = errorOf(() => parseFormula("0.5*(w*", { wrt: [] }));
    expect(e.code).toBe("E_PARSE");
    expect(e.info.col).toBe(8);
    expect(e.message).toContain("0.5*(w*\n");
    expect(e.message.split("\n").at(-1)).toBe(`    ${" ".repeat(7)}^`);
    const e2 = errorOf(() => parseFormula("x + * 2", { wrt: [] }));
    expect([e2.code, e2.info.col]).toEqual(["E_PARSE", 5]);
    expect(errorOf(() => parseFormula("  ", { wrt: [] })).code).toBe("E_PARSE");
  });

  it("an unknown function is E_FORMULA naming it, at its column", () => {
    const e = errorOf(() => parseFormula("x + foo(x)", { wrt: [] }));
    expect(e.code).toBe("E_FORMULA");
    expect(e.message).toContain("unknown function 'foo'");
    expect(e.info.col).toBe(5);
    expect(e.info.hint).toContain("sigmoid");
    expect(errorOf(() => parseFormula("erf(x)", { wrt: [] })).message).toContain(
      "mathjs has it, but gradc has no op for it",
    );
  });

  it("a wrong number of arguments is E_FORMULA naming the function", () => {
    for (const [src, fn] of [
      ["nthRoot()", "nthRoot"],
      ["log(x, 2, 3)", "log"],
      ["sin(x, y)", "sin"],
      ["max(x, y, z)", "max"],
    ] as const) {
      const e = errorOf(() => parseFormula(src, { wrt: [] }));
      expect([e.code, e.message.startsWith(`${fn} takes`)]).toEqual(["E_FORMULA", true]);
    }
  });

  it.each([
    ["[x, 1]", "matrix", 1],
    ["y = x^2", "assignment", 3],
    ["f(x) = x^2", "assignment", 6],
    ["x < 1", "'<'", 3],
    ["x < y < 2", "comparison", 3],
    ["x == 1", "'=='", 3],
    ["x > 0 ? x : 0", "conditional", 7],
    ['"abc" + x', "string", 1],
    ["true * x", "constant true", 1],
    ["x mod 2", "'mod'", 3],
    ["x!", "'!'", 2],
    ["sin x", "'sin'", 1],
    ["a.b(x)", "a.b", 1],
    ["x; y", "more than one", 2],
  ])("%s is E_FORMULA (%s)", (src, words, col) => {
    const e = errorOf(() => parseFormula(src, { wrt: [] }));
    expect(e.code).toBe("E_FORMULA");
    expect(e.message).toContain(words);
    expect(e.info.col).toBe(col);
  });

  it("a wrt symbol that does not occur in the formula is E_FORMULA", () => {
    const e = errorOf(() => parseFormula("w*x + b", { wrt: ["w", "z"] }));
    expect(e.code).toBe("E_FORMULA");
    expect(e.message).toContain("'z' does not occur in the formula");
    expect(e.info.hint).toContain("w, x, b");
    expect(errorOf(() => parseFormula("pi", { wrt: ["e"] })).code).toBe("E_FORMULA");
  });

  it("symbols that are prototype keys or reserved are refused", () => {
    expect(errorOf(() => parseFormula("__proto__ + 1", { wrt: [] })).code).toBe("E_BAD_NAME");
    expect(errorOf(() => parseFormula("constructor * x", { wrt: [] })).code).toBe("E_BAD_NAME");
  });

  it("mathjs identifiers beyond ASCII ($x, Ψ, café) work, spelled in ASCII in the code only", () => {
    const m = parseFormula("$x^2 * Ψ + café", { wrt: ["$x"] });
    expect(m.params.map((l) => l.name)).toEqual(["_u0024_x"]);
    expect(m.inputs.map((l) => l.name)).toEqual(["_u03a8_", "caf_u00e9_"]);
    expect([...m.labels.values()]).toEqual(["$x", "Ψ", "café"]);
    expect(formulaSymbols("$x^2 * Ψ + café")).toEqual(["$x", "Ψ", "café"]);
    // A plain name that happens to be another symbol's ASCII spelling gets its own.
    const clash = parseFormula("$x + _u0024_x", { wrt: [] });
    expect(clash.inputs.map((l) => l.name)).toEqual(["_u0024_x", "_u0024_x_"]);
  });
});

// ---------------------------------------------------------------------------

const EXAMPLE = "0.5*(w*x + b - t)^2";

/** Runs `node bin/gradc.js …` (~2 s each, mostly start-up, so the runs go in parallel and the rest is tested in process). */
const run = (args: string[]) =>
  promisify(execFile)(process.execPath, ["bin/gradc.js", ...args], { cwd: ROOT, encoding: "utf8" }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

describe("gradc grad", () => {
  let text: Awaited<ReturnType<typeof run>>;
  let jsonCode: Awaited<ReturnType<typeof run>>;
  beforeAll(async () => {
    [text, jsonCode] = await Promise.all([
      run(["grad", EXAMPLE, "--wrt", "w,b", "--at", "w=1,b=0,x=2,t=1"]),
      run(["grad", EXAMPLE, "--wrt", "w,b", "--at", "w=1,b=0,x=2,t=1", "--at", "w=2,b=1,x=3,t=0", "--json", "--code"]),
    ]);
  });

  it("prints the value and the partials", () => {
    expect(text.stderr).toBe("");
    expect([text.code, text.stdout]).toEqual([0, "f = 0.5\ndf/dw = 2\ndf/db = 1\n"]);
  });

  it("--code prints the generated module first, --json one object per point", () => {
    expect(jsonCode.code).toBe(0);
    const [code, ...results] = jsonCode.stdout.trimEnd().split(/\n(?=\{"value")/);
    expect(code).toContain("export function backward");
    expect(code).toContain("// Generated by gradc from formula");
    expect(results.map((l) => JSON.parse(l))).toEqual([
      { value: 0.5, gradient: { w: 2, b: 1 } },
      { value: 24.5, gradient: { w: 21, b: 7 } },
    ]);
    expect(Object.keys(JSON.parse(results[0]!).gradient)).toEqual(["w", "b"]);
  });
});

/** What `f` writes to stdout. */
async function captured(f: () => Promise<number>): Promise<string> {
  const out: string[] = [];
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((s) => (out.push(String(s)), true));
  try {
    expect(await f()).toBe(0);
  } finally {
    spy.mockRestore();
  }
  return out.join("");
}

describe("gradc grad in process: points, defaults, argument errors", () => {
  const E_CLI = (argv: string[], words: string) =>
    expect(gradCommand(argv)).rejects.toSatisfy(
      (e: unknown) => e instanceof GradcError && e.code === "E_CLI" && e.message.includes(words),
    );

  it("rejects unknown names, non-numbers, duplicates and stray arguments", async () => {
    await E_CLI(["x + y", "--at", "x=1,y=2,z=3"], "'z'");
    await E_CLI(["x + y", "--at", "x=1,y=two"], "not a number");
    await E_CLI(["x + y", "--at", "x=1,x=2,y=0"], "twice");
    await E_CLI(["x + y", "--at", "x"], "not name=value");
    await E_CLI(["x + y", "--wrt", "x,x"], "twice");
    await E_CLI(["2", "x", "--at", "x=1"], "one formula");
    await E_CLI([], "needs a formula");
    await E_CLI([EXAMPLE, "--at", "w=1,b=0,t=1"], "no value for 'x'");
    await E_CLI([EXAMPLE, "--at", "w=1,b=0,x=2,t=1", "--at", "w=1,b=0,x=2"], "no value for 't' (point 2");
    await expect(gradCommand(["x + y", "--wrt", "a*/b"])).rejects.toSatisfy(
      (e: unknown) => (e as GradcError).code === "E_BAD_NAME",
    );
  });

  it("takes mathjs's identifiers with mathjs's meaning: $x, α", async () => {
    const out = await captured(() => gradCommand(["$x^2 * α", "--at", "$x=3,α=2", "--hessian"]));
    expect(out).toBe("f = 18\ndf/d$x = 12\ndf/dα = 9\nd²f (row, column):\n    $x   α\n$x   4   6\nα    6   0\n");
    expect(math.derivative("$x^2 * α", "$x").evaluate({ $x: 3, α: 2 })).toBe(12);
  });

  it("--hessian prints d²f for the --wrt variables, equal to mathjs's derivative taken twice", async () => {
    const cases = [
      { f: "x^3*y + sin(x*y)", at: { x: 0.5, y: 2 } },
      { f: "0.5*(w*x + b - t)^2", at: { w: 1, b: 0, x: 2, t: 1 } },
      { f: "log(1 + exp(-a*b)) + a^2/b", at: { a: 0.7, b: 1.3 } },
    ];
    for (const { f, at } of cases) {
      const vars = Object.keys(at);
      const atArg = vars.map((k) => `${k}=${at[k as keyof typeof at]}`).join(",");
      const out = await captured(() => gradCommand([f, "--wrt", vars.join(","), "--at", atArg, "--hessian", "--json"]));
      const { hessian } = JSON.parse(out) as { hessian: number[][] };
      vars.forEach((a, i) =>
        vars.forEach((b, j) => {
          const want = math.derivative(math.derivative(f, a), b).evaluate(at) as number;
          expect(Math.abs(hessian[i]![j]! - want), `${f}: d²f/d${a}d${b}`).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(want)));
        }),
      );
    }
    const table = await captured(() => gradCommand(["0.5*(w*x + b - t)^2", "--wrt", "w,b", "--at", "w=1,b=0,x=2,t=1", "--hessian"]));
    expect(table).toBe("f = 0.5\ndf/dw = 2\ndf/db = 1\nd²f (row, column):\n   w  b\nw  4  2\nb  2  1\n");
  });

  it("a --wrt variable the formula does not contain has derivative 0, as in mathjs, with a note", async () => {
    const notes: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((s) => (notes.push(String(s)), true));
    try {
      const out = await captured(async () => {
        expect(await gradCommand(["3 * 7 ^ 4", "--wrt", "x"])).toBe(0);
        expect(await gradCommand(["x^2", "--wrt", "z,x", "--at", "x=3"])).toBe(0);
        return 0;
      });
      expect(out).toBe("f = 7203\ndf/dx = 0\nf = 9\ndf/dz = 0\ndf/dx = 6\n");
    } finally {
      spy.mockRestore();
    }
    expect(notes.join("")).toContain("'z' does not occur in the formula, so df/dz = 0 (its symbols: x)");
    expect(math.derivative("3 * 7 ^ 4", "x").toString()).toBe("0");
  });

  it("heads each of several points with its values; without --wrt every symbol is differentiated, in order", async () => {
    const out = await captured(() => gradCommand([EXAMPLE, "--at", "w=1,b=0,x=2,t=1", "--at", "w=2, b=1, x=3, t=0"]));
    expect(out).toBe(
      [
        "at w=1, b=0, x=2, t=1",
        "f = 0.5",
        "df/dw = 2",
        "df/dx = 1",
        "df/db = 1",
        "df/dt = -1",
        "",
        "at w=2, b=1, x=3, t=0",
        "f = 24.5",
        "df/dw = 21",
        "df/dx = 14",
        "df/db = 7",
        "df/dt = -7",
        "",
      ].join("\n"),
    );
  });

  it("takes a formula that starts with a minus (first, or after --), and --wrt= for the value alone", async () => {
    const out = await captured(async () => {
      expect(await gradCommand(["-1 + x^2", "--at", "x=3"])).toBe(0);
      expect(await gradCommand(["--at", "x=2", "--", "-1 - x"])).toBe(0);
      expect(await gradCommand(["x*y", "--wrt=", "--at", "x=3,y=2"])).toBe(0);
      return 0;
    });
    expect(out).toBe("f = 8\ndf/dx = 6\nf = -3\ndf/dx = -1\nf = 6\n");
  });
});
