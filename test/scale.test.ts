/**
 * Deep graphs compile: every pass walks the graph iteratively, so a chain of
 * 12,000 ops (a spec through the DSL builder) and a formula summing 5,001
 * terms (a left-nested tree that deep) compile, run, and give the right
 * numbers. (`npm run bench:compile` compiles 100,000-op chains and times them.)
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { chainSpec } from "../bench/lib/chains.ts";
import { importModule } from "../compiler/emit/load.ts";
import { parseFormula } from "../compiler/frontend/formula.ts";
import { loadSpec } from "../compiler/frontend/load.ts";
import { compile } from "../compiler/index.ts";
import { evaluate } from "../compiler/ir/interp.ts";

const dir = mkdtempSync(path.join(tmpdir(), "gradc-scale-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("deep graphs", () => {
  it("a chain of 12,000 tanh (the builder recursed below 5,000): compiles, and forward and backward match the chain rule in float64", async () => {
    const N = 12_000;
    const spec = path.join(dir, "chain.ts");
    writeFileSync(spec, chainSpec("tanh", N));
    const model = await loadSpec(spec);
    const c = await compile(model, { precision: "f64" });
    const m = await importModule(c.js);
    const { params, inputs, arena, grads } = m.buffers();
    const [x, w] = [0.7, 0.5];
    inputs[0] = x;
    params[0] = w;
    m.forward(params, inputs, arena);
    m.backward!(params, inputs, arena, grads);
    // y = tanh^N(x w); dy/dw = x Π (1 - h_i^2)
    let h = x * w;
    let d = x;
    for (let i = 0; i < N; i++) {
      h = Math.tanh(h);
      d *= 1 - h * h;
    }
    expect(arena[m.layout.lossOffset!]).toBeCloseTo(h, 14);
    expect(grads[0]! / d).toBeCloseTo(1, 10);
    // The reference interpreter (what `gradc check` differentiates) walks it too.
    const vals = evaluate([c.program.loss!], { x: Float64Array.of(x), w: Float64Array.of(w) });
    expect(vals.get(c.program.loss!.id)![0]).toBeCloseTo(h, 14);
  }, 60_000);

  it("a chain of 6,000 tanh on a [4, 8] tensor: one fused loop kernel, lowered without recursion", async () => {
    const N = 6000;
    const spec = path.join(dir, "wide.ts");
    writeFileSync(
      spec,
      `export default (m: any) => { const x = m.input("x", [4, 8]); const w = m.param("w", [4, 8]); let h = x.mul(w); for (let i = 0; i < ${N}; i++) h = m.tanh(h); m.loss(m.sum(h)); };`,
    );
    const c = await compile(await loadSpec(spec), { precision: "f64" });
    const m = await importModule(c.js);
    const { params, inputs, arena, grads } = m.buffers();
    for (let i = 0; i < 32; i++) [inputs[i], params[i]] = [0.1 + i / 40, 0.9 - i / 50];
    m.forward(params, inputs, arena);
    m.backward!(params, inputs, arena, grads);
    let loss = 0;
    for (const i of [0, 17, 31]) {
      let [h, d] = [inputs[i]! * params[i]!, inputs[i]!];
      for (let k = 0; k < N; k++) {
        h = Math.tanh(h);
        d *= 1 - h * h;
      }
      expect(grads[i]! / d).toBeCloseTo(1, 10);
    }
    for (let i = 0; i < 32; i++) {
      let h = inputs[i]! * params[i]!;
      for (let k = 0; k < N; k++) h = Math.tanh(h);
      loss += h;
    }
    expect(arena[m.layout.lossOffset!]! / loss).toBeCloseTo(1, 12);
  }, 60_000);

  it("a formula summing 5,001 terms: parses, compiles, and its value and derivative are right", async () => {
    const K = 5001;
    const src = Array.from({ length: K }, (_, i) => `${(i % 5) + 1}*sin(x)`).join(" + ");
    const model = parseFormula(src, { wrt: ["x"] });
    const c = await compile(model, { precision: "f64" });
    const m = await importModule(c.js);
    const { params, inputs, arena, grads } = m.buffers();
    params[0] = 0.5;
    m.forward(params, inputs, arena);
    m.backward!(params, inputs, arena, grads);
    let coef = 0;
    for (let i = 0; i < K; i++) coef += (i % 5) + 1;
    expect(arena[m.layout.lossOffset!]! / (coef * Math.sin(0.5))).toBeCloseTo(1, 12);
    expect(grads[0]! / (coef * Math.cos(0.5))).toBeCloseTo(1, 12);
  }, 60_000);
});
