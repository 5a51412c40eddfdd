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
    });

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
