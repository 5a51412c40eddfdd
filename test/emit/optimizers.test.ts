// The wasm optimizer kernels (compiler/emit/optimizers.ts) against the JS
// loops of runtime/optim.ts, their reference: bit-for-bit equal parameters,
// gradients (after L2) and state over several updates, for every optimizer,
// with and without a schedule, L2 and AdamW's decay ranges — on the checked-in
// mnist module (101,770 parameters: two lanes of padding in the last vector).
// And the guard inside the update: a non-finite gradient changes nothing.
import { beforeAll, describe, expect, it } from "vitest";
import {
  adagrad,
  adam,
  adamw,
  cosine,
  momentum,
  nesterov,
  rmsprop,
  sgd,
  stepDecay,
  weightRanges,
  type Module,
  type OptimizerSpec,
} from "../../runtime/index.ts";
import { wasmUpdate } from "../../runtime/optim.ts";

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
/** Index of the first element whose bits differ, or -1. */
const firstDiff = (a: Float32Array, b: Float32Array) => {
  const x = bits(a);
  const y = bits(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return x.length === y.length ? -1 : x.length;
};

const SPECS: [string, OptimizerSpec][] = [
  ["sgd", sgd({ lr: 0.05 })],
  ["sgd on a schedule", sgd({ lr: stepDecay({ lr: 0.1, every: 2 }) })],
  ["momentum", momentum({ lr: 0.01, momentum: 0.9 })],
  ["nesterov", nesterov({ lr: 0.01, momentum: 0.8 })],
  ["adagrad", adagrad({ lr: 0.1 })],
  ["rmsprop", rmsprop({ lr: 1e-3, rho: 0.95, eps: 1e-7 })],
  ["adam", adam({ lr: 1e-3 })],
  ["adam on a cosine schedule", adam({ lr: cosine({ lr: 3e-3, steps: 10, warmup: 2 }), beta1: 0.8, beta2: 0.99 })],
  ["adamw", adamw({ lr: 2e-3, weightDecay: 0.1 })],
];

describe("wasm optimizer kernels = runtime/optim.ts bit for bit", () => {
  let mod: Module;
  beforeAll(async () => {
    mod = (await import("../../generated/mnist.js")) as unknown as Module;
  });

  for (const [name, spec] of SPECS)
    for (const l2 of [0, 1e-3])
      it(`${name}${l2 ? ", l2" : ""}`, () => {
        const L = mod.layout;
        const n = L.paramSize;
        const own = mod.buffers!() as { params: Float32Array; grads: Float32Array };
        const wasm = wasmUpdate(L, mod.optimizerKernels!(own.params), own.params.buffer);
        expect(wasm).toBeDefined();
        const decay = weightRanges(L);
        const k = spec.create(n, { decay, l2, wasm: wasm! });
        const ref = spec.create(n, { decay, l2 });
        const p = new Float32Array(n);
        const g = new Float32Array(n);
        let seed = 7;
        const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
        for (let i = 0; i < n; i++) own.params[i] = p[i] = 0.1 * rand();
        for (let step = 0; step < 6; step++) {
          // gradients of mixed scales, with exact zeros and tiny values (the ε and √ paths)
          for (let i = 0; i < n; i++) own.grads[i] = g[i] = i % 97 === 0 ? 0 : rand() * (i % 5 === 0 ? 1e-6 : 0.5);
          expect(k.update(own.params, own.grads)).toBe(true);
          expect(ref.update(p, g)).toBe(true);
          expect(firstDiff(own.params, p), `params after step ${step + 1}`).toBe(-1);
          expect(firstDiff(own.grads, g), `grads (with L2) after step ${step + 1}`).toBe(-1);
          for (const s of Object.keys(ref.state)) expect(firstDiff(k.state[s] as Float32Array, ref.state[s] as Float32Array), `${s} after step ${step + 1}`).toBe(-1);
        }
        expect(k.step).toBe(6);
        // the state lives in the module's memory
        for (const s of Object.values(k.state)) expect((s as Float32Array).buffer).toBe(own.params.buffer);
      });

  it("a non-finite gradient: update returns false and changes nothing (params, state, step)", () => {
    const L = mod.layout;
    const own = mod.buffers!() as { params: Float32Array; grads: Float32Array };
    const wasm = wasmUpdate(L, mod.optimizerKernels!(own.params), own.params.buffer)!;
    const opt = adam({ lr: 1e-3 }).create(L.paramSize, { wasm });
    own.params.fill(0.5);
    own.grads.fill(0.25);
    expect(opt.update(own.params, own.grads)).toBe(true);
    const p = own.params.slice();
    const m = (opt.state.m as Float32Array).slice();
    for (const bad of [NaN, Infinity, -Infinity])
      for (const at of [0, 12345, L.paramSize - 1]) {
        own.grads.fill(0.25);
        own.grads[at] = bad;
        expect(opt.update(own.params, own.grads)).toBe(false);
        expect(firstDiff(own.params, p)).toBe(-1);
        expect(firstDiff(opt.state.m as Float32Array, m)).toBe(-1);
        expect(opt.step).toBe(1);
      }
  });
});
