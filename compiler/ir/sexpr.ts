/**
 * Scalar expressions: what the lowering pass turns every tensor element into
 * and what the emitter prints. Printing follows a precedence table (esbuild's
 * js_printer style) instead of parenthesizing everything.
 *
 * The form is target-neutral: a math function is `{ k: "math", fn: "max" }`,
 * which the JS printer spells `Math.max` and the wasm target (emit/wasm.ts)
 * translates to `f32x4.max`; `call` is a helper function the module defines
 * (`nthRoot`).
 */
export type SExpr =
  | { readonly k: "num"; readonly v: number }
  | { readonly k: "ref"; readonly name: string }
  | { readonly k: "idx"; readonly arr: string; readonly i: number | SExpr }
  | { readonly k: "un"; readonly op: "-" | "!"; readonly x: SExpr }
  | { readonly k: "bin"; readonly op: BinOp; readonly a: SExpr; readonly b: SExpr }
  | { readonly k: "call"; readonly fn: string; readonly args: readonly SExpr[] }
  | { readonly k: "math"; readonly fn: string; readonly args: readonly SExpr[] }
  | { readonly k: "cond"; readonly c: SExpr; readonly a: SExpr; readonly b: SExpr };

export type BinOp = "+" | "-" | "*" | "/" | "%" | ">" | ">=" | "<" | "<=" | "!==" | "===";

export const num = (v: number): SExpr => ({ k: "num", v });
export const ref = (name: string): SExpr => ({ k: "ref", name });
export const idx = (arr: string, i: number | SExpr): SExpr => ({ k: "idx", arr, i: typeof i !== "number" && i.k === "num" ? i.v : i });
export const neg = (x: SExpr): SExpr => ({ k: "un", op: "-", x });
export const bin = (op: BinOp, a: SExpr, b: SExpr): SExpr => ({ k: "bin", op, a, b });
export const call = (fn: string, ...args: SExpr[]): SExpr => ({ k: "call", fn, args });
export const cond = (c: SExpr, a: SExpr, b: SExpr): SExpr => ({ k: "cond", c, a, b });
export const add = (a: SExpr, b: SExpr) => bin("+", a, b);
export const sub = (a: SExpr, b: SExpr) => bin("-", a, b);
export const mul = (a: SExpr, b: SExpr) => bin("*", a, b);
export const div = (a: SExpr, b: SExpr) => bin("/", a, b);
/** A math function by its neutral name (`max`, `exp`), printed as JS `Math.max`. */
export const M = (fn: string, ...args: SExpr[]): SExpr => ({ k: "math", fn, args });

/** a + b with literal folding (for index arithmetic). */
export function iadd(a: SExpr, b: SExpr): SExpr {
  if (a.k === "num" && b.k === "num") return num(a.v + b.v);
  if (a.k === "num" && a.v === 0) return b;
  if (b.k === "num" && b.v === 0) return a;
  return add(a, b);
}
/** a * b with literal folding (for index arithmetic). */
export function imul(a: SExpr, b: SExpr): SExpr {
  if (a.k === "num" && b.k === "num") return num(a.v * b.v);
  if ((a.k === "num" && a.v === 0) || (b.k === "num" && b.v === 0)) return num(0);
  if (a.k === "num" && a.v === 1) return b;
  if (b.k === "num" && b.v === 1) return a;
  return mul(a, b);
}

/** Left-folds a list with a binary operator: `a + b + c`. */
export const chain = (op: BinOp, xs: readonly SExpr[]): SExpr =>
  xs.reduce((acc, x) => bin(op, acc, x));

// JS precedence levels (higher binds tighter), from the ECMAScript grammar.
const PREC: Record<BinOp, number> = {
  "===": 8, "!==": 8, "<": 9, "<=": 9, ">": 9, ">=": 9, "+": 11, "-": 11, "*": 12, "/": 12, "%": 12,
};
const P_COND = 2;
const P_UNARY = 14;
const P_ATOM = 20;

const prec = (e: SExpr): number => {
  switch (e.k) {
    case "num":
      return e.v < 0 || Object.is(e.v, -0) ? P_UNARY : P_ATOM;
    case "un":
      return P_UNARY;
    case "bin":
      return PREC[e.op];
    case "cond":
      return P_COND;
    default:
      return P_ATOM;
  }
};

/**
 * A number as generated code spells it — built from a number only: anything else (a string that
 * reached an attribute or a layout field through a polluted prototype, say) would be code.
 */
export function printNum(v: number): string {
  if (typeof v !== "number") throw new TypeError(`gradc: a ${typeof v} where generated code needs a number (${JSON.stringify(String(v).slice(0, 40))})`);
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "Infinity";
  if (v === -Infinity) return "-Infinity";
  if (Object.is(v, -0)) return "-0";
  return String(v);
}

const MULTIPLICATIVE = new Set<BinOp>(["*", "/", "%"]);
/**
 * Parentheses prettier adds for readability where precedence alone needs
 * none, so that printed code is already in prettier's form: `%` mixed with
 * `*` or `/` (`(a % b) * c`), `*` mixed with `/` (`(a * b) / c`), and `%`
 * under `+` or `-` (`a + (b % c)`).
 */
const clarify = (parent: BinOp, child: SExpr): boolean =>
  child.k === "bin" &&
  ((PREC[child.op] === PREC[parent] && MULTIPLICATIVE.has(parent) && child.op !== parent) ||
    (child.op === "%" && (parent === "+" || parent === "-")));

/**
 * Prints `e` as JS, adding parentheses where precedence or associativity
 * needs them, and the few more prettier adds (`clarify`): the output is
 * what prettier would print for it.
 */
export function print(e: SExpr): string {
  const wrap = (x: SExpr, min: number): string => {
    const s = print(x);
    return prec(x) < min ? `(${s})` : s;
  };
  switch (e.k) {
    case "num":
      return printNum(e.v).replace("e+", "e"); // prettier drops the exponent's plus
    case "ref":
      return e.name;
    case "idx":
      return `${e.arr}[${typeof e.i === "number" ? printNum(e.i) : print(e.i)}]`;
    case "un": {
      // `- -x` and `--x` must not fuse into a decrement.
      const inner = wrap(e.x, P_UNARY);
      return e.op === "-" && inner.startsWith("-") ? `-(${inner})` : `${e.op}${inner}`;
    }
    case "bin": {
      const p = PREC[e.op];
      // Left-associative: the right operand needs parens at equal precedence.
      const left = clarify(e.op, e.a) ? `(${print(e.a)})` : wrap(e.a, p);
      const right = clarify(e.op, e.b) ? `(${print(e.b)})` : wrap(e.b, p + 1);
      return `${left} ${e.op} ${right}`;
    }
    case "call":
      return `${e.fn}(${e.args.map((a) => print(a)).join(", ")})`;
    case "math":
      return `Math.${e.fn}(${e.args.map((a) => print(a)).join(", ")})`;
    case "cond":
      return `${wrap(e.c, P_COND + 1)} ? ${wrap(e.a, P_COND)} : ${wrap(e.b, P_COND)}`;
  }
  throw new TypeError(`gradc: a ${typeof e} where generated code needs an expression`);
}

/** Names of locals an expression reads. */
export function refs(e: SExpr, out: Set<string> = new Set()): Set<string> {
  switch (e.k) {
    case "ref":
      out.add(e.name);
      break;
    case "idx":
      if (typeof e.i !== "number") refs(e.i, out);
      break;
    case "un":
      refs(e.x, out);
      break;
    case "bin":
      refs(e.a, out);
      refs(e.b, out);
      break;
    case "call":
    case "math":
      for (const a of e.args) refs(a, out);
      break;
    case "cond":
      refs(e.c, out);
      refs(e.a, out);
      refs(e.b, out);
      break;
  }
  return out;
}
