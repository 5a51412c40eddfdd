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
import { importModule } from "../emit/load.ts";

export const GRAD_USAGE = `usage: gradc grad "<formula>" [--wrt a,b] [--at a=1,b=2,x=3 …] [--json] [--code]

  <formula>   one scalar expression in mathjs syntax: 0.5*(w*x + b - t)^2, 2x sin(x), log(x, 2)
  --wrt a,b   the partial derivatives to print, in this order (default: every symbol, in order
              of first appearance; --wrt= prints the value only)
  --at a=1,…  a point: a value for every symbol of the formula; repeat --at for several points
  --json      one JSON object per point: {"value": v, "gradient": {"a": …}}
  --code      print the generated TypeScript first
`;

interface Point {
  readonly text: string;
  readonly values: Map<string, number>;
}

export async function gradCommand(argv: string[]): Promise<number> {
  const { formula, rest } = takeFormula(argv);
  const { flags, bools, positional } = parseArgs(rest, { flags: ["wrt", "at"], bools: ["json", "code", "help", "h"] });
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
  const wrt = wrtFlag ? parseWrt(wrtFlag) : formulaSymbols(src, { vars: atNames });

  const model = parseFormula(src, { wrt, vars: atNames });
  const symbols = [...model.params, ...model.inputs].map((l) => l.name);
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

  const command = `gradc grad ${JSON.stringify(src)} --wrt=${wrt.join(",")}`;
  const compiled = await compile(model, { precision: "f64", command });
  const mod = await importModule(compiled.js);
  const { layout } = mod;

  const out: string[] = [];
  if (bools.has("code")) out.push(compiled.ts.trimEnd(), "");
  points.forEach((p, i) => {
    const buf = mod.buffers();
    for (const s of layout.params) buf.params[s.offset] = p.values.get(s.name)!;
    for (const s of layout.inputs) buf.inputs[s.offset] = p.values.get(s.name)!;
    mod.forward(buf.params, buf.inputs, buf.arena);
    const value = buf.arena[layout.lossOffset!]!;
    mod.backward!(buf.params, buf.inputs, buf.arena, buf.grads);
    const grad = layout.params.map((s) => [s.name, buf.grads[s.offset]!] as const);
    if (bools.has("json")) {
      out.push(JSON.stringify({ value, gradient: Object.fromEntries(grad) }));
      return;
    }
    if (i > 0) out.push("");
    if (points.length > 1) out.push(`at ${p.text}`);
    out.push(`f = ${value}`, ...grad.map(([name, d]) => `df/d${name} = ${d}`));
  });
  process.stdout.write(`${out.join("\n")}\n`);
  return 0;
}

const OPTION = /^--?(wrt|at|json|code|help|h)(=|$)/;

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
