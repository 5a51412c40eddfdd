// hvpModel: a compiled model whose backward is H v. Checked against central
// differences of the compiled gradient along v, for symmetry (uᵀHv = vᵀHu),
// and against the closed-form Hessian of logistic regression, Xᵀ diag(p(1−p)) X / n.
import { describe, expect, it } from "vitest";
import { hvpModel } from "../../compiler/autodiff/hvp.ts";
import { importModule, type GeneratedModule } from "../../compiler/emit/load.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { compile } from "../../compiler/index.ts";
import { Rng } from "../../runtime/index.ts";

type M = GeneratedModule;
const load = async (spec: string) => {
  const model = await loadSpec(spec);
  const grad = (await importModule((await compile(model, { precision: "f64" })).js));
  const hv = (await importModule((await compile(hvpModel(await loadSpec(spec)), { precision: "f64" })).js));
  return { grad, hv };
};

/** H v from the hvp module: the model's inputs copied by name, v into the v_* inputs. */
function hvp(hv: M, grad: M, params: Float64Array, inputs: Float64Array, v: Float64Array): Float64Array {
  const b = hv.buffers();
  b.params.set(params);
  for (const s of grad.layout.inputs) {
    const t = hv.layout.inputs.find((q) => q.name === s.name)!;
    b.inputs.set(inputs.subarray(s.offset, s.offset + s.size), t.offset);
  }
  for (const p of grad.layout.params) {
    const t = hv.layout.inputs.find((q) => q.name === `v_${p.name}`)!;
    b.inputs.set(v.subarray(p.offset, p.offset + p.size), t.offset);
  }
  hv.forward(b.params, b.inputs, b.arena);
  hv.backward!(b.params, b.inputs, b.arena, b.grads);
  return Float64Array.from(b.grads);
}

function gradient(grad: M, params: Float64Array, inputs: Float64Array): Float64Array {
  const b = grad.buffers();
  b.params.set(params);
  b.inputs.set(inputs);
  grad.forward(b.params, b.inputs, b.arena);
  grad.backward!(b.params, b.inputs, b.arena, b.grads);
  return Float64Array.from(b.grads);
}

describe("hvpModel", () => {
  it.each(["examples/lecture/model.ts", "examples/two-hidden/model.ts", "examples/iris/model.ts", "examples/logreg/model.ts"])(
    "%s: H v matches central differences of the gradient, and uᵀHv = vᵀHu",
    async (spec) => {
      const { grad, hv } = await load(spec);
      const rng = new Rng(11);
      const P = grad.layout.paramSize;
      const params = Float64Array.from({ length: P }, () => rng.uniform(-1, 1));
      const inputs = Float64Array.from({ length: grad.layout.inputSize }, () => rng.uniform(0, 1));
      const v = Float64Array.from({ length: P }, () => rng.uniform(-1, 1));
      const u = Float64Array.from({ length: P }, () => rng.uniform(-1, 1));
      const Hv = hvp(hv, grad, params, inputs, v);
      const eps = 1e-5;
      const plus = gradient(grad, params.map((p, i) => p + eps * v[i]!), inputs);
      const minus = gradient(grad, params.map((p, i) => p - eps * v[i]!), inputs);
      for (let i = 0; i < P; i++) {
        const numeric = (plus[i]! - minus[i]!) / (2 * eps);
        expect(Math.abs(Hv[i]! - numeric), `(H v)[${i}]: ${Hv[i]} vs ${numeric}`).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(numeric));
      }
      const Hu = hvp(hv, grad, params, inputs, u);
      const uHv = u.reduce((s, x, i) => s + x * Hv[i]!, 0);
      const vHu = v.reduce((s, x, i) => s + x * Hu[i]!, 0);
      expect(Math.abs(uHv - vHu)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(uHv)));
    },
  );

  it("gives logistic regression's Hessian Xᵀ diag(p(1 − p)) X / n exactly (to rounding)", async () => {
    const { grad, hv } = await load("examples/logreg/model.ts");
    const rng = new Rng(3);
    const at = (name: string) => grad.layout.inputs.find((s) => s.name === name)!.offset;
    const params = Float64Array.from({ length: 4 }, () => rng.uniform(-1, 1)); // w0 w1 w2 b
    const inputs = Float64Array.from({ length: grad.layout.inputSize }, () => rng.uniform(-1, 1));
    for (let i = 0; i < 8; i++) inputs[at("t") + i] = rng.int(2);
    const row = (i: number) => [inputs[at("x") + 3 * i]!, inputs[at("x") + 3 * i + 1]!, inputs[at("x") + 3 * i + 2]!, 1];
    for (let j = 0; j < 4; j++) {
      const e = new Float64Array(4);
      e[j] = 1;
      const col = hvp(hv, grad, params, inputs, e);
      for (let k = 0; k < 4; k++) {
        let h = 0;
        for (let i = 0; i < 8; i++) {
          const r = row(i);
          const p = 1 / (1 + Math.exp(-(r[0]! * params[0]! + r[1]! * params[1]! + r[2]! * params[2]! + params[3]!)));
          h += (p * (1 - p) * r[j]! * r[k]!) / 8;
        }
        expect(col[k]).toBeCloseTo(h, 14);
      }
    }
  });

  it("names each direction after its param, and refuses a model without a loss", async () => {
    const m = hvpModel(await loadSpec("examples/lecture/model.ts"));
    expect(m.directions).toEqual([
      { param: "Wh", input: "v_Wh" },
      { param: "bh", input: "v_bh" },
      { param: "Wo", input: "v_Wo" },
      { param: "bo", input: "v_bo" },
    ]);
    expect(() => hvpModel({ ...m, loss: undefined })).toThrow(/needs a loss/);
  });
});
