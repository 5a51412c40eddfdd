/**
 * The formula frontend: one scalar expression in mathjs syntax -> a Model.
 *
 *   parseFormula("0.5*(w*x + b - t)^2", { wrt: ["w", "b"] })
 *
 * mathjs does the parsing, so implicit multiplication (`2x`, `x/2y`), the
 * right-associative `^` and the binding of unary minus (`-x^2` = -(x^2)) are
 * exactly what mathjs reads; this file only walks its tree. Operators and
 * functions map onto the op table through each op's `mathjs` name (and arity:
 * `log(x)` is `log`, `log(x, b)` is `logb`); elementwise ops mathjs lacks
 * (`sigmoid`, `relu`, …) are callable by their table key.
 *
 * Every free symbol is a scalar leaf: a param when it is listed in `wrt`, an
 * input otherwise. The formula is the model's loss (so autodiff gives the
 * partials) and its one output, `value`.
 */
import { createRequire } from "node:module";
import type * as MathJs from "mathjs";
import type { MathNode } from "mathjs";
import { type ErrorCode, GradcError, type Where } from "../errors.ts";
import { B, Graph, type Node } from "../ir/graph.ts";
import { type Leaf, type Model, checkName, showValue } from "../ir/model.ts";
import { OPS, type OpDef } from "../ir/ops.ts";

/**
 * mathjs 15.2.0 through its single-file bundle (an exported entry of the
 * package, same code): it loads in ~0.2 s where the ESM entry's 1,200 modules
 * take 1.3-2.8 s, which would dominate every `gradc grad`.
 */
const mathjs = createRequire(import.meta.url)("mathjs/lib/browser/math.js") as typeof MathJs;

export interface FormulaOptions {
  /** Symbols to differentiate with respect to (the model's params, in this order). */
  readonly wrt: readonly string[];
  /** The model's name (generated headers, layout); default "formula". */
  readonly name?: string;
  /**
   * Names the user gives values to (`--at`): these are variables even when
   * mathjs knows them as constants (`e`, `pi`, …). `wrt` names count too.
   */
  readonly vars?: readonly string[];
}

/**
 * Symbols mathjs reads as constants unless the user makes them variables.
 * (`i`, mathjs's imaginary unit, is an ordinary variable: formulas are real.)
 */
const CONSTANTS: Readonly<Record<string, number>> = {
  pi: Math.PI,
  PI: Math.PI,
  e: Math.E,
  E: Math.E,
  tau: 2 * Math.PI,
  phi: (1 + Math.sqrt(5)) / 2,
  LN2: Math.LN2,
  LN10: Math.LN10,
  LOG2E: Math.LOG2E,
  LOG10E: Math.LOG10E,
  SQRT2: Math.SQRT2,
  SQRT1_2: Math.SQRT1_2,
  Infinity: Infinity,
};

/**
 * Callable names -> (arity -> op), derived from the op table: first every
 * elementwise op's mathjs name, then the table keys mathjs has no function
 * for. `unaryPlus` is the one operator with no op (it is the identity).
 */
export const FORMULA_FUNCTIONS: ReadonlyMap<string, ReadonlyMap<number, string>> = (() => {
  const fns = new Map<string, Map<number, string>>();
  const add = (name: string, arity: number, op: string) => {
    const byArity = fns.get(name) ?? fns.set(name, new Map()).get(name)!;
    if (!byArity.has(arity)) byArity.set(arity, op);
  };
  const ew = Object.entries(OPS as Record<string, OpDef>).filter(([, d]) => d.kind === "elementwise");
  for (const [key, d] of ew) if (d.mathjs) add(d.mathjs, d.arity, key);
  for (const [key, d] of ew) if (!fns.has(key) && !Object.hasOwn(mathjs, key)) add(key, d.arity, key);
  return fns;
})();

/**
 * mathjs's default values for trailing arguments, so a call means what it means
 * in mathjs: `nthRoot(x)` is the square root (mathjs: nthRoot(a, root = 2)).
 */
const DEFAULT_ARGS: Readonly<Record<string, readonly number[]>> = { nthRoot: [2] };

/** The formula's free symbols (its variables), in order of first appearance; validates the formula. */
export function formulaSymbols(src: string, opts: { vars?: readonly string[] } = {}): string[] {
  const m = parseFormula(src, { wrt: [], vars: opts.vars });
  return m.inputs.map((l) => m.labels.get(l.name)!);
}

export interface FormulaModel extends Model {
  /**
   * Each leaf's name in the generated code -> the symbol as the formula writes it.
   * mathjs identifiers may hold `$` and letters beyond ASCII (`$x`, `α`, `café`); in code
   * they are spelled in ASCII (`_u0024_x`), and printed to the user as written.
   */
  readonly labels: ReadonlyMap<string, string>;
}

export function parseFormula(src: string, opts: FormulaOptions): FormulaModel {
  const root = parseSource(src);
  const graph = new Graph();
  const b = new B(graph);
  const vars = new Set([...(opts.vars ?? []), ...opts.wrt]);
  const wrt = new Set<string>();
  for (const w of opts.wrt) {
    if (wrt.has(w)) throw formulaError(src, `'${w}' is listed twice in wrt`, undefined, "name each variable once");
    wrt.add(w);
  }

  const leaves = new Map<string, Leaf>();
  const order: string[] = []; // symbols by first appearance
  const labels = new Map<string, string>(); // code name -> the symbol as written
  const leaf = (name: string): Node => {
    const known = leaves.get(name);
    if (known) return known.node;
    const col = colOf(src, wordRe(name));
    const where: Where = col ? { col } : {};
    const code = codeName(name, labels);
    try {
      checkName(code, wrt.has(name) ? "param" : "input", where);
    } catch (e) {
      if (!(e instanceof GradcError)) throw e;
      throw located(e.code, src, e.message.replace(showValue(code), showValue(name)), col, e.info.hint);
    }
    labels.set(code, name);
    const node = graph.mk(wrt.has(name) ? "param" : "input", [], { name: code, shape: [] });
    leaves.set(name, { name: code, node, shape: [], where, ...(wrt.has(name) ? { init: "zeros" as const } : {}) });
    order.push(name);
    return node;
  };

  const unsupported = (what: string, token: string | RegExp | undefined, hint: string) =>
    formulaError(
      src,
      `${what} is not supported in a formula`,
      token === undefined ? undefined : colOf(src, token),
      hint,
    );

  /**
   * What a formula node is made of: the checks run on entry (pre-order, so
   * errors come in reading order), then `children` are built, then `make`
   * combines them. `build` walks this with an explicit stack: a sum of
   * 100,000 terms is a left-nested tree that deep.
   */
  type Step = { readonly children: readonly MathNode[]; readonly make: (args: Node[]) => Node };
  const done = (x: Node): Step => ({ children: [], make: () => x });
  const step = (n: MathNode): Step => {
    switch (n.type) {
      case "ParenthesisNode":
        return { children: [(n as MathJs.ParenthesisNode).content], make: ([x]) => x! };
      case "ConstantNode": {
        const v: unknown = (n as MathJs.ConstantNode).value;
        if (typeof v !== "number" || Number.isNaN(v)) {
          const text = typeof v === "string" ? `string ${JSON.stringify(v)}` : `constant ${String(v)}`;
          const token = typeof v === "string" ? /["']/ : wordRe(String(v));
          throw unsupported(`the ${text}`, token, "formulas compute with numbers only");
        }
        // A literal past ±1.8e308 reads as Infinity; only the constant `Infinity` may mean that.
        if (!Number.isFinite(v))
          throw formulaError(src, "a number too large for float64 (it would read as Infinity)", colOf(src, /\d[\d.]*e\+?\d{3,}/i), "write a number below 1.8e308, or Infinity if you mean it");
        return done(b.c(v));
      }
      case "SymbolNode": {
        const name = (n as MathJs.SymbolNode).name;
        if (!vars.has(name) && Object.hasOwn(CONSTANTS, name)) return done(b.c(CONSTANTS[name]!));
        if (!vars.has(name) && FORMULA_FUNCTIONS.has(name))
          throw formulaError(
            src,
            `function '${name}' is used without parentheses`,
            colOf(src, wordRe(name)),
            `write ${name}(x): mathjs reads '${name} x' as the product of ${name} and x`,
          );
        return done(leaf(name));
      }
      case "OperatorNode": {
        const o = n as MathJs.OperatorNode;
        const fn = o.fn as string;
        if (fn === "unaryPlus") return { children: [o.args[0]!], make: ([x]) => x! };
        const op = FORMULA_FUNCTIONS.get(fn)?.get(o.args.length);
        if (!op)
          throw unsupported(
            `operator '${o.op}' (${fn})`,
            /^[A-Za-z]+$/.test(o.op) ? wordRe(o.op) : o.op,
            `formulas use + - * / ^ and functions; relational, logical and bitwise operators, mod and factorial have no derivative op`,
          );
        return { children: o.args, make: (xs) => b.op(op, ...xs) };
      }
      case "FunctionNode": {
        const f = n as MathJs.FunctionNode<MathNode>;
        if (f.fn.type !== "SymbolNode")
          throw unsupported(
            `calling '${f.fn.toString()}'`,
            f.fn.toString(),
            "call a function by its name, e.g. sin(x)",
          );
        const name = (f.fn as unknown as MathJs.SymbolNode).name;
        const col = colOf(src, new RegExp(`\\b${escapeRe(name)}\\s*\\(`));
        const byArity = FORMULA_FUNCTIONS.get(name);
        if (!byArity) {
          const mathjsHasIt = Object.hasOwn(mathjs, name) && !Object.hasOwn(CONSTANTS, name);
          throw formulaError(
            src,
            `unknown function '${name}'${mathjsHasIt ? " (mathjs has it, but gradc has no op for it)" : ""}`,
            col,
            `${mathjsHasIt ? "" : `for a product write ${name}*(…); `}known functions: ${[...FORMULA_FUNCTIONS.keys()].sort().join(", ")}`,
          );
        }
        const defaults = DEFAULT_ARGS[name] ?? [];
        const given = f.args.length;
        const arity = byArity.has(given) ? given : [...byArity.keys()].find((k) => k > given && k - given <= defaults.length);
        const op = arity === undefined ? undefined : byArity.get(arity);
        if (op && arity !== undefined && arity > given) {
          const filled = defaults.slice(defaults.length - (arity - given)).map((v) => b.c(v));
          return { children: f.args, make: (xs) => b.op(op, ...xs, ...filled) };
        }
        if (!op) {
          const want = [...byArity.keys()].sort().join(" or ");
          throw formulaError(
            src,
            `${name} takes ${want} argument${want === "1" ? "" : "s"}, got ${f.args.length}`,
            col,
            name === "log"
              ? "log(x) is the natural log, log(x, base) any other base"
              : `write ${[...byArity.keys()].map((k) => `${name}(${["x", "y", "z"].slice(0, k).join(", ")})`).join(" or ")}`,
          );
        }
        return { children: f.args, make: (xs) => b.op(op, ...xs) };
      }
      case "ArrayNode":
        throw unsupported("a matrix", "[", "formulas are scalar; write a model spec (gradc compile) for tensors");
      case "AssignmentNode":
      case "FunctionAssignmentNode":
        throw unsupported("an assignment", "=", "write the expression alone, without `name =`");
      case "BlockNode":
        throw unsupported("more than one expression", /[;\n]/, "a formula is a single expression");
      case "ConditionalNode":
        throw unsupported("the conditional a ? b : c", "?", "use max(a, b), min(a, b) or where(c, a, b)");
      case "RelationalNode":
        throw unsupported("a comparison chain", /[<>=!]=?/, "formulas have no boolean values");
      case "AccessorNode":
      case "IndexNode":
        throw unsupported("indexing", /[[.]/, "formulas are scalar");
      case "ObjectNode":
        throw unsupported("an object", "{", "formulas are scalar");
      case "RangeNode":
        throw unsupported("a range", ":", "formulas are scalar");
      default:
        throw unsupported(`a ${n.type}`, undefined, "formulas use numbers, symbols, + - * / ^ and functions");
    }
  };
  const build = (root: MathNode): Node => {
    const stack: { step: Step; args: Node[] }[] = [{ step: step(root), args: [] }];
    for (;;) {
      const top = stack[stack.length - 1]!;
      if (top.args.length < top.step.children.length) {
        stack.push({ step: step(top.step.children[top.args.length]!), args: [] });
        continue;
      }
      const x = top.step.make(top.args);
      stack.pop();
      if (!stack.length) return x;
      stack[stack.length - 1]!.args.push(x);
    }
  };

  let value: Node;
  try {
    value = build(root);
  } catch (e) {
    if (e instanceof RangeError) throw formulaError(src, "the formula is nested too deeply", undefined, DEEP_HINT);
    throw e;
  }

  for (const w of opts.wrt)
    if (!leaves.has(w))
      throw formulaError(
        src,
        `'${w}' does not occur in the formula`,
        undefined,
        order.length ? `its symbols are: ${order.join(", ")}` : "the formula has no symbols; it is a constant",
      );

  const names = new Map<number, string>();
  if (value.op !== "input" && value.op !== "param") names.set(value.id, "f");
  return {
    labels,
    name: opts.name ?? "formula",
    source: "formula",
    graph,
    params: opts.wrt.map((w) => leaves.get(w)!),
    inputs: order.filter((s) => !wrt.has(s)).map((s) => leaves.get(s)!),
    outputs: [{ name: "value", node: value }],
    loss: value,
    names,
    where: new Map(),
  };
}

// ---------------------------------------------------------------------------

const DEEP_HINT = "flatten the parentheses, or write a model spec (gradc compile) for a larger computation";

function parseSource(src: string): MathNode {
  if (typeof src !== "string" || src.trim() === "")
    throw new GradcError("E_PARSE", "the formula is empty", { hint: 'write an expression, e.g. "0.5*(w*x - t)^2"' });
  // mathjs reads `#` as the start of a comment: `x # y` would silently be `x`.
  if (src.includes("#"))
    throw located("E_PARSE", src, "cannot parse formula: '#' starts a comment, which formulas do not allow", src.indexOf("#") + 1, "remove the # and what follows it");
  try {
    return mathjs.parse(src);
  } catch (e) {
    if (e instanceof SyntaxError) {
      // mathjs reports `char` as the 1-based position of the offending character (one past the end for "unexpected end").
      const char = (e as SyntaxError & { char?: number }).char;
      const col = typeof char === "number" ? char : undefined;
      const why = e.message.replace(/\s*\(char \d+\)\s*$/, "");
      throw located(
        "E_PARSE",
        src,
        `cannot parse formula: ${why}`,
        col,
        "formulas use mathjs syntax: 2x, x^2, sin(x), log(x, 2)",
      );
    }
    if (e instanceof RangeError) throw formulaError(src, "the formula is nested too deeply", undefined, DEEP_HINT);
    throw e;
  }
}

/**
 * A mathjs symbol as a gradc identifier: plain ASCII names stay as they are; any other
 * character (`$`, `é`, `α`) becomes `_uXXXX_`. A spelling already used by another symbol
 * gets a trailing `_`, so two symbols never share a name.
 */
function codeName(symbol: string, used: ReadonlyMap<string, string>): string {
  let code = /^[A-Za-z0-9_]*$/.test(symbol)
    ? symbol
    : [...symbol].map((c) => (/[A-Za-z0-9_]/.test(c) ? c : `_u${c.codePointAt(0)!.toString(16).padStart(4, "0")}_`)).join("");
  while (used.has(code) && used.get(code) !== symbol) code += "_";
  return code;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const wordRe = (w: string) => new RegExp(`(?<![A-Za-z0-9_])${escapeRe(w)}(?![A-Za-z0-9_])`);

/** 1-based column of the first match of `token` in `src`. */
function colOf(src: string, token: string | RegExp): number | undefined {
  const i = typeof token === "string" ? src.indexOf(token) : src.search(token);
  return i >= 0 ? i + 1 : undefined;
}

function formulaError(src: string, msg: string, col: number | undefined, hint: string | undefined): GradcError {
  return located("E_FORMULA", src, msg, col, hint);
}

/** An error whose message quotes the formula with a caret under `col`. */
function located(code: ErrorCode, src: string, msg: string, col: number | undefined, hint?: string): GradcError {
  const shown = src.replace(/[\r\n\u2028\u2029\t]/g, " ");
  const lines = [`${msg}${col ? ` (column ${col})` : ""}`, `    ${shown}`];
  if (col) lines.push(`    ${" ".repeat(col - 1)}^`);
  return new GradcError(code, lines.join("\n"), { ...(col ? { col } : {}), ...(hint ? { hint } : {}) });
}
