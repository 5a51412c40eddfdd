// A step on n < B rows counts only the first n: mean/sum over the batch axis mask the padding rows
// and divide by n, for every loss the builder makes — the fused row-wise softmaxCE included (a
// merge once lost its mask: the loss summed the padding rows and divided by B). Checked in float64
// against the loss written out by hand over the first n rows, with garbage in the padding rows,
// and the gradient against central differences of that same n-row forward.
import { describe, expect, it } from "vitest";
import { importModule } from "../../compiler/emit/load.ts";
import { builder, type ModelBuilder } from "../../compiler/frontend/dsl.ts";
import { compile } from "../../compiler/index.ts";
import { Rng } from "../../runtime/index.ts";

const B = 5;
const build = (loss: (m: ModelBuilder, y: ReturnType<ModelBuilder["input"]>, logits: ReturnType<ModelBuilder["input"]>) => ReturnType<ModelBuilder["input"]>) => {
  const m = builder("masked", "masked.ts");
  m.batch(B);
  const x = m.input("x", ["batch", 3]);
  const y = m.input("y", ["batch", 4], { range: [0, 1] });
  const W = m.param("W", [3, 4]);
  m.loss(loss(m, y, x.matmul(W)));
  return m.finish();
};

const softmax = (r: number[]) => {
  const mx = Math.max(...r);
  const e = r.map((v) => Math.exp(v - mx));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

const CASES = [
  {
    name: "mean(softmaxCrossEntropy)",
    loss: (m: ModelBuilder, y: any, l: any) => m.mean(m.softmaxCrossEntropy(l, y)),
    row: (l: number[], y: number[]) => -softmax(l).reduce((s, p, j) => s + y[j]! * Math.log(p), 0),
    mean: true,
  },
  {
    name: "sum(softmaxCrossEntropy)",
    loss: (m: ModelBuilder, y: any, l: any) => m.sum(m.softmaxCrossEntropy(l, y)),
    row: (l: number[], y: number[]) => -softmax(l).reduce((s, p, j) => s + y[j]! * Math.log(p), 0),
    mean: false,
  },
  {
    name: "mean(logsumexp)",
    loss: (m: ModelBuilder, _y: any, l: any) => m.mean(m.logsumexp(l)),
    row: (l: number[]) => Math.log(l.reduce((s, v) => s + Math.exp(v), 0)),
    mean: true,
  },
  {
    name: "mean(bceWithLogits)",
    loss: (m: ModelBuilder, y: any, l: any) => m.mean(m.bceWithLogits(l, y)),
    row: (l: number[], y: number[]) => l.reduce((s, v, j) => s + Math.max(v, 0) - v * y[j]! + Math.log1p(Math.exp(-Math.abs(v))), 0) / 4,
    mean: true,
  },
];

describe("partial batches count only their n rows", () => {
  it.each(CASES)("$name", async ({ loss, row, mean }) => {
    const mod = await importModule((await compile(build(loss), { precision: "f64" })).js);
    const { layout } = mod;
    const at = (name: string) => [...layout.params, ...layout.inputs].find((s) => s.name === name)!.offset;
    const rng = new Rng(9);
    const buf = mod.buffers();
    for (let i = 0; i < layout.paramSize; i++) buf.params[i] = rng.uniform(-1, 1);
    for (const n of [1, 3, B]) {
      for (let r = 0; r < B; r++) {
        const pad = r >= n;
        for (let k = 0; k < 3; k++) buf.inputs[at("x") + 3 * r + k] = pad ? rng.uniform(-50, 50) : rng.uniform(-1, 1); // garbage in the padding
        const t = softmax([0, 1, 2, 3].map(() => rng.uniform(-1, 1)));
        for (let j = 0; j < 4; j++) buf.inputs[at("y") + 4 * r + j] = pad ? 7 : t[j]!;
      }
      const lossAt = (): number => {
        mod.forward(buf.params, buf.inputs, buf.arena, n);
        return buf.arena[layout.lossOffset!]!;
      };
      let want = 0;
      for (let r = 0; r < n; r++) {
        const x = [0, 1, 2].map((k) => buf.inputs[at("x") + 3 * r + k]!);
        const l = [0, 1, 2, 3].map((j) => x.reduce((s, v, k) => s + v * buf.params[at("W") + 4 * k + j]!, 0));
        want += row(l, [0, 1, 2, 3].map((j) => buf.inputs[at("y") + 4 * r + j]!));
      }
      if (mean) want /= n;
      expect(Math.abs(lossAt() - want), `loss at n = ${n}`).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(want)));
      lossAt();
      mod.backward!(buf.params, buf.inputs, buf.arena, buf.grads, n);
      const g = Float64Array.from(buf.grads);
      for (let i = 0; i < layout.paramSize; i++) {
        const p = buf.params[i]!;
        buf.params[i] = p + 1e-6;
        const up = lossAt();
        buf.params[i] = p - 1e-6;
        const down = lossAt();
        buf.params[i] = p;
        const numeric = (up - down) / 2e-6;
        expect(Math.abs(g[i]! - numeric), `d/dW[${i}] at n = ${n}`).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(numeric));
      }
    }
  });
});
