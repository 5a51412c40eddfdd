/**
 * `gradc grad "<formula>" [--wrt w,b] --at w=1,b=0,x=2,t=1 [--at …] [--json] [--code]`
 *
 * The value and partial derivatives of one formula at one or more points,
 * computed by the same pipeline as a model (formula -> IR -> autodiff ->
 * generated code, run in float64), so what it prints is what `compile` emits.
 */
import { parseArgs } from "./args.ts";
import { GradcError } from "../errors.ts";
import { formulaSymbols, parseFormula } from "../frontend/formula.ts";
import { compile } from "../index.ts";
import { showValue } from "../ir/model.ts";
import { importModule, type GeneratedModule } from "../emit/load.ts";
import { hvpModel } from "../autodiff/hvp.ts";

export const GRAD_USAGE = `usage: gradc grad "<formula>" [--wrt a,b] [--at a=1,b=2,x=3 …] [--hessian] [--json] [--code]

  <formula>   one scalar expression in mathjs syntax: 0.5*(w*x + b - t)^2, 2x sin(x), log(x, 2)
  --wrt a,b   the partial derivatives to print, in this order (default: every symbol, in order
              of first appearance; --wrt= prints the value only)
  --at a=1,…  a point: a value for every symbol of the formula; repeat --at for several points
  --hessian   also the matrix of second derivatives d²f/da db over the --wrt variables
              (Hessian-vector products, reverse over reverse: the gradient differentiated again)
  --json      one JSON object per point: {"value": v, "gradient": {"a": …}} (+ "hessian": rows)
  --code      print the generated TypeScript first
`;

interface Point {
  readonly text: string;
  readonly values: Map<string, number>;
}

export async function gradCommand(argv: string[]): Promise<number> {
  const { formula, rest } = takeFormula(argv);
  const { flags, bools, positional } = parseArgs(rest, { flags: ["wrt", "at"], bools: ["json", "code", "hessian", "help", "h"] });
  if (bools.has("help") || bools.has("h")) {
    process.stdout.write(GRAD_USAGE);
    return 0;
  }
  const formulas = [...(formula === undefined ? [] : [formula]), ...positional];
  if (formulas.length !== 1)
    throw new GradcError(
      "E_CLI",
      formulas.length
        ? `grad takes one formula, got ${formulas.length}: ${formulas.map((f) => JSON.stringify(f)).join(" ")}`
        : "grad needs a formula",
      { hint: `quote the formula: gradc grad "0.5*(w*x + b - t)^2" --wrt w,b --at w=1,b=0,x=2,t=1` },
    );
  const src = formulas[0]!;

  const points = (flags.get("at") ?? []).map(parsePoint);
  const atNames = [...new Set(points.flatMap((p) => [...p.values.keys()]))];
  const wrtFlag = flags.get("wrt");
  const symbolsOf = formulaSymbols(src, { vars: [...atNames, ...(wrtFlag ? parseWrt(wrtFlag) : [])] });
  const wrtAll = wrtFlag ? parseWrt(wrtFlag) : symbolsOf;
  // As in mathjs's derivative(): a variable the formula does not contain has derivative 0.
  const absent = wrtAll.filter((w) => !symbolsOf.includes(w));
  const wrt = wrtAll.filter((w) => symbolsOf.includes(w));
  for (const w of absent) {
    if (!/^[\p{L}$_][\p{L}\p{N}$_]{0,63}$/u.test(w))
      throw new GradcError("E_BAD_NAME", `--wrt name ${showValue(w)} is not a formula symbol`, {
        hint: "symbols are mathjs identifiers: letters, digits, _ and $, not starting with a digit",
      });
    process.stderr.write(`note: '${w}' does not occur in the formula, so df/d${w} = 0${symbolsOf.length ? ` (its symbols: ${symbolsOf.join(", ")})` : ""}\n`);
  }

  const model = parseFormula(src, { wrt, vars: atNames });
  // Symbols as the user writes them; the generated code spells some in ASCII (model.labels).
  const symbols = [...model.params, ...model.inputs].map((l) => model.labels.get(l.name)!);
  const codeOf = new Map([...model.labels].map(([code, symbol]) => [symbol, code]));
  const inCode = (values: ReadonlyMap<string, number>) => new Map([...values].map(([k, v]) => [codeOf.get(k) ?? k, v]));
  if (points.length === 0) points.push({ text: "", values: new Map() });
  for (const [i, p] of points.entries()) {
    const which = points.length > 1 ? ` (point ${i + 1}: ${p.text})` : "";
    const unknown = [...p.values.keys()].filter((k) => !symbols.includes(k));
    if (unknown.length)
      throw new GradcError(
        "E_CLI",
        `--at gives ${unknown.map((k) => `'${k}'`).join(", ")}, which the formula does not use${which}`,
        {
          hint: symbols.length
            ? `the formula's symbols are: ${symbols.join(", ")}`
            : "the formula has no symbols; drop --at",
        },
      );
    const missing = symbols.filter((s) => !p.values.has(s));
    if (missing.length)
      throw new GradcError("E_CLI", `no value for ${missing.map((k) => `'${k}'`).join(", ")}${which}`, {
        hint: `every symbol needs a value: --at ${symbols.map((s) => `${s}=${p.values.get(s) ?? "…"}`).join(",")}`,
      });
  }

  const command = `gradc grad ${JSON.stringify(src)} --wrt=${wrtAll.join(",")}`;
  const compiled = await compile(model, { precision: "f64", command });
  const mod = await importModule(compiled.js);
  const { layout } = mod;
  const second = bools.has("hessian") && wrt.length ? await importModule((await compile(hvpModel(parseFormula(src, { wrt, vars: atNames })), { precision: "f64", command })).js) : undefined;

  const out: string[] = [];
  if (bools.has("code")) out.push(compiled.ts.trimEnd(), "");
  points.forEach((p, i) => {
    const buf = mod.buffers();
    const values = inCode(p.values);
    for (const s of layout.params) buf.params[s.offset] = values.get(s.name)!;
    for (const s of layout.inputs) buf.inputs[s.offset] = values.get(s.name)!;
    mod.forward(buf.params, buf.inputs, buf.arena);
    const value = buf.arena[layout.lossOffset!]!;
    mod.backward!(buf.params, buf.inputs, buf.arena, buf.grads);
    const grad = wrtAll.map((w) => {
      const s = layout.params.find((q) => q.name === codeOf.get(w));
      return [w, s ? buf.grads[s.offset]! : 0] as const;
    });
    const hessian = bools.has("hessian") ? hessianAt(second, values, wrtAll.map((w) => codeOf.get(w) ?? w)) : undefined;
    if (bools.has("json")) {
      out.push(JSON.stringify({ value, gradient: Object.fromEntries(grad), ...(hessian ? { hessian } : {}) }));
      return;
    }
    if (i > 0) out.push("");
    if (points.length > 1) out.push(`at ${p.text}`);
    out.push(`f = ${value}`, ...grad.map(([name, d]) => `df/d${name} = ${d}`));
    if (hessian) out.push(...hessianTable(wrtAll, hessian));
  });
  process.stdout.write(`${out.join("\n")}\n`);
  return 0;
}

/**
 * The Hessian over `wrt` at one point, column by column: H e_j from the
 * Hessian-vector-product module (its backward is H v). Variables the formula
 * does not contain have zero rows and columns.
 */
function hessianAt(hv: GeneratedModule | undefined, values: ReadonlyMap<string, number>, wrt: readonly string[]): number[][] {
  const H = wrt.map(() => wrt.map(() => 0));
  if (!hv) return H;
  const { layout } = hv;
  const buf = hv.buffers();
  const slot = (name: string) => [...layout.params, ...layout.inputs].find((s) => s.name === name);
  for (const s of layout.params) buf.params[s.offset] = values.get(s.name)!;
  for (const s of layout.inputs) if (values.has(s.name)) buf.inputs[s.offset] = values.get(s.name)!;
  wrt.forEach((wj, j) => {
    const vj = slot(`v_${wj}`);
    if (!vj) return;
    for (const w of wrt) {
      const v = slot(`v_${w}`);
      if (v) buf.inputs[v.offset] = w === wj ? 1 : 0;
    }
    hv.forward(buf.params, buf.inputs, buf.arena);
    hv.backward!(buf.params, buf.inputs, buf.arena, buf.grads);
    wrt.forEach((wi, i) => {
      const s = layout.params.find((q) => q.name === wi);
      if (s) H[i]![j] = buf.grads[s.offset]!;
    });
  });
  return H;
}

/** The Hessian as an aligned table: rows and columns named by variable. */
function hessianTable(wrt: readonly string[], H: readonly (readonly number[])[]): string[] {
  const cells = H.map((row) => row.map((v) => String(v)));
  const width = Math.max(...wrt.map((w) => w.length), ...cells.flat().map((c) => c.length));
  const pad = (s: string) => s.padStart(width);
  const nameWidth = Math.max(...wrt.map((w) => w.length));
  return [
    `d²f (row, column):`,
    `${" ".repeat(nameWidth)}  ${wrt.map(pad).join("  ")}`,
    ...wrt.map((w, i) => `${w.padEnd(nameWidth)}  ${cells[i]!.map(pad).join("  ")}`),
  ];
}

const OPTION = /^--?(wrt|at|json|code|hessian|help|h)(=|$)/;

/**
 * The formula comes first and may start with a minus (`gradc grad "-x^2" …`),
 * which the generic flag parser would take for an option; `--` ends options too.
 */
function takeFormula(argv: string[]): { formula?: string; rest: string[] } {
  const dd = argv.indexOf("--");
  const before = dd >= 0 ? argv.slice(0, dd) : argv;
  const after = dd >= 0 ? argv.slice(dd + 1) : [];
  if (after.length) return { formula: after.join(" "), rest: before };
  const [first, ...rest] = before;
  if (first !== undefined && !OPTION.test(first)) return { formula: first, rest };
  return { rest: before };
}

function parseWrt(values: string[]): string[] {
  const names = values
    .flatMap((v) => v.split(","))
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new GradcError("E_CLI", `--wrt lists '${dup}' twice`);
  return names;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$|^[+-]?Infinity$/i;

function parsePoint(text: string): Point {
  const values = new Map<string, number>();
  for (const part of text.split(",")) {
    if (part.trim() === "") continue;
    const eq = part.indexOf("=");
    const name = (eq >= 0 ? part.slice(0, eq) : part).trim();
    const raw = eq >= 0 ? part.slice(eq + 1).trim() : "";
    if (eq < 0 || name === "")
      throw new GradcError("E_CLI", `--at ${JSON.stringify(text)}: '${part.trim()}' is not name=value`, {
        hint: "write --at w=1,b=0,x=2",
      });
    if (!NUMBER.test(raw))
      throw new GradcError(
        "E_CLI",
        `--at ${JSON.stringify(text)}: the value of '${name}' is not a number: ${JSON.stringify(raw)}`,
        {
          hint: "values are decimal numbers: 1, -0.5, 2e-3",
        },
      );
    if (values.has(name)) throw new GradcError("E_CLI", `--at ${JSON.stringify(text)}: '${name}' is given twice`);
    values.set(name, Number(raw.replace(/^([+-]?)infinity$/i, "$1Infinity")));
  }
  return { text: [...values].map(([k, v]) => `${k}=${v}`).join(", "), values };
}
