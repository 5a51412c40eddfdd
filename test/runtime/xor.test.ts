// XOR trained by the trainer (full-batch SGD) over the compiled examples/xor spec: a
// seeded random init solves it; symmetric inits cannot, because both hidden
// units receive identical gradients and stay identical forever.
import { beforeAll, describe, expect, it } from "vitest";
import { importModule } from "../../compiler/emit/load.ts";
import { loadSpec } from "../../compiler/frontend/load.ts";
import { compile } from "../../compiler/index.ts";
import { createTrainer, initParams, momentum, sgd, type Module } from "../../runtime/index.ts";

const data = { x: Float32Array.of(0, 0, 0, 1, 1, 0, 1, 1), t: Float32Array.of(0, 1, 1, 0) };
const truth = Array.from(data.t);
let mod: Module;

beforeAll(async () => {
  mod = (await importModule((await compile(await loadSpec("examples/xor/model.ts"))).js)) as Module;
});

/** W1 is [2,2] row-major: hidden unit j's incoming weights are column j, W1[0][j], W1[1][j]. */
const columns = (mod: Module, params: Float32Array) => {
  const w = mod.layout.params.find((p) => p.name === "W1")!;
  const at = (i: number, j: number) => params[w.offset + i * 2 + j]!;
  return [
    [at(0, 0), at(1, 0)],
    [at(0, 1), at(1, 1)],
  ];
};

/** Full-batch training: N = the 4 rows the model takes, so an epoch is one step, in data order. */
const run = (opts: Parameters<typeof createTrainer>[1], epochs: number, onEpoch?: (e: number, loss: number, params: Float32Array) => void) => {
  const t = createTrainer(mod, opts);
  const h = t.fit(data, { epochs, progress: false, onEpoch: onEpoch && ((r) => void onEpoch(r.epoch, r.loss, t.params)) });
  return { t, params: t.params, loss: h.loss[h.loss.length - 1]!, steps: t.steps };
};

describe("XOR with the trainer", () => {
  it("reaches loss < 0.05 from a seeded xavier init, and predicts the truth table", () => {
    let solvedAt = 0;
    const r = run({ optimizer: sgd({ lr: 1 }), seed: 1 }, 2000, (e, loss) => {
      if (!solvedAt && loss < 0.05) solvedAt = e;
    });
    expect(r.loss).toBeLessThan(0.05);
    expect(solvedAt).toBeGreaterThan(0);
    expect(r.steps).toBe(2000);
    expect(Array.from(r.t.predict(data.x), (v) => Math.round(v))).toEqual(truth);
  });

  it("is bit-for-bit deterministic per seed", () => {
    const a = run({ optimizer: momentum({ lr: 0.5, momentum: 0.9 }), seed: 7 }, 300);
    const b = run({ optimizer: momentum({ lr: 0.5, momentum: 0.9 }), seed: 7 }, 300);
    const c = run({ optimizer: momentum({ lr: 0.5, momentum: 0.9 }), seed: 8 }, 300);
    expect(Array.from(a.params)).toEqual(Array.from(b.params));
    expect(a.loss).toBe(b.loss);
    expect(Array.from(a.params)).not.toEqual(Array.from(c.params));
  });

  it("stays stuck at ln 2 from an all-zero init (a stationary point: the gradient is exactly 0)", () => {
    const losses: number[] = [];
    const r = run({ optimizer: sgd({ lr: 1 }), init: "zeros" }, 2000, (_, l) => void losses.push(l));
    // W2 = 0 makes y = 0.5 for every pattern; with balanced targets sum(y - t) = 0, so
    // every gradient vanishes and nothing ever moves.
    for (const l of losses) expect(l).toBeCloseTo(Math.LN2, 6);
    expect(Array.from(r.params)).toEqual(new Array(mod.layout.paramSize).fill(0));
  });

  it("keeps both hidden units identical from a symmetric nonzero init, and cannot solve XOR", () => {
    // A random init, then made symmetric: W1's two columns equal, W2's two entries equal, b1's two entries equal.
    const params = initParams(mod.layout, new Float32Array(mod.layout.paramSize), 3);
    const slot = (name: string) => mod.layout.params.find((p) => p.name === name)!.offset;
    const [w1, b1, w2] = [slot("W1"), slot("b1"), slot("W2")];
    params[w1 + 1] = params[w1]!;
    params[w1 + 3] = params[w1 + 2]!;
    params[b1 + 1] = params[b1] = 0.1;
    params[w2 + 1] = params[w2]!;
    expect(columns(mod, params)[0]).toEqual(columns(mod, params)[1]);

    const r = run({ optimizer: momentum({ lr: 1, momentum: 0.9 }), params }, 3000, (_e, _l, now) => {
      const [c0, c1] = columns(mod, now);
      if (c0![0] !== c1![0] || c0![1] !== c1![1]) throw new Error("hidden units diverged");
    });
    const [c0, c1] = columns(mod, r.params);
    expect(c0).toEqual(c1);
    expect(r.params[b1]).toBe(r.params[b1 + 1]);
    expect(r.params[w2]).toBe(r.params[w2 + 1]);
    // One effective hidden unit makes the output monotone in one projection of x. The best it
    // finds: one pattern exactly, the other three at 2/3 (or 1/3), loss 3/4 H(1/3) = 0.4774.
    const stuck = 0.75 * -(Math.log(1 / 3) / 3 + (2 / 3) * Math.log(2 / 3));
    expect(r.loss).toBeGreaterThan(stuck - 0.01);
    expect(Array.from(r.t.predict(data.x), (v) => Math.round(v))).not.toEqual(truth);
  });
});
