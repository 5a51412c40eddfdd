/**
 * Spec names become locals of forward/backward/step, so none may equal a name
 * the emitter itself uses there (compiler/lower/emitter-names.ts). The set is derived
 * from emitted code, not restated: every parameter and every free identifier
 * of those bodies in the checked-in modules and in a wasm + batch + helper
 * model, plus each body's own first local (`k`). Then every such name, and
 * every other identifier the emitter produced, is used as a spec name in
 * models of each kind — which must compile and compute exactly what the same
 * model with neutral names computes.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";
import { importModule } from "../../compiler/emit/load.ts";
import { EMITTER_NAMES } from "../../compiler/lower/emitter-names.ts";
import { GradcError } from "../../compiler/errors.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { compile } from "../../compiler/index.ts";
import { checkName } from "../../compiler/ir/model.ts";

const ROOT = path.resolve(".");
const work = mkdtempSync(path.join(tmpdir(), "gradc-names-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Per body of forward/backward/step: its parameters, free identifiers, first declared local, and every identifier. */
function bodies(tsText: string) {
  const sf = ts.createSourceFile("m.ts", tsText, ts.ScriptTarget.ES2022, true);
  const out: { fn: string; emitterNames: Set<string>; all: Set<string> }[] = [];
  const visitFn = (f: ts.FunctionDeclaration) => {
    const declared = new Set<string>();
    const used = new Set<string>();
    const emitterNames = new Set<string>(f.parameters.map((p) => p.name.getText()));
    const walk = (n: ts.Node) => {
      if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name)) declared.add(n.name.text);
      if (ts.isIdentifier(n)) {
        const p = n.parent;
        const isMember = ts.isPropertyAccessExpression(p) && p.name === n;
        if (!isMember) used.add(n.text);
      }
      ts.forEachChild(n, walk);
    };
    f.body!.statements.forEach(walk);
    for (const u of used) if (!declared.has(u) && !emitterNames.has(u)) emitterNames.add(u);
    const first = f.body!.statements.find(ts.isVariableStatement);
    // The emitter's own local comes first: `const k = kernels(…)`.
    if (first && /kernels\(/.test(first.getText())) emitterNames.add(first.declarationList.declarations[0]!.name.getText());
    out.push({ fn: f.name!.text, emitterNames, all: new Set([...declared, ...used]) });
  };
  sf.forEachChild((n) => {
    if (ts.isFunctionDeclaration(n) && n.body && ["forward", "backward", "step"].includes(n.name?.text ?? "")) visitFn(n);
  });
  return out;
}

const DSL = JSON.stringify(path.join(ROOT, "compiler/frontend/dsl.ts"));

/**
 * A model of each kind, its values named by `names` (in order, cycling if needed): a scalar chain
 * (unrolled locals), elementwise and reduced values over a batch (loops), matmuls (wasm kernels
 * in "wasm"), and an nthRoot (a helper call).
 */
function spec(kind: "wasm" | "unrolled", names: string[]): string {
  const lines = names.map((nm, i) => `  s = s.mul(${0.5 + (i % 7) / 16}).add(${(i % 5) / 16}).as(${JSON.stringify(nm)});`).join("\n");
  const big = kind === "wasm";
  return `import type { ModelBuilder } from ${DSL};
export default (m: ModelBuilder) => {
  ${big ? "m.batch(32);" : ""}
  const x = m.input("x", [${big ? '"batch", 64' : "2, 2"}]);
  const W = m.param("W", [${big ? "64, 64" : "2, 2"}]);
  const h = m.tanh(x.matmul(W));
  const r = m.nthRoot(m.add(m.square(h), 1), 3);
  let s = m.mean(m.mul(r, h.matmul(m.param("V", [${big ? "64, 64" : "2, 2"}]))));
${lines}
  m.loss(s.mul(s));
};
`;
}

async function run(kind: "wasm" | "unrolled", names: string[], tag: string) {
  const file = path.join(work, `${tag}.ts`);
  writeFileSync(file, spec(kind, names));
  const c = await compile(await loadSpec(file), { precision: kind === "wasm" ? "f32" : "f64" });
  if (kind === "wasm") expect(c.lowered.kernels.length).toBeGreaterThan(0);
  const mod = await importModule(c.js);
  const buf = mod.buffers();
  buf.params.forEach((_, i) => (buf.params[i] = Math.sin(i + 1) / 4));
  buf.inputs.forEach((_, i) => (buf.inputs[i] = Math.cos(i) / 2));
  (mod.step ?? ((p, i, a, g) => (mod.forward(p, i, a), mod.backward!(p, i, a, g))))(buf.params, buf.inputs, buf.arena, buf.grads);
  return { ts: c.ts, loss: buf.arena[mod.layout.lossOffset!]!, grads: Array.from(buf.grads) };
}

/** Names a spec may use (checkName accepts them). */
const allowed = (n: string) => {
  try {
    checkName(n, "value");
    return true;
  } catch (e) {
    if (e instanceof GradcError) return false;
    throw e;
  }
};

describe("the emitter's own names", () => {
  const generated = readdirSync("generated")
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .map((f) => readFileSync(path.join("generated", f), "utf8"));
  const found = new Set<string>();
  const anyIdent = new Set<string>();
  const collect = (text: string) => {
    for (const b of bodies(text)) {
      b.emitterNames.forEach((n) => found.add(n));
      b.all.forEach((n) => anyIdent.add(n));
    }
  };

  it("every parameter, free identifier and own local of the bodies is reserved", async () => {
    generated.forEach(collect);
    for (const kind of ["wasm", "unrolled"] as const) collect((await run(kind, ["v0"], `probe-${kind}`)).ts);
    expect(found).toContain("k");
    expect(found).toContain("kernels");
    expect(found).toContain("nthRoot");
    expect(found).toContain("n");
    const missing = [...found].filter((n) => !EMITTER_NAMES.includes(n));
    expect(missing).toEqual([]);
  }, 120_000);

  for (const kind of ["wasm", "unrolled"] as const)
    it(`${kind}: every emitter name and every identifier it produced, as spec names, compiles to the same numbers`, async () => {
      if (anyIdent.size === 0) generated.forEach(collect);
      const names = [...new Set([...EMITTER_NAMES, ...anyIdent, "k", "kernels"])].filter(allowed).sort();
      expect(names).toContain("k");
      expect(names).toContain("kernels");
      const named = await run(kind, names, `named-${kind}`);
      const plain = await run(kind, names.map((_, i) => `v${i}`), `plain-${kind}`);
      expect(Number.isFinite(named.loss)).toBe(true);
      expect(named.loss).toBe(plain.loss);
      expect(named.grads).toEqual(plain.grads);
    }, 120_000);
});
