// User-defined functions in specs: m.define (a named function of builder ops, differentiated automatically)
// and m.custom (a box whose derivative rule the spec writes). The written rule is what the generated backward
// computes, `gradc check` verifies it against central differences and names the box when it is wrong, the
// rule belongs to its own spec, and bad definitions fail at the spec line with a code.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { hvpModel } from "../../compiler/autodiff/hvp.ts";
import { checkModel, formatReport } from "../../compiler/check.ts";
import { importModule, type GeneratedModule } from "../../compiler/emit/load.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { compile } from "../../compiler/index.ts";
import { GradcError } from "../../compiler/errors.ts";
import { modelGraph } from "../../compiler/viz/graph.ts";

const dir = mkdtempSync(path.join(tmpdir(), "gradc-custom-"));
const DSL = JSON.stringify(path.resolve("compiler/frontend/dsl.ts"));
const specFile = (name: string, body: string) => {
  const file = path.join(dir, `${name}.ts`);
  writeFileSync(file, `import type { ModelBuilder } from ${DSL};\nexport default (m: ModelBuilder) => {\n${body}\n};\n`);
  return file;
};
const spec = (name: string, body: string) => loadSpec(specFile(name, body));

/** A small batched regression net around `hidden`, an expression of the pre-activation `a` (a spec fragment). */
const net = (boxes: string, hidden: string) => `
  m.batch(5);
  ${boxes}
  const x = m.input("x", ["batch", 3]);
  const t = m.input("t", ["batch", 2]);
  const W = m.param("W", [3, 4]);
  const V = m.param("V", [4, 2]);
  const c = m.param("c", [1, 4], { init: { uniform: [-0.5, 0.5] } });
  const a = x.matmul(W).add(c);
  const h = ${hidden};
  m.loss(m.mean(m.squaredError(h.matmul(V), t)));`;

const SWISH = `const swish = m.define("swish", (x) => m.mul(x, m.sigmoid(x)));`;
// swish as a box with its rule written out: d/dx x σ(x) = σ + x σ (1 − σ) = σ + y (1 − σ)
const swishBox = (rule: string) => `const swish = m.custom("swish", {
    forward: (x) => m.mul(x, m.sigmoid(x)),
    vjp: (g, [x], y) => { const s = m.sigmoid(x); return [${rule}]; },
  });`;
const RIGHT = "m.mul(g, m.add(s, m.mul(y, m.sub(1, s))))";
const WRONG = "m.mul(g, s)"; // forgets the x σ(1 − σ) term

async function gradsOf(mod: GeneratedModule, n?: number) {
  const b = mod.buffers();
  for (let i = 0; i < b.params.length; i++) b.params[i] = Math.sin(1.7 * i + 0.3);
  for (let i = 0; i < b.inputs.length; i++) b.inputs[i] = Math.cos(0.9 * i);
  mod.forward(b.params, b.inputs, b.arena, n);
  mod.backward!(b.params, b.inputs, b.arena, b.grads, n);
  return { loss: b.arena[mod.layout.lossOffset!]!, grads: Float64Array.from(b.grads) };
}
const build = async (file: string) => importModule((await compile(await loadSpec(file), { precision: "f64" })).js);

describe("m.define: a named function, differentiated automatically", () => {
  it("computes what the inline expression computes, gradient included, and is named in the generated code", async () => {
    const inline = await build(specFile("inline", net("", "m.mul(a, m.sigmoid(a))")));
    const model = await spec("defined", net(SWISH, "swish(a)"));
    const c = await compile(model, { precision: "f64", command: "test" });
    const defined = await importModule(c.js);
    for (const n of [5, 3]) expect(await gradsOf(defined, n)).toEqual(await gradsOf(inline, n));
    expect(c.ts).toMatch(/\/\/ swish = mul\(/);
    expect([...model.names.values()]).toContain("swish");
  });

  it("a name the spec gives the value wins over the function's", async () => {
    const model = await spec("defnamed", net(SWISH, 'swish(a).as("h")'));
    const names = [...model.names.values()];
    expect(names).toContain("h");
    expect(names).not.toContain("swish");
  });
});

describe("m.custom: a box with the spec's own derivative rule", () => {
  it("with a right rule: gradc check passes, and the gradient equals the automatic one at full and partial batches", async () => {
    const file = specFile("boxright", net(swishBox(RIGHT), "swish(a)"));
    const r = await checkModel(await loadSpec(file));
    expect(r.ok, formatReport("boxright", r)).toBe(true);
    // the box's rule is verified on its own too, and the report says so
    expect(r.boxes).toEqual([expect.objectContaining({ name: "swish", line: 5, ok: true })]);
    expect(r.boxes![0]!.checked).toBe(2 * 20); // [5,4] at two points
    expect(r.boxes![0]!.maxAbs).toBeLessThan(1e-8);
    expect(formatReport("boxright", r)).toMatch(/custom op 'swish' \(spec line 5\): its vjp vs central differences of its forward, 40 element\(s\), max abs err \S+  ok/);
    const auto = await build(specFile("boxauto", net(SWISH, "swish(a)")));
    const box = await build(file);
    for (const n of [5, 2]) {
      const [p, q] = [await gradsOf(box, n), await gradsOf(auto, n)];
      expect(p.loss).toBe(q.loss);
      p.grads.forEach((g, i) => expect(Math.abs(g - q.grads[i]!)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(q.grads[i]!))));
    }
  });

  it("the generated backward computes the written rule, not the forward's derivative (a deliberately wrong rule changes it)", async () => {
    const right = await gradsOf(await build(specFile("r2", net(swishBox(RIGHT), "swish(a)"))));
    const wrong = await gradsOf(await build(specFile("w2", net(swishBox(WRONG), "swish(a)"))));
    expect(wrong.loss).toBe(right.loss); // the same forward
    expect(Math.max(...wrong.grads.map((g, i) => Math.abs(g - right.grads[i]!)))).toBeGreaterThan(1e-3);
  });

  it("with a wrong rule: gradc check fails and names the custom op and its spec line", async () => {
    const r = await checkModel(await spec("boxwrong", net(swishBox(WRONG), "swish(a)")));
    expect(r.ok).toBe(false);
    expect(r.params.find((p) => p.name === "W")!.ok).toBe(false);
    expect(r.params.find((p) => p.name === "V")!.ok).toBe(true); // V's gradient does not pass through the box
    expect(r.culprit?.op).toBe("custom");
    expect(r.culprit?.custom?.name).toBe("swish");
    expect(r.culprit?.custom?.line).toBe(5);
    const text = formatReport("boxwrong", r);
    expect(text).toContain("the vjp of custom op 'swish' (m.custom at spec line 5; input 0) disagrees with central differences of its forward");
    expect(text).toContain("FAILED");
    expect(r.boxes).toEqual([expect.objectContaining({ name: "swish", ok: false, badInput: 0 })]);
    expect(text).toMatch(/custom op 'swish' \(spec line 5\): its vjp vs central differences of its forward, 40 element\(s\), max abs err \S+  MISMATCH \(input 0\)/);
  });

  it("`gradc check` on the command line exits 1 naming the box", () => {
    const file = specFile("boxcli", net(swishBox(WRONG), "swish(a)"));
    const r = spawnSync(process.execPath, ["bin/gradc.js", "check", file], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("custom op 'swish'");
  }, 60_000);

  it("a box of two inputs: a wrong adjoint for the second input only is found and named (input 1)", async () => {
    // scaled(x, k) = x * k (k broadcast over the rows); d/dk = column sums of g * x
    const body = (dk: string) =>
      net(
        `const scaled = m.custom("scaled", { forward: (x, k) => m.mul(x, k), vjp: (g, [x, k]) => [m.mul(g, k), ${dk}] });`,
        "m.tanh(scaled(a, c))",
      );
    const ok = await checkModel(await spec("two", body("m.reshape(m.sum(m.mul(g, x), [0]), [1, 4])")));
    expect(ok.ok, formatReport("two", ok)).toBe(true);
    const bad = await checkModel(await spec("twobad", body("m.reshape(m.sum(g, [0]), [1, 4])")));
    expect(bad.ok).toBe(false);
    expect(bad.culprit?.custom?.name).toBe("scaled");
    expect(bad.culprit?.input).toBe(2); // the node's inputs are (forward, x, k)
    expect(formatReport("twobad", bad)).toContain("custom op 'scaled' (m.custom at spec line 5; input 1)");
  });

  it("in loop and wasm builds (a layer too big to unroll) the box computes the same as the automatic one", async () => {
    const big = (boxes: string, hidden: string) => `
  m.batch(32);
  ${boxes}
  const x = m.input("x", ["batch", 64]);
  const t = m.input("t", ["batch", 8]);
  const W = m.param("W", [64, 96]);
  const V = m.param("V", [96, 8]);
  const a = x.matmul(W);
  const h = ${hidden};
  m.loss(m.mean(m.squaredError(h.matmul(V), t)));`;
    const opts = { precision: "f32", backend: "wasm", command: "test" } as const;
    const c = await compile(await spec("bigbox", big(swishBox(RIGHT), "swish(a)")), opts);
    expect(c.lowered.layout.memory).toBeDefined(); // wasm kernels
    const box = await importModule(c.js);
    const auto = await importModule((await compile(await spec("bigauto", big(SWISH, "swish(a)")), opts)).js);
    const [p, q] = [await gradsOf(box, 20), await gradsOf(auto, 20)];
    expect(Math.abs(p.loss - q.loss)).toBeLessThanOrEqual(1e-6 * Math.abs(q.loss));
    const scale = Math.max(...q.grads.map(Math.abs));
    p.grads.forEach((g, i) => expect(Math.abs(g - q.grads[i]!)).toBeLessThanOrEqual(1e-5 * scale));
  }, 60_000);

  it("Hessian-vector products through a box use its rule twice (equal to the automatic box's)", async () => {
    const hv = async (file: string) => {
      const mod = await importModule((await compile(hvpModel(await loadSpec(file)), { precision: "f64" })).js);
      return gradsOf(mod);
    };
    const p = await hv(specFile("hvbox", net(swishBox(RIGHT), "swish(a)")));
    const q = await hv(specFile("hvauto", net(SWISH, "swish(a)")));
    p.grads.forEach((g, i) => expect(Math.abs(g - q.grads[i]!)).toBeLessThanOrEqual(1e-10 * (1 + Math.abs(q.grads[i]!))));
  });

  it("the rule is the spec's own: two specs with a box of the same name keep their own rules", async () => {
    const [a, b] = [await spec("mine", net(swishBox(RIGHT), "swish(a)")), await spec("theirs", net(swishBox(WRONG), "swish(a)"))];
    expect((await checkModel(a)).ok).toBe(true);
    expect((await checkModel(b)).ok).toBe(false);
    expect((await checkModel(a)).ok).toBe(true); // checking the wrong one changed nothing for the first
  });

  it("the generated comments (forward and backward) and the graph's rule boxes name the box", async () => {
    const model = await spec("boxcomments", net(swishBox(RIGHT), "swish(a)"));
    const c = await compile(model, { command: "test" });
    expect(c.ts).toMatch(/⟵ ∂ swish swish/);
    expect(c.ts).toMatch(/\/\/ swish = mul\([\w, ]+\)  \(custom op swish\)\n/); // the forward's heading too
    expect(modelGraph(model, { backward: true }).dot).toContain("label=<∂ swish swish>");
  });
});

describe("m.define / m.custom: bad definitions fail at the spec line", () => {
  const fails = async (body: string, code: string, msg: RegExp) => {
    const e = await spec(`bad${Math.abs(hash(body))}`, body).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(GradcError);
    expect((e as GradcError).code).toBe(code);
    expect((e as GradcError).message).toMatch(msg);
    return e as GradcError;
  };
  const hash = (s: string) => [...s].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) | 0, 7);
  const p = `const w = m.param("w", [3]);`;

  it("an adjoint of the wrong shape: E_SHAPE naming the box, the input and both shapes", async () => {
    const e = await fails(`${p}\n  const f = m.custom("f", { forward: (x) => m.exp(x), vjp: (g) => [m.sum(g)] });\n  m.loss(m.sum(f(w)));`, "E_SHAPE", /custom op 'f': vjp's adjoint of input 0 has shape \[\], the input \[3\]/);
    expect(e.info.line).toBe(5);
  });
  it("a vjp returning the wrong number of adjoints: E_ARITY", async () => {
    await fails(`${p}\n  const f = m.custom("f", { forward: (x) => m.exp(x), vjp: (g) => [g, g] });\n  m.loss(m.sum(f(w)));`, "E_ARITY", /vjp returned 2 adjoint\(s\) for 1 input/);
  });
  it("a forward that reads a param it was not given (its gradient would be lost): E_ARG naming it", async () => {
    await fails(`${p}\n  const v = m.param("v", [3]);\n  const f = m.custom("f", { forward: (x) => m.mul(x, v), vjp: (g) => [m.mul(g, v)] });\n  m.loss(m.sum(f(w)));`, "E_ARG", /forward reads param 'v', which is not one of its inputs/);
  });
  it("a forward may read data inputs it was not given (they need no gradient), but not a value computed from a param", async () => {
    const ok = await spec("readsdata", `${p}\n  const d = m.input("d", [3]);\n  const f = m.custom("f", { forward: (x) => m.mul(x, d), vjp: (g) => [m.mul(g, d)] });\n  m.loss(m.sum(f(w)));`);
    expect((await checkModel(ok)).ok).toBe(true);
    await fails(`${p}\n  const v = m.param("v", [3]);\n  const s = m.sigmoid(v);\n  const f = m.custom("f", { forward: (x) => m.mul(x, s), vjp: (g) => [m.mul(g, s)] });\n  m.loss(m.sum(f(w)));`, "E_ARG", /forward reads param 'v'/);
  });
  it("names are checked like every spec name (no code reaches the output through them)", async () => {
    await fails(`${p}\n  const f = m.custom("x*/alert(1)/*", { forward: (x) => x, vjp: (g) => [g] });\n  m.loss(m.sum(f(w)));`, "E_BAD_NAME", /custom op name/);
    await fails(`${p}\n  const f = m.define("constructor", (x) => x);\n  m.loss(m.sum(f(w)));`, "E_BAD_NAME", /function name/);
    await fails(`${p}\n  m.define("w", (x) => x);\n  m.loss(m.sum(w));`, "E_DUP_NAME", /'w' is already used/);
  });
  it("a g kept from a vjp and used in the loss: E_ARG", async () => {
    await fails(`${p}\n  let kept: any;\n  const f = m.custom("f", { forward: (x) => m.exp(x), vjp: (g, _, y) => { kept = g; return [m.mul(g, y)]; } });\n  const y = f(w);\n  m.loss(m.sum(m.add(y, kept)));`, "E_ARG", /reads the g of custom op 'f'/);
  });
  it("m.op cannot build a box", async () => {
    const e = await fails(`${p}\n  m.loss(m.sum(m.op("custom", w)));`, "E_BAD_ATTR", /m.op\("custom"\)/);
    expect(e.info.hint).toContain("m.custom(name, { forward, vjp })");
  });
  it("a param reached only through a box input whose adjoint is null is unused (E_UNUSED)", async () => {
    await fails(`${p}\n  const k = m.param("k", [3]);\n  const f = m.custom("f", { forward: (x, y) => m.mul(x, y), vjp: (g, [, y]) => [m.mul(g, y), null] });\n  m.loss(m.sum(f(w, k)));`, "E_UNUSED", /param 'k' is unused/);
  });
});
