// `gradc check` passes on every example, and fails — naming the op — when a
// derivative rule is wrong.
import { describe, expect, it } from "vitest";
import { checkModel, formatReport } from "../compiler/check.ts";
import { exampleSpecs } from "../compiler/cli/compile.ts";
import { loadSpec } from "../compiler/frontend/load.ts";
import { OPS } from "../compiler/ir/ops.ts";
import type { Rules } from "../compiler/autodiff/reverse.ts";

describe("gradc check", () => {
  for (const spec of exampleSpecs())
    it(`passes on ${spec}`, async () => {
      // Big models: a sample of each large param (central differences of the interpreter cost a full forward each).
      const r = await checkModel(await loadSpec(spec), { points: 2, maxPerParam: 12 });
      expect(r.ok, formatReport(spec, r)).toBe(true);
    }, 180_000); // lenet's float64 forwards: 73-88 s at load 10, over vitest's 60 s

  // d sigma/dx = s(1 - s); this rule forgets the (1 - s).
  const wrongSigmoid: Rules = { ...OPS, sigmoid: { vjp: (g, _x, s, b) => [b.mul(g, s)] } };
  // d tanh/dx = 1 - t^2; this one has the wrong sign.
  const wrongTanh: Rules = { ...OPS, tanh: { vjp: (g, _x, t, b) => [b.mul(g, b.sub(b.sq(t), 1))] } };

  it("fails on a wrong sigmoid rule and names it", async () => {
    const r = await checkModel(await loadSpec("examples/xor/model.ts"), { rules: wrongSigmoid });
    expect(r.ok).toBe(false);
    expect(r.params.find((p) => p.name === "W1")!.ok).toBe(false);
    expect(r.params.find((p) => p.name === "W2")!.ok).toBe(true); // W2's gradient does not pass through sigmoid'
    expect(r.culprit?.op).toBe("sigmoid");
    expect(r.culprit?.node).toBe("h");
    const text = formatReport("xor", r);
    expect(text).toContain("MISMATCH");
    expect(text).toContain("the derivative rule of op 'sigmoid' (node h, input 0)");
  });

  it("a wrong rule for an op the model does not use changes nothing", async () => {
    const r = await checkModel(await loadSpec("examples/xor/model.ts"), { rules: wrongTanh });
    expect(r.ok).toBe(true);
  });
});

describe("gradc check: edges, non-finite values, ties", () => {
  const specOf = async (body: string, name: string) => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const path = await import("node:path");
    const dir = mkdtempSync(path.join(tmpdir(), "gradc-check-"));
    const file = path.join(dir, `${name}.ts`);
    writeFileSync(file, `import type { ModelBuilder } from ${JSON.stringify(path.resolve("compiler/frontend/dsl.ts"))};\nexport default (m: ModelBuilder) => {\n${body}\n};\n`);
    return loadSpec(file);
  };
  // d log/dx = 1/x; this rule is off by half.
  const wrongLog: Rules = { ...OPS, log: { vjp: (g, [x], _o, b) => [b.div(g, b.mul(x!, 2))] } };

  it("log(w) at w = 1e-6: steps stay inside the domain; a right rule passes, a wrong one fails (it said ok)", async () => {
    const model = await specOf(`  const w = m.param("w", [2], { init: { value: [1e-6, 5e-7] } });\n  m.loss(m.sum(m.log(w)));`, "logedge");
    const r = await checkModel(model);
    expect(r.ok, formatReport("logedge", r)).toBe(true);
    expect(r.params[0]!.edges).toBeGreaterThan(0);
    const bad = await checkModel(model, { rules: wrongLog });
    expect(bad.ok).toBe(false);
    expect(bad.params[0]!.maxAbs).toBeGreaterThan(1e5);
    expect(Number.isFinite(bad.params[0]!.maxAbs)).toBe(true);
    expect(formatReport("logedge", bad)).not.toContain("ok: every gradient matches");
  });

  it("sqrt at 5e-7 and acosh at 1.0000005: a right rule is not blamed", async () => {
    const r = await checkModel(
      await specOf(
        `  const w = m.param("w", [1], { init: { value: [5e-7] } });\n  const v = m.param("v", [1], { init: { value: [1.0000005] } });\n  m.loss(m.sum(m.sqrt(w)).add(m.sum(m.acosh(v))));`,
        "edges",
      ),
    );
    // (The float32 build drifts at acosh(1.0000005) — float32 has no such number — and says so; the rules pass.)
    expect(r.params.every((p) => p.ok), formatReport("edges", r)).toBe(true);
    expect(r.params.map((p) => p.edges)).toEqual([2, 2]);
  });

  it("1/w at w = 2e-5 (near its pole): the central difference's own error (2.5e-3) passes rtol, Richardson's extrapolation does not blame a right rule; a rule 1% off still fails", async () => {
    const model = await specOf(`  const w = m.param("w", [2], { init: { value: [2e-5, 0.5] } });\n  m.loss(m.sum(m.div(1, w)));`, "pole");
    const r = await checkModel(model, { points: 1 });
    expect(r.ok, formatReport("pole", r)).toBe(true);
    expect(r.params[0]!.extrapolated).toBe(1); // w = 0.5 needs none
    expect(formatReport("pole", r)).toContain("(1 near a pole: extrapolated)");
    const off: Rules = { ...OPS, div: { vjp: (g, [x, y], out, b) => OPS.div.vjp!(b.mul(g, 1.01), [x!, y!], out, b) } };
    const bad = await checkModel(model, { points: 1, rules: off });
    expect(bad.ok).toBe(false);
    expect(bad.culprit?.op).toBe("div");
  });

  it("never ok when a derivative is not finite: sqrt at exactly 0", async () => {
    const r = await checkModel(await specOf(`  const w = m.param("w", [1], { init: { value: [0] } });\n  m.loss(m.sum(m.sqrt(w)));`, "sqrt0"));
    expect(r.ok).toBe(false);
    expect(r.params[0]!.nonFinite).toBeGreaterThan(0);
    expect(formatReport("sqrt0", r)).toContain("NOT FINITE");
  });

  it("a NaN forward is reported as one, naming the node that first produced it — not a derivative rule", async () => {
    const r = await checkModel(
      await specOf(
        `  const x = m.input("x", [3], { range: [-2, -1] });\n  const w = m.param("w", [3], { init: { value: [0.5, 1.5, 2.5] } });\n  const p = m.pow(x, w).as("powered");\n  m.loss(m.sum(p));`,
        "nanfwd",
      ),
    );
    expect(r.ok).toBe(false);
    expect(r.culprit).toBeUndefined();
    expect(r.forward).toMatchObject({ node: "powered", op: "pow", line: 5, leaf: false });
    expect(Number.isNaN(r.forward!.value)).toBe(true);
    const text = formatReport("nanfwd", r);
    expect(text).toContain("forward is NaN at point 1: node 'powered' (op pow, spec line 5) is the first to give NaN");
    expect(text).not.toContain("the derivative rule of op");
  });

  it("ties of max/min: sampled at a zeros init, and the even split agrees with central differences", async () => {
    const model = await specOf(
      `  const a = m.param("a", [2], { init: "zeros" });\n  const b = m.param("b", [2], { init: "zeros" });\n  m.loss(m.sum(m.max(a, b).add(m.min(a, b))).add(m.sum(m.max(a, b))));`,
      "ties",
    );
    const r = await checkModel(model, { points: 1 });
    expect(r.ok, formatReport("ties", r)).toBe(true);
    expect(r.params.every((p) => p.kinks === 0)).toBe(true); // a tie is not treated as a kink: the central difference matches
    // The old convention (all of g to the first input) is blamed at the tie.
    const firstInput: Rules = {
      ...OPS,
      max: { vjp: (g, [x, y], _o, b) => [b.where(b.op("ge", x!, y!), g, 0), b.where(b.op("ge", x!, y!), 0, g)] },
      min: { vjp: (g, [x, y], _o, b) => [b.where(b.op("ge", y!, x!), g, 0), b.where(b.op("ge", y!, x!), 0, g)] },
    };
    const bad = await checkModel(model, { points: 1, rules: firstInput });
    expect(bad.ok).toBe(false);
    expect(["max", "min"]).toContain(bad.culprit?.op);
  });
});
