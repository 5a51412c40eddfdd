/**
 * The precedence printer (compiler/ir/sexpr.ts). Round-trip property: the
 * printed JS, evaluated (here in the test only, via `new Function` with the
 * refs bound as parameters) equals a direct evaluation of the tree — for
 * random trees over numbers (negative, -0, NaN, ±Infinity) and refs. Plus
 * the cases a precedence printer classically gets wrong, as exact strings.
 */
import { describe, expect, it } from "vitest";
import * as S from "../../compiler/ir/sexpr.ts";
import type { BinOp, SExpr } from "../../compiler/ir/sexpr.ts";
import { rng } from "../helpers.ts";

type Env = Record<string, number | number[]>;

/** Direct evaluation with JS's own operators, so both sides share JS semantics (booleans from comparisons included). */
function direct(e: SExpr, env: Env): unknown {
  const v = (x: SExpr) => direct(x, env) as number;
  switch (e.k) {
    case "num":
      return e.v;
    case "ref":
      return env[e.name];
    case "idx":
      return (env[e.arr] as number[])[typeof e.i === "number" ? e.i : (direct(e.i, env) as number)];
    case "un":
      return e.op === "-" ? -v(e.x) : !v(e.x);
    case "bin": {
      const [a, b] = [v(e.a), v(e.b)];
      const ops: Record<BinOp, (a: number, b: number) => unknown> = {
        "+": (p, q) => p + q,
        "-": (p, q) => p - q,
        "*": (p, q) => p * q,
        "/": (p, q) => p / q,
        "%": (p, q) => p % q,
        ">": (p, q) => p > q,
        ">=": (p, q) => p >= q,
        "<": (p, q) => p < q,
        "<=": (p, q) => p <= q,
        "!==": (p, q) => p !== q,
        "===": (p, q) => p === q,
      };
      return ops[e.op](a, b);
    }
    case "call": {
      const fn = e.fn.startsWith("Math.") ? (Math as unknown as Record<string, (...xs: number[]) => number>)[e.fn.slice(5)]! : undefined;
      if (!fn) throw new Error(`unknown function ${e.fn}`);
      return fn(...e.args.map(v));
    }
    case "math": {
      const fn = (Math as unknown as Record<string, ((...xs: number[]) => number) | undefined>)[e.fn];
      if (!fn) throw new Error(`unknown function Math.${e.fn}`);
      return fn(...e.args.map(v));
    }
    case "cond":
      return direct(e.c, env) ? direct(e.a, env) : direct(e.b, env);
  }
}

/** The printed expression as a JS function of the refs (test-only use of `new Function`). */
function printed(e: SExpr, env: Env): unknown {
  const names = Object.keys(env);
  const src = S.print(e);
  let f: (...xs: unknown[]) => unknown;
  try {
    f = new Function(...names, `return ${src};`) as typeof f;
  } catch (err) {
    throw new Error(`printed code does not parse: ${src} (${String(err)})`);
  }
  return f(...names.map((n) => env[n]));
}

const NUMS = [0, -0, 1, -1, 2.5, -2.5, 0.1, -7, 1e21, -1e-7, 5e-324, NaN, Infinity, -Infinity, 3];
const REFS = ["a", "b", "c"];
const BINOPS: BinOp[] = ["+", "-", "*", "/", "%", ">", ">=", "<", "<=", "!==", "==="];
const FNS = ["max", "min", "exp", "abs", "pow"];

function randomTree(next: () => number, depth: number): SExpr {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  if (depth === 0 || next() < 0.25) {
    const r = next();
    if (r < 0.45) return S.num(pick(NUMS));
    if (r < 0.85) return S.ref(pick(REFS));
    // Literal and computed indices (loop kernels index with `i * 3 + j`).
    return r < 0.93
      ? S.idx("arr", Math.floor(next() * 3))
      : S.idx("arr", S.add(S.mul(S.ref("k"), S.num(2)), S.ref("k")));
  }
  const sub = () => randomTree(next, depth - 1);
  const r = next();
  if (r < 0.2) return { k: "un", op: next() < 0.85 ? "-" : "!", x: sub() };
  if (r < 0.75) return S.bin(pick(BINOPS), sub(), sub());
  if (r < 0.87) {
    const fn = pick(FNS);
    return S.M(fn, ...Array.from({ length: fn === "exp" || fn === "abs" ? 1 : 2 }, sub));
  }
  return S.cond(sub(), sub(), sub());
}

const sameResult = (p: unknown, q: unknown) => Object.is(p, q) || (Number.isNaN(p) && Number.isNaN(q));

describe("print round-trips through JS", () => {
  it("random trees: evaluating the printed code equals evaluating the tree", () => {
    const next = rng(7);
    const bad: string[] = [];
    for (let t = 0; t < 3000; t++) {
      const e = randomTree(next, 5);
      const env: Env = { a: NUMS[t % NUMS.length]!, b: -1.5, c: -0, k: 0, arr: [2, -0, NaN] };
      for (const a of [env.a, 0.75, -3]) {
        const envA = { ...env, a: a as number };
        const [want, got] = [direct(e, envA), printed(e, envA)];
        if (!sameResult(want, got)) bad.push(`${S.print(e)} with a=${String(a)}: printed gives ${String(got)}, tree gives ${String(want)}`);
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
  });

  it("every number prints as itself", () => {
    for (const v of [...NUMS, -5e-324, 1.7976931348623157e308, 0.1 + 0.2, -123456789.125]) {
      expect(sameResult(printed(S.num(v), {}), v), S.print(S.num(v))).toBe(true);
      expect(sameResult(printed(S.neg(S.num(v)), {}), -v), S.print(S.neg(S.num(v)))).toBe(true);
      expect(sameResult(printed(S.sub(S.ref("a"), S.num(v)), { a: 1 }), 1 - v), S.print(S.sub(S.ref("a"), S.num(v)))).toBe(true);
    }
  });
});

describe("specific cases print with exactly the parentheses they need", () => {
  const [a, b, c, x] = ["a", "b", "c", "x"].map(S.ref) as [SExpr, SExpr, SExpr, SExpr];
  it.each<[string, SExpr, string]>([
    ["a - (b - c)", S.sub(a, S.sub(b, c)), "a - (b - c)"],
    ["(a - b) - c", S.sub(S.sub(a, b), c), "a - b - c"],
    ["-(-x)", S.neg(S.neg(x)), "-(-x)"],
    ["-(-2)", S.neg(S.num(-2)), "-(-2)"],
    ["-(-0)", S.neg(S.num(-0)), "-(-0)"],
    ["a / (b * c)", S.div(a, S.mul(b, c)), "a / (b * c)"],
    ["(a / b) * c", S.mul(S.div(a, b), c), "(a / b) * c"], // prettier's parentheses: * and / mixed
    ["(a * b) / c", S.div(S.mul(a, b), c), "(a * b) / c"],
    ["a * b * c", S.mul(S.mul(a, b), c), "a * b * c"],
    ["(a % b) * c", S.mul(S.bin("%", a, b), c), "(a % b) * c"],
    ["a + (b % c)", S.add(a, S.bin("%", b, c)), "a + (b % c)"],
    ["a * 1e21", S.mul(a, S.num(1e21)), "a * 1e21"],
    ["a * (b + c)", S.mul(a, S.add(b, c)), "a * (b + c)"],
    ["a + b * c", S.add(a, S.mul(b, c)), "a + b * c"],
    ["(a ? b : c) + 1", S.add(S.cond(a, b, c), S.num(1)), "(a ? b : c) + 1"],
    ["a ? b : (c ? x : 1)", S.cond(a, b, S.cond(c, x, S.num(1))), "a ? b : c ? x : 1"],
    ["(a ? b : c) ? x : 1", S.cond(S.cond(a, b, c), x, S.num(1)), "(a ? b : c) ? x : 1"],
    ["x - -2", S.sub(x, S.num(-2)), "x - -2"],
    ["x - (-x)", S.sub(x, S.neg(x)), "x - -x"],
    ["x + -Infinity", S.add(x, S.num(-Infinity)), "x + -Infinity"],
    ["-(a - b)", S.neg(S.sub(a, b)), "-(a - b)"],
    ["-a * b", S.mul(S.neg(a), b), "-a * b"],
    ["(a > b) === (b > c)", S.bin("===", S.bin(">", a, b), S.bin(">", b, c)), "a > b === b > c"],
    ["a > (b === c)", S.bin(">", a, S.bin("===", b, c)), "a > (b === c)"],
    ["Math.max(a - b, c ? 1 : 2)", S.M("max", S.sub(a, b), S.cond(c, S.num(1), S.num(2))), "Math.max(a - b, c ? 1 : 2)"],
    ["arr[a * 3 + b] (computed index)", S.idx("arr", S.add(S.mul(a, S.num(3)), b)), "arr[a * 3 + b]"],
    ["-arr[0]", S.neg(S.idx("arr", 0)), "-arr[0]"],
  ])("%s", (_, e, want) => {
    expect(S.print(e)).toBe(want);
    const env = { a: 0, b: 1, c: 2, x: -4, arr: [5, -6, 7, 8] };
    expect(sameResult(printed(e, env), direct(e, env))).toBe(true);
  });
});
