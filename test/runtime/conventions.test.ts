// The lectures' conventions and stopping criteria as trainer options: fit's `until` (gradient-norm and
// loss-change tolerances, "do until stopping criterion"), epochs of ⌊N/b⌋ full batches (`dropLast`), sampling
// with replacement, and dropout scaled at test time (`dropoutScaling: "test"`).
import { describe, expect, it } from "vitest";
import { createTrainer, type Module, RuntimeError, sgd, type Trainer } from "../../runtime/index.ts";
import { linear, rows } from "./models.ts";

/** 40 examples of t = 0.3 x0 - 0.7 x1 + 0.1 + noise, x in [-1, 1] (a least-squares problem that converges). */
function regression(N = 40) {
  const x = new Float64Array(2 * N);
  const t = new Float64Array(N);
  let s = 12345;
  const r = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  for (let i = 0; i < N; i++) {
    x[2 * i] = r();
    x[2 * i + 1] = r();
    t[i] = 0.3 * x[2 * i]! - 0.7 * x[2 * i + 1]! + 0.1 + 0.05 * r();
  }
  return { x, t };
}

/** ∇ of (mean loss over all of `data`) + (l2/2)‖W‖² by central differences of `evaluate` (float64; the loss is quadratic). */
function fdGradient(t: Trainer<string, string, Float64Array>, data: object, l2 = 0): number[] {
  const p = t.params;
  const f = () => t.evaluate(data as never).loss + (l2 / 2) * (p[0]! * p[0]! + p[1]! * p[1]!);
  return Array.from(p, (_, i) => {
    const x0 = p[i]!;
    p[i] = x0 + 1e-4;
    const up = f();
    p[i] = x0 - 1e-4;
    const down = f();
    p[i] = x0;
    return (up - down) / 2e-4;
  });
}
/** The hand-written linear module (any array type) as a float64 module. */
const lin64 = () => linear(8).mod as unknown as Module<Float64Array>;
const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

describe("fit's until: stopping tolerances", () => {
  it("gradNorm over several batches of a loss that is not a batch mean or sum (no layout.split) is refused, not summed wrongly", () => {
    const mod = lin64();
    const { split: _, ...layout } = mod.layout;
    const t = createTrainer({ ...mod, layout } as Module<Float64Array>, { optimizer: sgd({ lr: 0.1 }), batchSize: 8, seed: 1 });
    const err = (() => {
      try {
        t.fit(regression(), { epochs: 2, until: { gradNorm: 1e-3 } });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as RuntimeError).code).toBe("E_ARG");
    expect((err as Error).message).toMatch(/not a batch mean or sum/);
  });

  it("gradNorm: stops at the first epoch whose full-data gradient norm is within tolerance; the norm and `grads` are that gradient", () => {
    for (const l2 of [0, 0.1]) {
      const data = regression();
      const t = createTrainer(lin64(), { optimizer: sgd({ lr: 0.3 }), seed: 1, Array: Float64Array, l2 });
      const h = t.fit(data, { epochs: 500, until: { gradNorm: 1e-3 }, progress: false });
      expect(h.stopped).toBe("converged");
      expect(h.converged).toBe("gradNorm");
      expect(h.epochs.length).toBeLessThan(500);
      const norms = h.epochs.map((e) => e.gradNorm!);
      expect(norms.at(-1)!).toBeLessThanOrEqual(1e-3);
      expect(norms.slice(0, -1).every((g) => g > 1e-3)).toBe(true);
      // the reported norm is ‖∇(L + (l2/2)‖W‖²)‖ at the final weights, by central differences of evaluate
      const fd = fdGradient(t, data, l2);
      expect(Math.abs(norms.at(-1)! - norm(fd))).toBeLessThan(1e-8);
      Array.from(t.grads).forEach((g, i) => expect(Math.abs(g - fd[i]!)).toBeLessThan(1e-8));
    }
  });

  it("gradNorm with every: k measures on epochs k, 2k, … only, stops on the first measured epoch within tolerance, with the same weights", () => {
    const make = () => createTrainer(lin64(), { optimizer: sgd({ lr: 0.3 }), seed: 1, Array: Float64Array });
    const each = make().fit(regression(), { epochs: 500, until: { gradNorm: 1e-3 }, progress: false });
    const t = make();
    const h = t.fit(regression(), { epochs: 500, until: { gradNorm: 1e-3, every: 4 }, progress: false });
    expect([h.stopped, h.converged]).toEqual(["converged", "gradNorm"]);
    // the first multiple of 4 at or after the epoch where every-epoch checking stopped
    expect(h.epochs.length).toBe(Math.ceil(each.epochs.length / 4) * 4);
    h.epochs.forEach((e, i) => expect(e.gradNorm !== undefined).toBe((i + 1) % 4 === 0));
    expect(h.epochs.at(-1)!.gradNorm!).toBeLessThanOrEqual(1e-3);
    // measuring changes no weight: the same epochs of plain training give the same parameters
    const plain = make();
    plain.fit(regression(), { epochs: h.epochs.length, progress: false });
    expect(Array.from(t.params)).toEqual(Array.from(plain.params));
  });

  it("lossChange: stops when the epoch loss moved by at most the tolerance (absolute or relative), patience epochs in a row", () => {
    const run = (until: object) => createTrainer(lin64(), { optimizer: sgd({ lr: 0.05 }), seed: 1, Array: Float64Array }).fit(regression(), { epochs: 1000, until, progress: false });
    const change = (h: { loss: readonly number[] }, i: number) => Math.abs(h.loss[i]! - h.loss[i - 1]!);
    const a = run({ lossChange: 1e-5 });
    expect([a.stopped, a.converged]).toEqual(["converged", "lossChange"]);
    const k = a.loss.length - 1;
    expect(change(a, k)).toBeLessThanOrEqual(1e-5);
    for (let i = 1; i < k; i++) expect(change(a, i)).toBeGreaterThan(1e-5);
    const r = run({ lossChange: 1e-3, relative: true });
    const j = r.loss.length - 1;
    expect(change(r, j) / r.loss[j - 1]!).toBeLessThanOrEqual(1e-3);
    for (let i = 1; i < j; i++) expect(change(r, i) / r.loss[i - 1]!).toBeGreaterThan(1e-3);
    const p = run({ lossChange: 1e-5, patience: 3 });
    expect(p.loss.length).toBeGreaterThanOrEqual(a.loss.length + 2);
    const m = p.loss.length - 1;
    for (const i of [m, m - 1, m - 2]) expect(change(p, i)).toBeLessThanOrEqual(1e-5);
  });

  it("no tolerance met: all the epochs run (stopped: epochs); fitAsync takes until too and stops the same", async () => {
    const make = () => createTrainer(lin64(), { optimizer: sgd({ lr: 0.05 }), seed: 1, Array: Float64Array });
    const h = make().fit(regression(), { epochs: 5, until: { gradNorm: 1e-12 }, progress: false });
    expect(h.stopped).toBe("epochs");
    expect(h.epochs.length).toBe(5);
    const [x, y] = [make(), make()];
    const hx = x.fit(regression(), { epochs: 1000, until: { lossChange: 1e-5 }, progress: false });
    const hy = await y.fitAsync(regression(), { epochs: 1000, until: { lossChange: 1e-5 } });
    expect(hy.loss).toEqual(hx.loss);
    expect(Array.from(y.params)).toEqual(Array.from(x.params));
  });

  it("bad tolerances are named", () => {
    const t = createTrainer(linear(8).mod, { seed: 1 });
    const fit = (until: unknown) => () => t.fit(rows(8), { epochs: 1, until: until as never, progress: false });
    expect(fit({})).toThrow(/until needs a tolerance/);
    expect(fit({ gradNrom: 1e-3 })).toThrow(/fit: until: unknown option 'gradNrom' — did you mean 'gradNorm'/);
    expect(fit({ gradNorm: -1 })).toThrow(/gradNorm must be a finite number >= 0/);
    expect(fit({ lossChange: 1e-3, patience: 0 })).toThrow(/patience must be a whole number >= 1/);
    expect(fit({ gradNorm: 1e-3, every: 0 })).toThrow(/every must be a whole number >= 1/);
    expect(fit({ lossChange: 1e-3, every: 2 })).toThrow(/until has no gradNorm/);
    expect(fit(3)).toThrow(RuntimeError);
  });
});

describe("epochs of ⌊N/b⌋ full batches (dropLast)", () => {
  it("N = 10, b = 4: 2 updates an epoch of 4 rows each (⌈N/b⌉ = 3 without)", () => {
    for (const [dropLast, steps, ns] of [[true, 2, [4, 4]], [false, 3, [4, 4, 2]]] as const) {
      const { mod, calls } = linear(4);
      const t = createTrainer(mod, { optimizer: sgd({ lr: 0 }), seed: 1, dropLast });
      const h = t.fit(rows(10), { epochs: 3, progress: false });
      expect(t.steps).toBe(3 * steps);
      expect(calls.slice(0, steps).map((c) => c.n)).toEqual(ns);
      expect(h.epochs[0]!.loss).toBeGreaterThan(0);
    }
  });

  it("different examples are left out each epoch (a fresh shuffle), and N < b is an error", () => {
    const { mod, calls } = linear(4);
    createTrainer(mod, { optimizer: sgd({ lr: 0 }), seed: 1, dropLast: true }).fit(rows(10), { epochs: 4, progress: false });
    const seen = (e: number) => new Set(calls.slice(2 * e, 2 * e + 2).flatMap((c) => Array.from(c.inputs.subarray(0, 8)).filter((_, i) => i % 2 === 0)));
    expect(seen(0).size).toBe(8);
    expect(new Set([0, 1, 2, 3].map((e) => [...seen(e)].sort().join())).size).toBeGreaterThan(1);
    expect(() => createTrainer(linear(4).mod, { dropLast: true, batchSize: 4 }).fit(rows(3), { epochs: 1, progress: false })).toThrow(/dropLast with 3 examples and batches of 4 makes no update/);
  });
});

describe("sampling with replacement", () => {
  it("every row of every step is drawn from all N examples: repeats within an epoch, seeded, a fresh draw per epoch", () => {
    const drawn = (seed: number) => {
      const { mod, calls } = linear(4);
      createTrainer(mod, { optimizer: sgd({ lr: 0 }), seed, replacement: true }).fit(rows(20), { epochs: 2, progress: false });
      // row i of the data has x0 = i
      return calls.map((c) => Array.from(c.inputs.subarray(0, 8)).filter((_, i) => i % 2 === 0));
    };
    const a = drawn(3);
    expect(a.length).toBe(10); // ⌈20/4⌉ steps an epoch, as without replacement
    const epoch1 = a.slice(0, 5).flat();
    expect(epoch1.every((v) => Number.isInteger(v) && v >= 0 && v < 20)).toBe(true);
    expect(new Set(epoch1).size).toBeLessThan(20); // some example twice (a permutation never repeats)
    expect(a.slice(5).flat()).not.toEqual(epoch1);
    expect(drawn(3)).toEqual(a);
    expect(drawn(4)).not.toEqual(a);
    // over many epochs every example is drawn about equally often
    const { mod, calls } = linear(4);
    createTrainer(mod, { optimizer: sgd({ lr: 0 }), seed: 5, replacement: true }).fit(rows(20), { epochs: 200, progress: false });
    const counts = new Array<number>(20).fill(0);
    for (const c of calls) for (let r = 0; r < 4; r++) counts[c.inputs[2 * r]!]!++;
    for (const k of counts) expect(Math.abs(k - 200)).toBeLessThan(4 * Math.sqrt(200)); // 4000 draws, 200 expected each
  });

  it("shuffle: false with replacement: true is refused", () => {
    expect(() => createTrainer(linear(4).mod, { replacement: true, shuffle: false })).toThrow(/choose one/);
  });
});

describe("dropout scaled at test time (dropoutScaling: \"test\")", () => {
  it("masks are 0 or 1 while training and 1 - p in evaluate and predict; input dropout scales the features at test time", () => {
    const { mod, calls } = linear(64, { mask: true });
    const t = createTrainer(mod, { optimizer: sgd({ lr: 0 }), dropout: { dropout_x: 0.25 }, inputDropout: 0.5, seed: 2, dropoutScaling: "test" });
    const data = rows(64);
    t.fit(data, { epochs: 2, progress: false });
    let zeros = 0;
    for (const c of calls) {
      for (const v of c.inputs.subarray(3 * 64, 5 * 64)) {
        expect(v === 0 || v === 1).toBe(true);
        if (v === 0) zeros++;
      }
      c.inputs.subarray(0, 128).forEach((v, i) => expect(v === 0 || v === data.x[(i % 2) + 2 * Math.floor(i / 2)] || data.x.includes(v)).toBe(true));
    }
    expect(Math.abs(zeros / (2 * 128) - 0.25)).toBeLessThan(4 * Math.sqrt((0.25 * 0.75) / 256));
    calls.length = 0;
    t.evaluate(data);
    t.predict(data.x);
    for (const c of calls) {
      expect(c.inputs.subarray(3 * 64, 5 * 64).every((v) => v === 0.75)).toBe(true);
      expect(Array.from(c.inputs.subarray(0, 128))).toEqual(Array.from(data.x, (v) => Math.fround(v * 0.5)));
    }
  });

  it("the default stays inverted dropout, and an unknown scaling is refused", () => {
    const { mod, calls } = linear(64, { mask: true });
    createTrainer(mod, { optimizer: sgd({ lr: 0 }), dropout: 0.25, seed: 2 }).fit(rows(64), { epochs: 1, progress: false });
    expect(new Set(calls[0]!.inputs.subarray(3 * 64))).toEqual(new Set([0, Math.fround(4 / 3)]));
    expect(() => createTrainer(mod, { dropoutScaling: "scaled" as never })).toThrow(/dropoutScaling must be "inverted"/);
  });
});
