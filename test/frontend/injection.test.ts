/**
 * No code injection through names (DESIGN.md, "Safety"): a string from a
 * spec reaches generated code only as a vetted identifier, inside a comment,
 * or inside a string literal the emitter escaped.
 *
 * Every name-bearing field — input, param, output, named value, the model
 * name (from the spec's file or folder name), the spec's path (shown in
 * headers and `layout.source`), and formula symbols — gets every payload
 * below. Each attempt must either be rejected with one GradcError
 * (E_BAD_NAME; a formula payload that is not even a symbol fails to parse:
 * E_PARSE/E_FORMULA), or compile to code in which the payload's marker
 * appears in no token other than a comment or a string literal (checked with
 * TypeScript's own scanner) and which, when run, does not run it.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import ts from "typescript";
import { afterAll, describe, expect, it, vi } from "vitest";
import { compileCommand } from "../../compiler/cli/compile.ts";
import { importModule } from "../../compiler/emit/load.ts";
import { GradcError } from "../../compiler/errors.ts";
import { builder } from "../../compiler/frontend/dsl.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { parseFormula } from "../../compiler/frontend/formula.ts";
import { compile } from "../../compiler/index.ts";

const MARK = "__pwned";
const PAYLOADS = [
  `x"+(globalThis.${MARK}=1)+"`,
  `x'+(globalThis.${MARK}=1)+'`,
  `x\`+(globalThis.${MARK}=1)+\``,
  `x\${globalThis.${MARK}=1}`,
  `x*/globalThis.${MARK}=1;/*`,
  `x\nglobalThis.${MARK}=1;//`,
  `x\rglobalThis.${MARK}=1;//`,
  `x\u2028globalThis.${MARK}=1;//`,
  `x\u2029globalThis.${MARK}=1;//`,
  `x\\";globalThis.${MARK}=1;//`,
  `x];globalThis.${MARK}=1;//`,
  `x}); globalThis.${MARK}=1; ({`,
  `x\u202e;1=${MARK}.sihTlabolg`, // a right-to-left override ("Trojan Source")
  `x</script><script>globalThis.${MARK}=1</script>`,
  `x\u0000globalThis.${MARK}=1`,
  `${MARK}`,
  "__proto__",
  "constructor",
];

declare global {
  // eslint-disable-next-line no-var
  var __pwned: unknown;
}

/** Tokens of generated code other than comments and string literals that contain the marker. */
function markerInCode(code: string): string[] {
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, false, ts.LanguageVariant.Standard, code);
  const bad: string[] = [];
  for (let t = scanner.scan(); t !== ts.SyntaxKind.EndOfFileToken; t = scanner.scan()) {
    const text = scanner.getTokenText();
    const harmless =
      t === ts.SyntaxKind.SingleLineCommentTrivia ||
      t === ts.SyntaxKind.MultiLineCommentTrivia ||
      t === ts.SyntaxKind.StringLiteral ||
      t === ts.SyntaxKind.NoSubstitutionTemplateLiteral;
    if (!harmless && text.includes(MARK)) bad.push(`${ts.SyntaxKind[t]} ${JSON.stringify(text)}`);
    // A string literal must not hold a raw line break: the scanner would have ended it there.
    if (t === ts.SyntaxKind.StringLiteral && /[\n\r]/.test(text)) bad.push(`unterminated ${JSON.stringify(text)}`);
  }
  return bad;
}

/** Scans generated code and runs it (`run`: the module to run, when `js` imports the runtime); returns what went wrong. */
async function safeCode(ts_: string, js: string, run = js): Promise<string[]> {
  const bad = [...markerInCode(ts_).map((b) => `ts: ${b}`), ...markerInCode(js).map((b) => `js: ${b}`)];
  globalThis.__pwned = undefined;
  const mod = await importModule(run);
  const buf = mod.buffers();
  mod.forward(buf.params, buf.inputs, buf.arena);
  mod.backward?.(buf.params, buf.inputs, buf.arena, buf.grads);
  if (globalThis.__pwned !== undefined) bad.push("the payload ran");
  return bad;
}

const rejectedWith = (e: unknown, codes: string[]): boolean => e instanceof GradcError && codes.includes(e.code);

describe("names from a DSL spec", () => {
  const FIELDS = {
    input: (m: ReturnType<typeof builder>, s: string) => {
      const x = m.input(s, [2]);
      m.loss(m.sum(x.mul(m.param("w", [2]))));
    },
    param: (m: ReturnType<typeof builder>, s: string) => m.loss(m.sum(m.param(s, [2]))),
    output: (m: ReturnType<typeof builder>, s: string) => {
      const w = m.param("w", [2]);
      m.output(s, w.mul(2));
      m.loss(m.sum(w));
    },
    value: (m: ReturnType<typeof builder>, s: string) => m.loss(m.sum(m.param("w", [2]).mul(3).as(s))),
  };
  for (const [field, build] of Object.entries(FIELDS))
    it.each(PAYLOADS.map((p) => [JSON.stringify(p), p]))(`${field} %s`, async (_, payload) => {
      const m = builder("inject", "test/frontend/injection.test.ts");
      let err: unknown;
      try {
        build(m, payload);
        const c = await compile(m.finish(), { precision: "f64" });
        expect(await safeCode(c.ts, c.js)).toEqual([]);
        return;
      } catch (e) {
        err = e;
      }
      expect(rejectedWith(err, ["E_BAD_NAME"]), String(err)).toBe(true);
    });
});

describe("names from formula symbols", () => {
  it.each(PAYLOADS.map((p) => [JSON.stringify(p), p]))("%s", async (_, payload) => {
    let err: unknown;
    try {
      const model = parseFormula(`2 * ${payload} + 1`, { wrt: [] });
      const c = await compile(model, { precision: "f64" });
      expect(await safeCode(c.ts, c.js)).toEqual([]);
      return;
    } catch (e) {
      err = e;
    }
    expect(rejectedWith(err, ["E_BAD_NAME", "E_PARSE", "E_FORMULA"]), String(err)).toBe(true);
  });
});

describe("the model name (file or folder name) and the spec path", () => {
  const root = mkdtempSync(path.join(tmpdir(), "gradc-inject-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const DSL = path.resolve("compiler/frontend/dsl.ts");
  const SPEC = `import type { ModelBuilder } from ${JSON.stringify(DSL)};\nexport default (m: ModelBuilder) => {\n  const w = m.param("w", [2]);\n  m.output("y", w.mul(2));\n  m.loss(m.sum(w.mul(w)));\n};\n`;
  // File names cannot hold "/" or NUL: those are dropped from the payloads.
  const usable = [...new Set(PAYLOADS.map((p) => p.replaceAll("/", "").replaceAll("\u0000", "")))];
  const quiet = vi.spyOn(process.stdout, "write").mockImplementation(() => true); // compileCommand's report
  afterAll(() => quiet.mockRestore());
  let k = 0;
  const cases = usable.flatMap((p) => [
    { label: `file ${JSON.stringify(p)}.ts`, dir: `f${k}`, file: `${p}.ts` },
    { label: `folder ${JSON.stringify(p)}/model.ts`, dir: `d${k++}/${p}`, file: "model.ts" },
    { label: `folder ${JSON.stringify(p)}/spec.ts (path in headers only)`, dir: `s${k++}/${p}`, file: "spec.ts" },
  ]);

  it("the cases cover every usable payload three ways", () => {
    expect(cases.length).toBe(3 * usable.length);
    expect(usable.length).toBeGreaterThanOrEqual(15);
  });

  it.each(cases.map((c) => [c.label, c] as const))("%s", async (_, c) => {
    const dir = path.join(root, c.dir);
    mkdirSync(dir, { recursive: true });
    const spec = path.join(dir, c.file);
    writeFileSync(spec, SPEC);
    const out = path.join(root, `out-${c.dir.replace(/[^a-z0-9]/gi, "_")}`);
    let err: unknown;
    try {
      await compileCommand([spec, "-o", out, "--ts"]);
    } catch (e) {
      err = e;
    }
    if (err) {
      expect(rejectedWith(err, ["E_BAD_NAME"]), String(err)).toBe(true);
      expect(() => readdirSync(out)).toThrow(); // nothing written, not even the folder
      return;
    }
    // The files on disk are scanned; they import gradc/runtime (createTrainer), so the same model compiled in memory is run.
    const files = readdirSync(out).sort();
    expect(files).toHaveLength(4); // <name>.d.ts, .js, .ts and the ESM marker package.json
    const read = (ext: string) => readFileSync(path.join(out, files.find((f) => f.endsWith(ext) && !f.endsWith(`.d${ext}`))!), "utf8");
    const [js, tsFile, dts] = [read(".js"), read(".ts"), readFileSync(path.join(out, files.find((f) => f.endsWith(".d.ts"))!), "utf8")];
    expect(markerInCode(dts)).toEqual([]); // the declarations carry the names too
    const inMemory = await compile(await loadSpec(spec), { precision: "f64" });
    expect(await safeCode(tsFile!, js!, inMemory.js)).toEqual([]);
    expect(markerInCode(inMemory.ts)).toEqual([]);
  });
});

describe("prototype pollution never reaches generated code", () => {
  const spec = () => {
    const m = builder("pp", "pp.ts");
    const x = m.input("x", [2]);
    m.loss(m.sum(x.mul(m.param("w", [2]))));
    return m.finish();
  };

  it("model fields are read as own properties: an inherited batch, memory or step is ignored", async () => {
    const clean = await compile(spec());
    const polluted = Object.setPrototypeOf({ ...spec() }, { batch: `(globalThis.${MARK} = 1, 4)`, memory: { pages: "1)" }, step: [] });
    const c = await compile(polluted);
    expect(c.ts).not.toContain(MARK);
    expect(c.ts).toBe(clean.ts);
  });

  it("numbers are built into the output from numbers only", async () => {
    const S = await import("../../compiler/ir/sexpr.ts");
    expect(() => S.printNum(`1; globalThis.${MARK} = 1` as unknown as number)).toThrow(/where generated code needs a number/);
    expect(() => S.print(S.idx("arena", "0] + evil[0" as unknown as number))).toThrow(TypeError);
    const polluted = { ...spec(), batch: `(globalThis.${MARK} = 1, 4)` as unknown as number };
    await expect(compile(polluted)).rejects.toThrow(/batch size is not a whole number/);
  });
});
