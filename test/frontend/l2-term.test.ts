// m.l2(λ, ...weights): the lectures' Ω(θ) = λ Σ‖w‖² written in the spec. Its gradient is 2λw (not the trainer's
// λw for `l2: λ`, whose objective term is λ/2 ‖w‖²): m.l2(λ, W) in the spec trains as the trainer's l2: 2λ.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { importModule, type GeneratedModule } from "../../compiler/emit/load.ts";
import { GradcError } from "../../compiler/errors.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { compile } from "../../compiler/index.ts";
import { createTrainer, type Module, sgd } from "../../runtime/index.ts";

const dir = mkdtempSync(path.join(tmpdir(), "gradc-l2-"));
const DSL = JSON.stringify(path.resolve("compiler/frontend/dsl.ts"));
const file = (name: string, body: string) => {
  const f = path.join(dir, `${name}.ts`);
  writeFileSync(f, `import type { ModelBuilder } from ${DSL};\nexport default (m: ModelBuilder) => {\n${body}\n};\n`);
  return f;
};
const build = async (name: string, body: string): Promise<GeneratedModule> => importModule((await compile(await loadSpec(file(name, body)), { precision: "f64", command: "test" })).js);
const f64 = (m: GeneratedModule) => m as unknown as Module<Float64Array>;
const LINEAR = `  m.batch(4);
  const x = m.input("x", ["batch", 3]);
  const t = m.input("t", ["batch", 1]);
  const W = m.param("W", [3, 1]);
  const b = m.param("b", [1, 1]);
  const data = m.mean(m.squaredError(x.matmul(W).add(b), t));`;

describe("m.l2: λ‖w‖² in the spec", () => {
  it("is λ Σ‖w‖², with gradient 2λw", async () => {
    const mod = await build("only", `  const W = m.param("W", [2, 3]);\n  const V = m.param("V", [4]);\n  m.loss(m.l2(0.3, W, V));`);
    const b = mod.buffers();
    b.params.set(Array.from({ length: 10 }, (_, i) => Math.sin(i + 1)));
    mod.forward(b.params, b.inputs, b.arena);
    mod.backward!(b.params, b.inputs, b.arena, b.grads);
    const w = Array.from(b.params);
    expect(b.arena[mod.layout.lossOffset!]).toBeCloseTo(0.3 * w.reduce((s, v) => s + v * v, 0), 14);
    Array.from(b.grads).forEach((g, i) => expect(g).toBeCloseTo(2 * 0.3 * w[i]!, 14));
  });

  it("m.l2(λ, W) in the spec trains like the trainer's l2: 2λ (the trainer's l2 is λ/2 ‖w‖²)", async () => {
    const lambda = 0.05;
    const spec = await build("spec", `${LINEAR}\n  m.loss(m.add(data, m.l2(${lambda}, W)));`);
    const plain = await build("plain", `${LINEAR}\n  m.loss(data);`);
    const data = { x: Float64Array.from({ length: 36 }, (_, i) => Math.cos(i)), t: Float64Array.from({ length: 12 }, (_, i) => Math.sin(2 * i)) };
    const a = createTrainer(f64(spec), { optimizer: sgd({ lr: 0.1 }), seed: 3 });
    const c = createTrainer(f64(plain), { optimizer: sgd({ lr: 0.1 }), seed: 3, l2: 2 * lambda });
    a.fit(data, { epochs: 20, progress: false });
    c.fit(data, { epochs: 20, progress: false });
    Array.from(a.params).forEach((p, i) => expect(Math.abs(p - c.params[i]!)).toBeLessThan(1e-12));
    // and not like l2: λ
    const d = createTrainer(f64(plain), { optimizer: sgd({ lr: 0.1 }), seed: 3, l2: lambda });
    d.fit(data, { epochs: 20, progress: false });
    expect(Math.max(...Array.from(a.params, (p, i) => Math.abs(p - d.params[i]!)))).toBeGreaterThan(1e-4);
  });

  it("refuses a bad λ or no tensors at the spec line", async () => {
    for (const [body, re] of [
      [`  const W = m.param("W", [2]);\n  m.loss(m.l2(-1, W));`, /m.l2: λ -1 is not a finite number >= 0/],
      [`  const W = m.param("W", [2]);\n  m.loss(m.add(m.sum(W), m.l2(0.1)));`, /m.l2: no tensors to regularize/],
    ] as const) {
      const e = await loadSpec(file(`bad${body.length}`, body)).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(GradcError);
      expect((e as GradcError).message).toMatch(re);
      expect((e as GradcError).info.line).toBe(4);
    }
  });
});
