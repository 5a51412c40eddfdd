/**
 * A fused elementwise epilogue in the wasm kernels' form (`Epi`, kernel.ts):
 * +, -, *, /, neg, comparisons and selects, max, min, abs, sqrt over the
 * kernel's accumulated value, numbers and element reads; the epilogue's
 * temporaries are inlined where they are read. Matmul (wasm-matmul.ts) and
 * conv (wasm-conv.ts) kernels differ only in which reads they can address,
 * which each says through `load`.
 */
import type { SExpr } from "../ir/sexpr.ts";
import type { Epi } from "./kernel.ts";
import type { Stmt } from "./stmt.ts";

/** An index expression as c + Σ v[d]·vars[d]. */
export interface Affine {
  readonly c: number;
  readonly v: readonly number[];
}

/** `x` as an affine form in `vars` (loop variables' names), or undefined. */
export function affineIn(x: number | SExpr, vars: readonly string[]): Affine | undefined {
  const zero = vars.map(() => 0);
  if (typeof x === "number") return { c: x, v: zero };
  if (x.k === "num") return { c: x.v, v: zero };
  if (x.k === "ref") {
    const d = vars.indexOf(x.name);
    return d < 0 ? undefined : { c: 0, v: vars.map((_, i) => (i === d ? 1 : 0)) };
  }
  if (x.k !== "bin") return undefined;
  const [u, w] = [affineIn(x.a, vars), affineIn(x.b, vars)];
  if (!u || !w) return undefined;
  if (x.op === "+") return { c: u.c + w.c, v: u.v.map((q, i) => q + w.v[i]!) };
  if (x.op !== "*") return undefined;
  if (u.v.every((q) => q === 0)) return { c: u.c * w.c, v: w.v.map((q) => q * u.c) };
  if (w.v.every((q) => q === 0)) return { c: u.c * w.c, v: u.v.map((q) => q * w.c) };
  return undefined;
}

const CMP = new Set([">", ">=", "<", "<="]);
const MATH: Record<string, "max" | "min" | "abs" | "sqrt"> = { max: "max", min: "min", abs: "abs", sqrt: "sqrt" };

/**
 * `e` (with its temporaries `temps`) in the kernels' form, or undefined. `acc`
 * names the accumulated value; an element read of region `arr` at an index
 * affine in `vars` becomes `load(byte address of its constant part, form)`,
 * which returns undefined where the kernel cannot read it so.
 */
export function toEpi(
  e: SExpr,
  temps: readonly Stmt[],
  acc: string,
  vars: readonly string[],
  regions: Readonly<Record<string, number>>,
  load: (at: number, f: Affine) => Epi | undefined,
): Epi | undefined {
  const named = new Map<string, Epi>();
  const go = (x: SExpr): Epi | undefined => {
    switch (x.k) {
      case "num":
        return { k: "num", v: x.v };
      case "ref":
        return x.name === acc ? { k: "acc" } : named.get(x.name);
      case "idx": {
        const base = regions[x.arr];
        const f = affineIn(x.i, vars);
        return base === undefined || !f ? undefined : load(base + f.c * 4, f);
      }
      case "un": {
        const v = go(x.x);
        return x.op === "-" && v ? { k: "neg", x: v } : undefined;
      }
      case "bin": {
        const [u, v] = [go(x.a), go(x.b)];
        if (!u || !v) return undefined;
        return x.op === "+" || x.op === "-" || x.op === "*" || x.op === "/" ? { k: x.op, a: u, b: v } : undefined;
      }
      case "math": {
        const fn = MATH[x.fn];
        const args = x.args.map(go);
        if (!fn || args.some((q) => !q)) return undefined;
        if ((fn === "max" || fn === "min") && args.length === 2) return { k: fn, a: args[0]!, b: args[1]! };
        if ((fn === "abs" || fn === "sqrt") && args.length === 1) return { k: fn, x: args[0]! };
        return undefined;
      }
      case "call":
        return undefined;
      case "cond": {
        if (x.c.k !== "bin" || !CMP.has(x.c.op)) return undefined;
        const [ca, cb, u, v] = [go(x.c.a), go(x.c.b), go(x.a), go(x.b)];
        if (!ca || !cb || !u || !v) return undefined;
        return { k: "sel", c: { op: x.c.op as ">" | ">=" | "<" | "<=", a: ca, b: cb }, a: u, b: v };
      }
    }
  };
  for (const t of temps) {
    const v = t.k === "const" ? go(t.e) : undefined;
    if (!v || t.k !== "const") return undefined;
    named.set(t.name, v);
  }
  return go(e);
}
