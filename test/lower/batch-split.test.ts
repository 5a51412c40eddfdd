// layout.split (compiler/lower/batch-split.ts): which losses combine exactly from chunks of the batch, so that
// createTrainer({ threads }) may split a step's rows. A wrong "yes" would train on a different gradient; each
// fixture names why its answer is what it is, and the numeric check below confirms the "yes" answers.
import { describe, expect, it } from "vitest";
import { importModule } from "../../compiler/emit/load.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { compile } from "../../compiler/index.ts";

const split = async (file: string) => {
  const c = await compile(await loadSpec(file));
  return { layout: c.lowered.layout, mod: await importModule(c.js) };
};

describe("layout.split", () => {
  it.each([
    ["mean", "mean"],
    ["sum", "sum"],
    ["penalty", "mean"],
    ["sum-penalty", undefined],
    ["squared-mean", undefined],
    ["batch-stat", undefined],
    ["gram", undefined],
    ["conv", "mean"],
  ])("%s → %s", async (name, want) => {
    const { layout } = await split(`test/fixtures/split/${name}.ts`);
    expect(layout.split).toBe(want);
  });

  it("the examples: every batched example splits as a mean; unbatched ones have no split", async () => {
    for (const [ex, want] of [
      ["mnist", "mean"],
      ["deep", "mean"],
      ["iris", "mean"],
      ["xor", undefined],
    ] as const)
      expect((await split(`examples/${ex}/model.ts`)).layout.split, ex).toBe(
        want,
      );
    expect(
      (await split("test/runtime/dropout-mlp.model.ts")).layout.split,
    ).toBe("mean"); // the trainer refuses its dropout instead
  });

  // The claim itself, in float64: loss and gradient over n rows equal the chunks' combined with weights nᵢ/n or 1.
  it.each(["mean", "sum", "penalty", "conv"])(
    "%s: the chunks' losses and gradients combine into the batch's",
    async (name) => {
      const c = await compile(
        await loadSpec(`test/fixtures/split/${name}.ts`),
        { precision: "f64" },
      );
      const mod = await importModule(c.js);
      const L = c.lowered.layout;
      const b = mod.buffers();
      for (let i = 0; i < L.paramSize; i++) b.params[i] = Math.sin(i + 1);
      const rows = 7;
      const x = Float64Array.from({ length: rows * 3 }, (_, i) =>
        Math.cos(i * 0.7),
      );
      const t = Float64Array.from({ length: rows }, (_, i) =>
        Math.sin(i * 1.3),
      );
      const run = (from: number, n: number) => {
        b.inputs.fill(0);
        b.inputs.set(x.subarray(from * 3, (from + n) * 3), 0);
        b.inputs.set(t.subarray(from, from + n), 8 * 3);
        mod.forward(b.params, b.inputs, b.arena, n);
        mod.backward!(b.params, b.inputs, b.arena, b.grads, n);
        return {
          loss: b.arena[L.lossOffset!]!,
          grads: Float64Array.from(b.grads),
        };
      };
      const full = run(0, rows);
      const chunks = [run(0, 4), run(4, 3)];
      const w = (n: number) => (L.split === "mean" ? n / rows : 1);
      expect(w(4) * chunks[0]!.loss + w(3) * chunks[1]!.loss).toBeCloseTo(
        full.loss,
        12,
      );
      for (let i = 0; i < L.paramSize; i++)
        expect(
          w(4) * chunks[0]!.grads[i]! + w(3) * chunks[1]!.grads[i]!,
        ).toBeCloseTo(full.grads[i]!, 12);
    },
  );
});
