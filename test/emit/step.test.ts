// `step` (forward and backward fused, for fully unrolled models) computes
// what forward followed by backward does. Not bit for bit: forward+backward
// pass the saved forward values through the float32 arena, step keeps them
// in float64 locals — so the two agree to float32 rounding.
import { describe, expect, it } from "vitest";
import { exampleSpecs } from "../../compiler/cli/compile.ts";
import { importModule } from "../../compiler/emit/load.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { compile } from "../../compiler/index.ts";
import { rng } from "../helpers.ts";

describe("fused step", () => {
  for (const spec of exampleSpecs())
    it(spec, async () => {
      const c = await compile(await loadSpec(spec));
      const mod = await importModule(c.js);
      const unrolled = ![...c.lowered.forward, ...c.lowered.backward].some((s) => s.k === "for" || s.k === "call");
      expect(mod.step !== undefined).toBe(unrolled && mod.layout.hasLoss);
      if (!mod.step) return;
      const next = rng(7);
      const a = mod.buffers();
      const b = mod.buffers();
      for (let i = 0; i < a.params.length; i++) a.params[i] = b.params[i] = next() - 0.5;
      for (let i = 0; i < a.inputs.length; i++) a.inputs[i] = b.inputs[i] = next();
      const n = mod.layout.batch ? mod.layout.batch - 1 : undefined;
      mod.forward(a.params, a.inputs, a.arena, n);
      mod.backward!(a.params, a.inputs, a.arena, a.grads, n);
      mod.step(b.params, b.inputs, b.arena, b.grads, n);
      const scale = Math.max(...Array.from(a.grads, Math.abs));
      a.grads.forEach((g, i) => expect(Math.abs(b.grads[i]! - g)).toBeLessThanOrEqual(4 * 2 ** -24 * scale));
      expect(b.arena[mod.layout.lossOffset!]).toBe(a.arena[mod.layout.lossOffset!]); // the forward part is the same code
      for (const o of mod.layout.outputs) expect(Array.from(b.arena.subarray(o.offset, o.offset + o.size))).toEqual(Array.from(a.arena.subarray(o.offset, o.offset + o.size)));
    });
});

// Every module with a loss exports `sgd(params, grads, lr)`: the unrolled or looped JS update (float32 stores of a
// float64 product), or the wasm SIMD loop (float32 arithmetic throughout) in modules with wasm kernels.
describe("the module's sgd update", () => {
  for (const spec of exampleSpecs())
    it(spec, async () => {
      const c = await compile(await loadSpec(spec));
      const mod = await importModule(c.js);
      if (!mod.layout.hasLoss) return expect(mod.sgd).toBeUndefined();
      const buf = mod.buffers();
      const next = rng(11);
      for (let i = 0; i < buf.params.length; i++) (buf.params[i] = next() - 0.5), (buf.grads[i] = 8 * next() - 4);
      const lr = 0.03;
      const f = Math.fround;
      const wasm = mod.layout.memory !== undefined;
      const want = Array.from(buf.params, (p, i) => (wasm ? f(p - f(f(lr) * buf.grads[i]!)) : f(p - lr * buf.grads[i]!)));
      mod.sgd!(buf.params, buf.grads, lr);
      expect(Array.from(buf.params)).toEqual(want);
    });
});
