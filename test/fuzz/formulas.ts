/**
 * Random scalar formulas in mathjs syntax, for cross-checking our symbolic
 * derivatives (formula -> IR -> reverse mode -> float64 interpreter) against
 * mathjs 15.2.0's own `derivative`.
 *
 * Like the graph fuzzer, a formula is a choice sequence: a point (values of
 * x, y, z) and instructions that each apply one op to earlier
 * subexpressions. Values are tracked as the formula is built (with the op
 * table's float64 `eval`), so an argument that leaves the op's sampling
 * domain is wrapped in an affine map `(a*(E) + c)` onto it, and abs
 * arguments are kept MARGIN away from 0.
 *
 * Excluded ops (never generated): mathjs has no derivative rule for expm1,
 * log1p, log2, sign, max, min (it throws "Cannot process function"); mathjs is
 * wrong for acoth (sign flipped). It is also wrong for cbrt and nthRoot at
 * negative x (test/frontend/formula.test.ts): those two are generated, but
 * only on their sampling domains, where x > 0.
 */
import { createRequire } from "node:module";
import fc from "fast-check";
import type * as MathJs from "mathjs";
import { gradients } from "../../compiler/autodiff/reverse.ts";
import { parseFormula } from "../../compiler/frontend/formula.ts";
import { B, type Node } from "../../compiler/ir/graph.ts";
import { evaluate } from "../../compiler/ir/interp.ts";
import { OPS, type OpDef } from "../../compiler/ir/ops.ts";
import { MARGIN } from "./graphs.ts";

/** The same mathjs 15.2.0 build the frontend parses with. */
const math = createRequire(import.meta.url)("mathjs/lib/browser/math.js") as typeof MathJs;

const EXCLUDED = new Set(["expm1", "log1p", "log2", "sign", "max", "min", "acoth"]);
const INFIX: Record<string, string> = { add: "+", sub: "-", mul: "*", div: "/", pow: "^" };

/** Elementwise ops with a mathjs name that mathjs can differentiate correctly. */
export const FORMULA_OPS: readonly string[] = Object.entries(OPS as Record<string, OpDef>)
  .filter(([op, d]) => d.kind === "elementwise" && d.mathjs && !EXCLUDED.has(op))
  .map(([op]) => op);

export interface FormulaRecipe {
  /** Values of x, y, z. */
  readonly point: readonly [number, number, number];
  readonly instrs: readonly { readonly op: number; readonly a: number; readonly b: number }[];
}

const coord = fc.integer({ min: -150, max: 150 }).map((i) => i / 100);
export const formulaArb: fc.Arbitrary<FormulaRecipe> = fc.record({
  point: fc.tuple(coord, coord, coord),
  instrs: fc.array(fc.record({ op: fc.nat({ max: 999 }), a: fc.nat({ max: 999 }), b: fc.nat({ max: 999 }) }), {
    minLength: 1,
    maxLength: 8,
  }),
});

interface Sub {
  readonly text: string;
  readonly value: number;
}

const fmt = (x: number) => String(Number(x.toPrecision(3)));
/** The op's float64 value at scalar arguments, by the op table's `eval`. */
const apply = (op: string, args: number[]) =>
  (OPS as Record<string, OpDef>)[op]!.eval!(
    args.map((a) => Float64Array.of(a)),
    { id: -1, op, inputs: [], attrs: {}, shape: [] },
  )[0]!;

/** Builds the formula text and the symbols it uses. */
export function buildFormula(r: FormulaRecipe): { text: string; scope: Record<string, number>; vars: string[] } {
  const scope = { x: r.point[0], y: r.point[1], z: r.point[2] };
  const pool: Sub[] = (["x", "y", "z"] as const).map((v) => ({ text: v, value: scope[v] }));
  const used = new Set<number>();
  const start = pool.length;
  const pick = (a: number) => {
    const i = a % 4 !== 0 ? pool.length - 1 - ((a >> 2) % Math.min(pool.length, 3)) : (a >> 2) % pool.length;
    used.add(i);
    return pool[i]!;
  };
  /** E itself if its value lies in the middle 90% of [lo, hi], else (a*(E) + c) mapped to its middle. */
  const fit = (e: Sub, [lo, hi]: readonly [number, number], away0 = false): Sub => {
    const pad = 0.05 * (hi - lo);
    let v = e.value;
    let text = e.text;
    if (v < lo + pad || v > hi - pad || (away0 && Math.abs(v) < MARGIN)) {
      // Halve, then shift the value to the middle of the domain (away from 0 for abs).
      const a = 0.5;
      let c = Number(((lo + hi) / 2 - a * v).toPrecision(3));
      if (away0 && Math.abs(a * v + c) < MARGIN) c += 0.5;
      text = `(${fmt(a)} * (${e.text}) + ${fmt(c)})`;
      v = Number(fmt(a)) * v + c;
    }
    return { text, value: v };
  };
  for (const ins of r.instrs) {
    const op = FORMULA_OPS[ins.op % FORMULA_OPS.length]!;
    const d = (OPS as Record<string, OpDef>)[op]!;
    const dom = (i: number) => d.domain?.[i] ?? ([-2, 2] as const);
    const args = [pick(ins.a), pick(ins.b)].slice(0, d.arity).map((e, i) => fit(e, dom(i), op === "abs"));
    const value = apply(op, args.map((e) => e.value));
    if (!Number.isFinite(value) || Math.abs(value) > 1e6) continue;
    const name = d.mathjs!;
    const text =
      op === "neg"
        ? `-(${args[0]!.text})`
        : INFIX[op]
          ? `(${args[0]!.text}) ${INFIX[op]} (${args[1]!.text})`
          : `${name}(${args.map((e) => e.text).join(", ")})`;
    pool.push({ text, value });
  }
  // The formula: every subexpression nothing else used, summed (the symbols alone when no op applied).
  const sinks = pool.slice(start).filter((_, i) => !used.has(i + start));
  const text = (sinks.length ? sinks : pool.slice(0, 1)).map((e) => e.text).join(" + ");
  const vars = (["x", "y", "z"] as const).filter((v) => new RegExp(`\\b${v}\\b`).test(text));
  return { text, scope, vars };
}

/** Agreement of two exact derivatives evaluated in float64 (different but equivalent expressions). */
export const FORMULA_TOL = { atol: 1e-9, rtol: 1e-7 };
const close = (a: number, b: number) => Math.abs(a - b) <= FORMULA_TOL.atol + FORMULA_TOL.rtol * Math.abs(b);

/** Problems with one formula: our value vs mathjs `evaluate`, our partials vs mathjs `derivative` (central differences as the referee). */
export function checkFormula(r: FormulaRecipe): string[] {
  const { text, scope, vars } = buildFormula(r);
  if (!vars.length) return [];
  const m = parseFormula(text, { wrt: vars });
  const bind = (p: Record<string, number>) => Object.fromEntries(vars.map((v) => [v, Float64Array.of(p[v]!)]));
  const ours = evaluate([m.loss!], bind(scope)).get(m.loss!.id)![0]!;
  const theirs = math.evaluate(text, { ...scope }) as number;
  const problems: string[] = [];
  if (typeof theirs !== "number" || !close(ours, theirs)) problems.push(`${text} at ${JSON.stringify(scope)}: value ${ours}, mathjs ${String(theirs)}`);
  const { grads } = gradients(
    new B(m.graph),
    m.loss!,
    m.params.map((l) => l.node),
  );
  const at = evaluate(grads as Node[], bind(scope));
  vars.forEach((v, i) => {
    const d = at.get(grads[i]!.id)![0]!;
    const expr = math.derivative(text, v, { simplify: false });
    const md = expr.evaluate({ ...scope }) as unknown;
    if (typeof md === "number" && close(d, md)) return;
    const h = 1e-6;
    const f = (dx: number) => evaluate([m.loss!], bind({ ...scope, [v]: scope[v as "x"]! + dx })).get(m.loss!.id)![0]!;
    const cd = (f(h) - f(-h)) / (2 * h);
    problems.push(`d/d${v} ${text} at ${JSON.stringify(scope)}: ours ${d}, mathjs ${math.format(md)}, central difference ${cd}`);
  });
  return problems;
}
