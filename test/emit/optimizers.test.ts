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
import { updateRange, wasmUpdate } from "../../runtime/optim.ts";

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
/** Index of the first element whose bits differ, or -1. */
const firstDiff = (a: Float32Array, b: Float32Array) => {
  const x = bits(a);
  const y = bits(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return x.length === y.length ? -1 : x.length;
};

/** A seeded generator of numbers in [-1, 1) (a linear congruential one: the tests' data, the same every run). */
const lcg = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;

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
        const rand = lcg(7);
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

  it("AdamW: the decay runs inside the rule (opt_adamw) on vector-aligned decay ranges, opt_decay first otherwise — both bit for bit the JS loop, with and without threads' ranges", () => {
    const L = mod.layout;
    const n = L.paramSize;
    // mnist's weight ranges (aligned) and ranges with unaligned ends: [3, 1001) and [5000, 60002)
    for (const [decay, fused] of [[weightRanges(L), true], [Int32Array.of(3, 1001, 5000, 60002), false], [Int32Array.of(0, 4096, 8192, n), true]] as const) {
      const own = mod.buffers!() as { params: Float32Array; grads: Float32Array };
      const k = adamw({ lr: 3e-3, weightDecay: 0.2 }).create(n, { decay, wasm: wasmUpdate(L, mod.optimizerKernels!(own.params), own.params.buffer)! });
      expect(k.ranged!.fused, `fused over [${[...decay]}]`).toBe(fused);
      const ref = adamw({ lr: 3e-3, weightDecay: 0.2 }).create(n, { decay });
      const p = new Float32Array(n);
      const g = new Float32Array(n);
      const rand = lcg(5);
      for (let i = 0; i < n; i++) own.params[i] = p[i] = rand();
      for (let step = 0; step < 4; step++) {
        for (let i = 0; i < n; i++) own.grads[i] = g[i] = rand() * 0.1;
        if (step % 2 === 0) expect(k.update(own.params, own.grads)).toBe(true);
        else {
          // as threads make it: prepare, then the update over ranges starting on vectors, then advance
          k.prepare!();
          for (const [a, b] of [[0, 2048], [2048, 50884], [50884, n]]) updateRange(mod.optimizerKernels!(own.params), k.ranged!, a!, b!);
          k.advance!();
        }
        expect(ref.update(p, g)).toBe(true);
        expect(firstDiff(own.params, p), `params after step ${step + 1} over [${[...decay]}]`).toBe(-1);
        for (const s of ["m", "v"]) expect(firstDiff(k.state[s] as Float32Array, ref.state[s] as Float32Array), `${s} after step ${step + 1}`).toBe(-1);
      }
    }
  });

  it("opt_l2 and opt_decay over ranges at any alignment: single elements, vectors, single elements, bit for bit", () => {
    const L = mod.layout;
    const own = mod.buffers!() as { params: Float32Array; grads: Float32Array };
    const k = mod.optimizerKernels!(own.params)!;
    const scalars = wasmUpdate(L, k, own.params.buffer)!.scalars;
    const lambda = Math.fround(3e-3);
    const keep = Math.fround(1 - 1e-4);
    scalars[9] = lambda; // SLOT.l2
    scalars[8] = keep; // SLOT.keep
    const rand = lcg(11);
    for (const [from, to] of [[0, 0], [5, 5], [1, 2], [1, 4], [3, 9], [2, 17], [4, 8], [6, 7], [101, 1203], [0, L.paramSize], [L.paramSize - 7, L.paramSize]]) {
      for (let i = 0; i < L.paramSize; i++) {
        own.params[i] = rand();
        own.grads[i] = rand() * 1e-3;
      }
      const p = own.params.slice();
      const g = own.grads.slice();
      for (let i = from!; i < to!; i++) g[i] = Math.fround(g[i]! + Math.fround(lambda * p[i]!));
      k.opt_l2(from!, to!);
      expect(firstDiff(own.grads, g), `opt_l2 over [${from}, ${to})`).toBe(-1);
      for (let i = from!; i < to!; i++) p[i] = Math.fround(p[i]! * keep);
      k.opt_decay(from!, to!);
      expect(firstDiff(own.params, p), `opt_decay over [${from}, ${to})`).toBe(-1);
    }
  });

  it("opt_check(from, to) is 1 exactly when every gradient in [from, to rounded up to a vector) is finite", () => {
    const L = mod.layout;
    const own = mod.buffers!() as { params: Float32Array; grads: Float32Array };
    const k = mod.optimizerKernels!(own.params)!;
    const g = own.grads;
    // finite values the OR of g·0 must pass: ±0, subnormals, the largest float32s
    const finite = [0, -0, 1e-45, -1e-45, 3.4028234663852886e38, -3.4028234663852886e38, 1, -0.5];
    for (let i = 0; i < g.length; i++) g[i] = finite[i % finite.length]!;
    const ref = (from: number, to: number) => {
      for (let i = from; i < Math.min(g.length, Math.ceil(to / 4) * 4); i++) if (!Number.isFinite(g[i]!)) return 0;
      return 1;
    };
    // ranges of 0-20 vectors (the four-vector body and the one-vector tail) and the whole
    const ranges: [number, number][] = [[0, L.paramSize], [0, 0], [4, 4]];
    for (const from of [0, 4, 100, 50000, L.paramSize - (L.paramSize % 4) - 80])
      for (let len = 1; len <= 80; len += 3) ranges.push([from, Math.min(L.paramSize, from + len)]);
    for (const [from, to] of ranges) {
      expect(k.opt_check(from, to), `all finite over [${from}, ${to})`).toBe(1);
      for (const bad of [NaN, Infinity, -Infinity])
        for (const at of new Set([from - 1, from, from + 5, to - 1, to, Math.ceil(to / 4) * 4 - 1, Math.ceil(to / 4) * 4, (from + to) >> 1]))
          if (at >= 0 && at < g.length) {
            const keep = g[at]!;
            g[at] = bad;
            expect(k.opt_check(from, to), `${bad} at ${at} over [${from}, ${to})`).toBe(ref(from, to));
            g[at] = keep;
          }
    }
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
