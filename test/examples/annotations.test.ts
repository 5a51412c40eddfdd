// Every adjoint statement of every example's generated backward (and the
// backward half of `step`) says which primal op's derivative it comes from —
// `⟵ ∂ <op> <node>`, or `⟵ Σ over the uses of <node>` for a fan-in sum — and
// no forward statement claims one. Reads the checked-in generated/*.ts, which
// `regen --check` keeps equal to what the compiler emits.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseFormula } from "../../compiler/frontend/formula.ts";
import { compile } from "../../compiler/index.ts";

const DIR = path.resolve(import.meta.dirname, "../../generated");
const ANNOTATED = /⟵ (∂ \w+ \S+|Σ over the uses of \S+)$/;
/** A statement group's heading: `// name = op(args)`, optionally annotated. */
const HEADING = /^\s*\/\/ [\w$]+ = \w+\(.*\)/;

/** The heading comments of function `fn` in a generated module's source. */
function headings(src: string, fn: string): string[] {
  const start = src.indexOf(`export function ${fn}(`);
  if (start < 0) return [];
  const end = src.indexOf("\n}\n", start);
  return src.slice(start, end).split("\n").filter((l) => HEADING.test(l)).map((l) => l.trim());
}

describe("derivative annotations", () => {
  const files = fs.readdirSync(DIR).filter((f) => f.endsWith(".ts"));
  it("covers every example", () => expect(files.length).toBeGreaterThanOrEqual(9));
  for (const f of files)
    it(f, () => {
      const src = fs.readFileSync(path.join(DIR, f), "utf8");
      const back = headings(src, "backward");
      if (src.includes("export function backward(")) expect(back.length).toBeGreaterThan(0);
      expect(back.filter((l) => !ANNOTATED.test(l))).toEqual([]);
      const fwd = headings(src, "forward");
      expect(fwd.filter((l) => l.includes("⟵"))).toEqual([]);
      // step = forward's lines, then backward's: annotated exactly where backward's are
      const step = headings(src, "step");
      if (step.length) expect(step.filter((l) => l.includes("⟵"))).toEqual(back.filter((l) => step.includes(l)));
    });

  it("labels a formula's adjoints by the op whose rule built them, and its forward values by none", async () => {
    const c = await compile(parseFormula("x^y * x", { wrt: ["x", "y"] }));
    const back = headings(c.ts, "backward");
    expect(back).toContain("// d_x = add(pow_x_y, mul_x)  ⟵ Σ over the uses of x");
    expect(back.filter((l) => !ANNOTATED.test(l))).toEqual([]);
    expect(back.some((l) => l.startsWith("// log_x = log(x)  ⟵ ∂ pow pow_x_y"))).toBe(true);
    expect(headings(c.ts, "forward")).toEqual(["// pow_x_y = pow(x, y)", "// f = mul(pow_x_y, x)"]);
  });
});
