/**
 * Prints the emitted module's TypeScript already formatted — the text
 * prettier (printWidth 110) would make of it — in one pass over the
 * statements, linear in their number: no AST library, no re-parse.
 *
 * What this printer formats itself: statements that fit on one line (almost
 * all of them: one scalar per line), blocks and loops, the layout object
 * (prettier's rules for object and array literals, `Layout` values only),
 * JSDoc comments. A statement too long for one line (an unrolled sum of 16
 * terms, say) is handed to prettier — loaded only then, and given only those
 * statements (`formatLong`) — so the output stays byte-identical to
 * formatting the whole file with prettier, which test/emit/printer.test.ts
 * checks (every example, random graphs, random layouts).
 */
import type { Stmt } from "../lower/lower.ts";
import * as S from "../ir/sexpr.ts";

export const WIDTH = 110;
const pad = (depth: number) => "  ".repeat(depth);

/** A statement prettier has to format, at its nesting depth, with where its lines go. */
interface Long {
  readonly text: string;
  readonly depth: number;
}

/** Lines of text, some of them still to be formatted by prettier (`Long`). */
export class Lines {
  readonly parts: (string | Long)[] = [];
  /** One statement at `depth`: as it is if it fits, else for prettier. */
  stmt(text: string, depth: number): void {
    this.parts.push(pad(depth).length + text.length <= WIDTH ? pad(depth) + text : { text, depth });
  }
  /** Text that is already formatted (its lines carry their own indentation). */
  raw(text: string): void {
    this.parts.push(text);
  }
  /** The finished text: long statements formatted by prettier in one call. */
  async text(): Promise<string> {
    const long = this.parts.filter((p): p is Long => typeof p !== "string");
    const formatted = long.length ? await formatLong(long) : [];
    let k = 0;
    return this.parts.map((p) => (typeof p === "string" ? p : formatted[k++]!)).join("\n");
  }
}

const MARK = "// @gradc-statement";
/** Statements prettier formatted before, by depth and text: a recompile (`--watch`) asks again for the same ones. */
const formattedBefore = new Map<string, string>();

/**
 * Formats statements with prettier, each as it would be inside `depth`
 * nested blocks (prettier formats a statement from its indentation alone).
 */
async function formatLong(long: readonly Long[]): Promise<string[]> {
  const keyOf = (l: Long) => `${l.depth}:${l.text}`;
  if (formattedBefore.size > 20_000) formattedBefore.clear(); // bounded: a long watch session
  const todo = [...new Map(long.filter((l) => !formattedBefore.has(keyOf(l))).map((l) => [keyOf(l), l])).values()];
  if (todo.length) {
    // prettier's standalone core with its TypeScript parser: the same formatting as `prettier.format`, without loading
    // the Node entry (config resolution, every other language's printer): a cold compile pays less for a long statement.
    const [{ format }, typescript, estree] = await Promise.all([import("prettier/standalone"), import("prettier/plugins/typescript"), import("prettier/plugins/estree")]);
    const src = todo.map((l) => `${MARK}\n${"{\n".repeat(l.depth)}${l.text}\n${"}\n".repeat(l.depth)}`).join("");
    const out = await format(src, { parser: "typescript", plugins: [typescript, estree], printWidth: WIDTH });
    const chunks = out.split(`${MARK}\n`).slice(1);
    if (chunks.length !== todo.length) throw new Error("internal: prettier merged or dropped a generated statement");
    chunks.forEach((c, i) => {
      const lines = c.replace(/\n$/, "").split("\n");
      const d = todo[i]!.depth;
      formattedBefore.set(keyOf(todo[i]!), lines.slice(d, lines.length - d).join("\n"));
    });
  }
  return long.map((l) => formattedBefore.get(keyOf(l))!);
}

/** One lowered statement (and, for a loop, its body) at `depth`. */
export function printStmt(s: Stmt, depth: number, out: Lines): void {
  switch (s.k) {
    case "comment":
      return out.raw(`${pad(depth)}// ${safeComment(s.text)}`);
    case "const":
    case "let":
      return out.stmt(`${s.k} ${s.name} = ${S.print(s.e)};`, depth);
    case "set":
      return out.stmt(`${S.print(s.target)} ${s.op} ${S.print(s.e)};`, depth);
    case "call":
      return out.stmt(`k.${s.fn}();`, depth);
    case "for": {
      const head = `for (let ${s.v} = ${s.from ? S.print(s.from) : "0"}; ${s.v} < ${S.print(s.n)}; ${s.step && s.step !== 1 ? `${s.v} += ${s.step}` : `${s.v}++`})`;
      if (!s.body.length) return out.stmt(`${head} {}`, depth);
      out.raw(`${pad(depth)}${head} {`);
      for (const b of s.body) printStmt(b, depth + 1, out);
      return out.raw(`${pad(depth)}}`);
    }
  }
}

/** Comment text from a spec can only contain vetted identifiers, but keep comments single-line and closed anyway. */
export const safeComment = (t: string) => t.replace(/[\r\n\u2028\u2029]/g, " ").replace(/\*\//g, "* /");

/** A JSDoc comment as ts-morph writes it: one line, or ` * `-prefixed lines. */
export function jsdoc(text: string, depth = 0): string {
  const p = pad(depth);
  const t = safeComment2(text);
  if (!t.includes("\n")) return `${p}/** ${t} */`;
  return [`${p}/**`, ...t.split("\n").map((l) => `${p} * ${l}`.trimEnd()), `${p} */`].join("\n");
}
const safeComment2 = (t: string) => t.replace(/\*\//g, "* /");

// ---- literals: the layout object ------------------------------------------------------------

type Json = null | boolean | number | string | readonly Json[] | { readonly [k: string]: Json };

/** A number literal as prettier prints it (no `+` in the exponent). */
const num = (v: number) => JSON.stringify(v).replace("e+", "e");
const isObj = (v: Json): v is { readonly [k: string]: Json } => typeof v === "object" && v !== null && !Array.isArray(v);

/** Thrown for a value outside what `literal` knows prettier's layout of; the caller hands the statement to prettier. */
class NotPrintable extends Error {}

function flat(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(flat).join(", ")}]`;
  if (isObj(v)) {
    const ks = Object.keys(v).filter((k) => v[k] !== undefined);
    return ks.length ? `{ ${ks.map((k) => `${key(k)}: ${flat(v[k]!)}`).join(", ")} }` : "{}";
  }
  if (typeof v === "number") return num(v);
  if (typeof v === "string") {
    const s = JSON.stringify(v);
    if (s.includes("\\") || s.includes("'")) throw new NotPrintable(); // prettier may re-quote or re-escape
    return s;
  }
  return JSON.stringify(v);
}
const key = (k: string) => {
  if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k)) throw new NotPrintable();
  return k;
};

/** prettier breaks an array of several objects (or arrays) that each have more than one entry, fitting or not. */
const forcedBreak = (v: Json): boolean => {
  if (Array.isArray(v)) {
    if (v.length > 1 && (v.every((x) => isObj(x) && Object.keys(x).length > 1) || v.every((x) => Array.isArray(x) && x.length > 1))) return true;
    return v.some(forcedBreak);
  }
  return isObj(v) && Object.values(v).some((x) => x !== undefined && forcedBreak(x));
};

/**
 * `v` printed starting at column `col` with `trail` characters after it on
 * its last line (a comma, `;`), in prettier's layout: flat when it fits and
 * nothing inside forces a break, else one entry per line — number arrays
 * filled, as many per line as fit.
 */
function literal(v: Json, col: number, indent: number, trail: number): string {
  const f = flat(v);
  if (col + f.length + trail <= WIDTH && !forcedBreak(v)) return f;
  const inner = pad(indent + 1);
  if (Array.isArray(v)) {
    if (!v.length) return "[]";
    if (v.length > 1 && v.every((x) => typeof x === "number")) {
      // fill: an item goes on the current line if it and the next one fit (the last one measured without its comma)
      const items = v.map((x, i) => num(x as number) + (i < v.length - 1 ? "," : ""));
      let line = inner;
      const rows: string[] = [];
      items.forEach((it, i) => {
        line += it;
        const next = items[i + 1];
        if (next === undefined) return;
        if (line.length + 1 + next.length <= WIDTH) line += " ";
        else {
          rows.push(line);
          line = inner;
        }
      });
      rows.push(`${line},`);
      return `[\n${rows.join("\n")}\n${pad(indent)}]`;
    }
    return `[\n${v.map((x) => `${inner}${literal(x, inner.length, indent + 1, 1)},`).join("\n")}\n${pad(indent)}]`;
  }
  if (isObj(v)) {
    const ks = Object.keys(v).filter((k) => v[k] !== undefined);
    if (!ks.length) return "{}";
    return `{\n${ks.map((k) => `${inner}${key(k)}: ${literal(v[k]!, inner.length + k.length + 2, indent + 1, 1)},`).join("\n")}\n${pad(indent)}}`;
  }
  throw new NotPrintable(); // a string or number that does not fit on its line
}

/** `export const <name> = <value> as const;` — printed here when `literal` knows the layout, else by prettier. */
export function constLiteral(name: string, value: unknown, out: Lines): void {
  const head = `export const ${name} = `;
  const json = JSON.parse(JSON.stringify(value)) as Json;
  try {
    const body = literal(json, head.length, 0, " as const;".length);
    return out.raw(`${head}${body} as const;`);
  } catch (e) {
    if (!(e instanceof NotPrintable)) throw e;
    out.stmt(`${head}${JSON.stringify(json)} as const;`, 0);
  }
}
